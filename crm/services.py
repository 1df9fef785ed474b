"""Writes on tenancy objects. Every door (views, admin, commands) goes through these."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from crm.models import Company, Membership, Role, User
from crm.signals import company_created


@transaction.atomic
def company_create(*, name: str, slug: str, default_country: str = "US") -> Company:
    company = Company(name=name.strip(), slug=slug.strip().lower(), default_country=default_country.upper())
    company.full_clean()
    company._change_reason = "crm.company.created"
    company.save()
    company_created.send(sender=Company, company=company)
    return company


@transaction.atomic
def company_update(*, company: Company, name: str, default_country: str) -> Company:
    company.name = name.strip()
    company.default_country = default_country.strip().upper()
    company.full_clean()
    company._change_reason = "crm.company.changed"
    company.save(update_fields=["name", "default_country"])
    return company


@transaction.atomic
def membership_create(
    *,
    company: Company,
    user: User,
    role: str = Role.SDR,
    manager: Membership | None = None,
    territory: str = "",
    skills: list[str] | None = None,
    capacity: int = 200,
    is_available: bool = True,
) -> Membership:
    if manager is not None and manager.company_id != company.pk:
        raise ValidationError({"manager": "The manager must belong to the same company."})
    membership = Membership(
        company=company,
        user=user,
        role=role,
        manager=manager,
        territory=territory,
        skills=skills or [],
        capacity=capacity,
        is_available=is_available,
    )
    membership.full_clean()
    membership._change_reason = "crm.membership.created"
    membership.save()
    return membership


@transaction.atomic
def notifications_mark_read(*, recipient: Membership) -> int:
    """Mark every unread notification of ``recipient`` as read; returns how many changed."""
    return recipient.notifications.filter(read_at__isnull=True).update(read_at=timezone.now())
