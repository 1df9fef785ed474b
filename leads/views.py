"""Lead pages for SDRs and managers. Each view parses input, calls one service, then messages and
redirects (or returns an htmx partial). Leads are always fetched through ``leads_visible_to``."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from crm.forms import add_service_errors, error_text, form_error_text
from crm.http import is_htmx
from crm.models import Role
from crm.permissions import tenant_view
from crm.queries import memberships_visible_to
from crm.views_helpers import Confirm, act, confirm_flow, form_flow
from leads import bulk, feed, list_page, listing, services
from leads.filters import LeadFilterSet, filter_leads
from leads.forms import (
    ActivityForm,
    CommentForm,
    FeedFilterForm,
    LeadForm,
    ProfileForm,
    TransitionForm,
)
from leads.models import BulkJob, Campaign, Lead, LeadComment, LeadStatus
from leads.profiles import lead_create_from_profile
from leads.queries import leads_visible_to, statuses_of, transitions_available
from leads.timeline import KINDS, company_feed, lead_timeline, time_in_status

PAGE_SIZE = 50
# The status buttons, the saved-view bar's choices and the list's filter are the fields these
# services name: their refusals read bare, without "Status:", "Visibility:", "View:" or "Filter:".
BARE = dict.fromkeys(("status", "visibility", "view", "filter"), "")


def _lead(request, lead_id: int, *, deleted: bool = False) -> Lead:
    queryset = leads_visible_to(request.membership, deleted=deleted).select_related(
        "status", "campaign", "owner__user", "company"
    )
    return get_object_or_404(queryset, pk=lead_id)


def _detail_url(lead: Lead) -> str:
    return reverse("leads:detail", kwargs={"company_slug": lead.company.slug, "lead_id": lead.pk})


@tenant_view("leads.view")
def lead_list(request, company_slug):
    """Filters (the shared LeadFilterSet), multi-key sort, keyset pages, saved views, bulk actions."""
    membership = request.membership
    params, sort_spec, view_key, view_errors = listing.resolve_view(request.GET, membership)
    columns = list_page.keep_columns(params, request.GET)
    context = {"view_key": view_key, "sort_spec": sort_spec, "builtin_views": listing.builtin_views(membership),
               "saved_views": listing.saved_filters_visible_to(membership), "errors": dict(view_errors)}  # fmt: skip
    filterset = None
    try:
        per_page = listing.per_page_of(request.GET.get("per_page"), listing.preference_of(membership).per_page)
        number = listing.page_number_of(request.GET.get("page"), per_page)
        sort = listing.parse_sort(sort_spec)
        leads, filterset = filter_leads(leads_visible_to(membership), params or None, membership=membership)
        leads = leads.select_related("status", "owner__user", "campaign")
        count, capped = listing.capped_count(leads)
        page = listing.paginate(leads, sort, cursor=request.GET.get("cursor"), per_page=per_page, number=number,
                                many=capped)  # fmt: skip
    except ValidationError as error:
        context["errors"].update(error.message_dict)
        filterset = getattr(error, "filterset", None) or filterset
        page, count, capped, sort, per_page = None, 0, False, [], listing.PER_PAGE_CHOICES[1]
    if filterset is None:
        filterset = LeadFilterSet(params or None, queryset=Lead.objects.none(), membership=membership)
    context.update(
        filterset=filterset, page=page, count=count, count_capped=capped, per_page=per_page,
        per_page_choices=listing.PER_PAGE_CHOICES, sort_columns=listing.sort_links(sort_spec, sort),
        query_string=listing.query_string(params, sort_spec), columns=columns,
        optional_columns=list_page.OPTIONAL_COLUMNS, column_count=len(listing.SORT_KEYS) + len(columns) + 1,
        chips=list_page.filter_chips(filterset, params, sort_spec),
        clear_filters=list_page.clear_filters_query(params, sort_spec),
        pager=list_page.pager(page, count, capped) if page else None,
        can_bulk="leads.bulk" in request.permissions, bulk_operations=list_page.bulk_operations(request.permissions),
        can_trash_pool=membership.role == Role.ADMIN,
        bulk_statuses=statuses_of(membership.company_id), bulk_campaigns=Campaign.objects.filter(company=membership.company, is_active=True),
        bulk_owners=memberships_visible_to(membership).filter(is_active=True).select_related("user"),
    )  # fmt: skip
    template = "leads/partials/lead_table.html" if is_htmx(request) else "leads/lead_list.html"
    return render(request, template, context)


@tenant_view("leads.add")
def lead_create(request, company_slug):
    can_assign = "leads.assign" in request.permissions
    form = LeadForm(request.POST or None, membership=request.membership, can_assign=can_assign)

    def save():
        return services.lead_create(company=request.company, actor=request.membership, data=form.service_data(),
                                    allow_duplicates=request.POST.get("allow_duplicates") == "1")  # fmt: skip

    return form_flow(
        request, form, save, success=lambda lead: f"Lead {lead.display_name} created.", next_url=_detail_url,
        template="leads/lead_form.html", context={"lead": None},
    )  # fmt: skip


@tenant_view("leads.add")
def lead_from_profile(request, company_slug):
    form = ProfileForm(request.POST or None, company=request.company)
    return form_flow(
        request, form, lambda: lead_create_from_profile(company=request.company, actor=request.membership,
                                                        **form.cleaned_data),
        success=lambda lead: f"Lead {lead.display_name} created from the scraped profile.", next_url=_detail_url,
        template="leads/lead_from_profile.html",
    )  # fmt: skip


@tenant_view("leads.change")
def lead_edit(request, company_slug, lead_id):
    lead = _lead(request, lead_id)
    can_assign = "leads.assign" in request.permissions
    form = LeadForm(request.POST or None, membership=request.membership, can_assign=can_assign, lead=lead)

    def save():
        return services.lead_update(actor=request.membership, lead=lead, data=form.service_data(),
                                    allow_duplicates=request.POST.get("allow_duplicates") == "1")  # fmt: skip

    return form_flow(
        request, form, save, success="Lead saved.", next_url=_detail_url(lead), template="leads/lead_form.html",
        context={"lead": lead},
    )  # fmt: skip


@tenant_view("leads.delete")
def lead_delete(request, company_slug, lead_id):
    lead = _lead(request, lead_id)
    confirm = Confirm(
        what="the lead", name=lead.display_name, cancel_url=_detail_url(lead),
        consequences="The lead leaves every list. A manager can restore it from the trash with its history intact.",
    )  # fmt: skip
    return confirm_flow(
        request, confirm, lambda: services.lead_delete(actor=request.membership, lead=lead),
        success=f"Lead {lead.display_name} deleted. A manager can restore it from the trash.",
        next_url=reverse("leads:list", kwargs={"company_slug": company_slug}),
    )  # fmt: skip


@tenant_view("leads.restore")
def lead_trash(request, company_slug):
    leads = leads_visible_to(request.membership, deleted=True).select_related("status", "owner__user")
    page = Paginator(leads.order_by("-deleted_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "leads/lead_trash.html", {"page": page})


@require_POST
@tenant_view("leads.restore")
def lead_restore(request, company_slug, lead_id):
    lead = _lead(request, lead_id, deleted=True)
    services.lead_restore(actor=request.membership, lead=lead)
    messages.success(request, f"Lead {lead.display_name} restored.")
    return redirect(_detail_url(lead))


def _custom_values(lead: Lead) -> list[tuple[str, object]]:
    labels = dict(lead.company.custom_fields.values_list("key", "label"))
    return [(labels.get(key, key), value) for key, value in lead.custom_fields.items()]


def _detail_context(request, lead: Lead, **extra) -> dict:
    comments = LeadComment.objects.filter(lead=lead).select_related("author__user").order_by("created_at", "id")
    children: dict[int | None, list[LeadComment]] = {}
    for comment in comments:
        children.setdefault(comment.parent_id, []).append(comment)
    for comment in comments:
        comment.thread = children.get(comment.pk, [])
    kind = request.GET.get("kind") if request.GET.get("kind") in KINDS else None
    return {
        "lead": lead,
        "transitions": transitions_available(lead, request.membership),
        "comments": children.get(None, []),
        "comment_form": CommentForm(),
        "activity_form": ActivityForm(),
        "timeline": lead_timeline(lead, kind=kind),
        "timeline_kinds": KINDS,
        "timeline_kind": kind,
        "time_in_status": time_in_status(lead),
        "custom_values": _custom_values(lead),
        **extra,
    }


def _survivor_of(request, lead_id: int) -> Lead | None:
    """The visible lead a merged tombstone now lives in (following merges of merges)."""
    lead = Lead.objects.filter(company=request.company, pk=lead_id, merged_into__isnull=False).first()
    seen: set[int] = set()
    while lead is not None and lead.merged_into_id and lead.pk not in seen:
        seen.add(lead.pk)
        lead = Lead.objects.filter(company=request.company, pk=lead.merged_into_id).first()
    if lead is None or not leads_visible_to(request.membership).filter(pk=lead.pk).exists():
        return None
    return lead


@tenant_view("leads.view")
def lead_detail(request, company_slug, lead_id):
    survivor = _survivor_of(request, lead_id)
    if survivor is not None:
        messages.info(request, f"Lead #{lead_id} was merged into this one.")
        return redirect(reverse("leads:detail", kwargs={"company_slug": company_slug, "lead_id": survivor.pk}))
    lead = _lead(request, lead_id)
    return render(request, "leads/lead_detail.html", _detail_context(request, lead))


@tenant_view("leads.view")
def lead_timeline_partial(request, company_slug, lead_id):
    lead = _lead(request, lead_id)
    return render(request, "leads/partials/timeline.html", _detail_context(request, lead))


def _respond(request, lead: Lead, partial: str, **extra):
    """htmx gets the refreshed panel (and the timeline out-of-band); plain forms get a redirect."""
    if is_htmx(request):
        return render(request, partial, _detail_context(request, lead, oob_timeline=True, **extra))
    return redirect(_detail_url(lead))


def _place_transition_error(context: dict, status_id: int | None, note: str) -> None:
    """Show the error (and keep the note typed) beside the transition it belongs to; an error
    about no offered transition stays at the top of the panel."""
    failed = next((t for t in context["transitions"] if t.to_status_id == status_id), None)
    context.update(failed_transition=failed.pk if failed else None, failed_note=note)


@require_POST
@tenant_view("leads.change")
def lead_transition(request, company_slug, lead_id):
    lead = _lead(request, lead_id)
    form = TransitionForm(request.POST)
    problem = None
    if form.is_valid():
        to_status = LeadStatus.objects.filter(company=request.company, pk=form.cleaned_data["status"]).first()
        try:
            if to_status is None:
                raise ValidationError({"status": "Choose a status of this company."})
            lead = services.lead_transition(
                actor=request.membership, lead=lead, to_status=to_status, note=form.cleaned_data["note"]
            )
        except ValidationError as error:
            problem = error_text(error, labels=BARE)
    else:
        problem = "Choose a status."
    if problem:
        if not is_htmx(request):
            messages.error(request, problem)
        else:
            context = _detail_context(request, lead, status_error=problem)
            _place_transition_error(context, form.cleaned_data.get("status"), form.cleaned_data.get("note", ""))
            response = render(request, "leads/partials/status_panel.html", context)
            response.status_code = 422
            return response
    elif not is_htmx(request):
        messages.success(request, f"Status changed to {lead.status.name}.")
    return _respond(request, _lead(request, lead.pk), "leads/partials/status_panel.html")


@require_POST
@tenant_view("leads.comment")
def comment_create(request, company_slug, lead_id):
    lead = _lead(request, lead_id)
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            services.comment_create(
                actor=request.membership,
                lead=lead,
                body=form.cleaned_data["body"],
                parent=form.cleaned_data["parent"],
                url=_detail_url(lead),
            )
        except ValidationError as error:
            add_service_errors(form, error)
    if form.errors:
        if not is_htmx(request):
            messages.error(request, form_error_text(form))
            return redirect(_detail_url(lead))
        response = render(request, "leads/partials/comments.html", _detail_context(request, lead, comment_form=form))
        response.status_code = 422
        return response
    return _respond(request, lead, "leads/partials/comments.html")


def _own_comment(request, lead: Lead, comment_id: int) -> LeadComment:
    return get_object_or_404(LeadComment, lead=lead, pk=comment_id, author=request.membership, is_deleted=False)


@tenant_view("leads.comment")
def comment_edit(request, company_slug, lead_id, comment_id):
    lead = _lead(request, lead_id)
    comment = _own_comment(request, lead, comment_id)
    form = CommentForm(request.POST or None, initial={"body": comment.body})
    return form_flow(
        request, form,
        lambda: services.comment_edit(actor=request.membership, comment=comment, body=form.cleaned_data["body"]),
        success="Comment updated.", next_url=_detail_url(lead), template="leads/comment_form.html",
        context={"lead": lead, "comment": comment},
    )  # fmt: skip


@require_POST
@tenant_view("leads.comment")
def comment_delete(request, company_slug, lead_id, comment_id):
    lead = _lead(request, lead_id)
    comment = _own_comment(request, lead, comment_id)
    services.comment_delete(actor=request.membership, comment=comment)
    if not is_htmx(request):
        messages.success(request, "Comment deleted.")
    return _respond(request, lead, "leads/partials/comments.html")


@require_POST
@tenant_view("leads.change")
def activity_create(request, company_slug, lead_id):
    lead = _lead(request, lead_id)
    form = ActivityForm(request.POST)
    if form.is_valid():
        try:
            services.activity_log(actor=request.membership, lead=lead, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
    if form.errors:
        messages.error(request, form_error_text(form))
    else:
        messages.success(request, "Activity logged.")
    return redirect(_detail_url(lead))


def _day_start(day: dt.date | None):
    if day is None:
        return None
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


@tenant_view("activity.view")
def activity_dashboard(request, company_slug):
    """The company's feed, newest first, in keyset pages: "Older" carries the last entry's key."""
    form = FeedFilterForm(request.GET or None, membership=request.membership)
    context = {"form": form, "entries": [], "older_url": None, "newest_url": None, "cursor_error": None}
    try:
        before = feed.parse_cursor(request.GET.get("before"))
    except ValidationError as error:
        context["cursor_error"] = error.message_dict["before"][0]
        return render(request, "leads/activity_dashboard.html", context)
    if not form.is_bound or form.is_valid():
        entries = _feed_entries(request, form.cleaned_data if form.is_bound else {}, before)
        context["entries"], older = feed.split_page(entries)
        query = request.GET.copy()
        query.pop("before", None)
        context["newest_url"] = f"?{query.urlencode()}" if before else None
        if older:
            query["before"] = older
            context["older_url"] = f"?{query.urlencode()}"
    return render(request, "leads/activity_dashboard.html", context)


def _feed_entries(request, cleaned: dict, before: feed.FeedKey | None) -> list:
    until = cleaned.get("until")
    return company_feed(
        leads_visible_to(request.membership),
        kind=cleaned.get("kind") or None,
        member=cleaned.get("member"),
        since=_day_start(cleaned.get("since")),
        until=_day_start(until + dt.timedelta(days=1)) if until else None,
        before=before,
        limit=feed.PAGE_SIZE + 1,  # one more than shown: says whether an older page exists
    )


@require_POST
@tenant_view("leads.bulk")
def bulk_create(request, company_slug):
    """Start a bulk operation on the selected leads or on every lead matching the posted filter."""
    data = request.POST
    filter_params = None
    if data.get("all_matching") == "1":
        filter_params, _sort, _view, _errors = listing.resolve_view(
            QueryDict(data.get("filter_query", "")), request.membership
        )
    params = {name: data.get(name) for name in ("status", "note", "owner", "campaign", "body")}
    try:
        job = bulk.bulk_job_create(
            actor=request.membership, operation=data.get("operation", ""), params=params,
            lead_ids=None if filter_params is not None else data.getlist("ids"), filter_params=filter_params,
        )  # fmt: skip
    except ValidationError as error:
        messages.error(request, error_text(error, labelled=False))
        return redirect(_list_url(request, data.get("filter_query", "")))
    job = bulk.bulk_job_start(job)
    return redirect("leads:bulk_job", company_slug=company_slug, bulk_job_id=job.pk)


def _list_url(request, query: str) -> str:
    base = reverse("leads:list", kwargs={"company_slug": request.company.slug})
    return f"{base}?{query}" if query else base


def _job(request, job_id: int) -> BulkJob:
    jobs = BulkJob.objects.filter(company=request.company)
    if request.membership.role != Role.ADMIN:
        jobs = jobs.filter(created_by=request.membership)
    return get_object_or_404(jobs.select_related("created_by__user"), pk=job_id)


@tenant_view("leads.bulk")
def bulk_job_detail(request, company_slug, bulk_job_id):
    job = _job(request, bulk_job_id)
    context = {"job": job, "progress": bulk.job_progress(job), "operation_label": bulk.operation_label(job.operation)}
    template = "leads/partials/bulk_progress.html" if is_htmx(request) else "leads/bulkjob_detail.html"
    return render(request, template, context)


@require_POST
@tenant_view("leads.view")
def saved_view_create(request, company_slug):
    query = request.POST.get("filter_query", "")
    params = QueryDict(query)
    try:
        saved = listing.saved_filter_create(
            actor=request.membership, name=request.POST.get("name", ""), params=params,
            sort=params.get("sort", listing.DEFAULT_SORT), visibility=request.POST.get("visibility", "private"),
        )  # fmt: skip
    except ValidationError as error:
        messages.error(request, error_text(error, labels=BARE))
        return redirect(_list_url(request, query))
    messages.success(request, f"View “{saved.name}” saved.")
    return redirect(_list_url(request, f"view=saved:{saved.pk}"))


@require_POST
@tenant_view("leads.view")
def saved_view_default(request, company_slug):
    view = request.POST.get("view", "")
    done = act(
        request, lambda: listing.list_default_set(actor=request.membership, view=view),
        "Default view saved." if view else "Default view cleared.", labels=BARE,
    )  # fmt: skip
    return redirect(_list_url(request, f"view={view}" if view and done else ""))


@require_POST
@tenant_view("leads.view")
def saved_view_delete(request, company_slug, view_id):
    saved = get_object_or_404(listing.saved_filters_visible_to(request.membership), pk=view_id)
    act(request, lambda: listing.saved_filter_delete(actor=request.membership, saved=saved),
        f"View “{saved.name}” deleted.")  # fmt: skip
    return redirect(_list_url(request, ""))
