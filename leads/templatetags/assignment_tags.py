"""Template helpers of the assignment area: the lead page's score / quality / assignment panel and
the quality reasons of a lead."""

from __future__ import annotations

from django import template

from crm.models import Role
from crm.queries import team_member_ids
from leads import scoring
from leads.assignment.queries import queue_neighbours, sla_state
from leads.models import LeadAssignment, StatusCategory
from leads.scoring import quality

register = template.Library()


@register.filter
def quality_reasons(lead) -> list[str]:
    return quality.check(lead).reasons


def _may_release(membership, lead) -> bool:
    if lead.owner_id is None:
        return False
    if lead.owner_id == membership.pk or membership.role == Role.ADMIN:
        return True
    return membership.role == Role.MANAGER and lead.owner_id in team_member_ids(membership)


@register.inclusion_tag("leads/assignment/partials/lead_panel_body.html", takes_context=True)
def lead_assignment_panel(context):
    """Everything the lead page's panel shows, from the context the lead page already has
    (``lead``, ``membership``, ``perms_crm``, ``company``): three queries at most."""
    lead, membership = context["lead"], context["membership"]
    perms = context.get("perms_crm", frozenset())
    scorer = scoring.scorer_for(lead.company_id)
    held = scorer.is_held(lead)
    report = quality.check(lead)
    is_open = lead.status.category == StatusCategory.OPEN
    previous = following = None
    position = total = 0
    if lead.owner_id == membership.pk and is_open:
        previous, following, position, total = queue_neighbours(membership, lead.pk)
    settings = scoring.settings_for(lead.company)
    sla, delta = sla_state(lead, settings.sla_hours)
    return {
        "lead": lead,
        "company": context.get("company") or lead.company,
        "membership": membership,
        "perms_crm": perms,
        "csrf_token": context.get("csrf_token"),
        "breakdown": [e for e in lead.score_breakdown or [] if isinstance(e, dict)],
        "held": held,
        "quality": report,
        "latest": LeadAssignment.objects.filter(lead=lead).select_related("actor__user").first(),
        "can_claim": "leads.claim" in perms and lead.owner_id is None and not held and is_open,
        "can_release": "leads.claim" in perms and _may_release(membership, lead),
        "can_assign": "leads.assign" in perms,
        "can_clear": held and "leads.assign" in perms,
        "queue": {"previous": previous, "next": following, "position": position, "total": total},
        "sla": sla,
        "sla_delta": delta,
        "sla_hours": settings.sla_hours,
    }
