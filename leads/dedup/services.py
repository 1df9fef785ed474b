"""Writes of the review queue and the company's duplicate rule (the pages' and the API's doors)."""

from __future__ import annotations

import re

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from crm.history import record
from crm.models import Company, Membership
from crm.permissions import permissions_for
from leads.dedup.queue import regroup
from leads.models import CandidateStatus, CustomField, DuplicateCandidate, DuplicateRule

DOMAIN = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")
RULE_FIELDS = ("match_email", "match_phone", "match_profile_url", "match_name_company", "match_company_domain",
               "name_threshold", "company_threshold", "custom_field_keys", "free_mail_domains")  # fmt: skip


def _require(actor: Membership, permission: str) -> None:
    if permission not in permissions_for(actor.role):
        raise PermissionDenied


@transaction.atomic
def candidate_dismiss(*, actor: Membership, candidate: DuplicateCandidate) -> DuplicateCandidate:
    """Mark a pair "not a duplicate": neither the scan nor the per-save check proposes it again."""
    _require(actor, "leads.merge")
    candidate = DuplicateCandidate.objects.select_for_update().get(pk=candidate.pk)
    if candidate.company_id != actor.company_id:
        raise PermissionDenied
    if candidate.status != CandidateStatus.PENDING:
        raise ValidationError({"__all__": f"This pair was already reviewed ({candidate.get_status_display()})."})
    candidate.status = CandidateStatus.NOT_DUPLICATE
    candidate.reviewed_by = actor
    candidate.reviewed_at = timezone.now()
    candidate.save(update_fields=["status", "reviewed_by", "reviewed_at"])
    regroup(candidate.company_id, [candidate.group_key])
    return candidate


def _clean_rule_data(company: Company, data: dict) -> tuple[dict, dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    cleaned = {}
    for name in sorted(set(data) - set(RULE_FIELDS)):
        errors[name] = ["Unknown field."]
    for name in RULE_FIELDS:
        if name not in data:
            continue
        value = data[name]
        if name.endswith("_threshold"):
            if isinstance(value, bool) or not isinstance(value, int) or not 50 <= value <= 100:
                errors[name] = ["Give a whole percentage between 50 and 100."]
                continue
        elif name == "custom_field_keys":
            known = set(CustomField.objects.filter(company=company).values_list("key", flat=True))
            value = [str(v).strip() for v in (value or []) if str(v).strip()]
            unknown = [v for v in value if v not in known]
            if unknown:
                errors[name] = [f"No custom field with key {', '.join(unknown)} in this company."]
                continue
        elif name == "free_mail_domains":
            value = sorted({str(v).strip().lower().lstrip("@") for v in (value or []) if str(v).strip()})
            bad = [v for v in value if not DOMAIN.match(v)]
            if bad:
                errors[name] = [f"Not a domain: {', '.join(bad)} (write it like mail.example.com)."]
                continue
        elif not isinstance(value, bool):
            errors[name] = ["Give true or false."]
            continue
        cleaned[name] = value
    return cleaned, errors


@transaction.atomic
def duplicate_rule_update(*, actor: Membership, data: dict) -> DuplicateRule:
    """Change the company's duplicate rule (admins); fields left out keep their value."""
    _require(actor, "rules.manage")
    rule = DuplicateRule.objects.select_for_update().filter(company_id=actor.company_id).first()
    rule = rule or DuplicateRule(company_id=actor.company_id)
    cleaned, errors = _clean_rule_data(actor.company, data)
    if errors:
        raise ValidationError(errors)
    for name, value in cleaned.items():
        setattr(rule, name, value)
    record(rule, actor, "leads.duplicate_rule.changed")
    rule.save()
    return rule
