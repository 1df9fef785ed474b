"""REST API for accounts, contacts, opportunities, the pipeline board and the forecast: serializers
and views over the same queries, filters and services as the pages. Rules live in the services and
arrive here as a Django ``ValidationError`` (400 naming the field) or ``PermissionDenied`` (403)."""

from __future__ import annotations

import functools

from django.http import QueryDict
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts import services
from accounts.forecast import MAX_PERIODS, PERIODS, forecast, period_start
from accounts.listing import LISTINGS, RecordList, page_of
from accounts.models import Account, CompanySize, Contact, ContactRole, Influence, Opportunity, Stage
from accounts.pipeline import board_totals
from accounts.queries import opportunities_visible_to, stages_of
from accounts.validation import default_currency
from crm.api import CompanyObjectField, StrictSerializer, TenantAPIView
from crm.api import get_object_or_404 as visible_or_404
from crm.models import Membership
from leads.api import BlankableURLField
from leads.api_query import LeadPagination
from leads.models import Lead

TAGS = ["accounts"]
PIPELINE_TAGS = ["pipeline"]
LIST_PARAMS = ("sort", "cursor", "per_page")


def _member_name(member: Membership | None) -> str | None:
    return None if member is None else (member.user.full_name or member.user.email)


def _company_field(model, name: str, **kwargs):
    return CompanyObjectField(queryset_for=lambda company: model.objects.filter(company=company), name=name, **kwargs)


def _text(**kwargs):
    return serializers.CharField(required=False, allow_blank=True, allow_null=True, **kwargs)


# --- serializers ----------------------------------------------------------------------------------------

ACCOUNT_FIELDS = (
    "id", "name", "domain", "website", "account_type", "industry", "company_size", "annual_revenue", "gstin",
    "health_score", "lifecycle_stage", "is_active", "owner", "owner_name", "parent", "country", "created_at",
    "updated_at",
)  # fmt: skip
CONTACT_FIELDS = (
    "id", "account", "account_name", "first_name", "last_name", "job_title", "role", "email", "phone",
    "preferred_channel", "influence", "is_primary", "gdpr_consent", "dnd", "opt_in_date", "owner", "owner_name",
    "created_at", "updated_at",
)  # fmt: skip
OPPORTUNITY_FIELDS = (
    "id", "name", "account", "account_name", "primary_contact", "owner", "owner_name", "amount", "currency",
    "weighted_amount", "close_date", "stage", "stage_name", "probability", "forecast_category", "source", "lead",
    "next_step", "lost_reason", "stage_changed_at", "closed_at", "created_at", "updated_at",
)  # fmt: skip


def _blank_choice(choices):
    """A choice that may be "" (not set): the schema's enum must say so too."""
    return serializers.ChoiceField(choices=choices, allow_blank=True, read_only=True)


class AccountSerializer(serializers.ModelSerializer):
    owner_name = serializers.SerializerMethodField()
    website = BlankableURLField(read_only=True)
    company_size = _blank_choice(CompanySize.choices)

    class Meta:
        model = Account
        fields = read_only_fields = ACCOUNT_FIELDS

    def get_owner_name(self, account: Account) -> str | None:
        return _member_name(account.owner)


class ContactSerializer(serializers.ModelSerializer):
    owner_name = serializers.SerializerMethodField()
    role = _blank_choice(ContactRole.choices)
    influence = _blank_choice(Influence.choices)
    account_name = serializers.CharField(source="account.name", read_only=True)

    class Meta:
        model = Contact
        fields = read_only_fields = CONTACT_FIELDS

    def get_owner_name(self, contact: Contact) -> str | None:
        return _member_name(contact.owner)


class OpportunitySerializer(serializers.ModelSerializer):
    owner_name = serializers.SerializerMethodField()
    account_name = serializers.CharField(source="account.name", read_only=True)
    stage_name = serializers.CharField(source="stage.name", read_only=True)
    weighted_amount = serializers.DecimalField(max_digits=16, decimal_places=2, read_only=True)

    class Meta:
        model = Opportunity
        fields = read_only_fields = OPPORTUNITY_FIELDS

    def get_owner_name(self, opportunity: Opportunity) -> str | None:
        return _member_name(opportunity.owner)


def _owner_field():
    return _company_field(Membership, "owner", required=False, allow_null=True,
                          help_text="Membership id; SDRs may only name themselves.")  # fmt: skip


def _money(**kwargs):
    return serializers.DecimalField(max_digits=16, decimal_places=2, required=False, allow_null=True, **kwargs)


class AccountInputSerializer(StrictSerializer):
    name = serializers.CharField(allow_blank=True)
    domain = _text(help_text="example.com; taken from the website when empty.")
    website = _text()
    account_type = _text(help_text="customer, prospect or partner.")
    industry = _text()
    company_size = _text(help_text="1-10, 11-50, 51-200, 201-1000 or 1000+.")
    annual_revenue = _money()
    gstin = _text(help_text="India's 15-character GST number (checked).")
    health_score = _text(help_text="green, yellow, red or black.")
    lifecycle_stage = _text(help_text="mqa, sqa, customer or churned.")
    is_active = serializers.BooleanField(required=False)
    owner = _owner_field()
    parent = _company_field(Account, "parent account", required=False, allow_null=True)
    country = _text(help_text="ISO 3166 alpha-2; defaults to the company's.")
    ignored_keys = frozenset(ACCOUNT_FIELDS)


class ContactInputSerializer(StrictSerializer):
    account = _company_field(Account, "account")
    first_name = _text()
    last_name = _text()
    job_title = _text()
    role = _text(help_text="decision_maker, influencer, user, gatekeeper, champion or economic_buyer.")
    email = _text()
    phone = _text(help_text="Any format the account's country understands; stored in E.164.")
    preferred_channel = _text(help_text="email, whatsapp or phone.")
    influence = _text(help_text="high, medium or low.")
    is_primary = serializers.BooleanField(required=False, help_text="At most one primary contact per account.")
    gdpr_consent = serializers.BooleanField(required=False)
    dnd = serializers.BooleanField(required=False, help_text="Do not disturb.")
    opt_in_date = serializers.DateTimeField(required=False, allow_null=True)
    owner = _owner_field()
    ignored_keys = frozenset(CONTACT_FIELDS)


class OpportunityInputSerializer(StrictSerializer):
    """A different `stage` or `probability` is a stage change (`stage_note` is its note): the
    probability follows the stage unless a manager overrides it with a note."""

    name = serializers.CharField(allow_blank=True)
    account = _company_field(Account, "account")
    primary_contact = _company_field(Contact, "contact", required=False, allow_null=True,
                                     help_text="A contact of the opportunity's account.")  # fmt: skip
    owner = _owner_field()
    amount = serializers.DecimalField(max_digits=16, decimal_places=2, required=False,
                                      help_text="Not negative; send it as a string (\"1250.50\").")  # fmt: skip
    currency = _text(help_text="ISO 4217; defaults to the company's currency.")
    close_date = serializers.DateField()
    stage = _company_field(Stage, "stage", required=False, help_text="Default: the first open stage.")
    probability = serializers.IntegerField(required=False, allow_null=True, help_text="0–100; managers only.")
    stage_note = _text(help_text="Why the probability differs from the stage's.")
    forecast_category = _text(help_text="commit, best_case, most_likely, worst_case (omitted: closed lost).")
    source = _text()
    lead = _company_field(Lead, "lead", required=False, allow_null=True)
    next_step = _text()
    lost_reason = _text(help_text="Required in a closed-lost stage.")
    ignored_keys = frozenset(OPPORTUNITY_FIELDS)


class StageChangeSerializer(StrictSerializer):
    stage = _company_field(Stage, "stage")
    probability = serializers.IntegerField(required=False, allow_null=True, help_text="Managers only, with a note.")
    note = serializers.CharField(required=False, allow_blank=True, default="")
    lost_reason = serializers.CharField(required=False, allow_blank=True, allow_null=True, default=None)


class StageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Stage
        fields = read_only_fields = ("id", "name", "order", "probability", "is_won", "is_lost", "is_active")


# --- CRUD views ---------------------------------------------------------------------------------------------


class RecordAPI:
    """What the three record types differ in: their listing, serializers, services and permissions."""

    def __init__(self, kind: str, output, input_, create, update, delete, related: tuple[str, ...]):
        self.kind, self.output, self.input = kind, output, input_
        self.create, self.update, self.delete, self.related = create, update, delete, related

    @property
    def listing(self) -> RecordList:
        return LISTINGS[self.kind]


ACCOUNTS = RecordAPI("accounts", AccountSerializer, AccountInputSerializer, services.account_create,
                     services.account_update, services.account_delete, ("owner__user",))  # fmt: skip
CONTACTS = RecordAPI("contacts", ContactSerializer, ContactInputSerializer, services.contact_create,
                     services.contact_update, services.contact_delete, ("owner__user", "account"))  # fmt: skip
OPPORTUNITIES = RecordAPI("opportunities", OpportunitySerializer, OpportunityInputSerializer,
                          services.opportunity_create, services.opportunity_update, services.opportunity_delete,
                          ("owner__user", "account", "stage"))  # fmt: skip


def _update_kwargs(api: RecordAPI, obj) -> dict:
    return {{"accounts": "account", "contacts": "contact", "opportunities": "opportunity"}[api.kind]: obj}


class RecordPages(LeadPagination):
    """The record lists' keyset pages, for the schema: ``page_of`` builds them, in the same
    ``{next, previous, results}`` shape as the lead list; their parameters are ``LIST_PARAMS``."""

    def get_schema_operation_parameters(self, view):
        return []


class RecordListView(TenantAPIView):
    api: RecordAPI
    pagination_class = RecordPages
    crm_permission = "accounts.view"
    write_permission = "accounts.add"

    def known_query_params(self) -> set[str]:
        return super().known_query_params() | set(LIST_PARAMS) | set(self.api.listing.filterset.base_filters)

    def get(self, request, company_id):
        page, _filterset = page_of(self.api.listing, request.membership, request.query_params)
        rows = self.api.output(page.rows, many=True).data
        base = request.build_absolute_uri(request.path)
        params = request.query_params.copy()

        def link(cursor):
            if cursor is None:
                return None
            params["cursor"] = cursor
            return f"{base}?{params.urlencode()}"

        return Response({"results": rows, "next": link(page.next_cursor), "previous": link(page.prev_cursor)})

    def post(self, request, company_id):
        data = self.parse(self.api.input)
        created = self.api.create(actor=request.membership, company=request.company, data=data)
        fresh = self.api.listing.model.objects.select_related(*self.api.related).get(pk=created.pk)
        return Response(self.api.output(fresh).data, status=status.HTTP_201_CREATED)


class RecordDetailView(TenantAPIView):
    api: RecordAPI
    crm_permission = "accounts.view"
    write_permission = "accounts.change"
    method_permissions = {"DELETE": "accounts.delete"}
    url_kwarg: str

    def load_objects(self, **kwargs):
        visible = self.api.listing.visible(self.request.membership).select_related(*self.api.related)
        self.object = visible_or_404(visible, pk=kwargs[self.url_kwarg])

    def get(self, request, company_id, **kwargs):
        return Response(self.api.output(self.object).data)

    def put(self, request, company_id, **kwargs):
        return self._update(partial=False)

    def patch(self, request, company_id, **kwargs):
        return self._update(partial=True)

    def delete(self, request, company_id, **kwargs):
        self.api.delete(actor=request.membership, **_update_kwargs(self.api, self.object))
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _update(self, *, partial: bool) -> Response:
        data = self.parse(self.api.input, partial=partial)
        self.api.update(actor=self.request.membership, data=data, **_update_kwargs(self.api, self.object))
        fresh = self.api.listing.model.objects.select_related(*self.api.related).get(pk=self.object.pk)
        return Response(self.api.output(fresh).data)


def _list_schema(api: RecordAPI, noun: str):
    filters = ", ".join(api.listing.filterset.base_filters)
    return extend_schema(
        tags=TAGS, summary=f"List the {noun} you can see", responses=api.output(many=True),
        description=f"Filters (the list page's): {filters}. `sort` takes comma-separated keys "
        f"({', '.join(api.listing.listing.sort_keys)}), `-` for descending. Keyset pages: follow `next`.",
        parameters=[OpenApiParameter(name, str) for name in (*api.listing.filterset.base_filters, *LIST_PARAMS)],
    )  # fmt: skip


def _own(method):
    """A new function for each view class: ``extend_schema`` annotates the function object, so the
    three record types decorating the shared base method would all get the last one's schema."""

    @functools.wraps(method)
    def own(self, *args, **kwargs):
        return method(self, *args, **kwargs)

    return own


def _views(api: RecordAPI, noun: str, singular: str, url_kwarg: str):
    list_view = type(f"{singular.title()}ListView", (RecordListView,), {"api": api})
    list_view.get = _list_schema(api, noun)(_own(RecordListView.get))
    list_view.post = extend_schema(tags=TAGS, summary=f"Create {singular}", request=api.input,
                                   responses={201: api.output})(_own(RecordListView.post))  # fmt: skip
    detail = type(f"{singular.title()}DetailView", (RecordDetailView,), {"api": api, "url_kwarg": url_kwarg})
    for method, summary, request_body, responses in (
        ("get", f"Read {singular}", None, api.output),
        ("put", f"Update {singular}", api.input, api.output),
        ("patch", f"Update some fields of {singular}", api.input, api.output),
        ("delete", f"Delete {singular}", None, {204: None}),
    ):
        decorated = extend_schema(tags=TAGS, summary=summary, request=request_body, responses=responses)
        setattr(detail, method, decorated(_own(getattr(RecordDetailView, method))))
    return list_view, detail


AccountListView, AccountDetailView = _views(ACCOUNTS, "accounts", "an account", "account_id")
ContactListView, ContactDetailView = _views(CONTACTS, "contacts", "a contact", "contact_id")
OpportunityListView, OpportunityDetailView = _views(OPPORTUNITIES, "opportunities", "an opportunity", "opportunity_id")


class OpportunityStageView(TenantAPIView):
    crm_permission = "accounts.change"

    def load_objects(self, *, opportunity_id, **kwargs):
        self.opportunity = visible_or_404(opportunities_visible_to(self.request.membership), pk=opportunity_id)

    @extend_schema(
        tags=TAGS, summary="Move an opportunity to another stage", request=StageChangeSerializer,
        responses=OpportunitySerializer,
        description="The probability becomes the stage's; managers may give another with a `note`. Closed "
        "won/lost are terminal except a manager's reopen with a note; closed lost needs `lost_reason`.",
    )  # fmt: skip
    def post(self, request, company_id, opportunity_id):
        data = self.parse(StageChangeSerializer)
        moved = services.opportunity_change_stage(actor=request.membership, opportunity=self.opportunity, **data)
        fresh = Opportunity.objects.select_related(*OPPORTUNITIES.related).get(pk=moved.pk)
        return Response(OpportunitySerializer(fresh).data)


class StageListView(TenantAPIView):
    crm_permission = "pipeline.view"

    @extend_schema(tags=PIPELINE_TAGS, summary="The company's pipeline stages", responses=StageSerializer(many=True))
    def get(self, request, company_id):
        return Response(StageSerializer(stages_of(request.company.pk, active_only=False), many=True).data)


# --- board and forecast -----------------------------------------------------------------------------------


class PipelineView(TenantAPIView):
    crm_permission = "pipeline.view"
    query_params = ("owner", "team", "close_period", "close_after", "close_before", "account", "currency")

    @extend_schema(
        tags=PIPELINE_TAGS, summary="The pipeline board's figures",
        description="Per active stage: the number of opportunities you can see and their amounts per "
        "currency, unweighted and weighted by probability. Filters: owner, team, close_period (2026-Q1), …",
        parameters=[OpenApiParameter(name, str) for name in query_params],
        responses=OpenApiTypes.OBJECT,
    )  # fmt: skip
    def get(self, request, company_id):
        opportunities, _ = LISTINGS["opportunities"].filtered(request.membership, request.query_params)
        columns = board_totals(opportunities, list(stages_of(request.company.pk)))
        return Response({"stages": [
            {"id": c.stage.pk, "name": c.stage.name, "probability": c.stage.probability, "is_won": c.stage.is_won,
             "is_lost": c.stage.is_lost, "count": c.count, "amounts": {k: str(v) for k, v in c.amounts.items()},
             "weighted": {k: str(v) for k, v in c.weighted.items()}}
            for c in columns
        ]})  # fmt: skip


class ForecastQuerySerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=list(PERIODS), default="quarter")
    start = serializers.DateField(required=False, help_text="Any day of the first period; default today.")
    periods = serializers.IntegerField(min_value=1, max_value=MAX_PERIODS, default=4)
    currency = serializers.CharField(required=False, help_text="ISO 4217; default the company's currency.")


def forecast_json(result) -> dict:
    def figure(f):
        return {"count": f.count, "amount": str(f.amount), "weighted": str(f.weighted)}

    def rows(items):
        return [{"id": r.key, "name": r.label, "periods": {k: figure(f) for k, f in r.by_period.items()},
                 "total": figure(r.total)} for r in items]  # fmt: skip

    return {
        "period": result.period, "currency": result.currency, "total": figure(result.total),
        "periods": [{"key": p.key, "label": p.label, "start": p.start, "end": p.end, "total": figure(p.total),
                     "categories": {c: figure(f) for c, f in p.by_category.items()}} for p in result.periods],
        "owners": rows(result.owners), "teams": rows(result.teams), "other_currencies": result.other_currencies,
    }  # fmt: skip


class ForecastView(TenantAPIView):
    crm_permission = "pipeline.view"
    query_params = ("from", "owner", "team", "account")
    query_serializer = ForecastQuerySerializer

    @extend_schema(
        tags=PIPELINE_TAGS, summary="The forecast per period and category",
        description="Amounts unweighted and weighted by probability per period (`period=month|quarter`, "
        "`from`/`start`, `periods`) and forecast category, per owner and per team, in one currency.",
        parameters=[OpenApiParameter("from", OpenApiTypes.DATE, description="Same as start.")]
        + [OpenApiParameter(name, str) for name in ("owner", "team", "account")],
        responses=OpenApiTypes.OBJECT,
    )  # fmt: skip
    def get(self, request, company_id):
        params = request.query_params.copy()
        if "from" in params and "start" not in params:
            params["start"] = params.pop("from")[0]
        query = ForecastQuerySerializer(data={k: params[k] for k in ForecastQuerySerializer().fields if k in params})
        query.is_valid(raise_exception=True)
        options = query.validated_data
        currency = (options.get("currency") or default_currency(request.company.default_country)).upper()
        filters = QueryDict(mutable=True)
        for name in ("owner", "team", "account"):
            filters.setlist(name, params.getlist(name))
        opportunities, _ = LISTINGS["opportunities"].filtered(request.membership, filters)
        start = period_start(options.get("start") or timezone.localdate(), options["period"])
        result = forecast(opportunities, period=options["period"], start=start, count=options["periods"],
                          currency=currency)  # fmt: skip
        return Response(forecast_json(result))
