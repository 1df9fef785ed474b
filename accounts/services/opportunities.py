"""Writes on opportunities. A stage change, however it arrives (board, form, API, update), goes
through ``opportunity_change_stage``: the probability follows the stage unless a manager overrides it
with a note, closed won/lost are terminal except a manager's reopen with a note, and every change
leaves a stage-change row and a history row."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts.models import Account, Contact, ForecastCategory, Opportunity, OpportunityStageChange, Stage
from accounts.services.common import (
    Errors,
    add_error,
    apply_owner,
    apply_text,
    check_actor,
    check_choice,
    check_known,
    company_object,
    is_manager,
    model_errors,
    raise_if,
    record,
)
from accounts.validation import currency_problem, default_currency, parse_amount, parse_date, parse_probability
from crm.models import Company, Membership

TEXT_FIELDS = ("name", "currency", "forecast_category", "source", "next_step", "lost_reason")
STAGE_FIELDS = ("stage", "probability", "stage_note")
FIELDS = (*TEXT_FIELDS, "account", "primary_contact", "owner", "amount", "close_date", "lead", *STAGE_FIELDS)

REOPEN_NEEDS_MANAGER = "Closed opportunities stay closed; a manager or admin may reopen one with a note."
OVERRIDE_NEEDS_MANAGER = "Only managers and admins set a probability other than the stage's."


def _apply_fields(opportunity: Opportunity, data: dict[str, Any], errors: Errors) -> None:
    apply_text(opportunity, data, TEXT_FIELDS)
    opportunity.currency = opportunity.currency.upper() or default_currency(opportunity.company.default_country)
    if "amount" in data:
        amount = parse_amount(data["amount"], "amount", errors)
        if amount is None and "amount" not in errors:
            add_error(errors, "amount", "Enter the amount (0 when not known yet).")
        opportunity.amount = amount
    if "close_date" in data or opportunity.close_date is None:
        opportunity.close_date = parse_date(data.get("close_date"), "close_date", errors)
        if opportunity.close_date is None and "close_date" not in errors:
            add_error(errors, "close_date", "Give the expected close date.")
    if not opportunity.name:
        add_error(errors, "name", "Give the opportunity a name.")
    if problem := currency_problem(opportunity.currency):
        add_error(errors, "currency", problem)
    check_choice(opportunity, "forecast_category", ForecastCategory, errors)


def _apply_relations(opportunity: Opportunity, data: dict[str, Any], errors: Errors) -> None:
    company = opportunity.company
    if "account" in data or opportunity.account_id is None:
        account = company_object(Account.objects.filter(company=company), data.get("account"), "account", errors)
        if account is None and "account" not in errors:
            add_error(errors, "account", "Choose the opportunity's account.")
        opportunity.account = account
    if "primary_contact" in data:
        contacts = Contact.objects.filter(company=company)
        opportunity.primary_contact = company_object(
            contacts, data["primary_contact"], "primary_contact", errors, label="contact"
        )
    contact = opportunity.primary_contact
    if contact is not None and opportunity.account_id and contact.account_id != opportunity.account_id:
        add_error(errors, "primary_contact", "Choose a contact of this opportunity's account.")
    if "lead" in data:
        from leads.models import Lead

        opportunity.lead = company_object(Lead.objects.filter(company=company), data["lead"], "lead", errors)


def _check_closed_fields(opportunity: Opportunity, stage: Stage, errors: Errors) -> None:
    if stage.is_lost and not opportunity.lost_reason:
        add_error(errors, "lost_reason", "Say why the opportunity was lost.")
    omitted = opportunity.forecast_category == ForecastCategory.OMITTED
    if omitted and not stage.is_lost:
        add_error(errors, "forecast_category", "Omitted is for closed-lost opportunities only.")
    elif stage.is_lost and not omitted:
        add_error(errors, "forecast_category", "A closed-lost opportunity is omitted from the forecast.")


def _enter_stage(opportunity: Opportunity, stage: Stage, probability: int, at) -> None:
    """Set what entering ``stage`` implies: probability, close time and forecast category."""
    leaving_closed = opportunity.stage_id is not None and opportunity.stage.is_closed and not stage.is_closed
    opportunity.stage = stage
    opportunity.probability = probability
    opportunity.stage_changed_at = at
    opportunity.closed_at = at if stage.is_closed else None
    if stage.is_lost:
        opportunity.forecast_category = ForecastCategory.OMITTED
    elif stage.is_won:
        opportunity.forecast_category = ForecastCategory.COMMIT
    elif leaving_closed or opportunity.forecast_category == ForecastCategory.OMITTED:
        opportunity.forecast_category = ForecastCategory.MOST_LIKELY
    if not stage.is_lost:
        opportunity.lost_reason = ""


def _stage_change_row(opportunity, from_stage, actor, note, at) -> OpportunityStageChange:
    """The row for the stage just entered; the stint in the previous stage ends now."""
    OpportunityStageChange.objects.filter(opportunity=opportunity, left_at__isnull=True).update(left_at=at)
    return OpportunityStageChange.objects.create(
        company_id=opportunity.company_id, opportunity=opportunity, from_stage=from_stage,
        to_stage=opportunity.stage, probability=opportunity.probability, changed_by=actor, changed_at=at, note=note,
    )  # fmt: skip


def _resolve_stage(company: Company, value, errors: Errors) -> Stage | None:
    return company_object(Stage.objects.filter(company=company, is_active=True), value, "stage", errors)


def _override(stage: Stage, raw_probability, actor, note: str, errors: Errors) -> int:
    """The probability to use on entering ``stage``: the stage's, or a manager's override with a note."""
    probability = parse_probability(raw_probability, "probability", errors)
    if probability is None or probability == stage.probability:
        return stage.probability
    if not is_manager(actor):
        raise PermissionDenied(OVERRIDE_NEEDS_MANAGER)
    if not note:
        add_error(errors, "note", "Say why the probability differs from the stage's.")
    return probability


@transaction.atomic
def opportunity_create(*, actor: Membership | None, company: Company, data: dict[str, Any]) -> Opportunity:
    """A new opportunity in ``data["stage"]`` (default: the first open stage), its probability from
    the stage unless a manager overrides it (``probability`` with ``stage_note``)."""
    check_actor(actor, company.pk)
    errors: Errors = {}
    check_known(data, FIELDS, errors)
    opportunity = Opportunity(company=company)
    _apply_fields(opportunity, data, errors)
    _apply_relations(opportunity, data, errors)
    apply_owner(opportunity, data, actor, errors, creating=True)
    stage = _resolve_stage(company, data.get("stage"), errors) if data.get("stage") not in (None, "") else None
    stage = stage or (None if "stage" in errors else _first_open_stage(company, errors))
    note = str(data.get("stage_note") or "").strip()
    if stage is not None:
        probability = _override(stage, data.get("probability"), actor, note, errors)
        if stage.is_lost and opportunity.forecast_category != ForecastCategory.OMITTED:
            opportunity.forecast_category = ForecastCategory.OMITTED
        _check_closed_fields(opportunity, stage, errors)
    model_errors(opportunity, errors, exclude=["company", "account", "primary_contact", "owner", "lead", "stage",
                                               "probability", "amount", "close_date"])  # fmt: skip
    raise_if(errors)
    now = timezone.now()
    _enter_stage(opportunity, stage, probability, now)
    record(opportunity, actor, "accounts.opportunity.created")
    opportunity.save()
    _stage_change_row(opportunity, None, actor, note, now)
    return opportunity


def _first_open_stage(company: Company, errors: Errors) -> Stage | None:
    stage = Stage.objects.filter(company=company, is_active=True, is_won=False, is_lost=False).first()
    if stage is None:
        add_error(errors, "stage", "The company has no open pipeline stage; an admin adds one in the stage settings.")
    return stage


@transaction.atomic
def opportunity_update(*, actor: Membership | None, opportunity: Opportunity, data: dict[str, Any]) -> Opportunity:
    """Edit fields; a different ``stage`` or ``probability`` in ``data`` is handed to
    ``opportunity_change_stage`` (with ``stage_note`` as its note) in the same transaction. A
    ``probability`` equal to the current one is ignored, so a client may send a record back whole."""
    check_actor(actor, opportunity.company_id)
    opportunity = Opportunity.objects.select_for_update().select_related("stage").get(pk=opportunity.pk)
    errors: Errors = {}
    check_known(data, FIELDS, errors)
    fields = {k: v for k, v in data.items() if k not in STAGE_FIELDS}
    _apply_fields(opportunity, fields, errors)
    _apply_relations(opportunity, fields, errors)
    apply_owner(opportunity, fields, actor, errors, creating=False)
    target = _resolve_stage(opportunity.company, data["stage"], errors) if data.get("stage") else opportunity.stage
    probability = parse_probability(data.get("probability"), "probability", errors)
    if target is not None and target.pk == opportunity.stage_id:
        _check_closed_fields(opportunity, target, errors)
    model_errors(opportunity, errors, exclude=["company", "account", "primary_contact", "owner", "lead", "stage",
                                               "probability", "amount", "close_date"])  # fmt: skip
    raise_if(errors)
    if fields:
        record(opportunity, actor, "accounts.opportunity.changed")
        opportunity.save()
    if probability == opportunity.probability:
        probability = None
    if target.pk != opportunity.stage_id or probability is not None:
        opportunity = opportunity_change_stage(
            actor=actor, opportunity=opportunity, stage=target, probability=probability,
            note=str(data.get("stage_note") or ""), lost_reason=opportunity.lost_reason or None,
        )  # fmt: skip
    return opportunity


@transaction.atomic
def opportunity_change_stage(
    *,
    actor: Membership | None,
    opportunity: Opportunity,
    stage: Stage,
    probability: int | str | None = None,
    note: str = "",
    lost_reason: str | None = None,
) -> Opportunity:
    """Move ``opportunity`` to ``stage`` (or, with the same stage, override its probability).

    The probability becomes the stage's; a manager or admin may give another one with a ``note``.
    Closed won/lost are terminal except a manager's reopen with a note. Closed lost needs a
    ``lost_reason`` (given here or already on the opportunity). Writes history
    (``accounts.opportunity.stage_changed``) and an ``OpportunityStageChange`` row.
    """
    check_actor(actor, opportunity.company_id)
    opportunity = Opportunity.objects.select_for_update().select_related("stage").get(pk=opportunity.pk)
    errors: Errors = {}
    note = (note or "").strip()
    stage = _resolve_stage(opportunity.company, stage, errors)
    raise_if(errors)
    current = opportunity.stage
    if stage.pk != current.pk and current.is_closed:
        if not is_manager(actor):
            raise PermissionDenied(REOPEN_NEEDS_MANAGER)
        if not note:
            add_error(errors, "note", "Say why this closed opportunity is reopened.")
    target_probability = _override(stage, probability, actor, note, errors)
    if stage.pk == current.pk and target_probability == opportunity.probability:
        raise_if(errors)
        return opportunity  # nothing moves: dropping a card back on its own column
    if lost_reason is not None:
        opportunity.lost_reason = lost_reason.strip()
    if stage.is_lost and not opportunity.lost_reason:
        add_error(errors, "lost_reason", "Say why the opportunity was lost.")
    raise_if(errors)
    now = timezone.now()
    if stage.pk == current.pk:
        opportunity.probability = target_probability
    else:
        _enter_stage(opportunity, stage, target_probability, now)
    record(opportunity, actor, "accounts.opportunity.stage_changed")
    opportunity.save()
    _stage_change_row(opportunity, current, actor, note, now)
    return opportunity


@transaction.atomic
def opportunity_delete(*, actor: Membership | None, opportunity: Opportunity) -> None:
    check_actor(actor, opportunity.company_id)
    record(opportunity, actor, "accounts.opportunity.deleted")
    opportunity.delete()
