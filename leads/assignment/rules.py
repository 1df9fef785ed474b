"""Writes on assignment rules: create, change, reorder, delete. The rule editor, the API and the
admin call these; bad input comes back as a ``ValidationError`` naming the field."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max

from crm.history import record
from crm.ids import is_valid_id
from crm.models import Company, Membership
from crm.permissions import permissions_for
from leads.models import AssignmentRule, AssignmentRuleMember, AssignmentStrategy, CustomField
from leads.scoring.rules import check_field, clean_condition

RULE_FIELDS = ("name", "order", "is_active", "strategy", "match_territory", "required_skills", "skill_field")
MAX_WEIGHT = 100


def _check_actor(actor: Membership | None, company: Company) -> None:
    if actor is None:
        return
    if actor.company_id != company.pk or not actor.is_active or "rules.manage" not in permissions_for(actor.role):
        raise PermissionDenied


def _clean_conditions(raw: Any, custom_keys: set[str]) -> list[dict]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise ValidationError({"conditions": "Conditions must be a list of {field, operator, value}."})
    cleaned, errors = [], []
    for number, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            errors.append(f"Condition {number}: give a field, an operator and a value.")
            continue
        try:
            condition = clean_condition(item.get("field"), item.get("operator"), item.get("value"),
                                        custom_keys=custom_keys, purpose="assignment")  # fmt: skip
        except ValidationError as error:
            errors += [f"Condition {number}: {m}" for ms in error.message_dict.values() for m in ms]
        else:
            cleaned.append(condition.as_dict())
    if errors:
        raise ValidationError({"conditions": errors})
    return cleaned


def _clean_members(raw: Any, company: Company, strategy: str) -> list[tuple[Membership, int]]:
    if not isinstance(raw, list) or not raw:
        raise ValidationError({"members": "Add at least one member who may receive the leads."})
    ids = [getattr(item.get("membership"), "pk", item.get("membership")) if isinstance(item, dict) else None
           for item in raw]  # fmt: skip
    members = {m.pk: m for m in Membership.objects.filter(company=company, pk__in=[i for i in ids if is_valid_id(i)])}
    cleaned, errors, seen = [], [], set()
    for number, (item, member_id) in enumerate(zip(raw, ids, strict=True), start=1):
        member = members.get(member_id) if str(member_id).isdigit() else None
        weight = item.get("weight", 1) if isinstance(item, dict) else None
        if member is None:
            errors.append(f"Member {number}: choose a member of this company.")
        elif member.pk in seen:
            errors.append(f"Member {number}: {member.display_name} is listed twice.")
        elif isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= MAX_WEIGHT:
            errors.append(f"Member {number}: the weight must be a whole number from 0 to {MAX_WEIGHT}.")
        else:
            seen.add(member.pk)
            cleaned.append((member, weight))
    if errors:
        raise ValidationError({"members": errors})
    if strategy == AssignmentStrategy.WEIGHTED and not any(weight > 0 for _, weight in cleaned):
        raise ValidationError({"members": "Give at least one member a weight above 0: weights of 0 never receive."})
    if strategy == AssignmentStrategy.FIXED and len(cleaned) != 1:
        raise ValidationError({"members": "A fixed-member rule sends every lead to exactly one member."})
    return cleaned


def _apply(rule: AssignmentRule, data: dict[str, Any]) -> list[tuple[Membership, int]] | None:
    unknown = set(data) - set(RULE_FIELDS) - {"conditions", "members"}
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "Unknown field."))
    for name in RULE_FIELDS:
        if name in data and not (name == "order" and data[name] in (None, "")):
            setattr(rule, name, data[name])
    rule.name = (rule.name or "").strip()
    if rule.strategy not in AssignmentStrategy.values:
        raise ValidationError(
            {"strategy": f"Unknown strategy {rule.strategy!r}: choose one of {', '.join(AssignmentStrategy.values)}."}
        )
    custom_keys = set(CustomField.objects.filter(company_id=rule.company_id).values_list("key", flat=True))
    if "conditions" in data:
        rule.conditions = _clean_conditions(data["conditions"], custom_keys)
    rule.required_skills = _clean_skills(rule.required_skills)
    rule.skill_field = (rule.skill_field or "").strip()
    if rule.skill_field:
        try:
            check_field(rule.skill_field, custom_keys, "assignment")
        except ValidationError as error:
            raise ValidationError({"skill_field": error.message_dict["field"]}) from None
    members = _clean_members(data["members"], rule.company, rule.strategy) if "members" in data else None
    if members is None and rule.pk is None:
        raise ValidationError({"members": "Add at least one member who may receive the leads."})
    rule.full_clean(exclude=["company", "cursor"])
    return members


def _clean_skills(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        raise ValidationError({"required_skills": "List the skills as words, e.g. de, payroll."})
    return [str(skill).strip() for skill in value if str(skill).strip()]


def _save(rule: AssignmentRule, members, actor, reason: str) -> AssignmentRule:
    if members is None and rule.pk is not None:
        current = [(s.membership, s.weight) for s in rule.members.select_related("membership")]
        if rule.strategy == AssignmentStrategy.FIXED and len(current) != 1:
            raise ValidationError({"members": "A fixed-member rule sends every lead to exactly one member."})
    record(rule, actor, reason)
    try:
        with transaction.atomic():
            rule.save()
    except IntegrityError:
        raise ValidationError({"name": f"A rule named {rule.name!r} already exists."}) from None
    if members is not None:
        rule.members.all().delete()
        AssignmentRuleMember.objects.bulk_create(
            AssignmentRuleMember(rule=rule, membership=member, weight=weight, position=index)
            for index, (member, weight) in enumerate(members)
        )
    return rule


@transaction.atomic
def assignment_rule_create(*, actor: Membership | None, company: Company, data: dict[str, Any]) -> AssignmentRule:
    _check_actor(actor, company)
    rule = AssignmentRule(company=company)
    members = _apply(rule, data)
    if data.get("order") in (None, ""):
        rule.order = (AssignmentRule.objects.filter(company=company).aggregate(m=Max("order"))["m"] or 0) + 10
    return _save(rule, members, actor, "leads.assignment_rule.created")


@transaction.atomic
def assignment_rule_update(*, actor: Membership | None, rule: AssignmentRule, data: dict[str, Any]) -> AssignmentRule:
    _check_actor(actor, rule.company)
    rule = AssignmentRule.objects.select_for_update().select_related("company").get(pk=rule.pk)
    members = _apply(rule, data)
    return _save(rule, members, actor, "leads.assignment_rule.changed")


@transaction.atomic
def assignment_rule_delete(*, actor: Membership | None, rule: AssignmentRule) -> None:
    _check_actor(actor, rule.company)
    record(rule, actor, "leads.assignment_rule.deleted")
    rule.delete()


@transaction.atomic
def assignment_rule_move(*, actor: Membership | None, rule: AssignmentRule, direction: str) -> AssignmentRule:
    """Swap the rule with its neighbour above ('up') or below ('down'); order decides which rule
    gets the first chance at a lead."""
    _check_actor(actor, rule.company)
    if direction not in ("up", "down"):
        raise ValidationError({"direction": "Move a rule 'up' or 'down'."})
    rules = list(AssignmentRule.objects.select_for_update().filter(company_id=rule.company_id).order_by("order", "pk"))
    index = next(i for i, r in enumerate(rules) if r.pk == rule.pk)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(rules):
        return rules[index]
    rules[index], rules[other] = rules[other], rules[index]
    for position, item in enumerate(rules):
        if item.order != (position + 1) * 10:
            item.order = (position + 1) * 10
            record(item, actor, "leads.assignment_rule.moved")
            item.save(update_fields=["order", "updated_at"])
    return rules[other]
