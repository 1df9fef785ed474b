"""Qualification of leads: the BANT/MEDDICC scorecard, its score under the company's settings, and
the services that record it (``lead_qualify``) and edit the settings (``qualification_settings_update``).

Scoring (defaults from the data-flow guide, 5.2): each answered BANT criterion earns its weight
(25), each answered MEDDICC criterion ``meddicc_weight`` (5) up to ``meddicc_cap`` (20); the score
is capped at 100. From ``qualified_at`` (75) the lead is qualified, from ``nurture_at`` (50) it
needs more nurturing, below it is disqualified. Qualifying moves the lead to *qualified* or
*unqualified* through the workflow engine; a refused move keeps the scorecard and says why."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models_qualification import (
    BANT,
    MEDDICC,
    Qualification,
    QualificationSettings,
    Recommendation,
    RiskScore,
)
from accounts.services.common import Errors, add_error, check_actor, raise_if, record
from accounts.validation import parse_probability
from crm.models import Company, Membership
from crm.permissions import permissions_for
from leads.models import Lead, LeadStatus

LABELS = {
    "budget": "Budget", "authority": "Authority", "need": "Need", "timeline": "Timeline",
    "metrics": "Metrics", "economic_buyer": "Economic buyer", "decision_criteria": "Decision criteria",
    "decision_process": "Decision process", "identify_pain": "Identify pain", "champion": "Champion",
    "competition": "Competition",
}  # fmt: skip
MAX_ANSWER = 1000
# The statuses a recommendation moves the lead to (nurture more leaves the status alone).
STATUS_FOR = {Recommendation.QUALIFIED: "qualified", Recommendation.DISQUALIFY: "unqualified"}
SETTINGS_FIELDS = ("budget_weight", "authority_weight", "need_weight", "timeline_weight", "meddicc_weight",
                   "meddicc_cap", "qualified_at", "nurture_at", "min_lead_score")  # fmt: skip


# --- scoring ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """The guide's ``qualification_result``."""

    is_qualified: bool
    qualification_score: int
    missing_criteria: list[str] = field(default_factory=list)
    recommendation: str = Recommendation.DISQUALIFY

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def settings_for(company: Company | int) -> QualificationSettings:
    """The company's settings; unsaved defaults when it has none."""
    company_id = getattr(company, "pk", company)
    found = QualificationSettings.objects.filter(company_id=company_id).first()
    return found or QualificationSettings(company_id=company_id)


def answered(value) -> bool:
    return bool(str(value or "").strip())


def score_answers(bant: dict[str, str], meddicc: dict[str, str], settings: QualificationSettings) -> Result:
    """Score a scorecard under ``settings``: 0–100, the BANT criteria left unanswered, the advice."""
    weights = settings.bant_weights()
    points = sum(weights[key] for key in BANT if answered(bant.get(key)))
    meddicc_answers = sum(1 for key in MEDDICC if answered(meddicc.get(key)))
    points = min(points + min(meddicc_answers * settings.meddicc_weight, settings.meddicc_cap), 100)
    missing = [LABELS[key] for key in BANT if not answered(bant.get(key))]
    if points >= settings.qualified_at:
        recommendation = Recommendation.QUALIFIED
    elif points >= settings.nurture_at:
        recommendation = Recommendation.NURTURE_MORE
    else:
        recommendation = Recommendation.DISQUALIFY
    return Result(points >= settings.qualified_at, points, missing, str(recommendation))


def bant_prefill(lead: Lead) -> dict[str, str]:
    """BANT answers taken from the lead's own qualification fields (the scorecard's starting point)."""
    return {
        "budget": lead.budget_range,
        "authority": lead.get_authority_level_display() if lead.authority_level else "",
        "need": lead.need,
        "timeline": lead.timeline,
    }


def _clean_answers(value, keys: tuple[str, ...], prefix: str, errors: Errors) -> dict[str, str]:
    """``{criterion: text}`` with the keys of ``keys`` only; blank answers dropped."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        add_error(errors, prefix, f"Give an object of answers with the keys {', '.join(keys)}.")
        return {}
    answers = {}
    for key, answer in value.items():
        name = f"{prefix}.{key}"
        if key not in keys:
            add_error(errors, name, f"Unknown criterion; use {', '.join(keys)}.")
        elif answer is not None and not isinstance(answer, str):
            add_error(errors, name, "Give the answer as text.")
        elif len(answer or "") > MAX_ANSWER:
            add_error(errors, name, f"Keep answers under {MAX_ANSWER:,} characters.")
        elif answered(answer):
            answers[key] = answer.strip()
    return answers


# --- recording a qualification ----------------------------------------------------------------------------


@dataclass
class Outcome:
    qualification: Qualification
    result: Result
    lead: Lead
    status_changed: bool = False
    status_error: str = ""
    enrolments: list = field(default_factory=list)


def locked_lead(lead: Lead) -> Lead:
    """The lead re-read under a row lock held until the transaction ends. The lock is taken
    without joins: PostgreSQL re-checks a locked row that another transaction changed against the
    joined rows it read before, so a joined status that just changed would hide the lead."""
    list(Lead.objects.select_for_update().filter(pk=lead.pk).values_list("pk", flat=True))
    return Lead.objects.select_related("status", "company", "owner").get(pk=lead.pk)


def check_live(lead: Lead, errors: Errors) -> None:
    """A merged or deleted lead is not worked any more."""
    if lead.merged_into_id is not None:
        add_error(errors, "__all__", "This lead was merged into another; work on that one instead.")
    elif lead.is_deleted:
        add_error(errors, "__all__", "This lead is deleted; restore it first.")


@transaction.atomic
def lead_qualify(
    *,
    actor: Membership,
    lead: Lead,
    bant: dict | None = None,
    meddicc: dict | None = None,
    risk_score: str = RiskScore.LOW,
    note: str = "",
) -> Outcome:
    """Record the lead's scorecard (``bant`` omitted: prefilled from the lead's fields), score it,
    and move the lead to qualified or unqualified through the workflow. A move the workflow refuses
    keeps the scorecard; ``Outcome.status_error`` says why. "Nurture more" enrols the lead in the
    company's nurture-more sequences."""
    check_actor(actor, lead.company_id)
    if "leads.qualify" not in permissions_for(actor.role):
        raise PermissionDenied
    lead = locked_lead(lead)
    errors: Errors = {}
    check_live(lead, errors)
    if lead.converted_at is not None and not errors:
        add_error(errors, "__all__", "This lead is converted: its qualification is final.")
    bant_answers = _clean_answers(bant_prefill(lead) if bant is None else bant, BANT, "bant", errors)
    meddicc_answers = _clean_answers(meddicc, MEDDICC, "meddicc", errors)
    risk_score = risk_score or RiskScore.LOW
    if risk_score not in RiskScore.values:
        add_error(errors, "risk_score", f"Choose one of {', '.join(RiskScore.values)}.")
    raise_if(errors)
    settings = settings_for(lead.company_id)
    result = score_answers(bant_answers, meddicc_answers, settings)
    qualification = Qualification.objects.filter(lead=lead).first() or Qualification(company_id=lead.company_id,
                                                                                     lead=lead)  # fmt: skip
    qualification.bant, qualification.meddicc, qualification.risk_score = bant_answers, meddicc_answers, risk_score
    qualification.score, qualification.is_qualified = result.qualification_score, result.is_qualified
    qualification.missing_criteria, qualification.recommendation = result.missing_criteria, result.recommendation
    qualification.weights = {name: getattr(settings, name) for name in SETTINGS_FIELDS}
    qualification.qualified_by, qualification.qualified_at = actor, timezone.now()
    record(qualification, actor, "accounts.qualification.recorded")
    qualification.save()
    outcome = Outcome(qualification, result, lead)
    _move_status(outcome, actor, note)
    if result.recommendation == Recommendation.NURTURE_MORE:
        from nurturing.services import on_nurture_more

        outcome.enrolments = on_nurture_more(lead=outcome.lead, actor=actor)
    return outcome


def _move_status(outcome: Outcome, actor: Membership, note: str) -> None:
    from leads.services import lead_transition

    key = STATUS_FOR.get(outcome.result.recommendation)
    lead = outcome.lead
    if key is None or lead.status.key == key:
        return
    target = LeadStatus.objects.filter(company_id=lead.company_id, key=key).first()
    if target is None:
        outcome.status_error = f"The company has no status '{key}': the lead keeps its status."
        return
    try:
        outcome.lead = lead_transition(actor=actor, lead=lead, to_status=target, note=note or "")
    except ValidationError as error:
        outcome.status_error = " ".join(error.messages)
    else:
        outcome.status_changed = True


# --- the company's settings -------------------------------------------------------------------------------


def _check_settings(settings: QualificationSettings, data: dict[str, Any], errors: Errors) -> None:
    for name in sorted(set(data) - set(SETTINGS_FIELDS)):
        add_error(errors, name, "Unknown field.")
    for name in SETTINGS_FIELDS:
        if name not in data:
            continue
        value = parse_probability(data[name], name, errors)
        if value is None and name not in errors and name != "min_lead_score":
            add_error(errors, name, "Enter a whole number from 0 to 100.")
        elif name not in errors:
            setattr(settings, name, value)
    if errors:
        return
    if settings.nurture_at > settings.qualified_at:
        add_error(errors, "nurture_at", "Nurture more starts at or below the qualified score.")
    reachable = min(sum(settings.bant_weights().values()) + settings.meddicc_cap, 100)
    if settings.qualified_at > reachable:
        add_error(errors, "qualified_at", f"No lead could qualify: the weights add up to {reachable} at most.")


@transaction.atomic
def qualification_settings_update(
    *, actor: Membership | None, company: Company, data: dict[str, Any]
) -> QualificationSettings:
    """Admins edit the weights, thresholds and minimum lead score; later scorecards use them."""
    check_actor(actor, company.pk)
    if actor is not None and "qualification.manage" not in permissions_for(actor.role):
        raise PermissionDenied("Only company admins edit the qualification settings.")
    settings = QualificationSettings.objects.select_for_update().filter(company=company).first()
    settings = settings or QualificationSettings(company=company)
    errors: Errors = {}
    _check_settings(settings, data, errors)
    raise_if(errors)
    record(settings, actor, "accounts.qualification_settings.changed")
    settings.save()
    return settings
