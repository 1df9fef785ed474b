"""Bulk operations over the API: the same all-or-nothing jobs as the lead list."""

from __future__ import annotations

from django.http import Http404, QueryDict
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from crm.api import StrictSerializer, TenantAPIView
from crm.api_errors import IdField, id_list_field
from crm.models import Role
from leads import bulk
from leads.models import BulkJob

TAGS = ["Bulk operations"]


class BulkRequestSerializer(StrictSerializer):
    operation = serializers.ChoiceField(choices=list(bulk.OPERATIONS))
    ids = id_list_field(required=False, max_length=bulk.MAX_LEADS)
    filter = serializers.CharField(required=False, help_text="A lead-list query string, e.g. status=3&owner=me.")
    status = IdField(required=False)
    note = serializers.CharField(required=False, allow_blank=True)
    owner = IdField(required=False)
    campaign = IdField(required=False)
    body = serializers.CharField(required=False)

    def validate(self, attrs):
        if ("ids" in attrs) == ("filter" in attrs):
            raise serializers.ValidationError({"ids": ["Give either ids or filter."]})
        return attrs


class BulkJobSerializer(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()

    class Meta:
        model = BulkJob
        fields = ["id", "operation", "params", "total", "progress", "status", "error", "result", "created_at",
                  "started_at", "finished_at"]  # fmt: skip

    def get_progress(self, job) -> int:
        return bulk.job_progress(job)


class BulkCreateView(TenantAPIView):
    crm_permission = "leads.bulk"

    @extend_schema(tags=TAGS, summary="Run a bulk operation (all-or-nothing)", request=BulkRequestSerializer,
                   responses={202: BulkJobSerializer, 200: BulkJobSerializer})  # fmt: skip
    def post(self, request, company_id):
        data = self.parse(BulkRequestSerializer)
        params = {name: data.get(name) for name in ("status", "note", "owner", "campaign", "body")}
        filter_params = QueryDict(data["filter"]) if "filter" in data else None
        job = bulk.bulk_job_create(actor=request.membership, operation=data["operation"], params=params,
                                   lead_ids=data.get("ids"), filter_params=filter_params)  # fmt: skip
        job = bulk.bulk_job_start(job)
        code = status.HTTP_200_OK if job.is_finished else status.HTTP_202_ACCEPTED
        return Response(BulkJobSerializer(job).data, status=code)


class BulkJobDetailView(TenantAPIView):
    crm_permission = "leads.bulk"

    def load_objects(self, *, bulk_job_id, **kwargs):
        jobs = BulkJob.objects.filter(company=self.request.company)
        if self.request.membership.role != Role.ADMIN:
            jobs = jobs.filter(created_by=self.request.membership)
        self.job = jobs.filter(pk=bulk_job_id).first()
        if self.job is None:
            raise Http404

    @extend_schema(tags=TAGS, summary="Progress and result of a bulk operation", responses=BulkJobSerializer)
    def get(self, request, company_id, bulk_job_id):
        return Response(BulkJobSerializer(self.job).data)
