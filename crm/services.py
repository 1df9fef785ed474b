"""Writes on tenancy objects. Every door (views, admin, commands) goes through these."""

from __future__ import annotations

import hashlib
import secrets

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from crm.models import ApiToken, Company, Membership, Role, User
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


KEY_NAME_REQUIRED = "Give the token a name, e.g. the system that will use it."
KEY_NAME_TAKEN = "You already have a token with this name: choose another or revoke that one first."
KEY_NOT_YOURS = "Only the token's owner may revoke it."
KEY_ALREADY_REVOKED = "This token is already revoked."
KEY_PREFIX_LENGTH = 8


def api_token_hash(key: str) -> str:
    """What is stored of a key, and how a presented key is looked up."""
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for ``user`` and its key: the only time the key exists outside the caller."""
    name = name.strip()
    max_length = ApiToken._meta.get_field("name").max_length
    if not name:
        raise ValidationError({"name": KEY_NAME_REQUIRED})
    if len(name) > max_length:
        raise ValidationError({"name": f"Keep the name to {max_length} characters."})
    if user.api_tokens.filter(name=name, revoked_at__isnull=True).exists():
        raise ValidationError({"name": KEY_NAME_TAKEN})
    key = secrets.token_urlsafe(30)  # 240 random bits, 40 URL-safe characters
    token = ApiToken.objects.create(user=user, name=name, prefix=key[:KEY_PREFIX_LENGTH], key_hash=api_token_hash(key))
    return token, key


@transaction.atomic
def api_token_revoke(*, user: User, token: ApiToken) -> ApiToken:
    """Revoke one of ``user``'s own tokens; it never authenticates again."""
    if token.user_id != user.pk:
        raise PermissionDenied(KEY_NOT_YOURS)
    # Conditional, so two revocations racing keep the first time.
    now = timezone.now()
    if not ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now):
        raise ValidationError({"token": KEY_ALREADY_REVOKED})
    token.revoked_at = now
    return token
