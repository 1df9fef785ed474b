"""REST API for leads: serializers and views over the same queries and services as the UI.

Serializers only shape data and parse types; every rule (required contact, company-scoped foreign
keys, the status workflow, sanitising, who may edit a comment) lives in ``leads.services`` and
arrives here as a Django ``ValidationError`` or ``PermissionDenied`` that ``crm.api`` turns into
a 400 with field messages or a 403.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.settings import api_settings

from crm.api import (
    CompanyObjectField,
    NewestFirstPagination,
    StrictSerializer,
    TenantAPIView,
    TenantListAPIView,
    validation_error_detail,
)
from crm.api import get_object_or_404 as visible_or_404
from crm.api_errors import IdField
from crm.models import Activity, ActivityKind, Membership
from crm.sanitize import sanitize_html
from leads import services
from leads.api_query import (
    DateRangeQuerySerializer,
    LeadPagination,
    in_range,
    known_lead_params,
    lead_list_parameters,
    lead_list_params,
    parse_sort,
    range_bounds,
)
from leads.filters import filter_leads
from leads.models import AuthorityLevel, Campaign, Lead, LeadComment, LeadStatus
from leads.profiles import lead_create_from_profile
from leads.queries import leads_visible_to

TAGS = ["leads"]
SETUP_TAGS = ["lead settings"]


# --- fields ------------------------------------------------------------------------------------


@extend_schema_field({"type": "object", "additionalProperties": {}})
class ObjectField(serializers.JSONField):
    """Any JSON value on the way in (the service says why a non-object is refused), an object in
    the schema."""


def _status_field(**kwargs):
    return CompanyObjectField(queryset_for=lambda company: LeadStatus.objects.filter(company=company), **kwargs)


def _campaign_field(**kwargs):
    return CompanyObjectField(queryset_for=lambda company: Campaign.objects.filter(company=company), **kwargs)


def _text(**kwargs):
    return serializers.CharField(required=False, allow_blank=True, allow_null=True, **kwargs)


# --- leads -------------------------------------------------------------------------------------

LEAD_FIELDS = (
    "id", "first_name", "last_name", "email", "phone", "country", "job_title", "company_name", "profile_url",
    "profile_data", "lead_source", "campaign", "campaign_name", "medium", "term", "owner", "owner_name", "status",
    "status_name", "stage", "score", "priority", "interest_product", "budget_range", "authority_level", "need",
    "timeline", "gdpr_consent", "dnd", "opt_in_date", "spam_score", "validation_status", "custom_fields",
    "created_at", "updated_at", "assigned_at", "status_changed_at", "first_response_at", "last_activity_at",
    "converted_at",
)  # fmt: skip


@extend_schema_field({"type": "string", "anyOf": [{"format": "uri"}, {"maxLength": 0}]})
class BlankableURLField(serializers.CharField):
    """A URL, or "" when there is none."""


class LeadSerializer(serializers.ModelSerializer):
    profile_url = BlankableURLField(read_only=True)
    authority_level = serializers.ChoiceField(choices=AuthorityLevel.choices, allow_blank=True, read_only=True)
    campaign_name = serializers.CharField(source="campaign.name", read_only=True)
    status_name = serializers.CharField(source="status.name", read_only=True)
    owner_name = serializers.SerializerMethodField()

    class Meta:
        model = Lead
        fields = LEAD_FIELDS
        read_only_fields = LEAD_FIELDS

    def get_owner_name(self, lead: Lead) -> str | None:
        if lead.owner is None:
            return None
        return lead.owner.user.full_name or lead.owner.user.email


class LeadInputSerializer(StrictSerializer):
    """The editable fields of a lead. Omitted fields are left unchanged on PUT and PATCH alike; PUT
    and POST need `lead_source` and `campaign`. A `status` other than the current one is
    a workflow transition (`status_note` is its note)."""

    allow_duplicates = serializers.BooleanField(
        required=False, write_only=True, help_text="Create anyway despite an exact duplicate (managers and admins)."
    )
    first_name = _text()
    last_name = _text()
    email = _text()
    phone = _text(help_text="Any format the company's country understands, or +country format.")
    country = _text(help_text="ISO 3166 alpha-2; defaults to the company's.")
    job_title = _text()
    company_name = _text()
    profile_url = _text()
    lead_source = serializers.CharField(allow_blank=True)
    campaign = _campaign_field(name="campaign")
    medium = _text()
    term = _text()
    interest_product = _text()
    budget_range = _text()
    authority_level = _text(help_text="decision_maker, influencer, user or gatekeeper.")
    need = _text()
    timeline = _text()
    gdpr_consent = serializers.BooleanField(required=False)
    dnd = serializers.BooleanField(required=False, help_text="Do not disturb.")
    opt_in_date = serializers.DateTimeField(required=False, allow_null=True)
    stage = serializers.CharField(required=False, help_text="awareness, consideration, decision or converted.")
    profile_data = ObjectField(required=False, help_text="The scraped profile, as received.")
    owner = CompanyObjectField(
        queryset_for=lambda company: Membership.objects.filter(company=company),
        name="owner",
        required=False,
        allow_null=True,
        help_text="Membership id; only managers and admins reassign.",
    )
    custom_fields = ObjectField(required=False, help_text="Values keyed by the company's custom field keys.")
    status = _status_field(name="status", required=False, allow_null=True)
    status_note = serializers.CharField(required=False, allow_blank=True)

    # What a client read from the API may be sent back unchanged.
    ignored_keys = frozenset(LEAD_FIELDS)


class TransitionSerializer(StrictSerializer):
    status = _status_field(name="status")
    note = serializers.CharField(required=False, allow_blank=True, default="")


class FromProfileSerializer(StrictSerializer):
    profile = ObjectField(help_text="The scraped profile; kept whole in the lead's profile_data.")
    campaign = _campaign_field(name="campaign")
    lead_source = serializers.CharField(required=False, allow_blank=True, default="")


def _lead_input(view, *, lead: Lead | None = None, partial: bool = False) -> dict:
    """The body parsed by ``LeadInputSerializer``. When the serializer refuses some fields, the
    service's verdict (``lead_prepare``, a dry run) on the fields it accepted joins the same 400:
    every field's error comes back at once, not in stages."""
    body, context = view.request.data, view.get_serializer_context()
    serializer = LeadInputSerializer(data=body, partial=partial, context=context)
    if serializer.is_valid():
        return dict(serializer.validated_data)
    errors = dict(serializer.errors)
    if not isinstance(body, Mapping) or api_settings.NON_FIELD_ERRORS_KEY in errors:
        raise serializers.ValidationError(errors)
    accepted = LeadInputSerializer(data={k: body[k] for k in body if k not in errors}, partial=True, context=context)
    if accepted.is_valid():
        data = {k: v for k, v in accepted.validated_data.items() if k != "allow_duplicates"}
        try:
            services.lead_prepare(company=view.request.company, actor=view.request.membership, data=data,
                                  lead=copy.copy(lead) if lead is not None else None)  # fmt: skip
        except DjangoValidationError as error:
            found = validation_error_detail(error)
            errors.update({field: messages for field, messages in found.items() if field not in errors})
    raise serializers.ValidationError(errors)


def _with_related(leads):
    return leads.select_related("campaign", "status", "owner__user")


def _fresh(lead: Lead) -> Lead:
    """The lead just written, re-read with what its representation needs."""
    return _with_related(Lead.objects).get(pk=lead.pk)


class LeadObjectMixin:
    """Loads ``self.lead`` from the caller's visible leads (404 otherwise)."""

    def load_objects(self, *, lead_id, **kwargs):
        self.lead = visible_or_404(self.lead_queryset(), pk=lead_id)

    def lead_queryset(self):
        return _with_related(leads_visible_to(self.request.membership))


class LeadListView(TenantListAPIView):
    crm_permission = "leads.view"
    write_permission = "leads.add"
    pagination_class = LeadPagination

    def known_query_params(self) -> set[str]:
        return super().known_query_params() | known_lead_params(self.request.query_params, self.request.membership)

    def get_queryset(self):
        """The caller's visible leads through the shared LeadFilterSet (bad filters: 400, never wider)
        in the list's sort (read by the pagination)."""
        membership = self.request.membership
        params, sort_spec = lead_list_params(self.request.query_params, membership)
        self.sort = parse_sort(sort_spec)
        leads, _ = filter_leads(leads_visible_to(membership), params or None, membership=membership)
        return _with_related(leads)

    @extend_schema(
        tags=TAGS,
        summary="List the leads you can see",
        description="Filters: the same parameters as the lead list page (status, owner=me|unassigned|<id>, "
        "campaign, q, score_min, created_after, …, and `cf_<key>` for the company's custom fields); sorting "
        "by several keys; keyset pages: follow `next`. A parameter the list does not know is a 400 naming it.",
        parameters=lead_list_parameters(),
        responses=LeadSerializer(many=True),
    )
    def get(self, request, company_id):
        return self.paginated(self.get_queryset(), LeadSerializer)

    @extend_schema(tags=TAGS, summary="Create a lead", request=LeadInputSerializer, responses={201: LeadSerializer})
    def post(self, request, company_id):
        data = _lead_input(self)
        allow = data.pop("allow_duplicates", False)
        lead = services.lead_create(
            company=request.company, actor=request.membership, data=data, allow_duplicates=allow
        )
        return Response(LeadSerializer(_fresh(lead)).data, status=status.HTTP_201_CREATED)


class LeadDetailView(LeadObjectMixin, TenantAPIView):
    crm_permission = "leads.view"
    write_permission = "leads.change"
    method_permissions = {"DELETE": "leads.delete"}

    @extend_schema(tags=TAGS, summary="Read a lead", responses=LeadSerializer)
    def get(self, request, company_id, lead_id):
        return Response(LeadSerializer(self.lead).data)

    @extend_schema(tags=TAGS, summary="Update a lead", request=LeadInputSerializer, responses=LeadSerializer)
    def put(self, request, company_id, lead_id):
        return self._update(partial=False)

    @extend_schema(
        tags=TAGS, summary="Update some fields of a lead", request=LeadInputSerializer, responses=LeadSerializer
    )
    def patch(self, request, company_id, lead_id):
        return self._update(partial=True)

    @extend_schema(tags=TAGS, summary="Delete a lead (restorable)", request=None, responses={204: None})
    def delete(self, request, company_id, lead_id):
        services.lead_delete(actor=request.membership, lead=self.lead)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _update(self, *, partial: bool) -> Response:
        data = _lead_input(self, lead=self.lead, partial=partial)
        allow = data.pop("allow_duplicates", False)
        lead = services.lead_update(actor=self.request.membership, lead=self.lead, data=data, allow_duplicates=allow)
        return Response(LeadSerializer(_fresh(lead)).data)


class LeadTransitionView(LeadObjectMixin, TenantAPIView):
    crm_permission = "leads.change"

    @extend_schema(
        tags=TAGS, summary="Move a lead to another status", request=TransitionSerializer, responses=LeadSerializer
    )
    def post(self, request, company_id, lead_id):
        data = self.parse(TransitionSerializer)
        lead = services.lead_transition(
            actor=request.membership, lead=self.lead, to_status=data["status"], note=data["note"]
        )
        return Response(LeadSerializer(_fresh(lead)).data)


class LeadRestoreView(LeadObjectMixin, TenantAPIView):
    crm_permission = "leads.restore"

    def lead_queryset(self):
        # Deleted leads are only in the trash; a live one reaches the service, which says so.
        membership = self.request.membership
        return leads_visible_to(membership, deleted=True) | leads_visible_to(membership)

    @extend_schema(tags=TAGS, summary="Restore a deleted lead", request=None, responses=LeadSerializer)
    def post(self, request, company_id, lead_id):
        lead = services.lead_restore(actor=request.membership, lead=self.lead)
        return Response(LeadSerializer(_fresh(lead)).data)


class LeadFromProfileView(TenantAPIView):
    crm_permission = "leads.add"

    @extend_schema(
        tags=TAGS,
        summary="Create a lead from a scraped profile",
        request=FromProfileSerializer,
        responses={201: LeadSerializer},
    )
    def post(self, request, company_id):
        data = self.parse(FromProfileSerializer)
        lead = lead_create_from_profile(company=request.company, actor=request.membership, **data)
        return Response(LeadSerializer(_fresh(lead)).data, status=status.HTTP_201_CREATED)


# --- comments ----------------------------------------------------------------------------------


class CommentSerializer(serializers.ModelSerializer):
    author_name = serializers.SerializerMethodField()
    body = serializers.SerializerMethodField()

    class Meta:
        model = LeadComment
        fields = ("id", "parent", "author", "author_name", "body", "created_at", "edited_at", "is_deleted")
        read_only_fields = fields

    def get_author_name(self, comment: LeadComment) -> str | None:
        if comment.author is None:
            return None
        return comment.author.user.full_name or comment.author.user.email

    def get_body(self, comment: LeadComment) -> str:
        """Sanitised HTML; empty once the comment is deleted (the row stays to keep the thread)."""
        return "" if comment.is_deleted else comment.body


class CommentInputSerializer(StrictSerializer):
    body = serializers.CharField(allow_blank=True, help_text="Rich text; unsafe HTML is removed.")
    parent = IdField(required=False, allow_null=True, help_text="The comment this one replies to.")


class CommentEditSerializer(StrictSerializer):
    body = serializers.CharField(allow_blank=True, help_text="Rich text; unsafe HTML is removed.")


class OldestFirstPagination(NewestFirstPagination):
    ordering = ("created_at", "id")


def _lead_page_url(request, lead: Lead) -> str:
    """Where a mention notification points: the lead's page in the browser UI."""
    return reverse("leads:detail", kwargs={"company_slug": request.company.slug, "lead_id": lead.pk})


class LeadCommentListView(LeadObjectMixin, TenantListAPIView):
    crm_permission = "leads.view"
    write_permission = "leads.comment"
    pagination_class = OldestFirstPagination

    def get_queryset(self):
        return self.lead.comments.select_related("author__user")

    @extend_schema(tags=TAGS, summary="List a lead's comments, oldest first", responses=CommentSerializer(many=True))
    def get(self, request, company_id, lead_id):
        return self.paginated(self.get_queryset(), CommentSerializer)

    @extend_schema(
        tags=TAGS, summary="Comment on a lead", request=CommentInputSerializer, responses={201: CommentSerializer}
    )
    def post(self, request, company_id, lead_id):
        data = self.parse(CommentInputSerializer)
        comment = services.comment_create(
            actor=request.membership, lead=self.lead, url=_lead_page_url(request, self.lead), **data
        )
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class CommentObjectMixin(LeadObjectMixin):
    """Loads ``self.lead`` and ``self.comment``, one of its comments (404 otherwise)."""

    def load_objects(self, *, comment_id, **kwargs):
        super().load_objects(**kwargs)
        self.comment = visible_or_404(self.lead.comments.select_related("author__user"), pk=comment_id)


class LeadCommentDetailView(CommentObjectMixin, TenantAPIView):
    crm_permission = "leads.comment"

    @extend_schema(tags=TAGS, summary="Edit your comment", request=CommentEditSerializer, responses=CommentSerializer)
    def patch(self, request, company_id, lead_id, comment_id):
        data = self.parse(CommentEditSerializer)
        comment = services.comment_edit(actor=request.membership, comment=self.comment, body=data["body"])
        return Response(CommentSerializer(comment).data)

    @extend_schema(tags=TAGS, summary="Delete your comment", request=None, responses={204: None})
    def delete(self, request, company_id, lead_id, comment_id):
        services.comment_delete(actor=request.membership, comment=self.comment)
        return Response(status=status.HTTP_204_NO_CONTENT)


HISTORY_TYPES = {"+": "created", "~": "changed", "-": "deleted"}


class CommentVersionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    date = serializers.DateTimeField()
    user = serializers.EmailField(allow_null=True, help_text="Who wrote this version.")
    change_reason = serializers.CharField(allow_null=True)
    type = serializers.ChoiceField(choices=sorted(HISTORY_TYPES.values()))
    body = serializers.CharField(
        allow_blank=True, help_text="Sanitised HTML as the comment read after this change; empty once it is deleted."
    )


def comment_versions(comment: LeadComment) -> list[dict]:
    """Every version of a comment, newest first: who wrote it, when and what it said."""
    records = comment.history.select_related("history_user").order_by("-history_date", "-history_id")
    return [
        {
            "id": record.history_id,
            "date": record.history_date,
            "user": record.history_user.email if record.history_user else None,
            "change_reason": record.history_change_reason,
            "type": HISTORY_TYPES[record.history_type],
            "body": "" if comment.is_deleted else sanitize_html(record.body),
        }
        for record in records
    ]


class LeadCommentHistoryView(CommentObjectMixin, TenantAPIView):
    crm_permission = "leads.view"

    @extend_schema(
        tags=TAGS,
        summary="A comment's versions, newest first: its earlier bodies, who wrote them and when",
        responses=CommentVersionSerializer(many=True),
    )
    def get(self, request, company_id, lead_id, comment_id):
        return Response(CommentVersionSerializer(comment_versions(self.comment), many=True).data)


# --- activities --------------------------------------------------------------------------------


class ActivitySerializer(serializers.ModelSerializer):
    owner_name = serializers.SerializerMethodField()

    class Meta:
        model = Activity
        fields = ("id", "kind", "event", "subject", "notes", "outcome", "owner", "owner_name", "occurred_at", "data")
        read_only_fields = fields

    def get_owner_name(self, activity: Activity) -> str | None:
        if activity.owner is None:
            return None
        return activity.owner.user.full_name or activity.owner.user.email


class ActivityInputSerializer(StrictSerializer):
    kind = serializers.CharField(help_text=f"One of {', '.join(services.INTERACTIONS)}.")
    subject = serializers.CharField(required=False, allow_blank=True, default="")
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    outcome = serializers.CharField(required=False, allow_blank=True, default="")
    occurred_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class ActivityQuerySerializer(DateRangeQuerySerializer):
    kind = serializers.MultipleChoiceField(
        choices=ActivityKind.choices,
        required=False,
        help_text="Only these kinds; repeat for several (kind=call&kind=email).",
    )


class LatestActivityFirstPagination(NewestFirstPagination):
    ordering = ("-occurred_at", "-id")


class LeadActivityListView(LeadObjectMixin, TenantListAPIView):
    crm_permission = "leads.view"
    write_permission = "leads.change"
    pagination_class = LatestActivityFirstPagination

    query_serializer = ActivityQuerySerializer

    def get_queryset(self):
        query = self.query()
        activities = self.lead.activities.select_related("owner__user")
        if query.get("kind"):
            activities = activities.filter(kind__in=query["kind"])
        start, end = range_bounds(query)
        if start is not None:
            activities = activities.filter(occurred_at__gte=start)
        if end is not None:
            activities = activities.filter(occurred_at__lt=end)
        return activities

    @extend_schema(tags=TAGS, summary="List a lead's activities, latest first", responses=ActivitySerializer(many=True))
    def get(self, request, company_id, lead_id):
        return self.paginated(self.get_queryset(), ActivitySerializer)

    @extend_schema(
        tags=TAGS,
        summary="Log a call, email, meeting, note or message",
        request=ActivityInputSerializer,
        responses={201: ActivitySerializer},
    )
    def post(self, request, company_id, lead_id):
        data = self.parse(ActivityInputSerializer)
        activity = services.activity_log(actor=request.membership, lead=self.lead, **data)
        return Response(ActivitySerializer(activity).data, status=status.HTTP_201_CREATED)


# --- history -----------------------------------------------------------------------------------


class HistoryChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    old = serializers.JSONField()
    new = serializers.JSONField()


class HistoryEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    date = serializers.DateTimeField()
    user = serializers.EmailField(allow_null=True)
    change_reason = serializers.CharField(allow_null=True)
    type = serializers.ChoiceField(choices=sorted(HISTORY_TYPES.values()))
    ip_address = serializers.IPAddressField(allow_null=True, help_text="Where the change came from.")
    user_agent = serializers.CharField(allow_blank=True, help_text="The browser or client that made it.")
    changes = HistoryChangeSerializer(many=True)


HISTORY_FIELDS = [field.name for field in Lead.history.model.tracked_fields if field.name not in ("id", "company")]


class HistoryQuerySerializer(DateRangeQuerySerializer):
    field = serializers.MultipleChoiceField(
        choices=HISTORY_FIELDS, required=False,
        help_text="Only the changes of these fields (repeat for several); the creation row is left out.",
    )  # fmt: skip
    actor = CompanyObjectField(
        queryset_for=lambda company: Membership.objects.filter(company=company), name="member", required=False,
        help_text="Membership id: only the changes this member made.",
    )  # fmt: skip


def lead_history(lead: Lead, *, fields=(), actor: Membership | None = None, bounds=(None, None)) -> list[dict]:
    """The lead's historical rows, newest first, each with the fields it changed (old → new) and
    where the change came from; optionally only the changes of ``fields``, by ``actor``, within
    ``bounds`` (as the lead page's timeline and the activity feed filter)."""
    records = list(lead.history.select_related("history_user").order_by("history_date", "history_id"))
    entries, previous = [], None
    for record in records:
        delta = record.diff_against(previous).changes if previous is not None else []
        changes = [{"field": c.field, "old": c.old, "new": c.new} for c in delta if not fields or c.field in fields]
        by_actor = actor is None or record.history_user_id == actor.user_id
        if by_actor and in_range(record.history_date, bounds) and (changes or not fields):
            entries.append(
                {
                    "id": record.history_id,
                    "date": record.history_date,
                    "user": record.history_user.email if record.history_user else None,
                    "change_reason": record.history_change_reason,
                    "type": HISTORY_TYPES[record.history_type],
                    "ip_address": record.ip_address,
                    "user_agent": record.user_agent,
                    "changes": changes,
                }
            )
        previous = record
    return entries[::-1]


class LeadHistoryView(LeadObjectMixin, TenantAPIView):
    crm_permission = "leads.view"
    query_serializer = HistoryQuerySerializer

    @extend_schema(
        tags=TAGS, summary="A lead's change history, newest first", responses=HistoryEntrySerializer(many=True)
    )
    def get(self, request, company_id, lead_id):
        query = self.query()
        entries = lead_history(
            self.lead, fields=query.get("field", ()), actor=query.get("actor"), bounds=range_bounds(query)
        )
        return Response(HistoryEntrySerializer(entries, many=True).data)


# --- campaigns (statuses and transitions: leads.config.api) ------------------------------------------------------------


class CampaignSerializer(serializers.ModelSerializer):
    class Meta:
        model = Campaign
        fields = ("id", "name", "source", "medium", "starts_on", "ends_on", "is_active")
        read_only_fields = fields


class CampaignListView(TenantAPIView):
    crm_permission = "leads.view"

    @extend_schema(tags=SETUP_TAGS, summary="The company's campaigns", responses=CampaignSerializer(many=True))
    def get(self, request, company_id):
        return Response(CampaignSerializer(Campaign.objects.filter(company=request.company), many=True).data)
