"""Account, contact and opportunity pages, the pipeline board and the forecast. Each view parses
input, calls one service, then messages and redirects (or returns an htmx partial). Records are
always fetched through the visibility queries."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import services
from accounts.chart import LEGEND, forecast_chart
from accounts.forecast import CATEGORIES, MAX_PERIODS, PERIODS, forecast, period_start
from accounts.forms import AccountForm, ContactForm, OpportunityForm, RecordActivityForm, StageMoveForm
from accounts.listing import LISTINGS, page_of
from accounts.models import Opportunity
from accounts.pipeline import board, time_in_stage
from accounts.queries import contacts_visible_to, opportunities_visible_to, stages_of
from accounts.timeline import record_timeline
from accounts.validation import default_currency
from crm.forms import error_text, form_error_text
from crm.http import is_htmx, safe_next
from crm.listing import filter_params
from crm.permissions import tenant_view
from crm.views_helpers import NOT_ALLOWED, act, form_flow


@dataclass(frozen=True)
class Kind:
    key: str  # accounts, contacts, opportunities
    singular: str
    url_kwarg: str
    form: type
    create: object
    update: object
    delete: object

    def url(self, name: str, obj=None) -> str:
        prefix = {"accounts": "account", "contacts": "contact", "opportunities": "opportunity"}[self.key]
        kwargs = {"company_slug": obj.company.slug, self.url_kwarg: obj.pk} if obj is not None else {}
        return reverse(f"accounts:{prefix}_{name}", kwargs=kwargs)


KINDS = {
    "accounts": Kind("accounts", "account", "account_id", AccountForm, services.account_create,
                     services.account_update, services.account_delete),
    "contacts": Kind("contacts", "contact", "contact_id", ContactForm, services.contact_create,
                     services.contact_update, services.contact_delete),
    "opportunities": Kind("opportunities", "opportunity", "opportunity_id", OpportunityForm,
                          services.opportunity_create, services.opportunity_update, services.opportunity_delete),
}  # fmt: skip


EXPORT_FORMATS = [("csv", "CSV"), ("xlsx", "Excel"), ("json", "JSON")]


def _record(request, kind: Kind, pk: int):
    queryset = LISTINGS[kind.key].visible(request.membership).select_related(*LISTINGS[kind.key].related, "company")
    return get_object_or_404(queryset, pk=pk)


# --- lists ------------------------------------------------------------------------------------------------


def _list(request, kind: Kind):
    record_list = LISTINGS[kind.key]
    params = filter_params(request.GET)
    sort_spec = request.GET.get("sort", "") or record_list.listing.default_sort
    context = {"kind": kind, "errors": {}, "sort_spec": sort_spec, "export_formats": EXPORT_FORMATS}
    filterset = None
    try:
        page, filterset = page_of(record_list, request.membership, request.GET)
        sort = record_list.listing.parse_sort(sort_spec)
    except ValidationError as error:
        context["errors"] = error.message_dict
        filterset = getattr(error, "filterset", None) or filterset
        page, sort = None, []
    if filterset is None:
        filterset = record_list.filterset(params or None, queryset=record_list.model.objects.none(),
                                          membership=request.membership)  # fmt: skip
    context.update(
        filterset=filterset, page=page, sort_columns=record_list.listing.sort_links(sort),
        query_string=record_list.listing.query_string(params, sort_spec),
    )  # fmt: skip
    return render(request, f"accounts/{kind.singular}_list.html", context)


@tenant_view("accounts.view")
def account_list(request, company_slug):
    return _list(request, KINDS["accounts"])


@tenant_view("accounts.view")
def contact_list(request, company_slug):
    return _list(request, KINDS["contacts"])


@tenant_view("accounts.view")
def opportunity_list(request, company_slug):
    return _list(request, KINDS["opportunities"])


# --- create, edit, delete ----------------------------------------------------------------------------------


def _form_page(request, kind: Kind, obj=None):
    initial = {key: value for key, value in request.GET.items() if key in ("account",)} if obj is None else None
    form_kwargs = {"membership": request.membership, "instance": obj}
    if initial:
        form_kwargs["initial"] = initial
    form = kind.form(request.POST or None, **form_kwargs)

    def save():
        if obj is None:
            return kind.create(actor=request.membership, company=request.company, data=form.service_data())
        kind.update(actor=request.membership, data=form.service_data(), **{kind.singular: obj})
        return obj

    return form_flow(
        request, form, save, success=f"{kind.singular.capitalize()} saved.",
        next_url=lambda saved: kind.url("detail", saved), template="accounts/record_form.html",
        context={"kind": kind, "object": obj},
    )  # fmt: skip


@tenant_view("accounts.add")
def account_create(request, company_slug):
    return _form_page(request, KINDS["accounts"])


@tenant_view("accounts.add")
def contact_create(request, company_slug):
    return _form_page(request, KINDS["contacts"])


@tenant_view("accounts.add")
def opportunity_create(request, company_slug):
    return _form_page(request, KINDS["opportunities"])


@tenant_view("accounts.change")
def account_edit(request, company_slug, account_id):
    return _form_page(request, KINDS["accounts"], _record(request, KINDS["accounts"], account_id))


@tenant_view("accounts.change")
def contact_edit(request, company_slug, contact_id):
    return _form_page(request, KINDS["contacts"], _record(request, KINDS["contacts"], contact_id))


@tenant_view("accounts.change")
def opportunity_edit(request, company_slug, opportunity_id):
    return _form_page(request, KINDS["opportunities"], _record(request, KINDS["opportunities"], opportunity_id))


def _delete(request, kind: Kind, pk: int):
    obj = _record(request, kind, pk)
    if not act(request, lambda: kind.delete(actor=request.membership, **{kind.singular: obj}),
               f"{kind.singular.capitalize()} {obj} deleted."):  # fmt: skip
        return redirect(kind.url("detail", obj))
    return redirect(reverse(f"accounts:{kind.singular}_list", kwargs={"company_slug": request.company.slug}))


@require_POST
@tenant_view("accounts.delete")
def account_delete(request, company_slug, account_id):
    return _delete(request, KINDS["accounts"], account_id)


@require_POST
@tenant_view("accounts.delete")
def contact_delete(request, company_slug, contact_id):
    return _delete(request, KINDS["contacts"], contact_id)


@require_POST
@tenant_view("accounts.delete")
def opportunity_delete(request, company_slug, opportunity_id):
    return _delete(request, KINDS["opportunities"], opportunity_id)


# --- detail pages -----------------------------------------------------------------------------------------


def _detail_context(request, obj, **extra) -> dict:
    return {"object": obj, "activity_form": RecordActivityForm(), **extra}


@tenant_view("accounts.view")
def account_detail(request, company_slug, account_id):
    account = _record(request, KINDS["accounts"], account_id)
    membership = request.membership
    contacts = list(contacts_visible_to(membership).filter(account=account).select_related("owner__user"))
    opportunities = list(
        opportunities_visible_to(membership).filter(account=account).select_related("stage", "owner__user")
    )
    conversions = list(account.conversions.select_related("lead", "converted_by__user"))
    timeline = record_timeline(account, contacts=contacts, opportunities=opportunities)
    return render(request, "accounts/account_detail.html", _detail_context(
        request, account, contacts=contacts, opportunities=opportunities, conversions=conversions, timeline=timeline,
    ))  # fmt: skip


@tenant_view("accounts.view")
def contact_detail(request, company_slug, contact_id):
    contact = _record(request, KINDS["contacts"], contact_id)
    opportunities = opportunities_visible_to(request.membership).filter(primary_contact=contact).select_related("stage")
    return render(request, "accounts/contact_detail.html", _detail_context(
        request, contact, opportunities=list(opportunities), timeline=record_timeline(contact),
    ))  # fmt: skip


@tenant_view("accounts.view")
def opportunity_detail(request, company_slug, opportunity_id):
    opportunity = _record(request, KINDS["opportunities"], opportunity_id)
    move_form = StageMoveForm(initial={"stage": opportunity.stage_id}, company_id=request.company.pk)
    return render(request, "accounts/opportunity_detail.html", _detail_context(
        request, opportunity, move_form=move_form, stays=time_in_stage(opportunity),
        timeline=record_timeline(opportunity),
    ))  # fmt: skip


def _log_activity(request, kind: Kind, pk: int):
    obj = _record(request, kind, pk)
    form = RecordActivityForm(request.POST)
    if form.is_valid():
        act(request, lambda: services.activity_log(actor=request.membership, record=obj, **form.cleaned_data),
            "Interaction logged.")  # fmt: skip
    else:
        messages.error(request, form_error_text(form))
    return redirect(kind.url("detail", obj))


@require_POST
@tenant_view("accounts.change")
def account_log(request, company_slug, account_id):
    return _log_activity(request, KINDS["accounts"], account_id)


@require_POST
@tenant_view("accounts.change")
def contact_log(request, company_slug, contact_id):
    return _log_activity(request, KINDS["contacts"], contact_id)


@require_POST
@tenant_view("accounts.change")
def opportunity_log(request, company_slug, opportunity_id):
    return _log_activity(request, KINDS["opportunities"], opportunity_id)


# --- the board --------------------------------------------------------------------------------------------

BOARD_FILTERS = ("owner", "team", "close_period", "currency")


def _board_context(request) -> dict:
    params = QueryDict(mutable=True)
    for name in BOARD_FILTERS:
        params.setlist(name, request.GET.getlist(name))
    record_list = LISTINGS["opportunities"]
    query_string = params.urlencode()
    board_url = reverse("accounts:pipeline", kwargs={"company_slug": request.company.slug})
    # The board's own address, also when the move view renders it: a form posted without htmx
    # redirects here, never to the POST-only move URL.
    context = {
        "errors": {},
        "query_string": query_string,
        "board_url": f"{board_url}?{query_string}" if query_string else board_url,
    }
    try:
        opportunities, filterset = record_list.filtered(request.membership, params)
        context["columns"] = board(opportunities, list(stages_of(request.company.pk)))
    except ValidationError as error:
        context["errors"], context["columns"] = error.message_dict, []
        filterset = getattr(error, "filterset", None)
    context["filterset"] = filterset
    return context


@tenant_view("pipeline.view")
def pipeline_board(request, company_slug):
    return render(request, "accounts/pipeline_board.html", _board_context(request))


@require_POST
@tenant_view("accounts.change")
def opportunity_move(request, company_slug, opportunity_id):
    """Move a card: htmx answers with the refreshed board; without JavaScript, a redirect back."""
    opportunity = _record(request, KINDS["opportunities"], opportunity_id)
    form = StageMoveForm(request.POST, company_id=request.company.pk)
    problem = ""
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.opportunity_change_stage(
                actor=request.membership, opportunity=opportunity, stage=data["stage"],
                probability=data["probability"] or None, note=data["note"], lost_reason=data["lost_reason"] or None,
            )  # fmt: skip
        except ValidationError as error:
            problem = error_text(error, form=form)
        except PermissionDenied as error:
            problem = str(error) or NOT_ALLOWED
    else:
        problem = "Choose a stage of this pipeline."
    if is_htmx(request):
        context = _board_context(request)
        context["move_error"] = f"{opportunity.name}: {problem}" if problem else ""
        return render(request, "accounts/partials/board.html", context, status=200)
    if problem:
        messages.error(request, f"{opportunity.name}: {problem}")
    else:
        messages.success(request, f"{opportunity.name} moved.")
    return redirect(safe_next(request, kind_url_detail(opportunity)))


def kind_url_detail(opportunity: Opportunity) -> str:
    return KINDS["opportunities"].url("detail", opportunity)


# --- the forecast -----------------------------------------------------------------------------------------


@tenant_view("pipeline.view")
def forecast_page(request, company_slug):
    membership = request.membership
    period = request.GET.get("period") or "quarter"
    currency = (request.GET.get("currency") or default_currency(request.company.default_country)).upper()
    errors: dict = {}
    try:
        count = int(request.GET.get("periods") or 4)
    except ValueError:
        errors["periods"], count = ["Enter a whole number."], 4
    start = timezone.localdate()
    if request.GET.get("from"):
        try:
            start = timezone.datetime.fromisoformat(request.GET["from"]).date()
        except ValueError:
            errors["from"] = ["Enter a date as YYYY-MM-DD."]
    params = QueryDict(mutable=True)
    for name in ("owner", "team"):
        params.setlist(name, request.GET.getlist(name))
    result, filterset = None, None
    if not errors:
        try:
            opportunities, filterset = LISTINGS["opportunities"].filtered(membership, params)
            result = forecast(opportunities, period=period, start=period_start(start, period if period in PERIODS
                              else "month"), count=count, currency=currency)  # fmt: skip
        except ValidationError as error:
            errors = error.message_dict
            filterset = getattr(error, "filterset", filterset)
    drill = params.copy()
    drill["currency"] = currency
    groups = [("Per owner", result.owners, "owner"), ("Per team", result.teams, "team")] if result else []
    return render(request, "accounts/forecast.html", {
        "result": result, "errors": errors, "period": period, "periods": count, "currency": currency,
        "start": start, "filterset": filterset, "max_periods": MAX_PERIODS, "drill_query": drill.urlencode(),
        "chart": forecast_chart(result) if result else "", "legend": LEGEND, "groups": groups,
        "categories": [(c.value, c.label) for c in CATEGORIES],
    })  # fmt: skip
