"""What every accounts service shares: resolving foreign keys inside the company, collecting field
errors, choices and ownership rules (``record`` is ``crm.history.record``, re-exported)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, Q, QuerySet

from crm.history import record
from crm.models import Company, Membership, Role

Errors = dict[str, list[str]]
UNKNOWN_FIELD = "Unknown field."
__all__ = ["record"]  # the services import it from here with the other helpers


def add_error(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def raise_if(errors: Errors) -> None:
    if errors:
        raise ValidationError(errors)


def check_known(data: dict[str, Any], allowed: set[str] | tuple[str, ...], errors: Errors) -> None:
    for name in sorted(set(data) - set(allowed)):
        add_error(errors, name, UNKNOWN_FIELD)


def company_object(queryset: QuerySet, value, field: str, errors: Errors, *, label: str = ""):
    """The row of ``queryset`` (already limited to the company) that ``value`` (instance or pk)
    names, or None with a field error. An empty value is None without an error."""
    if value in (None, ""):
        return None
    pk = value.pk if isinstance(value, Model) else value
    try:
        return queryset.get(pk=pk)
    except (queryset.model.DoesNotExist, ValueError, TypeError, OverflowError):
        add_error(errors, field, f"Choose a valid {label or field.replace('_', ' ')} of this company.")
        return None


def active_members(company: Company) -> QuerySet[Membership]:
    return Membership.objects.filter(company=company, is_active=True)


def is_manager(actor: Membership | None) -> bool:
    """Managers and admins (and the system, acting without a member) hold the manager's rights."""
    return actor is None or actor.role in (Role.MANAGER, Role.ADMIN)


def check_actor(actor: Membership | None, company_id: int) -> None:
    if actor is not None and actor.company_id != company_id:
        raise PermissionDenied


def apply_owner(instance, data: dict[str, Any], actor: Membership | None, errors: Errors, *, creating: bool) -> None:
    """Owner from ``data`` (default on create, also when empty: the actor). SDRs only give records
    to themselves and never leave one without an owner."""
    value = data.get("owner")
    if value in (None, ""):
        if creating and actor is not None:
            instance.owner = actor
        elif "owner" in data and not is_manager(actor):
            add_error(errors, "owner", "Only managers and admins leave a record without an owner.")
        elif "owner" in data:
            instance.owner = None
        return
    owner = company_object(active_members(instance.company), value, "owner", errors)
    if owner is not None and not is_manager(actor) and owner.pk != actor.pk:
        add_error(errors, "owner", "Only managers and admins give records to someone else.")
        return
    if "owner" not in errors:
        instance.owner = owner


def apply_text(instance, data: dict[str, Any], fields: tuple[str, ...]) -> None:
    for name in fields:
        if name in data:
            value = data[name]
            setattr(instance, name, "" if value is None else str(value).strip())


def apply_flags(instance, data: dict[str, Any], fields: tuple[str, ...], errors: Errors) -> None:
    for name in fields:
        if name not in data:
            continue
        value = data[name]
        if not isinstance(value, bool):
            add_error(errors, name, "Choose yes or no.")
        else:
            setattr(instance, name, value)


def check_choice(instance, field: str, choices, errors: Errors, *, blank: bool = False) -> None:
    value = getattr(instance, field)
    if (blank and value == "") or value in choices.values:
        return
    add_error(errors, field, f"Choose one of {', '.join(choices.values)}.")


def model_errors(instance, errors: Errors, *, exclude: list[str]) -> None:
    """``full_clean`` for what the services do not check themselves (lengths, e-mail shape, …)."""
    try:
        instance.full_clean(exclude=[*exclude, *errors], validate_constraints=False)
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            errors.setdefault(field, []).extend(messages)


def exclude_self(instance) -> Q:
    return ~Q(pk=instance.pk) if instance.pk else Q()
