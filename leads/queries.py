"""Reads reused across doors. Every lead list, detail, count, export and API view starts here."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from crm.models import Membership, Role
from crm.queries import team_member_ids
from leads.models import Lead, LeadStatus, StatusTransition
from leads.workflow import is_conversion_target


def leads_visible_to(membership: Membership, *, deleted: bool = False) -> QuerySet[Lead]:
    """Row-level security for leads.

    SDRs see the leads they own plus the unassigned pool, managers their team's (at any depth)
    plus the pool, company admins everything in the company. Merged tombstones never appear;
    soft-deleted leads appear only when ``deleted=True`` (the trash).
    """
    leads = Lead.objects.filter(company_id=membership.company_id, merged_into__isnull=True, is_deleted=deleted)
    if membership.role == Role.ADMIN:
        return leads
    if membership.role == Role.MANAGER:
        return leads.filter(Q(owner__isnull=True) | Q(owner_id__in=team_member_ids(membership)))
    return leads.filter(Q(owner__isnull=True) | Q(owner_id=membership.pk))


def leads_trashable_by(membership: Membership) -> QuerySet[Lead]:
    """The leads ``membership`` may move to the trash: SDRs their own, managers their team's,
    admins any. The pool is everyone's to work, so only admins trash unassigned leads."""
    leads = leads_visible_to(membership)
    if membership.role == Role.ADMIN:
        return leads
    if membership.role == Role.MANAGER:
        return leads.filter(owner_id__in=team_member_ids(membership))
    return leads.filter(owner_id=membership.pk)


def statuses_of(company_id: int, *, active_only: bool = True) -> QuerySet[LeadStatus]:
    statuses = LeadStatus.objects.filter(company_id=company_id)
    return statuses.filter(is_active=True) if active_only else statuses


def transitions_available(lead: Lead, membership: Membership) -> list[StatusTransition]:
    """The moves ``membership`` may make from the lead's current status (none from a terminal one;
    converted is reached by converting, not by a status change)."""
    if lead.status.is_terminal:
        return []
    transitions = StatusTransition.objects.filter(
        from_status_id=lead.status_id, to_status__is_active=True
    ).select_related("to_status")
    return [t for t in transitions if t.allows(membership.role) and not is_conversion_target(t.to_status)]
