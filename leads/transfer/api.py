"""REST API for imports and exports: the same services as the import wizard and the exports page.

An import is one multipart POST (the file plus options, and optionally the column mapping as a
JSON list); it answers 202 with the job, which runs in the background — poll it. Without a mapping
the headers are matched automatically; a column that matches nothing is a 400 naming it (send a
``mapping`` with "" for the columns to ignore). An export is a POST naming the format, the filter
(the lead list's query string) or a selection; the file is written in the background and
downloaded from the run once it is ready.
"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import FileResponse, Http404, QueryDict
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from crm.api import NewestFirstPagination, StrictSerializer, TenantAPIView, TenantListAPIView
from crm.api import get_object_or_404 as visible_or_404
from crm.api_errors import IdField, id_list_field
from leads.models import DuplicatePolicy, ExportFormat, ExportRun, ImportFormat, ImportJob
from leads.transfer.cells import CONTENT_TYPES
from leads.transfer.exports import enqueue_export, export_run_start, export_runs_visible_to, template_for
from leads.transfer.importer import import_progress
from leads.transfer.jobs import import_job_create, import_job_start, import_jobs_visible_to
from leads.transfer.mapping import ImportOptions
from leads.transfer.revert import import_revert_start

TAGS = ["import and export"]
FILE = {"type": "string", "format": "binary"}
CSV, JSONL = "text/csv; charset=utf-8", "application/jsonl"
ERRORS_FILE_RESPONSES = {(200, "text/csv"): FILE, (200, JSONL): FILE}
EXPORT_FILE_RESPONSES = {
    (200, "text/csv"): FILE,
    (200, CONTENT_TYPES[ExportFormat.XLSX]): FILE,
    (200, "application/json"): {"type": "array", "items": {"type": "object", "additionalProperties": {}}},
}


class ImportJobSerializer(serializers.ModelSerializer):
    errors_file = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = (
            "id", "status", "file_name", "file_format", "encoding", "delimiter", "headers", "mapping", "options",
            "total_rows", "created_count", "updated_count", "skipped_count", "flagged_count", "invalid_count",
            "error", "errors", "errors_file", "notes", "progress", "created_at", "started_at", "finished_at",
            "reverted_at", "revert_result",
        )  # fmt: skip
        read_only_fields = fields

    def get_errors_file(self, job: ImportJob) -> str | None:
        if not job.errors_file:
            return None
        return f"/api/companies/{job.company_id}/imports/{job.pk}/errors"

    def get_progress(self, job: ImportJob) -> dict:
        return import_progress(job)


class ImportInputSerializer(StrictSerializer):
    file = serializers.FileField(help_text="CSV, XLSX, JSON (list of objects) or JSON Lines (scraped profiles).")
    format = serializers.ChoiceField(choices=ImportFormat.values, required=False, help_text="Detected when omitted.")
    campaign = IdField(required=False, help_text="Campaign id for rows without a Campaign column.")
    lead_source = serializers.CharField(required=False, allow_blank=True, default="")
    on_duplicate = serializers.ChoiceField(choices=DuplicatePolicy.values, required=False, default="skip")
    skip_invalid = serializers.BooleanField(required=False, default=False)
    dry_run = serializers.BooleanField(required=False, default=False)
    mapping = serializers.CharField(
        required=False,
        help_text='JSON list: the lead field each column fills, "" to ignore it (e.g. ["email", "", "first_name"]).',
    )

    def validate_mapping(self, value: str):
        try:
            mapping = json.loads(value)
        except ValueError:
            raise serializers.ValidationError("Give the mapping as a JSON list of field names.") from None
        if not isinstance(mapping, list) or not all(isinstance(item, str) for item in mapping):
            raise serializers.ValidationError("Give the mapping as a JSON list of field names.")
        return mapping


class ImportListView(TenantListAPIView):
    crm_permission = "leads.import"
    pagination_class = NewestFirstPagination
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        return import_jobs_visible_to(self.request.membership)

    @extend_schema(tags=TAGS, summary="Your imports, newest first", responses=ImportJobSerializer(many=True))
    def get(self, request, company_id):
        return self.paginated(self.get_queryset(), ImportJobSerializer)

    @extend_schema(
        tags=TAGS,
        summary="Import leads from a file (runs in the background)",
        request={"multipart/form-data": ImportInputSerializer},
        responses={202: ImportJobSerializer},
    )
    def post(self, request, company_id):
        data = self.parse(ImportInputSerializer)
        options = ImportOptions(
            on_duplicate=data["on_duplicate"],
            skip_invalid=data["skip_invalid"],
            dry_run=data["dry_run"],
            campaign_id=data.get("campaign"),
            lead_source=data["lead_source"],
        )
        job = import_job_create(
            company=request.company,
            actor=request.membership,
            upload=data["file"],
            file_format=data.get("format"),
            options=options,
            ip_address=request.META.get("REMOTE_ADDR"),
            user_agent=request.headers.get("User-Agent", ""),
        )
        try:
            job = import_job_start(job=job, actor=request.membership, mapping=data.get("mapping"))
        except DjangoValidationError:
            job.file.delete(save=False)
            job.delete()
            raise
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ImportJobMixin:
    def load_objects(self, *, job_id, **kwargs):
        self.job = visible_or_404(import_jobs_visible_to(self.request.membership), pk=job_id)


class ImportDetailView(ImportJobMixin, TenantAPIView):
    crm_permission = "leads.import"

    @extend_schema(
        tags=TAGS, summary="An import: status, progress, counts and every bad row", responses=ImportJobSerializer
    )
    def get(self, request, company_id, job_id):
        return Response(ImportJobSerializer(self.job).data)


class ImportErrorsView(ImportJobMixin, TenantAPIView):
    crm_permission = "leads.import"

    @extend_schema(tags=TAGS, summary="The invalid rows as a file to fix and import again (CSV, or JSON Lines for "
                   "a JSON Lines import)", responses=ERRORS_FILE_RESPONSES)  # fmt: skip
    def get(self, request, company_id, job_id):
        if not self.job.errors_file:
            raise Http404
        name = self.job.errors_file.name.rsplit("/", 1)[-1]
        content_type = JSONL if name.endswith(".jsonl") else CSV
        return FileResponse(self.job.errors_file.open("rb"), as_attachment=True, filename=name,
                            content_type=content_type)  # fmt: skip


class ImportRevertView(ImportJobMixin, TenantAPIView):
    crm_permission = "leads.import"

    @extend_schema(
        tags=TAGS,
        summary="Revert an import: remove its new leads, undo its updates (in the background)",
        request=None,
        responses={202: ImportJobSerializer},
    )
    def post(self, request, company_id, job_id):
        job = import_revert_start(job=self.job, actor=request.membership)
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


# --- exports ---------------------------------------------------------------------------------------------


class ExportRunSerializer(serializers.ModelSerializer):
    download = serializers.SerializerMethodField()

    class Meta:
        model = ExportRun
        fields = ("id", "status", "format", "params", "template", "row_count", "file_name", "file_size", "error",
                  "download", "created_at", "finished_at", "scheduled_export")  # fmt: skip
        read_only_fields = fields

    def get_download(self, run: ExportRun) -> str | None:
        if not run.is_downloadable:
            return None
        return f"/api/companies/{run.company_id}/exports/{run.pk}/download"


class ExportInputSerializer(StrictSerializer):
    format = serializers.ChoiceField(choices=ExportFormat.values, default=ExportFormat.CSV)
    filter = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="The lead list's query string, e.g. status=3&sort=-score.",
    )
    template = serializers.CharField(required=False, allow_blank=True, default="", help_text="Template id or name.")
    ids = id_list_field(required=False, help_text="A selection of lead ids.")


class ExportListView(TenantListAPIView):
    crm_permission = "leads.export"
    pagination_class = NewestFirstPagination
    parser_classes = [JSONParser]

    def get_queryset(self):
        return export_runs_visible_to(self.request.membership)

    @extend_schema(tags=TAGS, summary="Exports whose files you may download", responses=ExportRunSerializer(many=True))
    def get(self, request, company_id):
        return self.paginated(self.get_queryset(), ExportRunSerializer)

    @extend_schema(
        tags=TAGS,
        summary="Export the leads of a filter or a selection (written in the background)",
        request=ExportInputSerializer,
        responses={202: ExportRunSerializer},
    )
    def post(self, request, company_id):
        data = self.parse(ExportInputSerializer)
        run, _, _ = export_run_start(
            membership=request.membership,
            params=QueryDict(data["filter"]),
            file_format=data["format"],
            template=template_for(request.company, data["template"]),
            ids=data.get("ids"),
            streamed=False,
        )
        enqueue_export(run.pk)
        run.refresh_from_db()
        return Response(ExportRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class ExportRunMixin:
    def load_objects(self, *, run_id, **kwargs):
        self.run = visible_or_404(export_runs_visible_to(self.request.membership), pk=run_id)


class ExportDetailView(ExportRunMixin, TenantAPIView):
    crm_permission = "leads.export"

    @extend_schema(tags=TAGS, summary="An export: status, row count and download link", responses=ExportRunSerializer)
    def get(self, request, company_id, run_id):
        return Response(ExportRunSerializer(self.run).data)


class ExportDownloadView(ExportRunMixin, TenantAPIView):
    crm_permission = "leads.export"

    @extend_schema(tags=TAGS, summary="Download an export's file", responses=EXPORT_FILE_RESPONSES)
    def get(self, request, company_id, run_id):
        if not self.run.is_downloadable:
            raise Http404
        return FileResponse(
            self.run.file.open("rb"),
            as_attachment=True,
            filename=self.run.file_name,
            content_type=CONTENT_TYPES[self.run.format],
        )
