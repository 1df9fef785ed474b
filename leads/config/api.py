"""REST API for what shapes the work rather than the leads themselves: the status workflow
(statuses and transitions), saved list views, export templates and scheduled exports.

Each write calls the same service as the HTML pages (``leads.config.services``,
``leads.listing``, ``leads.transfer.exports``), so the same rules and messages apply: company admins
manage the workflow, everyone saves views (sharing with the company is for managers and admins;
the owner or an admin changes one), managers and admins keep export templates and schedules (the
owner or an admin changes a schedule).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.http import QueryDict
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from crm.api import StrictSerializer, TenantAPIView
from crm.api import get_object_or_404 as visible_or_404
from crm.api_errors import IdField
from leads import listing
from leads.config import services as workflow
from leads.models import (
    ExportFormat,
    ExportTemplate,
    LeadStatus,
    SavedFilter,
    ScheduledExport,
    ScheduleFrequency,
    StatusCategory,
    StatusTransition,
    Visibility,
)
from leads.queries import statuses_of
from leads.transfer.api import ExportRunSerializer
from leads.transfer.exports import export_template_create, export_template_delete, export_template_update
from leads.transfer.schedules import (
    scheduled_export_delete,
    scheduled_export_run_now,
    scheduled_export_save,
    scheduled_exports_visible_to,
)

WORKFLOW_TAGS = ["lead settings"]
VIEW_TAGS = ["saved views"]
EXPORT_TAGS = ["import and export"]
MAX_ORDER = 2**31 - 1


def _name(membership) -> str | None:
    if membership is None:
        return None
    return membership.user.full_name or membership.user.email


# --- statuses ----------------------------------------------------------------------------------


class StatusSerializer(serializers.ModelSerializer):
    class Meta:
        model = LeadStatus
        fields = ("id", "key", "name", "description", "order", "color", "category", "is_initial", "is_terminal",
                  "is_active")  # fmt: skip
        read_only_fields = fields


class StatusInputSerializer(StrictSerializer):
    """A status. The key is fixed once created; retiring and unretiring have their own paths."""

    key = serializers.CharField(help_text="Lowercase letters, digits and underscores; fixed after creation.")
    name = serializers.CharField()
    description = serializers.CharField(required=False, allow_blank=True)
    order = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=MAX_ORDER,
                                     help_text="Position in the workflow; omitted on creation: last.")  # fmt: skip
    color = serializers.CharField(required=False, help_text="Like #1e88e5.")
    category = serializers.ChoiceField(choices=StatusCategory.choices, required=False)
    is_initial = serializers.BooleanField(required=False, help_text="New leads start here (exactly one status).")
    is_terminal = serializers.BooleanField(required=False, help_text="No transition leaves this status.")
    ignored_keys = frozenset({"id", "is_active"})


class StatusQuerySerializer(serializers.Serializer):
    include_retired = serializers.BooleanField(required=False, default=False, help_text="List retired ones too.")


class StatusListView(TenantAPIView):
    crm_permission = "leads.view"
    write_permission = "statuses.manage"
    query_serializer = StatusQuerySerializer

    @extend_schema(tags=WORKFLOW_TAGS, summary="The company's lead statuses, in workflow order",
                   responses=StatusSerializer(many=True))  # fmt: skip
    def get(self, request, company_id):
        if self.query()["include_retired"]:
            statuses = LeadStatus.objects.filter(company=request.company).order_by("order", "id")
        else:
            statuses = statuses_of(request.company.pk)
        return Response(StatusSerializer(statuses, many=True).data)

    @extend_schema(tags=WORKFLOW_TAGS, summary="Add a status (company admins)", request=StatusInputSerializer,
                   responses={201: StatusSerializer})  # fmt: skip
    def post(self, request, company_id):
        data = self.parse(StatusInputSerializer)
        created = workflow.status_create(company=request.company, actor=request.membership, data=data)
        return Response(StatusSerializer(created).data, status=status.HTTP_201_CREATED)


class StatusObjectMixin:
    def load_objects(self, *, status_id, **kwargs):
        self.status = visible_or_404(LeadStatus.objects.filter(company=self.request.company), pk=status_id)


class StatusDetailView(StatusObjectMixin, TenantAPIView):
    crm_permission = "statuses.manage"

    @extend_schema(tags=WORKFLOW_TAGS, summary="Read a status", responses=StatusSerializer)
    def get(self, request, company_id, status_id):
        return Response(StatusSerializer(self.status).data)

    @extend_schema(tags=WORKFLOW_TAGS, summary="Change some fields of a status", request=StatusInputSerializer,
                   responses=StatusSerializer)  # fmt: skip
    def patch(self, request, company_id, status_id):
        data = self.parse(StatusInputSerializer, partial=True)
        changed = workflow.status_update(actor=request.membership, status=self.status, data=data)
        return Response(StatusSerializer(changed).data)

    @extend_schema(tags=WORKFLOW_TAGS, summary="Delete a status no lead ever had (a used one is retired)",
                   request=None, responses={204: None})  # fmt: skip
    def delete(self, request, company_id, status_id):
        workflow.status_delete(actor=request.membership, status=self.status)
        return Response(status=status.HTTP_204_NO_CONTENT)


class StatusRetireView(StatusObjectMixin, TenantAPIView):
    crm_permission = "statuses.manage"

    @extend_schema(tags=WORKFLOW_TAGS, summary="Retire a status: kept for history, no lead moves into it",
                   request=None, responses=StatusSerializer)  # fmt: skip
    def post(self, request, company_id, status_id):
        return Response(StatusSerializer(workflow.status_retire(actor=request.membership, status=self.status)).data)


class StatusUnretireView(StatusObjectMixin, TenantAPIView):
    crm_permission = "statuses.manage"

    @extend_schema(tags=WORKFLOW_TAGS, summary="Put a retired status back in use", request=None,
                   responses=StatusSerializer)  # fmt: skip
    def post(self, request, company_id, status_id):
        return Response(StatusSerializer(workflow.status_unretire(actor=request.membership, status=self.status)).data)


# --- transitions -------------------------------------------------------------------------------


class TransitionRuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = StatusTransition
        fields = ("id", "from_status", "to_status", "allowed_roles", "note_required")
        read_only_fields = fields


class TransitionInputSerializer(StrictSerializer):
    from_status = IdField(help_text="A status of this company.")
    to_status = IdField(help_text="A status of this company.")
    allowed_roles = serializers.MultipleChoiceField(
        choices=workflow.TRANSITION_ROLES, required=False, help_text="Roles that may make the move; empty: every role."
    )
    note_required = serializers.BooleanField(required=False)
    ignored_keys = frozenset({"id"})


def _transitions(company):
    return StatusTransition.objects.filter(company=company)


class TransitionListView(TenantAPIView):
    crm_permission = "leads.view"
    write_permission = "statuses.manage"

    @extend_schema(tags=WORKFLOW_TAGS, summary="The allowed status moves (empty allowed_roles: every role)",
                   responses=TransitionRuleSerializer(many=True))  # fmt: skip
    def get(self, request, company_id):
        return Response(TransitionRuleSerializer(_transitions(request.company), many=True).data)

    @extend_schema(tags=WORKFLOW_TAGS, summary="Allow a status move (company admins)",
                   request=TransitionInputSerializer, responses={201: TransitionRuleSerializer})  # fmt: skip
    def post(self, request, company_id):
        data = self.parse(TransitionInputSerializer)
        created = workflow.transition_create(company=request.company, actor=request.membership, data=data)
        return Response(TransitionRuleSerializer(created).data, status=status.HTTP_201_CREATED)


class TransitionDetailView(TenantAPIView):
    crm_permission = "statuses.manage"

    def load_objects(self, *, transition_id, **kwargs):
        self.transition = visible_or_404(_transitions(self.request.company), pk=transition_id)

    @extend_schema(tags=WORKFLOW_TAGS, summary="Read a transition", responses=TransitionRuleSerializer)
    def get(self, request, company_id, transition_id):
        return Response(TransitionRuleSerializer(self.transition).data)

    @extend_schema(tags=WORKFLOW_TAGS, summary="Change a transition", request=TransitionInputSerializer,
                   responses=TransitionRuleSerializer)  # fmt: skip
    def patch(self, request, company_id, transition_id):
        data = self.parse(TransitionInputSerializer, partial=True)
        changed = workflow.transition_update(actor=request.membership, transition=self.transition, data=data)
        return Response(TransitionRuleSerializer(changed).data)

    @extend_schema(tags=WORKFLOW_TAGS, summary="Remove a transition", request=None, responses={204: None})
    def delete(self, request, company_id, transition_id):
        workflow.transition_delete(actor=request.membership, transition=self.transition)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- saved views -------------------------------------------------------------------------------


class SavedViewSerializer(serializers.ModelSerializer):
    filter = serializers.SerializerMethodField()
    owner_name = serializers.SerializerMethodField()
    can_change = serializers.SerializerMethodField()

    class Meta:
        model = SavedFilter
        fields = ("id", "name", "filter", "sort", "visibility", "owner", "owner_name", "can_change", "created_at",
                  "updated_at")  # fmt: skip
        read_only_fields = fields

    def get_filter(self, saved: SavedFilter) -> str:
        """The lead list's filter parameters as a query string (``GET …/leads?view=saved:<id>`` applies them)."""
        return urlencode(saved.query, doseq=True)

    def get_owner_name(self, saved: SavedFilter) -> str | None:
        return _name(saved.owner)

    def get_can_change(self, saved: SavedFilter) -> bool:
        return listing.saved_filter_may_change(self.context["request"].membership, saved)


class SavedViewInputSerializer(StrictSerializer):
    name = serializers.CharField(allow_blank=True)
    filter = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="The lead list's filter parameters, e.g. status=3&owner=me.",
    )
    sort = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Like the list's sort: -score,name."
    )
    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.PRIVATE)
    ignored_keys = frozenset({"id", "owner", "owner_name", "can_change", "created_at", "updated_at"})


def _saved_view_data(data: dict) -> dict:
    """The serializer's fields as the service's: the filter query string becomes its params."""
    if "filter" in data:
        data["params"] = QueryDict(data.pop("filter"))
    return data


class SavedViewListView(TenantAPIView):
    crm_permission = "leads.view"

    @extend_schema(tags=VIEW_TAGS, summary="Your views, those of your team and the company's",
                   responses=SavedViewSerializer(many=True))  # fmt: skip
    def get(self, request, company_id):
        views = listing.saved_filters_visible_to(request.membership)
        return Response(SavedViewSerializer(views, many=True, context=self.get_serializer_context()).data)

    @extend_schema(tags=VIEW_TAGS, summary="Save a lead-list view (private, team or company)",
                   request=SavedViewInputSerializer, responses={201: SavedViewSerializer})  # fmt: skip
    def post(self, request, company_id):
        data = _saved_view_data(self.parse(SavedViewInputSerializer))
        saved = listing.saved_filter_create(actor=request.membership, **data)
        return Response(SavedViewSerializer(saved, context=self.get_serializer_context()).data, status=201)


class SavedViewDetailView(TenantAPIView):
    crm_permission = "leads.view"

    def load_objects(self, *, view_id, **kwargs):
        self.saved = visible_or_404(listing.saved_filters_visible_to(self.request.membership), pk=view_id)

    @extend_schema(tags=VIEW_TAGS, summary="Read a view", responses=SavedViewSerializer)
    def get(self, request, company_id, view_id):
        return Response(SavedViewSerializer(self.saved, context=self.get_serializer_context()).data)

    @extend_schema(tags=VIEW_TAGS, summary="Change your view (admins: any view they see)",
                   request=SavedViewInputSerializer, responses=SavedViewSerializer)  # fmt: skip
    def patch(self, request, company_id, view_id):
        data = _saved_view_data(self.parse(SavedViewInputSerializer, partial=True))
        saved = listing.saved_filter_update(actor=request.membership, saved=self.saved, data=data)
        return Response(SavedViewSerializer(saved, context=self.get_serializer_context()).data)

    @extend_schema(tags=VIEW_TAGS, summary="Delete your view (admins: any view they see)", request=None,
                   responses={204: None})  # fmt: skip
    def delete(self, request, company_id, view_id):
        if not listing.saved_filter_may_change(request.membership, self.saved):
            raise PermissionDenied(listing.NOT_YOUR_VIEW)  # the service says so as a form error
        listing.saved_filter_delete(actor=request.membership, saved=self.saved)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- export templates --------------------------------------------------------------------------


class ColumnSerializer(serializers.Serializer):
    field = serializers.CharField(
        help_text="A lead field (email), status, owner, campaign, custom:<key> or profile:<key>."
    )
    label = serializers.CharField(required=False, allow_blank=True, help_text="The header; default: the field's name.")


class ExportTemplateSerializer(serializers.ModelSerializer):
    columns = ColumnSerializer(many=True)

    class Meta:
        model = ExportTemplate
        fields = ("id", "name", "columns", "created_by", "created_at", "updated_at")
        read_only_fields = fields


class ExportTemplateInputSerializer(StrictSerializer):
    name = serializers.CharField(allow_blank=True)
    columns = ColumnSerializer(many=True, help_text="In file order.")
    ignored_keys = frozenset({"id", "created_by", "created_at", "updated_at"})


def _templates(company):
    return ExportTemplate.objects.filter(company=company)


class ExportTemplateListView(TenantAPIView):
    crm_permission = "leads.export"

    @extend_schema(tags=EXPORT_TAGS, summary="The company's export templates",
                   responses=ExportTemplateSerializer(many=True))  # fmt: skip
    def get(self, request, company_id):
        return Response(ExportTemplateSerializer(_templates(request.company), many=True).data)

    @extend_schema(tags=EXPORT_TAGS, summary="Add an export template", request=ExportTemplateInputSerializer,
                   responses={201: ExportTemplateSerializer})  # fmt: skip
    def post(self, request, company_id):
        data = self.parse(ExportTemplateInputSerializer)
        template = export_template_create(actor=request.membership, data=data)
        return Response(ExportTemplateSerializer(template).data, status=status.HTTP_201_CREATED)


class ExportTemplateDetailView(TenantAPIView):
    crm_permission = "leads.export"

    def load_objects(self, *, template_id, **kwargs):
        self.template = visible_or_404(_templates(self.request.company), pk=template_id)

    @extend_schema(tags=EXPORT_TAGS, summary="Read an export template", responses=ExportTemplateSerializer)
    def get(self, request, company_id, template_id):
        return Response(ExportTemplateSerializer(self.template).data)

    @extend_schema(tags=EXPORT_TAGS, summary="Rename an export template or change its columns",
                   request=ExportTemplateInputSerializer, responses=ExportTemplateSerializer)  # fmt: skip
    def patch(self, request, company_id, template_id):
        data = self.parse(ExportTemplateInputSerializer, partial=True)
        template = export_template_update(actor=request.membership, template=self.template, data=data)
        return Response(ExportTemplateSerializer(template).data)

    @extend_schema(tags=EXPORT_TAGS, summary="Delete an export template", request=None, responses={204: None})
    def delete(self, request, company_id, template_id):
        export_template_delete(actor=request.membership, template=self.template)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- scheduled exports -------------------------------------------------------------------------


class ScheduledExportSerializer(serializers.ModelSerializer):
    owner_name = serializers.SerializerMethodField()
    recipients = serializers.ListField(child=serializers.EmailField())

    class Meta:
        model = ScheduledExport
        fields = ("id", "name", "owner", "owner_name", "saved_filter", "template", "format", "frequency",
                  "time_of_day", "weekday", "cron", "recipients", "is_active", "created_at", "last_run_at")  # fmt: skip
        read_only_fields = fields

    def get_owner_name(self, schedule: ScheduledExport) -> str | None:
        return _name(schedule.owner)


class ScheduledExportInputSerializer(StrictSerializer):
    """What to export (a saved view, a template, a format), when (daily or weekly at a UTC time, or
    a cron expression) and to whom (empty: the owner)."""

    name = serializers.CharField(allow_blank=True)
    saved_filter = IdField(required=False, allow_null=True, help_text="One of your views; empty: every lead you see.")
    template = IdField(required=False, allow_null=True, help_text="An export template; empty: the default columns.")
    format = serializers.ChoiceField(choices=ExportFormat.choices, required=False)
    frequency = serializers.ChoiceField(choices=ScheduleFrequency.choices, required=False)
    time_of_day = serializers.TimeField(required=False, help_text="UTC, daily and weekly.")
    weekday = serializers.IntegerField(required=False, min_value=0, max_value=6, help_text="0 = Monday (weekly).")
    cron = serializers.CharField(
        required=False, allow_blank=True, max_length=100, help_text="minute hour day month weekday (cron)."
    )
    recipients = serializers.ListField(child=serializers.CharField(), required=False, help_text="Email addresses.")
    is_active = serializers.BooleanField(required=False)
    ignored_keys = frozenset({"id", "owner", "owner_name", "created_at", "last_run_at"})


class ScheduleObjectMixin:
    def load_objects(self, *, schedule_id, **kwargs):
        schedules = scheduled_exports_visible_to(self.request.membership).select_related("owner__user")
        self.schedule = visible_or_404(schedules, pk=schedule_id)


class ScheduledExportListView(TenantAPIView):
    crm_permission = "leads.export"

    @extend_schema(tags=EXPORT_TAGS, summary="Scheduled exports: yours and your team's (admins: all)",
                   responses=ScheduledExportSerializer(many=True))  # fmt: skip
    def get(self, request, company_id):
        schedules = scheduled_exports_visible_to(request.membership).select_related("owner__user")
        return Response(ScheduledExportSerializer(schedules, many=True).data)

    @extend_schema(tags=EXPORT_TAGS, summary="Schedule an export", request=ScheduledExportInputSerializer,
                   responses={201: ScheduledExportSerializer})  # fmt: skip
    def post(self, request, company_id):
        data = self.parse(ScheduledExportInputSerializer)
        schedule = scheduled_export_save(actor=request.membership, data=data)
        return Response(ScheduledExportSerializer(schedule).data, status=status.HTTP_201_CREATED)


class ScheduledExportDetailView(ScheduleObjectMixin, TenantAPIView):
    crm_permission = "leads.export"

    @extend_schema(tags=EXPORT_TAGS, summary="Read a scheduled export", responses=ScheduledExportSerializer)
    def get(self, request, company_id, schedule_id):
        return Response(ScheduledExportSerializer(self.schedule).data)

    @extend_schema(tags=EXPORT_TAGS, summary="Change a scheduled export (its owner or an admin)",
                   request=ScheduledExportInputSerializer, responses=ScheduledExportSerializer)  # fmt: skip
    def patch(self, request, company_id, schedule_id):
        data = self.parse(ScheduledExportInputSerializer, partial=True)
        schedule = scheduled_export_save(actor=request.membership, data=data, schedule=self.schedule)
        return Response(ScheduledExportSerializer(schedule).data)

    @extend_schema(tags=EXPORT_TAGS, summary="Delete a scheduled export (its owner or an admin)", request=None,
                   responses={204: None})  # fmt: skip
    def delete(self, request, company_id, schedule_id):
        scheduled_export_delete(actor=request.membership, schedule=self.schedule)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ScheduledExportRunView(ScheduleObjectMixin, TenantAPIView):
    crm_permission = "leads.export"

    @extend_schema(tags=EXPORT_TAGS, summary="Run a scheduled export now, besides its schedule", request=None,
                   responses={202: ExportRunSerializer})  # fmt: skip
    def post(self, request, company_id, schedule_id):
        run = scheduled_export_run_now(actor=request.membership, schedule=self.schedule)
        return Response(ExportRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)
