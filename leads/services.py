"""Every write on leads, their statuses and comments. Views, API, admin, commands and tasks call
these; each is atomic, validates foreign keys against the lead's company and leaves a history row
whose change reason names the action."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
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
from leads.keys import apply_keys
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
from leads.workflow import TransitionCheck, check_transition, initial_status, status_enter

TEXT_FIELDS = (
    "first_name", "last_name", "email", "phone", "country", "job_title", "company_name", "profile_url",
    "lead_source", "medium", "term", "interest_product", "budget_range", "authority_level", "need", "timeline",
)  # fmt: skip
PLAIN_FIELDS = ("gdpr_consent", "dnd", "opt_in_date", "stage", "profile_data")
EDITABLE_FIELDS = TEXT_FIELDS + PLAIN_FIELDS + ("campaign", "owner", "custom_fields")
NOT_YOURS_TO_DELETE = "Only the lead's owner, their manager or an admin may delete it; unassigned leads only an admin."
CAMPAIGN_REQUIRED = "Campaign is required."
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
        raise ValidationError({field: _not_of_company(field)}) from None


def _not_of_company(field: str) -> str:
    return f"Choose a valid {field.replace('_', ' ')} of this company."


def _add(errors: dict[str, list[str]], error: ValidationError, rename: dict[str, str] | None = None) -> None:
    """Collect ``error``'s messages into ``errors`` (field → messages)."""
    found = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
    for field, messages in found.items():
        errors.setdefault((rename or {}).get(field, field), []).extend(messages)


# --- validators: rules every door applies ------------------------------------------------------

LeadValidator = Callable[[Lead, dict[str, Any]], None]
# Rules added here reach every door that writes lead fields — the form, the API, the admin,
# profiles, imports (through ``lead_prepare``) and bulk field changes — without editing any of them.
LEAD_VALIDATORS: list[LeadValidator] = []


def register_lead_validator(validator: LeadValidator) -> LeadValidator:
    """Add a rule (usable as a decorator). ``validator(lead, data)`` sees the lead with ``data``
    applied in memory and raises ``ValidationError`` naming the field it refuses. It runs even when
    other fields were refused (so that every error is reported at once): it must not assume them
    valid. It must not query the database: an import runs it for each of 100,000 rows, in a helper
    process that is refused the database (``leads.transfer.forked``)."""
    LEAD_VALIDATORS.append(validator)
    return validator


def run_lead_validators(lead: Lead, data: dict[str, Any], errors: dict[str, list[str]] | None = None) -> dict:
    """Every registered validator's verdict on ``lead``, added to ``errors`` (field → messages)."""
    errors = {} if errors is None else errors
    for validator in LEAD_VALIDATORS:
        try:
            validator(lead, data)
        except ValidationError as error:
            _add(errors, error)
    return errors


# --- preparing a lead: every rule on its values, in memory --------------------------------------


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
    lead.country = normalize.country_code(lead.country) or lead.company.default_country
    lead.email = lead.email.lower()
    return errors


_validate_profile_url = URLValidator(schemes=["http", "https"])
_AUTHORITY_LEVELS, _STAGES = frozenset(AuthorityLevel.values), frozenset(Stage.values)
# Django's e-mail and URL validators, split where their verdict splits (an import checks every row,
# and the regular expressions of a domain or a host are the dear part): the domain of an address and
# the scheme-and-host of a URL repeat from lead to lead, so their verdicts are remembered.
_EMAIL_USER = re.compile(validate_email.user_regex.pattern, validate_email.user_regex.flags)
_NO_SPACE = re.compile(r"[^\s]*")
_URL_HOST_END = re.compile(r"[/?#]")


@lru_cache(maxsize=4096)
def _email_domain_ok(domain: str) -> bool:
    return domain in validate_email.domain_allowlist or validate_email.validate_domain_part(domain)


def _email_ok(email: str) -> bool:
    """``validate_email(email)`` passes (Django's own checks, in its order)."""
    if not email or "@" not in email or len(email) > 320:
        return False
    user, domain = email.rsplit("@", 1)
    return _EMAIL_USER.match(user) is not None and _email_domain_ok(domain)


@lru_cache(maxsize=4096)
def _url_ok(url: str) -> bool:
    try:
        _validate_profile_url(url)
    except ValidationError:
        return False
    return True


def _profile_url_ok(url: str) -> bool:
    """``_validate_profile_url(url)`` passes. Without "@" (no user part), the validator's pattern
    reads scheme://host[:port] up to the first "/", "?" or "#" and then any run of non-space
    characters, and its other checks (length aside) read the host: so the verdict is the host's
    (remembered) and the rest's."""
    start = url.find("://") + 3
    end = _URL_HOST_END.search(url, start) if start > 2 and "@" not in url else None
    if end is None or len(url) > _validate_profile_url.max_length:
        return _url_ok(url)
    return _url_ok(url[: end.start()]) and _NO_SPACE.fullmatch(url, end.start()) is not None


def _validate_contact(lead: Lead, errors: dict[str, list[str]]) -> None:
    if lead.email and not _email_ok(lead.email):
        errors.setdefault("email", []).append("Enter a valid email address.")
    if lead.phone and not normalize.phone_key(lead.phone, lead.country):
        # Possible but outside the numbering plan: kept, in international form, with no match key
        # (placeholders like +1 555 555 5555 must not make strangers duplicates); the data-quality
        # check warns. Impossible numbers are refused.
        kept = normalize.possible_phone(lead.phone, lead.country)
        if kept:
            lead.phone = kept
        else:
            errors.setdefault("phone", []).append(
                f"Enter a valid phone number for {lead.country} or in +country format."
            )
    if lead.profile_url and not _profile_url_ok(lead.profile_url):
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


# What ``full_clean`` checked beyond ``_validate_contact``, at a fraction of its cost (an import
# prepares every row): the text columns' lengths, and the parsing of the typed plain fields.
_LIMITS = {name: Lead._meta.get_field(name).max_length for name in TEXT_FIELDS if Lead._meta.get_field(name).max_length}
_PARSED = tuple(Lead._meta.get_field(name) for name in ("gdpr_consent", "dnd", "opt_in_date"))


def _check_values(lead: Lead, data: dict[str, Any], errors: dict[str, list[str]]) -> None:
    for name, limit in _LIMITS.items():
        size = len(getattr(lead, name))
        if size > limit and name not in errors:
            errors[name] = [f"Ensure this value has at most {limit} characters (it has {size})."]
    for field in _PARSED:
        value = data.get(field.name)
        if field.name not in data or field.name in errors or (field.blank and value in field.empty_values):
            continue
        try:
            setattr(lead, field.name, field.clean(value, lead))
        except ValidationError as error:
            errors[field.name] = error.messages


@dataclass
class LeadBatch:
    """What preparing many leads of one company for one actor shares, read once (an import): the
    initial status, the custom field definitions and the workflow's verdict per move.

    With a batch, ``lead_prepare`` makes no query: the ``campaign``, ``owner`` and ``status`` of
    ``data`` must be instances the caller resolved (an import resolves names once per file); they are
    only checked in memory to belong to the company (and the owner to be active)."""

    company: Company
    actor: Membership | None
    initial: LeadStatus
    definitions: list[CustomField]
    transitions: TransitionCheck | None

    @classmethod
    def of(cls, company: Company, actor: Membership | None) -> LeadBatch:
        return cls(
            company=company,
            actor=actor,
            initial=initial_status(company.pk),
            definitions=list(CustomField.objects.filter(company=company)),
            transitions=TransitionCheck(actor) if actor is not None else None,
        )


def _related(name: str, model, value, lead: Lead, batch: LeadBatch | None, extra: Q | None = None):
    if batch is None or not isinstance(value, model):
        return _company_object(model, value, lead.company, name, extra=extra)
    if value.company_id != lead.company_id or getattr(value, "is_active", True) is False:
        raise ValidationError({name: _not_of_company(name)})
    return value


def _apply_relations(lead: Lead, data: dict[str, Any], errors: dict[str, list[str]], batch: LeadBatch | None) -> None:
    for name, model, extra in (("campaign", Campaign, None), ("owner", Membership, Q(is_active=True))):
        if name in data:
            try:
                setattr(lead, name, _related(name, model, data[name], lead, batch, extra))
            except ValidationError as error:
                _add(errors, error)
    if lead.campaign_id is None and "campaign" not in errors:
        errors["campaign"] = [CAMPAIGN_REQUIRED]


def _apply_custom_fields(lead: Lead, data: dict[str, Any], errors: dict[str, list[str]], batch) -> None:
    """The values of ``data["custom_fields"]`` (all of them: the lead's are replaced); a new lead is
    always checked, so that a required custom field cannot be left out."""
    if "custom_fields" not in data and lead.pk is not None:
        return
    definitions = batch.definitions if batch else list(CustomField.objects.filter(company_id=lead.company_id))
    cleaned, problems = clean_custom_fields(definitions, data.get("custom_fields") or {})
    lead.custom_fields = cleaned
    for key, message in problems.items():
        errors.setdefault(f"custom_fields.{key}", []).append(message)


def _check_owner(lead: Lead, actor: Membership | None, before: int | None, errors: dict[str, list[str]]) -> None:
    """Only managers and admins give a lead to someone else (their team and the receiver's capacity
    are the assignment service's checks, against the database)."""
    if actor is None or actor.role != Role.SDR or "owner" in errors or lead.owner_id == before:
        return
    if lead.pk is None and lead.owner_id != actor.pk:
        errors["owner"] = ["Only managers and admins assign leads to someone else."]
    elif lead.pk is not None:
        errors["owner"] = ["Only managers and admins assign leads."]


def _requested_status(lead: Lead, actor, data: dict[str, Any], errors: dict, batch) -> LeadStatus | None:
    """The status ``data`` asks for, when it is a move the workflow allows this actor."""
    target = data.get("status")
    if target in (None, "") or getattr(target, "pk", target) == lead.status_id:
        return None
    try:
        to_status = _related("status", LeadStatus, target, lead, batch)
    except ValidationError as error:
        _add(errors, error)
        return None
    if to_status.pk == lead.status_id:
        return None
    if actor is None:
        errors["status"] = ["Only a person can create a lead in a status other than the initial one."]
        return None
    check = batch.transitions if batch is not None else TransitionCheck(actor)
    problem = check.problem(lead, to_status, data.get("status_note", ""))
    if problem is not None:
        _add(errors, problem, rename={"note": "status_note"})
        return None
    return to_status


def lead_prepare(
    *,
    company: Company,
    actor: Membership | None,
    data: dict[str, Any],
    lead: Lead | None = None,
    batch: LeadBatch | None = None,
) -> Lead:
    """Apply ``data`` to ``lead`` (a new lead of ``company`` when None or unsaved) in memory and
    check every rule on its values, raising ONE ``ValidationError`` with every field's errors.

    ``data`` holds editable fields (``EDITABLE_FIELDS``), ``status`` and ``status_note``; anything
    else is an "Unknown field.". Text is stripped, the email lower-cased, the country made an ISO
    code (``normalize.country_code``; the company's when empty); ``campaign``, ``owner`` and
    ``status`` (instances or ids) must belong to the company; contact details, lengths, choices and
    custom fields are checked; an SDR may not give the lead to someone else; ``status`` must be a move the workflow allows the actor, from the
    initial status for a new lead. Then every registered validator (``LEAD_VALIDATORS``) runs, and
    the match keys are computed.

    Returns the lead, unsaved, in its current (a new lead: the initial) status;
    ``lead.requested_status`` is the allowed status ``data`` asks for (None: no move), which the
    caller makes as a transition of its own after saving. Nothing is written and nothing is locked.

    Queries: the campaign, owner and status named in ``data``, the custom field definitions (on
    create, or when ``data`` has custom fields), the initial status and the workflow rule of a move.
    ``batch`` (``LeadBatch.of(company, actor)``) replaces them all with values read once, for loops
    over many leads — an import checks 100,000 rows with no query per row."""
    if actor is not None and actor.company_id != company.pk:
        raise PermissionDenied
    lead = Lead(company=company, created_by=actor) if lead is None else lead
    if lead.company_id != company.pk:
        raise PermissionDenied
    owner_before = lead.owner_id
    errors = _apply_fields(lead, data)
    _apply_relations(lead, data, errors, batch)
    _apply_custom_fields(lead, data, errors, batch)
    _check_owner(lead, actor, owner_before, errors)
    _validate_contact(lead, errors)
    _check_values(lead, data, errors)
    if lead.status_id is None:
        lead.status = batch.initial if batch is not None else initial_status(company.pk)
    lead.requested_status = _requested_status(lead, actor, data, errors, batch)
    run_lead_validators(lead, data, errors)
    if errors:
        raise ValidationError(errors)
    apply_keys(lead)
    return lead


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
    """Prepare (``lead_prepare``), check for duplicates, score, save and auto-assign a new lead in
    the company's initial status, then move it to the status ``data`` names, if any (a transition
    of its own). ``allow_duplicates`` is the "create anyway" right for exact matches."""
    lead = lead_prepare(company=company, actor=actor, data=data)
    if actor is not None and lead.owner_id not in (None, actor.pk):
        assignment.receiver_check(actor=actor, owner=lead.owner)
    matches = dedup.check_before_save(lead, actor=actor, allow_duplicates=allow_duplicates)
    scoring.apply_scores(lead)
    now = timezone.now()
    status_enter(lead, lead.status, at=now)
    if lead.owner_id:
        lead.assigned_at = now
    record(lead, actor, reason)
    lead.save()
    StatusChange.objects.create(lead=lead, from_status=None, to_status=lead.status, changed_by=actor, changed_at=now)
    dedup.after_save(lead, matches, actor=actor)
    if lead.owner_id is None:
        assignment.assign_on_create(lead, actor=actor)
    hooks.lead_created.send(sender=Lead, lead=lead, actor=actor)
    if lead.requested_status is not None:
        lead = lead_transition(
            actor=actor, lead=lead, to_status=lead.requested_status, note=data.get("status_note", "")
        )
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
    """Change fields of a lead: prepare (``lead_prepare``), check for duplicates, score, save. A new
    ``status`` then goes through the workflow like any transition, a new owner through
    ``assignment.lead_assign`` (its checks, log and notice). A merge, which undoes its own changes,
    passes ``queue_duplicates=False`` (it queues the duplicates itself and remembers what it queued)
    and ``owner_as_field=True`` (the survivor takes the owner one of the merged leads already had:
    no new assignment)."""
    lead = Lead.objects.select_for_update(of=("self",)).select_related("company", "status").get(pk=lead.pk)
    _check_editable(lead, actor)
    previous_owner = lead.owner
    lead = lead_prepare(company=lead.company, actor=actor, data=data, lead=lead)
    new_owner, to_status = lead.owner, lead.requested_status
    if new_owner != previous_owner:
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
    if to_status is not None:
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
    status_enter(lead, to_status, at=now)
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
