"""The company's pipeline stages: defaults for every new company, and the admins' edits."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max

from accounts.models import Stage
from accounts.services.common import (
    Errors,
    add_error,
    apply_flags,
    check_actor,
    check_known,
    exclude_self,
    raise_if,
    record,
)
from accounts.validation import parse_probability
from crm.models import Company, Membership, Role

# The data-flow guide's stages (7.2): name, probability, won, lost.
DEFAULT_STAGES = (
    ("Prospect", 10, False, False),
    ("Qualified", 25, False, False),
    ("Proposal sent", 50, False, False),
    ("Negotiation", 75, False, False),
    ("Closed won", 100, True, False),
    ("Closed lost", 0, False, True),
)
FIELDS = ("name", "order", "probability", "is_won", "is_lost", "is_active")


def stages_create_defaults(company: Company) -> list[Stage]:
    """The guide's six stages for a company that has none (idempotent)."""
    if Stage.objects.filter(company=company).exists():
        return list(Stage.objects.filter(company=company))
    stages = []
    for order, (name, probability, won, lost) in enumerate(DEFAULT_STAGES, start=1):
        stage = Stage(company=company, name=name, order=order * 10, probability=probability, is_won=won, is_lost=lost)
        record(stage, None, "accounts.stage.created_default")
        stage.save()
        stages.append(stage)
    return stages


def _check_admin(actor: Membership | None, company_id: int) -> None:
    check_actor(actor, company_id)
    if actor is not None and actor.role != Role.ADMIN:
        raise PermissionDenied("Only company admins edit the pipeline stages.")


def _apply(stage: Stage, data: dict[str, Any], errors: Errors) -> None:
    check_known(data, FIELDS, errors)
    if "name" in data:
        stage.name = str(data["name"] or "").strip()
    if not stage.name:
        add_error(errors, "name", "Give the stage a name.")
    elif Stage.objects.filter(company=stage.company, name__iexact=stage.name).filter(exclude_self(stage)).exists():
        add_error(errors, "name", "Another stage already has this name.")
    if "probability" in data or stage.probability is None:
        stage.probability = parse_probability(data.get("probability"), "probability", errors)
        if stage.probability is None and "probability" not in errors:
            add_error(errors, "probability", "Enter a whole number from 0 to 100.")
    if "order" in data:
        try:
            stage.order = int(data["order"])
            if stage.order < 0:
                raise ValueError
        except (TypeError, ValueError):
            add_error(errors, "order", "Enter a whole number, 0 or more.")
    apply_flags(stage, data, ("is_won", "is_lost", "is_active"), errors)
    if stage.is_won and stage.is_lost:
        add_error(errors, "is_lost", "A stage is won or lost, not both.")


def _check_pipeline_kept(stage: Stage, errors: Errors) -> None:
    """The pipeline keeps at least one open, one won and one lost active stage."""
    others = Stage.objects.filter(company=stage.company, is_active=True).filter(exclude_self(stage))
    for label, condition in (
        ("open", {"is_won": False, "is_lost": False}),
        ("won", {"is_won": True}),
        ("lost", {"is_lost": True}),
    ):
        keeps = stage.is_active and all(getattr(stage, k) == v for k, v in condition.items())
        if not keeps and not others.filter(**condition).exists():
            add_error(errors, "__all__", f"The pipeline needs at least one active {label} stage.")


@transaction.atomic
def stage_create(*, actor: Membership | None, company: Company, data: dict[str, Any]) -> Stage:
    _check_admin(actor, company.pk)
    stage = Stage(company=company, probability=None)
    stage.order = (Stage.objects.filter(company=company).aggregate(m=Max("order"))["m"] or 0) + 10
    errors: Errors = {}
    _apply(stage, data, errors)
    raise_if(errors)
    record(stage, actor, "accounts.stage.created")
    stage.save()
    return stage


@transaction.atomic
def stage_update(*, actor: Membership | None, stage: Stage, data: dict[str, Any]) -> Stage:
    """Edits apply to future moves; opportunities already in the stage keep their probability."""
    _check_admin(actor, stage.company_id)
    stage = Stage.objects.select_for_update().get(pk=stage.pk)
    errors: Errors = {}
    was_closed = (stage.is_won, stage.is_lost)
    _apply(stage, data, errors)
    if not errors:
        _check_pipeline_kept(stage, errors)
    if (stage.is_won, stage.is_lost) != was_closed and stage.opportunities.exists():
        add_error(errors, "is_won", "Opportunities are in this stage: its won/lost flags cannot change.")
    raise_if(errors)
    record(stage, actor, "accounts.stage.changed")
    stage.save()
    return stage


@transaction.atomic
def stage_delete(*, actor: Membership | None, stage: Stage) -> None:
    """Deletes an unused stage; one that opportunities were ever in is retired instead (kept for history)."""
    _check_admin(actor, stage.company_id)
    from accounts.models import OpportunityStageChange

    if stage.opportunities.exists():
        raise ValidationError({"__all__": ["Move this stage's opportunities to another stage first."]})
    errors: Errors = {}
    stage.is_active = False
    _check_pipeline_kept(stage, errors)
    raise_if(errors)
    used = OpportunityStageChange.objects.filter(to_stage=stage).exists()
    record(stage, actor, "accounts.stage.retired" if used else "accounts.stage.deleted")
    if used:
        stage.save(update_fields=["is_active"])
    else:
        stage.delete()
