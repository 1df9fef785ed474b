"""Writes on a company's lead configuration: statuses, status transitions, campaigns and custom
fields. The settings pages and the Django admin call these; each checks that the actor may manage
the company's configuration, enforces the workflow rules below and raises ``ValidationError``
keyed by field name.

Workflow rules kept here, once:

- a company has exactly one active initial status (making one initial unsets the other, and the
  initial status cannot be retired, deleted or un-flagged — make another one initial instead);
- a terminal status has no transition out of it, and ``converted`` stays terminal and active;
- a status in use (by a lead or in a lead's status history) is retired, never deleted;
- keys (statuses, custom fields) are referenced by imports, the API and integrations, so they
  never change after creation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import ProtectedError, Q

from crm.history import record
from crm.models import Company, Membership, Role
from crm.permissions import permissions_for
from leads.models import (
    Campaign,
    CustomField,
    CustomFieldType,
    Lead,
    LeadStatus,
    StatusChange,
    StatusTransition,
)
from leads.workflow import CONVERTED

STATUS_FIELDS = ("key", "name", "description", "color", "category", "order", "is_initial", "is_terminal")
CAMPAIGN_FIELDS = ("name", "source", "medium", "starts_on", "ends_on", "is_active")
FIELD_FIELDS = ("key", "label", "field_type", "choices", "required", "order", "is_active")
TRANSITION_ROLES = (Role.ADMIN, Role.MANAGER, Role.SDR)

KEY_IS_FIXED = "The key cannot change after creation: imports, the API and integrations refer to it."
INITIAL_NEEDED = "Every company needs an initial status: make another status initial instead."


# --- shared helpers ----------------------------------------------------------------------------


def _check_actor(actor: Membership | None, company: Company, permission: str) -> None:
    """``actor`` None is the system or an ops superuser acting without a membership."""
    if actor is None:
        return
    if actor.company_id != company.pk or not actor.is_active or permission not in permissions_for(actor.role):
        raise PermissionDenied


def _take(data: Mapping[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "Unknown field."))
    return dict(data)


def _full_clean(instance, errors: dict[str, list[str]]) -> None:
    """Model validation (field validators, choices, lengths) merged with our own errors.

    Unique constraints are checked by hand with clearer messages, so they are left out here.
    """
    try:
        instance.full_clean(exclude=["company", *errors], validate_constraints=False)
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


# --- statuses ----------------------------------------------------------------------------------


def _status_errors(status: LeadStatus, before: LeadStatus | None) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    others = LeadStatus.objects.filter(company_id=status.company_id).exclude(pk=status.pk)
    if status.key and others.filter(key=status.key).exists():
        errors["key"] = [f"A status with the key '{status.key}' already exists."]
    if status.name and others.filter(name__iexact=status.name).exists():
        errors["name"] = [f"A status named '{status.name}' already exists."]
    if status.is_initial and status.is_terminal:
        errors["is_terminal"] = ["The initial status cannot be terminal: new leads could never move on."]
    if status.is_initial and not status.is_active:
        errors["is_initial"] = ["A retired status cannot be initial; unretire it first."]
    if before is not None and before.is_initial and not status.is_initial:
        errors["is_initial"] = [INITIAL_NEEDED]
    if status.key == CONVERTED and not status.is_terminal:
        errors["is_terminal"] = ["Converted is final: it must stay terminal."]
    if status.is_terminal and status.pk is not None and not (before and before.is_terminal):
        outgoing = StatusTransition.objects.filter(from_status=status).count()
        if outgoing:
            errors.setdefault("is_terminal", []).append(
                f"Remove the {_plural(outgoing, 'transition')} out of {status.name} before making it terminal."
            )
    return errors


def _unset_other_initials(status: LeadStatus, actor: Membership | None) -> None:
    """Exactly one initial status per company: the newly initial one takes over."""
    previous = LeadStatus.objects.select_for_update().filter(company_id=status.company_id, is_initial=True)
    for other in previous.exclude(pk=status.pk):
        other.is_initial = False
        record(other, actor, "leads.status.changed")
        other.save(update_fields=["is_initial"])


def _save_status(status: LeadStatus, before: LeadStatus | None, actor: Membership | None, reason: str) -> LeadStatus:
    status.key = (status.key or "").strip().lower()
    status.name = (status.name or "").strip()
    status.description = (status.description or "").strip()
    status.color = (status.color or "").strip().lower()
    _full_clean(status, _status_errors(status, before))
    if status.is_initial:
        _unset_other_initials(status, actor)
    record(status, actor, reason)
    status.save()
    return status


@transaction.atomic
def status_create(*, company: Company, actor: Membership | None, data: Mapping[str, Any]) -> LeadStatus:
    """Add a status to the company's workflow; without an ``order`` it goes last."""
    _check_actor(actor, company, "statuses.manage")
    values = _take(data, STATUS_FIELDS)
    if values.get("order") is None:
        last = LeadStatus.objects.filter(company=company).order_by("-order").values_list("order", flat=True).first()
        values["order"] = (last or 0) + 10
    status = LeadStatus(company=company, **values)
    return _save_status(status, None, actor, "leads.status.created")


@transaction.atomic
def status_update(*, actor: Membership | None, status: LeadStatus, data: Mapping[str, Any]) -> LeadStatus:
    """Change a status. ``data`` holds only the fields to change; the key is fixed."""
    before = LeadStatus.objects.select_for_update().get(pk=status.pk)
    _check_actor(actor, before.company, "statuses.manage")
    values = _take(data, STATUS_FIELDS)
    if "key" in values and values.pop("key") != before.key:
        raise ValidationError({"key": KEY_IS_FIXED})
    if values.get("order") is None:
        values.pop("order", None)
    status = LeadStatus.objects.get(pk=before.pk)
    for name, value in values.items():
        setattr(status, name, value)
    return _save_status(status, before, actor, "leads.status.changed")


@transaction.atomic
def status_retire(*, actor: Membership | None, status: LeadStatus) -> LeadStatus:
    """Keep the status for history but let no lead move into it any more."""
    status = LeadStatus.objects.select_for_update().get(pk=status.pk)
    _check_actor(actor, status.company, "statuses.manage")
    if not status.is_active:
        raise ValidationError({"is_active": f"Status '{status.name}' is already retired."})
    if status.is_initial:
        raise ValidationError(
            {"is_active": f"Status '{status.name}' is the initial status; make another status initial first."}
        )
    if status.key == CONVERTED:
        raise ValidationError({"is_active": "Converted is needed to convert leads and cannot be retired."})
    status.is_active = False
    record(status, actor, "leads.status.retired")
    status.save(update_fields=["is_active"])
    return status


@transaction.atomic
def status_unretire(*, actor: Membership | None, status: LeadStatus) -> LeadStatus:
    status = LeadStatus.objects.select_for_update().get(pk=status.pk)
    _check_actor(actor, status.company, "statuses.manage")
    if status.is_active:
        raise ValidationError({"is_active": f"Status '{status.name}' is not retired."})
    status.is_active = True
    record(status, actor, "leads.status.unretired")
    status.save(update_fields=["is_active"])
    return status


def status_delete_blocker(status: LeadStatus) -> str | None:
    """Why ``status`` cannot be deleted, or None when it can."""
    if status.is_initial:
        return f"Status '{status.name}' is the initial status; make another status initial before deleting it."
    if status.key == CONVERTED:
        return "Converted is needed to convert leads and cannot be deleted."
    leads = Lead.objects.filter(status=status).count()
    if leads:
        return f"Status '{status.name}' is used by {_plural(leads, 'lead')}; retire it instead."
    in_history = (
        StatusChange.objects.filter(Q(from_status=status) | Q(to_status=status)).values("lead").distinct().count()
    )
    if in_history:
        return f"Status '{status.name}' is in the status history of {_plural(in_history, 'lead')}; retire it instead."
    return None


@transaction.atomic
def status_delete(*, actor: Membership | None, status: LeadStatus) -> None:
    """Delete a status nobody ever used (and its transitions); a used one must be retired."""
    status = LeadStatus.objects.select_for_update().get(pk=status.pk)
    _check_actor(actor, status.company, "statuses.manage")
    blocker = status_delete_blocker(status)
    if blocker:
        raise ValidationError({"__all__": blocker})
    record(status, actor, "leads.status.deleted")
    try:
        with transaction.atomic():
            status.delete()
    except ProtectedError:
        raise ValidationError({"__all__": f"Status '{status.name}' is still referenced; retire it instead."})


# --- transitions -------------------------------------------------------------------------------


def _company_status(value, company: Company, field: str) -> LeadStatus:
    pk = value.pk if isinstance(value, LeadStatus) else value
    try:
        return LeadStatus.objects.get(company=company, pk=pk)
    except (LeadStatus.DoesNotExist, ValueError, TypeError):
        raise ValidationError({field: "Choose a status of this company."}) from None


def _clean_roles(roles) -> list[str]:
    roles = list(roles or [])
    unknown = sorted({str(r) for r in roles} - set(TRANSITION_ROLES))
    if unknown:
        raise ValidationError(
            {"allowed_roles": f"Unknown role(s): {', '.join(unknown)}. Choose from {', '.join(TRANSITION_ROLES)}."}
        )
    return [role for role in TRANSITION_ROLES if role in roles]


def _save_transition(transition: StatusTransition, values: dict[str, Any]) -> StatusTransition:
    company = transition.company
    errors: dict[str, list[str]] = {}
    for field in ("from_status", "to_status"):
        if field in values:
            try:
                setattr(transition, field, _company_status(values[field], company, field))
            except ValidationError as error:
                errors.update(error.message_dict)
    if "allowed_roles" in values:
        try:
            transition.allowed_roles = _clean_roles(values["allowed_roles"])
        except ValidationError as error:
            errors.update(error.message_dict)
    if "note_required" in values:
        transition.note_required = bool(values["note_required"])
    if errors:
        raise ValidationError(errors)
    source, target = transition.from_status, transition.to_status
    if source.pk == target.pk:
        errors["to_status"] = ["A transition must lead to a different status."]
    elif source.is_terminal:
        errors["from_status"] = [f"{source.name} is terminal: no transition may leave it."]
    elif StatusTransition.objects.filter(from_status=source, to_status=target).exclude(pk=transition.pk).exists():
        errors["to_status"] = [f"There is already a transition from {source.name} to {target.name}."]
    _full_clean(transition, errors)
    transition.save()
    return transition


@transaction.atomic
def transition_create(*, company: Company, actor: Membership | None, data: Mapping[str, Any]) -> StatusTransition:
    """Allow moving leads from one status to another, for the given roles (none: everyone)."""
    _check_actor(actor, company, "statuses.manage")
    values = _take(data, ("from_status", "to_status", "allowed_roles", "note_required"))
    missing = {f: "This field is required." for f in ("from_status", "to_status") if values.get(f) in (None, "")}
    if missing:
        raise ValidationError(missing)
    return _save_transition(StatusTransition(company=company), values)


@transaction.atomic
def transition_update(
    *, actor: Membership | None, transition: StatusTransition, data: Mapping[str, Any]
) -> StatusTransition:
    transition = StatusTransition.objects.select_for_update().select_related("company").get(pk=transition.pk)
    _check_actor(actor, transition.company, "statuses.manage")
    values = _take(data, ("from_status", "to_status", "allowed_roles", "note_required"))
    return _save_transition(transition, values)


@transaction.atomic
def transition_delete(*, actor: Membership | None, transition: StatusTransition) -> None:
    transition = StatusTransition.objects.select_for_update().select_related("company").get(pk=transition.pk)
    _check_actor(actor, transition.company, "statuses.manage")
    transition.delete()


# --- campaigns ---------------------------------------------------------------------------------


def _save_campaign(campaign: Campaign, actor: Membership | None, reason: str) -> Campaign:
    for name in ("name", "source", "medium"):
        setattr(campaign, name, (getattr(campaign, name) or "").strip())
    errors: dict[str, list[str]] = {}
    others = Campaign.objects.filter(company_id=campaign.company_id).exclude(pk=campaign.pk)
    if campaign.name and others.filter(name__iexact=campaign.name).exists():
        errors["name"] = [f"A campaign named '{campaign.name}' already exists."]
    if campaign.starts_on and campaign.ends_on and campaign.ends_on < campaign.starts_on:
        errors["ends_on"] = ["The end date cannot be before the start date."]
    _full_clean(campaign, errors)
    record(campaign, actor, reason)
    campaign.save()
    return campaign


@transaction.atomic
def campaign_create(*, company: Company, actor: Membership | None, data: Mapping[str, Any]) -> Campaign:
    _check_actor(actor, company, "company.manage")
    campaign = Campaign(company=company, **_take(data, CAMPAIGN_FIELDS))
    return _save_campaign(campaign, actor, "leads.campaign.created")


@transaction.atomic
def campaign_update(*, actor: Membership | None, campaign: Campaign, data: Mapping[str, Any]) -> Campaign:
    campaign = Campaign.objects.select_for_update().select_related("company").get(pk=campaign.pk)
    _check_actor(actor, campaign.company, "company.manage")
    for name, value in _take(data, CAMPAIGN_FIELDS).items():
        setattr(campaign, name, value)
    return _save_campaign(campaign, actor, "leads.campaign.changed")


# --- custom fields -----------------------------------------------------------------------------


def _clean_choices(field: CustomField) -> list[str]:
    """The choices as a list of distinct, trimmed words; only a choice field has (and needs) them."""
    raw = field.choices if isinstance(field.choices, list | tuple) else [field.choices]
    choices = [str(choice).strip() for choice in raw if choice is not None and str(choice).strip()]
    if field.field_type == CustomFieldType.CHOICE and not choices:
        raise ValidationError({"choices": "A choice field needs at least one choice."})
    if field.field_type != CustomFieldType.CHOICE and choices:
        raise ValidationError({"choices": "Only a choice field has choices: clear them or make it a choice field."})
    duplicates = sorted({c for c in choices if choices.count(c) > 1})
    if duplicates:
        raise ValidationError({"choices": f"Each choice must appear once: {', '.join(duplicates)}."})
    if any(len(choice) > 100 for choice in choices):
        raise ValidationError({"choices": "Keep each choice under 100 characters."})
    return choices


def _save_field(field: CustomField) -> CustomField:
    field.key = (field.key or "").strip()
    field.label = (field.label or "").strip()
    errors: dict[str, list[str]] = {}
    others = CustomField.objects.filter(company_id=field.company_id).exclude(pk=field.pk)
    if field.key and others.filter(key=field.key).exists():
        errors["key"] = [f"A custom field with the key '{field.key}' already exists."]
    try:
        field.choices = _clean_choices(field)
    except ValidationError as error:
        errors.update(error.message_dict)
    _full_clean(field, errors)
    field.save()
    return field


@transaction.atomic
def custom_field_create(*, company: Company, actor: Membership | None, data: Mapping[str, Any]) -> CustomField:
    """Define a custom field for the company's leads. ``choices`` is a list of words."""
    _check_actor(actor, company, "fields.manage")
    values = _take(data, FIELD_FIELDS)
    if values.get("order") is None:
        last = CustomField.objects.filter(company=company).order_by("-order").values_list("order", flat=True).first()
        values["order"] = (last or 0) + 10
    return _save_field(CustomField(company=company, **values))


@transaction.atomic
def custom_field_update(*, actor: Membership | None, field: CustomField, data: Mapping[str, Any]) -> CustomField:
    field = CustomField.objects.select_for_update().select_related("company").get(pk=field.pk)
    _check_actor(actor, field.company, "fields.manage")
    values = _take(data, FIELD_FIELDS)
    if "key" in values and values.pop("key") != field.key:
        raise ValidationError({"key": KEY_IS_FIXED})
    if values.get("order") is None:
        values.pop("order", None)
    for name, value in values.items():
        setattr(field, name, value)
    return _save_field(field)
