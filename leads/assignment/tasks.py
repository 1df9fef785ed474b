"""django-q2 tasks of the assignment area: thin wrappers that take ids, re-fetch and call a service."""

from __future__ import annotations

from crm.models import Company, Membership
from leads import assignment, scoring


def notify_assignments(assignment_ids: list[int]) -> int:
    """Idempotent: rows already notified are not claimed again."""
    return assignment.notify_assignments(assignment_ids)


def rescore_company(company_id: int) -> int:
    company = Company.objects.filter(pk=company_id).first()
    if company is None:
        return 0
    return scoring.leads_rescore(company=company).changed


def assign_pool(company_id: int, actor_id: int | None = None) -> int:
    company = Company.objects.get(pk=company_id)
    actor = Membership.objects.filter(pk=actor_id, company=company).first() if actor_id else None
    return assignment.pool_assign(company=company, actor=actor).assigned
