"""Every write on leads, their statuses and comments. Views, API, admin, commands and tasks call
these; each is atomic, validates foreign keys against the lead's company and leaves a history row
whose change reason names the action."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from crm.history import record
from crm.ids import is_valid_id
from crm.models import Activity, ActivityKind, ActivityOutcome, Company, Membership, Notification, Role
from crm.sanitize import html_is_blank, sanitize_html
from leads import assignment, dedup, hooks, normalize, scoring
from leads.customfields import clean_custom_fields
from leads.models import (
    AuthorityLevel,
    Campaign,
    CustomField,
    Lead,
    LeadComment,
    LeadStatus,
    Stage,
    StatusChange,
)
from leads.queries import leads_trashable_by
from leads.workflow import check_transition, initial_status, is_conversion_target

TEXT_FIELDS = (
    "first_name", "last_name", "email", "phone", "country", "job_title", "company_name", "profile_url",
    "lead_source", "medium", "term", "interest_product", "budget_range", "authority_level", "need", "timeline",
)  # fmt: skip
PLAIN_FIELDS = ("gdpr_consent", "dnd", "opt_in_date", "stage", "profile_data")
EDITABLE_FIELDS = TEXT_FIELDS + PLAIN_FIELDS + ("campaign", "owner", "custom_fields")
NOT_YOURS_TO_DELETE = "Only the lead's owner, their manager or an admin may delete it; unassigned leads only an admin."
MENTION = re.compile(r"(?<![\w.])@([\w.+-]+)")


def _company_object(model, value, company: Company, field: str, *, extra: Q | None = None):
    """Resolve ``value`` (instance or pk) to a row of ``model`` in ``company``, or a field error."""
    if value in (None, ""):
        return None
    pk = value.pk if isinstance(value, model) else value
    queryset = model.objects.filter(company=company)
    if extra is not None:
        queryset = queryset.filter(extra)
    try:
        return queryset.get(pk=pk)
    except (model.DoesNotExist, ValueError, TypeError):
        raise ValidationError({field: f"Choose a valid {field.replace('_', ' ')} of this company."}) from None


def _apply_fields(lead: Lead, data: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    unknown = set(data) - set(EDITABLE_FIELDS) - {"status", "status_note"}
    for name in sorted(unknown):
        errors[name] = ["Unknown field."]
    for name in TEXT_FIELDS:
        if name in data:
            value = data[name]
            setattr(lead, name, "" if value is None else str(value).strip())
    for name in PLAIN_FIELDS:
        if name in data:
            setattr(lead, name, data[name])
    lead.country = lead.country.upper() or lead.company.default_country
    lead.email = lead.email.lower()
    return errors


_validate_profile_url = URLValidator(schemes=["http", "https"])
_AUTHORITY_LEVELS, _STAGES = frozenset(AuthorityLevel.values), frozenset(Stage.values)


def _validate_contact(lead: Lead, errors: dict[str, list[str]]) -> None:
    if lead.email:
        try:
            validate_email(lead.email)
        except ValidationError:
            errors.setdefault("email", []).append("Enter a valid email address.")
    if lead.phone and not normalize.phone_key(lead.phone, lead.country):
        errors.setdefault("phone", []).append(f"Enter a valid phone number for {lead.country} or in +country format.")
    if lead.profile_url:
        try:
            _validate_profile_url(lead.profile_url)
        except ValidationError:
            errors.setdefault("profile_url", []).append("Enter a valid http(s) URL.")
    if not (lead.email or lead.phone or lead.profile_url):
        errors.setdefault("__all__", []).append("Give at least one way to reach the lead: email, phone or profile URL.")
    if not lead.lead_source:
        errors.setdefault("lead_source", []).append("Lead source is required.")
    if lead.authority_level and lead.authority_level not in _AUTHORITY_LEVELS:
        errors.setdefault("authority_level", []).append(f"Choose one of {', '.join(AuthorityLevel.values)}.")
    if lead.stage not in _STAGES:
        errors.setdefault("stage", []).append(f"Choose one of {', '.join(Stage.values)}.")
    if not isinstance(lead.profile_data, dict):
        errors.setdefault("profile_data", []).append("Profile data must be a JSON object.")


def _apply_relations(lead: Lead, data: dict[str, Any], errors: dict[str, list[str]]) -> None:
    company = lead.company
    for name, model, extra in (
        ("campaign", Campaign, None),
        ("owner", Membership, Q(is_active=True)),
    ):
        if name not in data:
            continue
        try:
            setattr(lead, name, _company_object(model, data[name], company, name, extra=extra))
        except ValidationError as error:
            errors.setdefault(name, []).extend(error.message_dict[name])
    if lead.campaign_id is None and "campaign" not in errors:
        errors["campaign"] = ["Campaign is required."]
    if "custom_fields" in data:
        definitions = list(CustomField.objects.filter(company=company))
        cleaned, problems = clean_custom_fields(definitions, data["custom_fields"] or {})
        lead.custom_fields = cleaned
        for key, message in problems.items():
            errors.setdefault(f"custom_fields.{key}", []).append(message)


def _refresh_keys(lead: Lead) -> None:
    lead.email_key = normalize.email_key(lead.email)
    lead.phone_key = normalize.phone_key(lead.phone, lead.country)
    lead.profile_url_key = normalize.profile_url_key(lead.profile_url)
    lead.company_key = normalize.company_key(lead.company_name)
    lead.name_key = normalize.name_key(lead.first_name, lead.last_name)


def _validated(lead: Lead, data: dict[str, Any]) -> None:
    errors = _apply_fields(lead, data)
    _apply_relations(lead, data, errors)
    _validate_contact(lead, errors)
    try:
        lead.full_clean(exclude=["company", "campaign", "owner", "status", "created_by", "merged_into", *errors])
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    _refresh_keys(lead)


def _touch(lead: Lead, actor: Membership | None, at) -> list[str]:
    """Record activity on the lead; the owner's first touch after assignment is the first response."""
    lead.last_activity_at = at
    fields = ["last_activity_at"]
    if actor is not None and lead.owner_id == actor.pk and lead.first_response_at is None:
        lead.first_response_at = at
        fields.append("first_response_at")
    return fields


def _system_event(lead: Lead, actor: Membership | None, event: str, subject: str, **data) -> Activity:
    return Activity.objects.create(
        company_id=lead.company_id,
        content_type=ContentType.objects.get_for_model(Lead),
        object_id=lead.pk,
        kind=ActivityKind.SYSTEM,
        event=event,
        subject=subject,
        owner=actor,
        data=data,
    )


@transaction.atomic
def lead_create(
    *,
    company: Company,
    actor: Membership | None,
    data: dict[str, Any],
    reason: str = "leads.lead.created",
    allow_duplicates: bool = False,
) -> Lead:
    """Validate, normalise, score, check for duplicates, save and auto-assign a new lead in the
    company's initial status (or, when ``data`` names another status, one the actor may reach from
    the initial status). ``allow_duplicates`` is the "create anyway" right for exact matches."""
    if actor is not None and actor.company_id != company.pk:
        raise PermissionDenied
    lead = Lead(company=company, created_by=actor)
    _validated(lead, data)
    if actor is not None and lead.owner_id not in (None, actor.pk):
        if actor.role == Role.SDR:
            raise ValidationError({"owner": "Only managers and admins assign leads to someone else."})
        assignment.receiver_check(actor=actor, owner=lead.owner)
    lead.status = initial_status(company.pk)
    target = data.get("status")
    target_status = None
    if target not in (None, "") and (getattr(target, "pk", target) != lead.status.pk):
        target_status = _company_object(LeadStatus, target, company, "status")
        if actor is None:
            raise ValidationError({"status": "Only a person can create a lead in a status other than the initial one."})
        check_transition(lead=lead, to_status=target_status, actor=actor, note=data.get("status_note", ""))
    matches = dedup.check_before_save(lead, actor=actor, allow_duplicates=allow_duplicates)
    scoring.apply_scores(lead)
    now = timezone.now()
    lead.status_changed_at = now
    if lead.owner_id:
        lead.assigned_at = now
    record(lead, actor, reason)
    lead.save()
    StatusChange.objects.create(lead=lead, from_status=None, to_status=lead.status, changed_by=actor, changed_at=now)
    dedup.after_save(lead, matches, actor=actor)
    if lead.owner_id is None:
        assignment.assign_on_create(lead, actor=actor)
    hooks.lead_created.send(sender=Lead, lead=lead, actor=actor)
    if target_status is not None:
        lead = lead_transition(actor=actor, lead=lead, to_status=target_status, note=data.get("status_note", ""))
    return lead


@transaction.atomic
def lead_update(
    *,
    actor: Membership,
    lead: Lead,
    data: dict[str, Any],
    reason: str = "leads.lead.changed",
    allow_duplicates: bool = False,
    queue_duplicates: bool = True,
    owner_as_field: bool = False,
) -> Lead:
    """Change fields of a lead. A new ``status`` goes through the workflow like any transition, a
    new owner through ``assignment.lead_assign`` (its checks, log and notice). A merge, which
    undoes its own changes, passes ``queue_duplicates=False`` (it queues the duplicates itself and
    remembers what it queued) and ``owner_as_field=True`` (the survivor takes the owner one of the
    merged leads already had: no new assignment)."""
    lead = Lead.objects.select_for_update(of=("self",)).select_related("company", "status").get(pk=lead.pk)
    _check_editable(lead, actor)
    previous_owner = lead.owner
    _validated(lead, data)
    new_owner = lead.owner
    if new_owner != previous_owner:
        if actor.role == Role.SDR:
            raise ValidationError({"owner": "Only managers and admins assign leads."})
        if new_owner is not None and not owner_as_field:  # an assignment: checks, log, notice
            lead.owner = previous_owner
        else:
            lead.assigned_at = timezone.now()
    matches = dedup.check_before_save(lead, actor=actor, allow_duplicates=allow_duplicates)
    old_score = lead.score
    scoring.apply_scores(lead)
    record(lead, actor, reason)
    lead.save()
    if queue_duplicates:
        dedup.after_save(lead, matches, actor=actor)
    if new_owner is not None and new_owner != previous_owner and not owner_as_field:
        lead = assignment.lead_assign(actor=actor, lead=lead, owner=new_owner)
    if lead.score != old_score:
        hooks.lead_score_changed.send(sender=Lead, lead=lead, old_score=old_score, new_score=lead.score)
    target = data.get("status")
    if target not in (None, "") and getattr(target, "pk", target) != lead.status_id:
        to_status = _company_object(LeadStatus, target, lead.company, "status")
        lead = lead_transition(actor=actor, lead=lead, to_status=to_status, note=data.get("status_note", ""))
    return lead


def _check_editable(lead: Lead, actor: Membership) -> None:
    if actor.company_id != lead.company_id:
        raise PermissionDenied
    if lead.merged_into_id is not None:
        raise ValidationError({"__all__": "This lead was merged into another; edit that one instead."})
    if lead.is_deleted:
        raise ValidationError({"__all__": "This lead is deleted; restore it first."})


@transaction.atomic
def lead_transition(
    *, actor: Membership, lead: Lead, to_status: LeadStatus, note: str = "", conversion: bool = False
) -> Lead:
    """Move a lead along the workflow: only an allowed transition succeeds, converted is final and
    reached only by the conversion service (``conversion=True``)."""
    lead = Lead.objects.select_for_update(of=("self",)).select_related("status", "company").get(pk=lead.pk)
    _check_editable(lead, actor)
    check_transition(lead=lead, to_status=to_status, actor=actor, note=note, conversion=conversion)
    now = timezone.now()
    previous = lead.status
    lead.status = to_status
    lead.status_changed_at = now
    if is_conversion_target(to_status):
        lead.converted_at = now
        lead.stage = Stage.CONVERTED
    _touch(lead, actor, now)
    record(lead, actor, "leads.lead.status_changed")
    lead.save()
    StatusChange.objects.create(
        lead=lead, from_status=previous, to_status=to_status, changed_by=actor, changed_at=now, note=note.strip()
    )
    hooks.lead_status_changed.send(sender=Lead, lead=lead, from_status=previous, to_status=to_status, actor=actor)
    return lead


@transaction.atomic
def lead_delete(*, actor: Membership, lead: Lead) -> Lead:
    """Soft delete: the lead leaves every list and can be restored by a manager."""
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    _check_editable(lead, actor)
    if not leads_trashable_by(actor).filter(pk=lead.pk).exists():
        raise PermissionDenied(NOT_YOURS_TO_DELETE)
    lead.is_deleted = True
    lead.deleted_at = timezone.now()
    record(lead, actor, "leads.lead.deleted")
    lead.save(update_fields=["is_deleted", "deleted_at", "updated_at"])
    _system_event(lead, actor, "leads.lead.deleted", "Lead deleted")
    return lead


@transaction.atomic
def lead_restore(*, actor: Membership, lead: Lead) -> Lead:
    if actor.role not in (Role.ADMIN, Role.MANAGER):
        raise PermissionDenied
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    if not lead.is_deleted:
        raise ValidationError({"__all__": "This lead is not deleted."})
    lead.is_deleted = False
    lead.deleted_at = None
    record(lead, actor, "leads.lead.restored")
    lead.save(update_fields=["is_deleted", "deleted_at", "updated_at"])
    _system_event(lead, actor, "leads.lead.restored", "Lead restored")
    return lead


# --- comments ----------------------------------------------------------------------------------


def _mentioned_members(company_id: int, body_text: str, author: Membership) -> list[Membership]:
    handles = {h.lower().rstrip(".") for h in MENTION.findall(body_text)}
    if not handles:
        return []
    members = Membership.objects.filter(company_id=company_id, is_active=True).select_related("user")
    found = []
    for member in members:
        local = member.user.email.split("@")[0].lower()
        first = member.user.full_name.split(" ")[0].lower() if member.user.full_name else ""
        if member.pk != author.pk and (local in handles or first in handles):
            found.append(member)
    return found


def _clean_body(body: str) -> str:
    clean = sanitize_html(body)
    if html_is_blank(clean):
        raise ValidationError({"body": "Write something before posting."})
    if len(clean) > 20000:
        raise ValidationError({"body": "Keep comments under 20,000 characters."})
    return clean


def _notify_mentions(comment: LeadComment, author: Membership, url: str) -> None:
    from django.utils.html import strip_tags

    for member in _mentioned_members(comment.company_id, strip_tags(comment.body), author):
        Notification.objects.create(
            company_id=comment.company_id,
            recipient=member,
            verb="leads.comment.mentioned",
            text=f"{author.user} mentioned you on {comment.lead.display_name}",
            url=url,
        )


@transaction.atomic
def comment_create(
    *, actor: Membership, lead: Lead, body: str, parent: LeadComment | int | None = None, url: str = ""
) -> LeadComment:
    _check_editable(lead, actor)
    if parent not in (None, ""):
        parent_id = getattr(parent, "pk", parent)
        parent = (
            LeadComment.objects.filter(pk=parent_id, lead=lead, is_deleted=False).first()
            if is_valid_id(parent_id)
            else None
        )
        if parent is None:
            raise ValidationError({"parent": "You can only reply to a comment on this lead."})
    comment = LeadComment(company_id=lead.company_id, lead=lead, author=actor, parent=parent or None)
    comment.body = _clean_body(body)
    record(comment, actor, "leads.comment.created")
    comment.save()
    fields = _touch(lead, actor, comment.created_at)
    lead.save_without_historical_record(update_fields=fields)
    _notify_mentions(comment, actor, url)
    return comment


@transaction.atomic
def comment_edit(*, actor: Membership, comment: LeadComment, body: str) -> LeadComment:
    if comment.author_id != actor.pk:
        raise PermissionDenied
    if comment.is_deleted:
        raise ValidationError({"body": "A deleted comment cannot be edited."})
    comment.body = _clean_body(body)
    comment.edited_at = timezone.now()
    record(comment, actor, "leads.comment.edited")
    comment.save(update_fields=["body", "edited_at"])
    return comment


@transaction.atomic
def comment_delete(*, actor: Membership, comment: LeadComment) -> LeadComment:
    if comment.author_id != actor.pk:
        raise PermissionDenied
    comment.is_deleted = True
    comment.deleted_at = timezone.now()
    record(comment, actor, "leads.comment.deleted")
    comment.save(update_fields=["is_deleted", "deleted_at"])
    return comment


# --- activities --------------------------------------------------------------------------------

INTERACTIONS = [k for k in ActivityKind.values if k != ActivityKind.SYSTEM]


@transaction.atomic
def activity_log(
    *,
    actor: Membership,
    lead: Lead,
    kind: str,
    subject: str = "",
    notes: str = "",
    outcome: str = "",
    occurred_at=None,
) -> Activity:
    """Record a call, email, meeting, note or WhatsApp message on the lead's timeline."""
    _check_editable(lead, actor)
    errors = {}
    if kind not in INTERACTIONS:
        errors["kind"] = [f"Choose one of {', '.join(INTERACTIONS)}."]
    if not (subject or "").strip() and not (notes or "").strip():
        errors["subject"] = ["Give a subject or notes."]
    outcome = (outcome or "").strip()
    if outcome and outcome not in ActivityOutcome.values:
        errors["outcome"] = [f"Choose one of {', '.join(ActivityOutcome.values)}."]
    occurred_at = occurred_at or timezone.now()
    if occurred_at > timezone.now() + timedelta(minutes=5):
        errors["occurred_at"] = ["An interaction that already happened cannot be in the future."]
    if errors:
        raise ValidationError(errors)
    activity = Activity(
        company_id=lead.company_id,
        content_type=ContentType.objects.get_for_model(Lead),
        object_id=lead.pk,
        kind=kind,
        subject=subject.strip()[:200],
        notes=notes.strip(),
        outcome=outcome,
        owner=actor,
        occurred_at=occurred_at,
    )
    activity.full_clean()
    activity.save()
    fields = _touch(lead, actor, max(occurred_at, lead.last_activity_at or occurred_at))
    lead.save_without_historical_record(update_fields=fields)
    scoring.lead_rescore(lead=lead, actor=actor)  # calls and meetings earn engagement points
    hooks.activity_logged.send(sender=Lead, activity=activity, lead=lead)
    return activity
