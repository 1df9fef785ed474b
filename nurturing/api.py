"""REST API of nurturing: sequences and steps CRUD, enrol / unenrol, a lead's enrolments and
messages, the company's sending settings. Same services and visibility as everywhere else; serializers only shape and parse."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from crm.api import CompanyObjectField, StrictSerializer, TenantAPIView
from crm.api import get_object_or_404 as visible_or_404
from crm.api_errors import id_list_field
from leads.api import LeadObjectMixin
from leads.api_listing import BulkJobSerializer
from leads.bulk import MAX_LEADS
from leads.models import Lead, LeadStatus
from leads.queries import leads_visible_to
from nurturing import bulk, services
from nurturing.models import (
    ConsentPolicy,
    EmailSequence,
    EmailSequenceStep,
    Enrolment,
    LeadEmailActivity,
    NurturingSettings,
    Trigger,
)

TAGS = ["nurturing"]


class StepSerializer(serializers.ModelSerializer):
    class Meta:
        model = EmailSequenceStep
        fields = ["id", "step_number", "subject", "body", "delay_days", "delay_hours", "is_active"]


class SequenceSerializer(serializers.ModelSerializer):
    steps = StepSerializer(many=True, read_only=True)

    class Meta:
        model = EmailSequence
        fields = ["id", "name", "description", "trigger", "trigger_score", "trigger_status", "is_active",
                  "sender_name", "sender_email", "created_at", "steps"]  # fmt: skip


class SequenceInputSerializer(StrictSerializer):
    ignored_keys = frozenset({"id", "created_at", "steps"})
    name = serializers.CharField(max_length=150)
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)
    trigger = serializers.ChoiceField(choices=Trigger.choices, required=False)
    trigger_score = serializers.IntegerField(min_value=0, max_value=100, required=False, allow_null=True)
    trigger_status = CompanyObjectField(queryset_for=lambda c: LeadStatus.objects.filter(company=c), name="status",
                                        required=False, allow_null=True)  # fmt: skip
    is_active = serializers.BooleanField(required=False)
    sender_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    sender_email = serializers.EmailField(required=False, allow_blank=True)


class StepInputSerializer(StrictSerializer):
    """Delays are plain integers here so a negative one reaches the service's own message."""

    ignored_keys = frozenset({"id"})
    step_number = serializers.IntegerField(required=False, allow_null=True)
    subject = serializers.CharField(max_length=200)
    body = serializers.CharField()
    delay_days = serializers.IntegerField(required=False)
    delay_hours = serializers.IntegerField(required=False)
    is_active = serializers.BooleanField(required=False)


class EnrolmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Enrolment
        fields = ["id", "lead", "sequence", "state", "stop_reason", "reason", "last_step_number", "next_send_at",
                  "enrolled_at", "finished_at"]  # fmt: skip


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = LeadEmailActivity
        fields = ["id", "sequence", "step", "message_id", "to_email", "subject", "state", "sent_at", "opened_at",
                  "clicked_at", "unsubscribed_at", "error"]  # fmt: skip


class EnrolInputSerializer(StrictSerializer):
    lead = CompanyObjectField(queryset_for=lambda c: Lead.objects.filter(company=c), name="lead")
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="Manual enrolment")


class SequenceMixin:
    def load_objects(self, *, sequence_id, step_id=None, **kwargs):
        sequences = EmailSequence.objects.filter(company=self.request.company).prefetch_related("steps")
        self.sequence = visible_or_404(sequences, pk=sequence_id)
        if step_id is not None:
            self.step = visible_or_404(self.sequence.steps.all(), pk=step_id)


def _sequence(sequence: EmailSequence) -> dict:
    return SequenceSerializer(EmailSequence.objects.prefetch_related("steps").get(pk=sequence.pk)).data


class SequenceListView(TenantAPIView):
    crm_permission = "nurturing.view"
    write_permission = "nurturing.manage"

    @extend_schema(tags=TAGS, summary="The company's email sequences", responses=SequenceSerializer(many=True))
    def get(self, request, company_id):
        sequences = EmailSequence.objects.filter(company=request.company).prefetch_related("steps")
        return Response(SequenceSerializer(sequences, many=True).data)

    @extend_schema(tags=TAGS, summary="Create a sequence (inactive until it has a step)",
                   request=SequenceInputSerializer, responses={201: SequenceSerializer})  # fmt: skip
    def post(self, request, company_id):
        data = self.parse(SequenceInputSerializer)
        sequence = services.sequence_create(actor=request.membership, company=request.company, data=data)
        return Response(_sequence(sequence), status=status.HTTP_201_CREATED)


class SequenceDetailView(SequenceMixin, TenantAPIView):
    crm_permission = "nurturing.manage"  # SDRs read sequences (with their steps) from the list

    @extend_schema(tags=TAGS, summary="A sequence and its steps", responses=SequenceSerializer)
    def get(self, request, company_id, sequence_id):
        return Response(SequenceSerializer(self.sequence).data)

    @extend_schema(tags=TAGS, summary="Change a sequence (activate, trigger, …)", request=SequenceInputSerializer,
                   responses=SequenceSerializer)  # fmt: skip
    def patch(self, request, company_id, sequence_id):
        data = self.parse(SequenceInputSerializer, partial=True)
        return Response(
            _sequence(services.sequence_update(actor=request.membership, sequence=self.sequence, data=data))
        )

    @extend_schema(tags=TAGS, summary="Delete a sequence that never sent", responses={204: None})
    def delete(self, request, company_id, sequence_id):
        services.sequence_delete(actor=request.membership, sequence=self.sequence)
        return Response(status=status.HTTP_204_NO_CONTENT)


class StepListView(SequenceMixin, TenantAPIView):
    crm_permission = "nurturing.manage"  # SDRs read sequences (with their steps) from the list

    @extend_schema(tags=TAGS, summary="A sequence's steps", responses=StepSerializer(many=True))
    def get(self, request, company_id, sequence_id):
        return Response(StepSerializer(self.sequence.steps.all(), many=True).data)

    @extend_schema(tags=TAGS, summary="Add a step", request=StepInputSerializer, responses={201: StepSerializer})
    def post(self, request, company_id, sequence_id):
        step = services.step_create(actor=request.membership, sequence=self.sequence,
                                    data=self.parse(StepInputSerializer))  # fmt: skip
        return Response(StepSerializer(step).data, status=status.HTTP_201_CREATED)


class StepDetailView(SequenceMixin, TenantAPIView):
    crm_permission = "nurturing.manage"  # SDRs read sequences (with their steps) from the list

    @extend_schema(tags=TAGS, summary="A step", responses=StepSerializer)
    def get(self, request, company_id, sequence_id, step_id):
        return Response(StepSerializer(self.step).data)

    @extend_schema(tags=TAGS, summary="Change a step", request=StepInputSerializer, responses=StepSerializer)
    def patch(self, request, company_id, sequence_id, step_id):
        data = self.parse(StepInputSerializer, partial=True)
        return Response(StepSerializer(services.step_update(actor=request.membership, step=self.step, data=data)).data)

    @extend_schema(tags=TAGS, summary="Delete a step that never sent", responses={204: None})
    def delete(self, request, company_id, sequence_id, step_id):
        services.step_delete(actor=request.membership, step=self.step)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SequenceEnrolView(SequenceMixin, TenantAPIView):
    crm_permission = "nurturing.enrol"

    @extend_schema(tags=TAGS, summary="Enrol a lead you can see", request=EnrolInputSerializer,
                   responses={201: EnrolmentSerializer})  # fmt: skip
    def post(self, request, company_id, sequence_id):
        data = self.parse(EnrolInputSerializer)
        enrolment = services.enrolment_create(actor=request.membership, lead=data["lead"], sequence=self.sequence,
                                              reason=data["reason"])  # fmt: skip
        return Response(EnrolmentSerializer(enrolment).data, status=status.HTTP_201_CREATED)


class BulkEnrolInputSerializer(StrictSerializer):
    ids = id_list_field(required=False, max_length=MAX_LEADS)
    filter = serializers.CharField(required=False, help_text="A lead-list query string, e.g. status=3&owner=me.")
    view = serializers.CharField(required=False, help_text="A saved or built-in view: saved:7, builtin:mine.")

    def validate(self, attrs):
        if len([name for name in ("ids", "filter", "view") if attrs.get(name)]) != 1:
            raise serializers.ValidationError({"ids": ["Give one of ids, filter or view."]})
        return attrs


class SequenceEnrolBulkView(SequenceMixin, TenantAPIView):
    crm_permission = "nurturing.enrol"

    @extend_schema(tags=TAGS, summary="Enrol many leads (ids, a filter or a view): all or nothing",
                   description="One bulk job (progress at bulk-jobs/{id}). If any lead cannot be enrolled — "
                   "a gate (no consent, do-not-disturb, unsubscribed, …) or already in the sequence — the job "
                   "fails listing them in `error` and nobody is enrolled.",
                   request=BulkEnrolInputSerializer, responses={200: BulkJobSerializer, 202: BulkJobSerializer})  # fmt: skip
    def post(self, request, company_id, sequence_id):
        data = self.parse(BulkEnrolInputSerializer)
        filter_params = None
        if "ids" not in data:
            filter_params = bulk.filter_of(membership=request.membership, view=data.get("view", ""),
                                           query=data.get("filter", ""))  # fmt: skip
        job = bulk.bulk_enrol(actor=request.membership, sequence=self.sequence, lead_ids=data.get("ids"),
                              filter_params=filter_params)  # fmt: skip
        code = status.HTTP_200_OK if job.is_finished else status.HTTP_202_ACCEPTED
        return Response(BulkJobSerializer(job).data, status=code)


class EnrolmentStopView(TenantAPIView):
    crm_permission = "nurturing.enrol"
    service = staticmethod(services.enrolment_stop)

    def load_objects(self, *, enrolment_id, **kwargs):
        visible = Enrolment.objects.filter(lead__in=leads_visible_to(self.request.membership))
        self.enrolment = visible_or_404(visible, pk=enrolment_id)

    @extend_schema(tags=TAGS, summary="Unenrol (stop the enrolment)", request=None, responses=EnrolmentSerializer)
    def post(self, request, company_id, enrolment_id):
        enrolment = self.service(actor=request.membership, enrolment=self.enrolment)
        return Response(EnrolmentSerializer(enrolment).data)


class EnrolmentPauseView(EnrolmentStopView):
    service = staticmethod(services.enrolment_pause)

    @extend_schema(tags=TAGS, summary="Pause an active enrolment", request=None, responses=EnrolmentSerializer)
    def post(self, request, company_id, enrolment_id):
        return super().post(request, company_id, enrolment_id)


class EnrolmentResumeView(EnrolmentStopView):
    service = staticmethod(services.enrolment_resume)

    @extend_schema(tags=TAGS, summary="Resume a paused enrolment (gates checked again)", request=None,
                   responses=EnrolmentSerializer)  # fmt: skip
    def post(self, request, company_id, enrolment_id):
        return super().post(request, company_id, enrolment_id)


class LeadMessagesView(LeadObjectMixin, TenantAPIView):
    crm_permission = "nurturing.view"

    @extend_schema(tags=TAGS, summary="A lead's enrolments and sequence emails", responses=inline_serializer(
        "LeadEmailMessages", {"enrolments": EnrolmentSerializer(many=True), "messages": MessageSerializer(many=True)}))  # fmt: skip
    def get(self, request, company_id, lead_id):
        return Response({
            "enrolments": EnrolmentSerializer(self.lead.enrolments.all(), many=True).data,
            "messages": MessageSerializer(self.lead.email_messages.all(), many=True).data,
        })  # fmt: skip


class NurturingSettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = NurturingSettings
        fields = ["rate_per_minute", "window_start", "window_end", "consent_policy", "default_sequence",
                  "sweep_threshold"]  # fmt: skip


class NurturingSettingsInputSerializer(StrictSerializer):
    """Numbers are plain integers here so that a negative one reaches the service's own message."""

    rate_per_minute = serializers.IntegerField(required=False, help_text="Emails per minute, company-wide.")
    window_start = serializers.TimeField(required=False, allow_null=True, help_text="UTC; null with window_end.")
    window_end = serializers.TimeField(required=False, allow_null=True, help_text="UTC; before the start: overnight.")
    consent_policy = serializers.ChoiceField(choices=ConsentPolicy.choices, required=False)
    default_sequence = CompanyObjectField(queryset_for=lambda c: EmailSequence.objects.filter(company=c),
                                          name="sequence", required=False, allow_null=True)  # fmt: skip
    sweep_threshold = serializers.IntegerField(required=False, help_text="0–100.")


class NurturingSettingsView(TenantAPIView):
    crm_permission = "nurturing.view"
    write_permission = "company.manage"

    @extend_schema(tags=TAGS, summary="The company's sending settings", responses=NurturingSettingsSerializer)
    def get(self, request, company_id):
        return Response(NurturingSettingsSerializer(services.settings_for(request.company)).data)

    @extend_schema(tags=TAGS, summary="Change the sending settings (company admins)",
                   request=NurturingSettingsInputSerializer, responses=NurturingSettingsSerializer)  # fmt: skip
    def patch(self, request, company_id):
        data = self.parse(NurturingSettingsInputSerializer, partial=True)
        settings = services.nurturing_settings_update(actor=request.membership,
                                                      settings=services.settings_for(request.company), **data)  # fmt: skip
        return Response(NurturingSettingsSerializer(settings).data)
