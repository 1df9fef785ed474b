"""Pages of the assignment area: my queue, claim / release / assign, the pool and its dry run,
assignment and scoring rules, prioritisation settings, stats, spam review and team capacity.

Each view parses input, calls one service, says what happened and redirects. Leads are fetched
through ``leads_visible_to``, members through ``memberships_visible_to``, rules through
``request.company``.
"""

from __future__ import annotations

from copy import copy

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from crm.models import Membership, Role
from crm.permissions import tenant_view
from crm.queries import memberships_visible_to
from crm.views_helpers import Confirm, act, confirm_flow, form_flow
from leads import assignment, scoring
from leads.assignment.forms import (
    AssignForm,
    ConditionFormSet,
    DryRunForm,
    LeadSettingsForm,
    MemberCapacityForm,
    MemberFormSet,
    RuleForm,
    ScoringRuleForm,
    StatsPeriodForm,
    rule_service_data,
)
from leads.assignment.queries import claimable, held_leads, queue_for, queue_neighbours, queue_owner, sla_state
from leads.assignment.stats import assignment_stats, stats_charts
from leads.models import AssignmentRule, Lead, ScoringRule
from leads.queries import leads_visible_to
from leads.scoring.services import RULE_FIELDS as SCORING_RULE_FIELDS

NS = "leads:assignment"
QUEUE_PAGE = 50


def _url(request, name: str) -> str:
    return reverse(f"{NS}:{name}", kwargs={"company_slug": request.company.slug})


def _to(request, name: str):
    return redirect(_url(request, name))


def _lead(request, lead_id: int) -> Lead:
    queryset = leads_visible_to(request.membership).select_related("status", "owner__user", "campaign", "company")
    return get_object_or_404(queryset, pk=lead_id)


def _detail_url(lead: Lead) -> str:
    return reverse("leads:detail", kwargs={"company_slug": lead.company.slug, "lead_id": lead.pk})


def _detail(lead: Lead):
    return redirect(_detail_url(lead))


# --- my queue ---------------------------------------------------------------------------------------


@tenant_view("leads.view")
def queue(request, company_slug):
    owner = queue_owner(request.membership, request.GET.get("member"))
    if owner is None:
        raise Http404
    sla_hours = scoring.settings_for(request.company).sla_hours
    leads = queue_for(owner).select_related("status", "campaign")
    page = Paginator(leads, QUEUE_PAGE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [(lead, *sla_state(lead, sla_hours, now)) for lead in page]
    team = None
    if request.membership.role != Role.SDR:
        team = memberships_visible_to(request.membership).filter(is_active=True).select_related("user")
    pool = claimable(request.membership) if owner == request.membership and "leads.claim" in request.permissions else []
    context = {"owner": owner, "page": page, "rows": rows, "sla_hours": sla_hours, "team": team, "pool": pool}
    return render(request, "leads/assignment/queue.html", context)


def _queue_step(request, lead_id: int, forward: bool):
    lead = _lead(request, lead_id)
    owner = queue_owner(request.membership, request.GET.get("member"))
    if owner is None:
        raise Http404
    previous, following, position, _ = queue_neighbours(owner, lead.pk)
    target = following if forward else previous
    if target is None:
        messages.info(request, "That was the last lead in the queue." if forward else "That is the first lead.")
        url = reverse(f"{NS}:queue", kwargs={"company_slug": request.company.slug})
        return redirect(url + (f"?member={owner.pk}" if owner.pk != request.membership.pk else ""))
    return redirect("leads:detail", company_slug=request.company.slug, lead_id=target)


@tenant_view("leads.view")
def queue_next(request, company_slug, lead_id):
    return _queue_step(request, lead_id, forward=True)


@tenant_view("leads.view")
def queue_previous(request, company_slug, lead_id):
    return _queue_step(request, lead_id, forward=False)


# --- claim, release, assign -------------------------------------------------------------------------


@require_POST
@tenant_view("leads.claim")
def claim(request, company_slug, lead_id):
    lead = _lead(request, lead_id)
    claimed = act(
        request,
        lambda: assignment.lead_claim(actor=request.membership, lead=lead),
        f"{lead.display_name} is yours now: it is in your queue.",
    )
    if request.POST.get("next") == "queue":
        return _to(request, "queue")
    return _detail(lead) if claimed else _back(request, lead)


@require_POST
@tenant_view("leads.claim")
def release(request, company_slug, lead_id):
    lead = _lead(request, lead_id)
    reason = request.POST.get("reason", "")[:300]
    act(
        request,
        lambda: assignment.lead_release(actor=request.membership, lead=lead, reason=reason),
        f"{lead.display_name} is back in the pool.",
    )
    return _back(request, lead)


def _back(request, lead: Lead):
    """To the lead's page while the caller can still see it, else to their queue."""
    if leads_visible_to(request.membership).filter(pk=lead.pk).exists():
        return _detail(lead)
    return _to(request, "queue")


def _assignable_members(membership: Membership):
    return memberships_visible_to(membership).filter(is_active=True)


@tenant_view("leads.assign")
def assign(request, company_slug, lead_id):
    lead = _lead(request, lead_id)
    form = AssignForm(request.POST or None, members=_assignable_members(request.membership))

    def save():
        owner = form.cleaned_data["owner"]
        assignment.lead_assign(actor=request.membership, lead=lead, owner=owner, reason=form.cleaned_data["reason"])
        return owner

    return form_flow(
        request, form, save, success=lambda owner: f"{lead.display_name} assigned to {owner.display_name}.",
        next_url=_detail_url(lead), template="leads/assignment/assign_form.html", context={"lead": lead},
    )  # fmt: skip


# --- the pool --------------------------------------------------------------------------------------


def _dry_run(request):
    form = DryRunForm(request.GET or None)
    count = form.cleaned_data["count"] if form.is_bound and form.is_valid() else DryRunForm.base_fields["count"].initial
    result = assignment.pool_assign(company=request.company, actor=None, dry_run=True, limit=count)
    return form, result


@tenant_view("leads.assign")
def pool(request, company_slug):
    form, result = _dry_run(request)
    pool_size = assignment.pool_leads(request.company).count()
    return render(request, "leads/assignment/pool.html", {"form": form, "result": result, "pool_size": pool_size})


@require_POST
@tenant_view("leads.assign")
def pool_assign(request, company_slug):
    result = assignment.pool_assign(company=request.company, actor=request.membership)
    if not result.total:
        messages.info(request, "The pool is empty: nothing to assign.")
    else:
        level = messages.success if result.assigned else messages.warning
        level(
            request,
            f"Assigned {result.assigned} of {result.total} pool leads; {result.left_in_pool} left in the pool.",
        )
    return _to(request, "pool")


# --- assignment rules -------------------------------------------------------------------------------


@tenant_view("rules.manage")
def rule_list(request, company_slug):
    rules = AssignmentRule.objects.filter(company=request.company).prefetch_related("members__membership__user")
    form, result = _dry_run(request)
    context = {"rules": rules.order_by("order", "pk"), "form": form, "result": result}
    return render(request, "leads/assignment/rule_list.html", context)


def _rule_forms(request, rule: AssignmentRule | None):
    company = request.company
    initial, conditions, members = None, None, None
    if rule is not None:
        initial = {
            "name": rule.name, "is_active": rule.is_active, "strategy": rule.strategy,
            "match_territory": rule.match_territory, "required_skills": ", ".join(rule.required_skills),
            "skill_field": rule.skill_field,
        }  # fmt: skip
        conditions = rule.conditions
        members = [{"membership": s.membership_id, "weight": s.weight} for s in rule.members.all()]
    data = request.POST if request.method == "POST" else None
    return (
        RuleForm(data, initial=initial, company=company),
        ConditionFormSet(data, prefix="conditions", initial=conditions, form_kwargs={"company": company}),
        MemberFormSet(data, prefix="members", initial=members, form_kwargs={"company": company}),
    )


def _rule_page(request, rule: AssignmentRule | None, save):
    form, conditions, members = _rule_forms(request, rule)
    return form_flow(
        request, form, lambda: save(rule_service_data(form, conditions, members)), formsets=(conditions, members),
        success=lambda saved: f"Rule '{saved.name}' saved.", next_url=_url(request, "rule_list"),
        template="leads/assignment/rule_form.html",
        context={"conditions": conditions, "members": members, "rule": rule},
    )  # fmt: skip


@tenant_view("rules.manage")
def rule_create(request, company_slug):
    return _rule_page(
        request,
        None,
        lambda data: assignment.assignment_rule_create(actor=request.membership, company=request.company, data=data),
    )


@tenant_view("rules.manage")
def rule_edit(request, company_slug, rule_id):
    rule = get_object_or_404(AssignmentRule, company=request.company, pk=rule_id)
    return _rule_page(
        request, rule, lambda data: assignment.assignment_rule_update(actor=request.membership, rule=rule, data=data)
    )


@tenant_view("rules.manage")
def rule_delete(request, company_slug, rule_id):
    rule = get_object_or_404(AssignmentRule, company=request.company, pk=rule_id)
    confirm = Confirm(
        what="the assignment rule", name=rule.name, cancel_url=_url(request, "rule_list"),
        consequences="This cannot be undone. Leads it assigned keep their owners; new leads go to the other rules.",
    )  # fmt: skip
    return confirm_flow(
        request, confirm, lambda: assignment.assignment_rule_delete(actor=request.membership, rule=rule),
        success=f"Rule '{rule.name}' deleted. Leads it assigned keep their owners.",
        next_url=_url(request, "rule_list"),
    )  # fmt: skip


@require_POST
@tenant_view("rules.manage")
def rule_move(request, company_slug, rule_id):
    rule = get_object_or_404(AssignmentRule, company=request.company, pk=rule_id)
    direction = request.POST.get("direction", "")
    act(
        request,
        lambda: assignment.assignment_rule_move(actor=request.membership, rule=rule, direction=direction),
        f"Rule '{rule.name}' moved {direction}.",
    )
    return _to(request, "rule_list")


# --- scoring rules and prioritisation settings ------------------------------------------------------


@tenant_view("rules.manage")
def scoring_list(request, company_slug):
    settings = scoring.settings_for(request.company)
    rules = ScoringRule.objects.filter(company=request.company).order_by("order", "pk")
    return render(request, "leads/assignment/scoring_list.html", {"rules": rules, "settings": settings})


def _scoring_page(request, rule: ScoringRule | None, save):
    initial = None
    if rule is not None:
        initial = {name: getattr(rule, name) for name in SCORING_RULE_FIELDS}
    form = ScoringRuleForm(request.POST or None, initial=initial, company=request.company)
    return form_flow(
        request, form, lambda: save(form.cleaned_data),
        success=lambda saved: f"Scoring rule '{saved.name}' saved; scores are being recalculated.",
        next_url=_url(request, "scoring_list"), template="leads/assignment/scoring_form.html", context={"rule": rule},
    )  # fmt: skip


@tenant_view("rules.manage")
def scoring_create(request, company_slug):
    return _scoring_page(
        request,
        None,
        lambda data: scoring.scoring_rule_create(actor=request.membership, company=request.company, data=data),
    )


@tenant_view("rules.manage")
def scoring_edit(request, company_slug, scoring_rule_id):
    rule = get_object_or_404(ScoringRule, company=request.company, pk=scoring_rule_id)
    return _scoring_page(
        request, rule, lambda data: scoring.scoring_rule_update(actor=request.membership, rule=rule, data=data)
    )


@tenant_view("rules.manage")
def scoring_delete(request, company_slug, scoring_rule_id):
    rule = get_object_or_404(ScoringRule, company=request.company, pk=scoring_rule_id)
    confirm = Confirm(
        what="the scoring rule", name=rule.name, cancel_url=_url(request, "scoring_list"),
        consequences="This cannot be undone. Every lead's score is recalculated without it.",
    )  # fmt: skip
    return confirm_flow(
        request, confirm, lambda: scoring.scoring_rule_delete(actor=request.membership, rule=rule),
        success=f"Scoring rule '{rule.name}' deleted; scores are being recalculated.",
        next_url=_url(request, "scoring_list"),
    )  # fmt: skip


@tenant_view("rules.manage")
def settings_edit(request, company_slug):
    settings = scoring.settings_for(request.company)
    form = LeadSettingsForm(request.POST or None, instance=copy(settings))

    def save():
        data = {name: form.cleaned_data[name] for name in LeadSettingsForm.Meta.fields}
        return scoring.lead_settings_update(actor=request.membership, company=request.company, data=data)

    return form_flow(
        request, form, save, success="Prioritisation settings saved; scores are being recalculated.",
        next_url=_url(request, "scoring_list"), template="leads/assignment/settings_form.html",
    )  # fmt: skip


# --- stats, spam review, team ------------------------------------------------------------------------


@tenant_view("stats.view")
def stats(request, company_slug):
    form = StatsPeriodForm(request.GET)
    figures = None
    if form.is_valid():
        since, until = form.period()
        figures = assignment_stats(viewer=request.membership, since=since, until=until)
    context = {"form": form, "stats": figures, "charts": stats_charts(figures) if figures else {}}
    return render(request, "leads/assignment/stats.html", context)


@tenant_view("leads.assign")
def spam_list(request, company_slug):
    settings = scoring.settings_for(request.company)
    return render(
        request, "leads/assignment/spam_list.html", {"leads": held_leads(request.membership), "settings": settings}
    )


@require_POST
@tenant_view("leads.assign")
def not_spam(request, company_slug, lead_id):
    lead = _lead(request, lead_id)
    act(
        request,
        lambda: assignment.lead_clear_spam(actor=request.membership, lead=lead),
        f"{lead.display_name} is cleared: it is scored normally and went through the assignment rules.",
    )
    return _to(request, "spam_list")


@tenant_view("leads.assign")
def team(request, company_slug):
    members = list(_assignable_members(request.membership).select_related("user").order_by("user__full_name"))
    loads = assignment.open_loads([m.pk for m in members])
    rows = [(m, loads.get(m.pk, 0)) for m in members]
    return render(request, "leads/assignment/team_list.html", {"rows": rows})


@tenant_view("leads.assign")
def member_edit(request, company_slug, member_id):
    member = get_object_or_404(memberships_visible_to(request.membership).select_related("user"), pk=member_id)
    initial = {"capacity": member.capacity, "is_available": member.is_available, "territory": member.territory,
               "skills": ", ".join(member.skills or [])}  # fmt: skip
    form = MemberCapacityForm(request.POST or None, initial=initial)
    return form_flow(
        request, form,
        lambda: assignment.member_assignment_update(actor=request.membership, member=member, data=form.service_data()),
        success=f"{member.display_name}'s assignment settings saved.", next_url=_url(request, "team"),
        template="leads/assignment/member_form.html", context={"member": member},
    )  # fmt: skip
