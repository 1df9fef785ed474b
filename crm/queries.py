"""Reads reused across the project. Row-level security starts here."""

from __future__ import annotations

from django.db.models import QuerySet

from crm.models import Company, Membership, Role


def team_member_ids(membership: Membership) -> frozenset[int]:
    """Ids of the memberships below ``membership`` in the manager chain, at any depth, plus itself.

    Reads the company's (id, manager) pairs once and walks them in memory, so the cost is one
    query whatever the depth. The result is cached on the membership object for the request.
    """
    cached = getattr(membership, "_team_ids", None)
    if cached is not None:
        return cached
    children: dict[int, list[int]] = {}
    pairs = Membership.objects.filter(company_id=membership.company_id, manager__isnull=False)
    for member_id, manager_id in pairs.values_list("id", "manager_id"):
        children.setdefault(manager_id, []).append(member_id)
    found, frontier = {membership.pk}, [membership.pk]
    while frontier:
        next_frontier = []
        for parent in frontier:
            for child in children.get(parent, ()):
                if child not in found:
                    found.add(child)
                    next_frontier.append(child)
        frontier = next_frontier
    membership._team_ids = frozenset(found)
    return membership._team_ids


def memberships_visible_to(membership: Membership) -> QuerySet[Membership]:
    """The memberships whose records ``membership`` may see.

    A company admin sees everyone in the company, a manager their whole reporting tree (any
    depth) and themselves, an SDR only themselves.
    """
    company_members = Membership.objects.filter(company_id=membership.company_id)
    if membership.role == Role.ADMIN:
        return company_members
    if membership.role == Role.MANAGER:
        return company_members.filter(id__in=team_member_ids(membership))
    return company_members.filter(id=membership.pk)


def sees_whole_company(membership: Membership) -> bool:
    return membership.role == Role.ADMIN


def active_memberships_of(user) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(user=user, is_active=True, company__isnull=False)
        .select_related("company")
        .order_by("company__name")
    )


def companies_administered_by(user) -> QuerySet[Company]:
    """Companies whose rows this staff user may manage in the Django admin."""
    if user.is_superuser:
        return Company.objects.all()
    return Company.objects.filter(
        memberships__user=user,
        memberships__is_active=True,
        memberships__role__in=[Role.ADMIN, Role.MANAGER],
    ).distinct()
