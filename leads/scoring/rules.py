"""The field/operator vocabulary that scoring rules and assignment rules share: which lead fields a
rule may test, what each operator means, and ``Condition`` — one validated, parsed test."""

from __future__ import annotations

import math
import re
from collections.abc import Container
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.core.exceptions import ValidationError

from crm.models import Company
from leads import normalize
from leads.models import Campaign, CustomField, EngagementKind

FIELDS: dict[str, str] = {
    "lead_source": "Lead source",
    "campaign": "Campaign",
    "medium": "Medium",
    "term": "Term",
    "country": "Country",
    "job_title": "Job title",
    "company_name": "Company name",
    "interest_product": "Interest / product",
    "budget_range": "Budget range",
    "authority_level": "Authority level",
    "need": "Need",
    "timeline": "Timeline",
    "timeline_days": "Timeline in days",
    "stage": "Stage",
    "email_domain": "Email domain",
    "gdpr_consent": "GDPR consent",
}
# Known only once the lead is scored: usable by assignment rules, not by scoring rules.
ASSIGNMENT_FIELDS: dict[str, str] = {"score": "Score", "priority": "Priority"}
NUMERIC_FIELDS = frozenset({"timeline_days", "score"})
CUSTOM, PROFILE, ENGAGEMENT = "custom.", "profile.", "engagement."

OPERATORS: dict[str, str] = {
    "eq": "is",
    "ne": "is not",
    "in": "is one of",
    "not_in": "is none of",
    "contains": "contains",
    "set": "is set",
    "not_set": "is empty",
    "gte": "is at least",
    "lte": "is at most",
    "between": "is between",
    "per_event": "for each event",
}
NO_VALUE_OPERATORS = frozenset({"set", "not_set", "per_event"})
NUMBER_OPERATORS = frozenset({"gte", "lte", "between"})
TRUE_WORDS = frozenset({"true", "yes", "1", "on", "y"})

UNKNOWN_FIELD = "Unknown field {field!r}: choose one of the listed fields or custom.<key> / profile.<key>."
UNKNOWN_OPERATOR = "Unknown operator {operator!r}: choose one of {choices}."

_SPACES = re.compile(r"[\s_\-]+")


def norm(value: Any) -> str:
    """Case-, space- and underscore-insensitive form: 'Website_Form' == 'website form'."""
    return _norm_text(str(value))


@lru_cache(maxsize=16384)
def _norm_text(text: str) -> str:
    # Lead sources, countries, titles… repeat across leads: rescoring a million pays this once each.
    return _SPACES.sub(" ", text.strip().casefold())


def field_label(name: str) -> str:
    if name.startswith(CUSTOM):
        return f"Custom field {name[len(CUSTOM) :]}"
    if name.startswith(PROFILE):
        return f"Profile {name[len(PROFILE) :]}"
    if name.startswith(ENGAGEMENT):
        kind = name[len(ENGAGEMENT) :]
        return dict(EngagementKind.choices).get(kind, kind)
    return FIELDS.get(name) or ASSIGNMENT_FIELDS.get(name) or name


def field_choices(company: Company, *, purpose: str) -> list[tuple[str, str]]:
    """The fields a rule of ``purpose`` ('scoring' or 'assignment') may test, for forms and docs."""
    choices = list(FIELDS.items())
    if purpose == "assignment":
        choices += list(ASSIGNMENT_FIELDS.items())
    keys = CustomField.objects.filter(company=company, is_active=True).values_list("key", "label")
    choices += [(f"{CUSTOM}{key}", f"Custom: {label}") for key, label in keys]
    if purpose == "scoring":
        choices += [(f"{ENGAGEMENT}{kind}", f"Engagement: {label}") for kind, label in EngagementKind.choices]
    return choices


_TIMELINE_WORDS = {
    "immediately": 0, "asap": 0, "now": 0, "urgent": 0, "this week": 7, "next week": 14, "this month": 30,
    "next month": 60, "this quarter": 90, "next quarter": 180, "this year": 365, "next year": 730,
}  # fmt: skip
_TIMELINE = re.compile(r"(\d+(?:[.,]\d+)?)\s*(?:(?:-|–|to)\s*\d+(?:[.,]\d+)?\s*)?([a-z]*)")
_UNIT_DAYS = {"d": 1, "day": 1, "w": 7, "wk": 7, "week": 7, "m": 30, "mo": 30, "month": 30, "q": 91, "quarter": 91,
              "y": 365, "yr": 365, "year": 365}  # fmt: skip


@lru_cache(maxsize=4096)
def timeline_days(text: str) -> int | None:
    """'30 days' → 30, '3-6 Months' → 90 (the start of a range), 'next quarter' → 180; None when
    unreadable. A bare number is days, as in the seed's '30' / '60' / '90'."""
    spaced = " ".join((text or "").lower().split())
    if not spaced:
        return None
    for words, days in _TIMELINE_WORDS.items():
        if re.search(rf"\b{re.escape(words)}\b", spaced):
            return days
    if re.search(r"\bq[1-4]\b", spaced):
        return None
    match = _TIMELINE.search(spaced)
    if match is None:
        return None
    unit = match.group(2).rstrip("s")
    factor = _UNIT_DAYS.get(unit, 1 if not unit else None)
    if factor is None:
        return None
    return round(float(match.group(1).replace(",", ".")) * factor)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value in (None, ""):
        return None
    try:
        number = float(str(value).strip().replace(",", "."))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _range(value: str) -> tuple[float, float] | None:
    parts = re.split(r"\s*(?:\.\.|–|-(?=\s*\d)|to)\s*", value.strip(), maxsplit=1)
    if len(parts) != 2:
        return None
    low, high = _number(parts[0]), _number(parts[1])
    if low is None or high is None or low > high:
        return None
    return low, high


@dataclass(frozen=True)
class Condition:
    """One ``field operator value`` test, validated and parsed once."""

    field: str
    operator: str
    value: str = ""
    parsed: Any = None

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "operator": self.operator, "value": self.value}

    def describe(self) -> str:
        label = field_label(self.field)
        if self.operator in NO_VALUE_OPERATORS:
            return f"{label} {OPERATORS[self.operator]}"
        return f"{label} {OPERATORS[self.operator]} {self.value}"

    def matches(self, view: LeadView) -> bool:
        op, name = self.operator, self.field
        if op == "set":
            return any(_is_set(v) for v in view.candidates(name))
        if op == "not_set":
            return not any(_is_set(v) for v in view.candidates(name))
        if op in NUMBER_OPERATORS:
            return any(self._number_matches(n) for n in view.numbers(name))
        texts = view.texts(name)
        if op == "eq":
            return self.parsed in texts
        if op == "ne":
            return self.parsed not in texts
        if op == "in":
            return any(t in self.parsed for t in texts)
        if op == "not_in":
            return not any(t in self.parsed for t in texts)
        return bool(self.parsed) and any(self.parsed in t for t in texts)  # contains

    def _number_matches(self, number: float | None) -> bool:
        if number is None:
            return False
        if self.operator == "gte":
            return number >= self.parsed
        if self.operator == "lte":
            return number <= self.parsed
        low, high = self.parsed
        return low <= number <= high


class _AnyKey:
    def __contains__(self, key) -> bool:
        return True


# For conditions validated when they were saved: a custom field deleted since simply never matches.
ANY_CUSTOM_KEY = _AnyKey()


def _is_set(value: Any) -> bool:
    return value not in (None, "", False, [], {})


def clean_condition(
    field_name: str, operator: str, value: Any, *, custom_keys: Container[str], purpose: str
) -> Condition:
    """A validated ``Condition`` or a ``ValidationError`` keyed field / operator / value.

    ``purpose`` 'scoring' allows engagement fields (with ``per_event`` only); 'assignment' allows
    score and priority."""
    field_name, operator = (field_name or "").strip(), (operator or "").strip()
    value = "" if value is None else str(value).strip()
    check_field(field_name, custom_keys, purpose)
    if operator not in OPERATORS:
        raise ValidationError({"operator": UNKNOWN_OPERATOR.format(operator=operator, choices=", ".join(OPERATORS))})
    engagement = field_name.startswith(ENGAGEMENT)
    if engagement != (operator == "per_event"):
        message = "Engagement fields score per event: use 'for each event'." if engagement else (
            "'for each event' applies to engagement fields only.")  # fmt: skip
        raise ValidationError({"operator": message})
    return Condition(field_name, operator, value, _parse_value(field_name, operator, value))


def check_field(name: str, custom_keys: Container[str], purpose: str) -> None:
    known = name in FIELDS or (purpose == "assignment" and name in ASSIGNMENT_FIELDS)
    if name.startswith(CUSTOM):
        key = name[len(CUSTOM) :]
        if key not in custom_keys:
            raise ValidationError({"field": f"Unknown custom field {key!r}: define it under Custom fields first."})
        known = True
    elif name.startswith(PROFILE):
        known = bool(re.fullmatch(r"[A-Za-z0-9_]{1,60}", name[len(PROFILE) :]))
    elif name.startswith(ENGAGEMENT):
        known = purpose == "scoring" and name[len(ENGAGEMENT) :] in EngagementKind.values
    if not known:
        raise ValidationError({"field": UNKNOWN_FIELD.format(field=name)})


def _parse_value(field_name: str, operator: str, value: str) -> Any:
    if operator in NO_VALUE_OPERATORS:
        if value:
            raise ValidationError({"value": f"'{OPERATORS[operator]}' takes no value: leave it empty."})
        return None
    if not value:
        raise ValidationError({"value": "Give a value to compare with."})
    if operator == "between":
        parsed = _range(value)
        if parsed is None:
            raise ValidationError({"value": "Give a range as 'low-high', e.g. 60-100."})
        return parsed
    if operator in NUMBER_OPERATORS:
        parsed = _number(value)
        if parsed is None:
            raise ValidationError({"value": f"'{OPERATORS[operator]}' compares numbers: give a number."})
        return parsed
    if operator in ("in", "not_in"):
        items = frozenset(norm(item) for item in value.split(",") if item.strip())
        if not items:
            raise ValidationError({"value": "List one or more values separated by commas."})
        return items
    return norm(value)


class LeadView:
    """One lead as conditions see it: each field read, normalised and parsed at most once, however
    many rules test it."""

    __slots__ = ("_numbers", "_raw", "_texts", "lead", "values")

    def __init__(self, lead, values: LeadValues):
        self.lead, self.values = lead, values
        self._raw: dict[str, list] = {}
        self._texts: dict[str, list[str]] = {}
        self._numbers: dict[str, list[float | None]] = {}

    def candidates(self, name: str) -> list:
        found = self._raw.get(name)
        if found is None:
            value = self.values.get(self.lead, name)
            found = self._raw[name] = value if isinstance(value, list) else [value]
        return found

    def texts(self, name: str) -> list[str]:
        found = self._texts.get(name)
        if found is None:
            found = self._texts[name] = [_as_text(v) for v in self.candidates(name) if v is not None]
        return found

    def numbers(self, name: str) -> list[float | None]:
        found = self._numbers.get(name)
        if found is None:
            found = self._numbers[name] = [_number(v) for v in self.candidates(name)]
        return found


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return norm(value)


class LeadValues:
    """Reads a field of a lead for conditions, without queries (campaign names come from a
    per-scorer map filled once per campaign)."""

    def __init__(self, company_id: int):
        self.company_id = company_id
        self._campaigns: dict[int, str] = {}

    @staticmethod
    def plain(lead, name: str) -> Any:
        """A custom or profile field's stored value (``get`` without the campaign lookup)."""
        if name.startswith(CUSTOM):
            return (lead.custom_fields or {}).get(name[len(CUSTOM) :])
        data = lead.profile_data if isinstance(lead.profile_data, dict) else {}
        return data.get(name[len(PROFILE) :])

    def get(self, lead, name: str) -> Any:
        if name == "campaign":
            return self.campaign_name(lead)
        if name == "timeline_days":
            return timeline_days(lead.timeline or "")
        if name == "email_domain":
            return normalize.email_domain(lead.email or "")
        if name.startswith((CUSTOM, PROFILE)):
            return self.plain(lead, name)
        return getattr(lead, name, None)

    def campaign_name(self, lead) -> str:
        cached = getattr(lead, "_state", None) and lead._state.fields_cache.get("campaign")
        if cached is not None:
            return cached.name
        campaign_id = lead.campaign_id
        if campaign_id is None:
            return ""
        if campaign_id not in self._campaigns:
            self._campaigns.update(Campaign.objects.filter(company_id=self.company_id).values_list("pk", "name"))
        return self._campaigns.get(campaign_id, "")
