"""Reads of the assignment area: an SDR's priority queue, its neighbours, the spam hold list."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils import timezone

from crm.models import Membership
from crm.queries import memberships_visible_to
from leads.assignment.engine import open_leads
from leads.models import Lead, Priority
from leads.queries import leads_visible_to
from leads.scoring import scorer_for, settings_for

PRIORITY_RANK = Case(
    When(priority=Priority.HOT, then=Value(0)),
    When(priority=Priority.WARM, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)
AWAITING_FIRST = Case(
    When(first_response_at__isnull=True, then=Value(0)), default=Value(1), output_field=IntegerField()
)
QUEUE_ORDER = ("priority_rank", "-score", "awaiting", "assigned_at", "id")


def queue_for(owner: Membership) -> QuerySet[Lead]:
    """``owner``'s open leads, most urgent first: priority band, then score, then those still
    waiting for a first response, longest-waiting first."""
    return (
        open_leads(owner.company_id)
        .filter(owner=owner)
        .annotate(priority_rank=PRIORITY_RANK, awaiting=AWAITING_FIRST)
        .order_by(*QUEUE_ORDER)
    )


def claimable(viewer: Membership, limit: int = 10) -> list[Lead]:
    """The pool leads ``viewer`` could claim next, most urgent first (held leads left out)."""
    scorer = scorer_for(viewer.company)
    pool = (
        open_leads(viewer.company_id)
        .filter(owner__isnull=True)
        .annotate(priority_rank=PRIORITY_RANK)
        .select_related("status", "campaign")
        .order_by("priority_rank", "-score", "created_at", "id")
    )
    return [lead for lead in pool[: limit * 3] if not scorer.is_held(lead)][:limit]


def queue_owner(viewer: Membership, member_id) -> Membership | None:
    """Whose queue ``viewer`` may open: their own, or (managers, admins) a visible member's."""
    if member_id in (None, "", str(viewer.pk), viewer.pk):
        return viewer
    if not str(member_id).isdecimal():
        return None
    return memberships_visible_to(viewer).select_related("user").filter(pk=member_id).first()


def queue_neighbours(owner: Membership, lead_id: int) -> tuple[int | None, int | None, int, int]:
    """(previous id, next id, 1-based position, queue length) of ``lead_id`` in ``owner``'s queue;
    position 0 when the lead is not in it. One query: a queue is bounded by the owner's capacity."""
    ids = list(queue_for(owner).values_list("id", flat=True))
    if lead_id not in ids:
        return None, None, 0, len(ids)
    index = ids.index(lead_id)
    previous = ids[index - 1] if index > 0 else None
    following = ids[index + 1] if index + 1 < len(ids) else None
    return previous, following, index + 1, len(ids)


def sla_deadline(lead: Lead, sla_hours: int):
    if lead.assigned_at is None or lead.first_response_at is not None:
        return None
    return lead.assigned_at + timedelta(hours=sla_hours)


def sla_state(lead: Lead, sla_hours: int, now=None) -> tuple[str, timedelta | None]:
    """('responded' | 'overdue' | 'due' | 'none', time left or overdue by)."""
    if lead.first_response_at is not None:
        return "responded", None
    deadline = sla_deadline(lead, sla_hours)
    if deadline is None:
        return "none", None
    left = deadline - (now or timezone.now())
    return ("due", left) if left.total_seconds() >= 0 else ("overdue", -left)


def held_leads(viewer: Membership) -> list[Lead]:
    """Leads held for spam review that ``viewer`` can see, most spammy first."""
    scorer = scorer_for(viewer.company)
    threshold = settings_for(viewer.company).spam_threshold
    candidates = (
        leads_visible_to(viewer)
        .filter(spam_score__gte=threshold)
        .select_related("campaign", "owner__user", "status")
        .order_by("-spam_score", "-created_at", "-id")
    )
    return [lead for lead in candidates[:500] if scorer.is_held(lead)]
