"""Duplicates pages: the review queue, the merge page, merge records (with undo) and the company's
duplicate rule. Each view parses input, calls one service, then messages and redirects; leads,
pairs and records are always fetched through the caller's visibility queries."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Max
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from crm.forms import add_service_errors, error_text
from crm.http import is_htmx, safe_next
from crm.permissions import tenant_view
from leads import dedup
from leads.dedup import merge, undo
from leads.dedup.forms import DuplicateRuleForm, MergeForm, MergeSelectionForm
from leads.dedup.tasks import queue_scan
from leads.models import Lead

NS = "leads:dedup"
GROUPS_PER_PAGE = 20
RECORDS_PER_PAGE = 50


def _url(request, name: str, **kwargs) -> str:
    return reverse(f"{NS}:{name}", kwargs={"company_slug": request.company.slug, **kwargs})


def _lead_url(request, lead_id: int) -> str:
    return reverse("leads:detail", kwargs={"company_slug": request.company.slug, "lead_id": lead_id})


def merge_url(company_slug: str, lead_ids: list[int], survivor: int | None = None) -> str:
    """The merge page for these leads (the survivor first when given)."""
    query = [("leads", pk) for pk in lead_ids] + ([("survivor", survivor)] if survivor else [])
    return f"{reverse(f'{NS}:merge', kwargs={'company_slug': company_slug})}?{urlencode(query)}"


# --- the review queue ---------------------------------------------------------------------------


class Group:
    """Connected candidate pairs: the leads that may all be one person."""

    def __init__(self, key: int, score: int, pairs: list, leads: dict[int, Lead], company_slug: str):
        self.key, self.score, self.pairs = key, score, pairs
        ids = sorted({pk for pair in pairs for pk in (pair.lead_a_id, pair.lead_b_id)})
        self.leads = [leads[pk] for pk in ids if pk in leads]
        survivor = self._default_survivor()
        self.merge_url = merge_url(company_slug, [lead.pk for lead in self.leads], survivor.pk if survivor else None)

    def _default_survivor(self) -> Lead | None:
        """The oldest lead that is not converted: most likely the original."""
        open_leads = [lead for lead in self.leads if lead.converted_at is None]
        return min(open_leads or self.leads, key=lambda lead: (lead.created_at, lead.pk), default=None)


@tenant_view("leads.merge")
def queue(request, company_slug):
    candidates = dedup.candidates_visible_to(request.membership)
    groups = candidates.values("group_key").annotate(top=Max("score"), size=Count("id")).order_by("-top", "group_key")
    page = Paginator(groups, GROUPS_PER_PAGE).get_page(request.GET.get("page"))
    keys = [row["group_key"] for row in page]
    pairs = list(candidates.filter(group_key__in=keys).order_by("-score", "id"))
    lead_ids = {pk for pair in pairs for pk in (pair.lead_a_id, pair.lead_b_id)}
    leads = Lead.objects.select_related("owner__user", "status").in_bulk(lead_ids)
    by_key: dict[int, list] = {}
    for pair in pairs:
        pair.a, pair.b = leads.get(pair.lead_a_id), leads.get(pair.lead_b_id)
        by_key.setdefault(pair.group_key, []).append(pair)
    page.object_list = [Group(row["group_key"], row["top"], by_key.get(row["group_key"], []), leads, company_slug)
                        for row in page.object_list]  # fmt: skip
    return render(request, "leads/dedup/queue.html", {"page": page})


@require_POST
@tenant_view("leads.merge")
def scan(request, company_slug):
    queue_scan(request.company.pk)
    messages.success(request, "Duplicate scan started: the queue below is updated when it finishes.")
    return redirect(_url(request, "queue"))


@require_POST
@tenant_view("leads.merge")
def dismiss(request, company_slug, candidate_id):
    candidate = get_object_or_404(dedup.candidates_visible_to(request.membership), pk=candidate_id)
    try:
        dedup.candidate_dismiss(actor=request.membership, candidate=candidate)
    except ValidationError as error:
        messages.error(request, error_text(error, labelled=False))
    else:
        if is_htmx(request):
            return HttpResponse(
                f'<p class="dismissed" data-testid="dismissed">#{candidate.lead_a_id} and #{candidate.lead_b_id} '
                "marked not duplicates: they will not be proposed again.</p>"
            )
        messages.success(
            request, f"#{candidate.lead_a_id} and #{candidate.lead_b_id} marked not duplicates: never proposed again."
        )
    return redirect(safe_next(request, _url(request, "queue")))


# --- merge --------------------------------------------------------------------------------------


def _chosen(form: MergeForm, name: str, default: int) -> int:
    if not form.is_bound:
        return default
    try:
        return int(form.data.get(name))
    except (TypeError, ValueError):
        return default


def _merge_context(request, selection: MergeSelectionForm, preview, form: MergeForm) -> dict:
    """The side-by-side table: one column per lead (survivor first), one row of radios per field."""
    ids = selection.cleaned_data["leads"]
    columns = [
        {"lead": lead, "is_survivor": lead.pk == preview.survivor.pk,
         "survivor_url": merge_url(request.company.slug, ids, lead.pk)}
        for lead in preview.leads
    ]  # fmt: skip
    rows = []
    for row in preview.rows:
        chosen = _chosen(form, row.name, row.chosen)
        cells = [{"pk": pk, "value": value, "checked": pk == chosen} for pk, value in row.values]
        rows.append({"name": row.name, "label": row.label, "differs": row.differs, "cells": cells,
                     "errors": form.errors.get(row.name, []) if form.is_bound else []})  # fmt: skip
    return {"preview": preview, "form": form, "lead_ids": ids, "columns": columns, "rows": rows}


@tenant_view("leads.merge")
def merge_page(request, company_slug):
    """GET: the side-by-side page for ``?leads=…&survivor=…``; POST: merge with the chosen values."""
    selection = MergeSelectionForm(request.POST if request.method == "POST" else request.GET)
    errors: list[str] = []
    preview = None
    if selection.is_valid():
        try:
            preview = merge.merge_preview(
                actor=request.membership, survivor=selection.cleaned_data["survivor"], others=selection.others
            )
        except ValidationError as error:
            errors = error.messages
    else:
        errors = [message for messages_ in selection.errors.values() for message in messages_]
    if preview is None:
        response = render(request, "leads/dedup/merge.html", {"errors": errors, "preview": None})
        response.status_code = 400 if request.GET or request.method == "POST" else 200
        return response
    form = MergeForm(request.POST if request.method == "POST" else None, preview=preview)
    if request.method == "POST" and form.is_valid():
        try:
            record = merge.leads_merge(
                actor=request.membership, survivor=preview.survivor, others=preview.others, choices=form.choices()
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            names = ", ".join(f"#{pk}" for pk in record.lead_ids)
            messages.success(request, f"Merged {names} into {preview.survivor.display_name}. "
                                      f"You can undo it from merge #{record.pk}.")  # fmt: skip
            for warning in record.warnings:
                messages.warning(request, warning)
            return redirect(_lead_url(request, record.survivor_id))
    return render(request, "leads/dedup/merge.html", _merge_context(request, selection, preview, form))


# --- merge records ------------------------------------------------------------------------------


@tenant_view("leads.merge")
def merge_list(request, company_slug):
    records = dedup.merges_visible_to(request.membership).order_by("-merged_at", "-id")
    page = Paginator(records, RECORDS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "leads/dedup/merge_list.html", {"page": page})


@tenant_view("leads.merge")
def merge_detail(request, company_slug, merge_id):
    record = get_object_or_404(dedup.merges_visible_to(request.membership), pk=merge_id)
    leads = Lead.objects.in_bulk(record.lead_ids)
    moves: dict[tuple[int, str], int] = {}
    for move in record.moves:
        key = (move["from"], move["model"])
        moves[key] = moves.get(key, 0) + len(move["ids"])
    context = {
        "record": record,
        "merged": [leads.get(pk) for pk in record.lead_ids],
        "moves": [(lead_id, label, count) for (lead_id, label), count in sorted(moves.items())],
        "lead_urls": {pk: _lead_url(request, pk) for pk in [record.survivor_id, *record.lead_ids]},
    }
    return render(request, "leads/dedup/merge_detail.html", context)


@require_POST
@tenant_view("leads.merge")
def merge_undo(request, company_slug, merge_id):
    record = get_object_or_404(dedup.merges_visible_to(request.membership), pk=merge_id)
    try:
        record = undo.merge_undo(actor=request.membership, record=record)
    except ValidationError as error:
        messages.error(request, error_text(error, labelled=False))
    else:
        messages.success(request, f"Merge #{record.pk} undone: the merged leads are back with their own records.")
        for line in record.undo_report:
            messages.warning(request, line)
    return redirect(_url(request, "merge_detail", merge_id=record.pk))


# --- rules --------------------------------------------------------------------------------------


@tenant_view("rules.manage")
def rules(request, company_slug):
    rule = dedup.rule_for(request.company)
    form = DuplicateRuleForm(request.POST or None, instance=rule, company=request.company)
    if request.method == "POST" and form.is_valid():
        try:
            dedup.duplicate_rule_update(actor=request.membership, data=form.service_data())
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Duplicate rules saved. The next scan uses them.")
            return redirect(_url(request, "rules"))
    return render(request, "leads/dedup/rules.html", {"form": form, "free_mail": sorted(dedup.FREE_MAIL_DOMAINS)})
