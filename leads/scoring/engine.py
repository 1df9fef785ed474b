"""The scorer: a company's rules compiled once, cached per process, applied to a lead in memory."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any

from django.core.exceptions import ValidationError
from django.dispatch import receiver
from django.utils import timezone

from crm.models import Company
from crm.signals import company_created
from leads import normalize
from leads.models import CustomField, LeadSettings, Priority, ScoringRule
from leads.scoring.quality import check as quality_check
from leads.scoring.rules import CUSTOM, ENGAGEMENT, PROFILE, Condition, LeadValues, LeadView, clean_condition


@dataclass(frozen=True)
class CompiledRule:
    id: int
    name: str
    condition: Condition
    points: int
    max_points: int | None


MEMO_SIZE = 100_000


@dataclass
class Scorer:
    """A company's scoring rules and thresholds, compiled; call it on a lead to score it."""

    company_id: int
    company_created_at: datetime | None
    settings_id: int
    version: int
    hot: int
    warm: int
    spam_threshold: int
    half_life_days: int
    field_rules: list[CompiledRule]
    engagement_rules: list[CompiledRule]
    values: LeadValues = field(repr=False, default=None)
    # What the field rules read, and which of them matched, per distinct set of values read: leads
    # share a handful of sources, authority levels and budgets, so a million leads are matched
    # against the rules a few thousand times (``MEMO_SIZE`` bounds it).
    _reads: tuple[str, ...] = field(init=False, repr=False, default=())
    _matched: dict[tuple, tuple[CompiledRule, ...]] = field(init=False, repr=False, default_factory=dict)
    _details: dict[int, str] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self):
        if self.values is None:
            self.values = LeadValues(self.company_id)
        self._reads = tuple(
            _key_part(name) for name in dict.fromkeys(rule.condition.field for rule in self.field_rules)
        )
        self._details = {rule.id: rule.condition.describe() for rule in self.field_rules}

    def __call__(self, lead, *, engagement: dict[str, list[datetime]] | None = None, now=None) -> None:
        """Score ``lead`` in memory. ``engagement`` maps kind → event times (read fresh from the
        events); without it the previous breakdown's engagement entries are carried over."""
        previous = lead.score_breakdown if isinstance(lead.score_breakdown, list) else []
        entries = [self._field_entry(rule) for rule in self._matching(lead)]
        if engagement is None:
            entries += [e for e in previous if isinstance(e, dict) and e.get("kind") == "engagement"]
        else:
            entries += self._engagement_entries(engagement, now or timezone.now())
        raw = sum(int(e.get("points", 0)) for e in entries)
        score = max(0, min(100, raw))
        if score != raw:
            entries.append({"rule": f"Capped at {score}", "points": score - raw, "kind": "cap"})
        report = quality_check(lead)
        lead.spam_score, lead.validation_status = report.spam_score, report.validation_status
        review = next((e for e in previous if isinstance(e, dict) and e.get("kind") == "review"), None)
        if review is not None:
            entries.append(review)
        lead.score = score
        held = lead.spam_score >= self.spam_threshold and review is None
        if held:
            entries.append({"rule": f"Held for spam review (spam score {lead.spam_score})", "points": 0,
                            "kind": "hold"})  # fmt: skip
        lead.priority = Priority.COLD if held else self.band(score)
        lead.score_breakdown = entries

    def band(self, score: int) -> str:
        if score >= self.hot:
            return Priority.HOT
        return Priority.WARM if score >= self.warm else Priority.COLD

    def is_held(self, lead) -> bool:
        return lead.spam_score >= self.spam_threshold and not is_reviewed(lead)

    def _matching(self, lead) -> tuple[CompiledRule, ...]:
        """The field rules ``lead`` matches, in order; remembered per distinct values read."""
        try:
            key = tuple(part(lead) for part in self._reads)
            found = self._matched.get(key)
        except TypeError:  # a JSON value (custom or profile field) cannot be a key: match afresh
            view = LeadView(lead, self.values)
            return tuple(rule for rule in self.field_rules if rule.condition.matches(view))
        if found is None:
            view = LeadView(lead, self.values)
            found = tuple(rule for rule in self.field_rules if rule.condition.matches(view))
            if len(self._matched) >= MEMO_SIZE:
                self._matched.clear()
            self._matched[key] = found
        return found

    def _field_entry(self, rule: CompiledRule) -> dict:
        return {"rule": rule.name, "rule_id": rule.id, "points": rule.points, "kind": "field",
                "detail": self._details[rule.id]}  # fmt: skip

    def _engagement_entries(self, engagement: dict[str, list[datetime]], now) -> list[dict]:
        entries = []
        for rule in self.engagement_rules:
            kind = rule.condition.field[len(ENGAGEMENT) :]
            times = engagement.get(kind) or []
            if not times:
                continue
            points = sum(rule.points * self._decay(at, now) for at in times)
            if rule.max_points is not None:
                points = max(-rule.max_points, min(rule.max_points, points))
            entries.append({"rule": rule.name, "rule_id": rule.id, "points": round(points), "kind": "engagement",
                            "event": kind, "count": len(times)})  # fmt: skip
        return entries

    def _decay(self, at: datetime, now) -> float:
        if not self.half_life_days:
            return 1.0
        age_days = max(0.0, (now - at).total_seconds() / 86400)
        return 0.5 ** (age_days / self.half_life_days)


def _key_part(name: str) -> Callable[[Any], Any]:
    """What a condition on ``name`` depends on, read from the lead without deriving anything (the
    campaign's id for its name, the timeline text for its days): a memo key, never compared."""
    if name == "campaign":
        return attrgetter("campaign_id")
    if name == "timeline_days":
        return attrgetter("timeline")
    if name == "email_domain":
        return lambda lead: normalize.email_domain(lead.email or "")
    if name.startswith((CUSTOM, PROFILE)):
        return lambda lead: _frozen(LeadValues.plain(lead, name))
    return lambda lead: getattr(lead, name, None)


def _frozen(value):
    # The type is part of the key: True and 1 are equal keys but different texts to a condition.
    return (type(value), tuple(value) if isinstance(value, list) else value)


def is_reviewed(lead) -> bool:
    breakdown = lead.score_breakdown if isinstance(lead.score_breakdown, list) else []
    return any(isinstance(e, dict) and e.get("kind") == "review" for e in breakdown)


def is_held(lead) -> bool:
    """Held for spam review: not auto-assigned, not claimable, never hot."""
    return scorer_for(lead.company_id).is_held(lead)


CACHE_SECONDS = 5.0
_CACHE: dict[int, tuple[float, Scorer]] = {}


def scorer_for(company: Company | int) -> Scorer:
    """The company's compiled scorer, cached in the process (see the module docstring)."""
    company_id = getattr(company, "pk", company)
    hit = _CACHE.get(company_id)
    now = time.monotonic()
    if hit is not None and _same_company(hit[1], company):
        checked_at, scorer = hit
        if now - checked_at < CACHE_SECONDS:
            return scorer
        current = LeadSettings.objects.filter(company_id=company_id).values_list("pk", "version").first()
        if current == (scorer.settings_id, scorer.version):
            _CACHE[company_id] = (now, scorer)
            return scorer
    scorer = _load_scorer(company if isinstance(company, Company) else Company.objects.get(pk=company_id))
    _CACHE[company_id] = (now, scorer)
    return scorer


def _same_company(scorer: Scorer, company) -> bool:
    # Ids of deleted (or rolled-back) companies can be reused: a Company instance proves which one.
    return not isinstance(company, Company) or company.created_at == scorer.company_created_at


def forget(company_id: int) -> None:
    _CACHE.pop(company_id, None)


def _load_scorer(company: Company) -> Scorer:
    settings = settings_for(company)
    rules = ScoringRule.objects.filter(company_id=company.pk, is_active=True).order_by("order", "id")
    field_rules, engagement_rules = [], []
    custom_keys = set(CustomField.objects.filter(company_id=company.pk).values_list("key", flat=True))
    for rule in rules:
        try:
            condition = clean_condition(rule.field, rule.operator, rule.value, custom_keys=custom_keys,
                                        purpose="scoring")  # fmt: skip
        except ValidationError:
            continue  # a custom field removed since: the rule no longer applies
        compiled = CompiledRule(rule.pk, rule.name, condition, rule.points, rule.max_points)
        (engagement_rules if condition.operator == "per_event" else field_rules).append(compiled)
    return Scorer(
        company_id=company.pk,
        company_created_at=company.created_at,
        settings_id=settings.pk,
        version=settings.version,
        hot=settings.hot_threshold,
        warm=settings.warm_threshold,
        spam_threshold=settings.spam_threshold,
        half_life_days=settings.engagement_half_life_days,
        field_rules=field_rules,
        engagement_rules=engagement_rules,
    )


def apply_scores(lead) -> None:
    """Contract hook (see the module docstring)."""
    company = lead._state.fields_cache.get("company") or lead.company_id
    scorer_for(company)(lead)


# --- company settings and default rules -----------------------------------------------------------

# The seed's scoring service, as rules: source, authority, budget and timeline, then engagement.
DEFAULT_RULES = [
    ("Referral source", "lead_source", "in", "referral", 25, None),
    ("Partner API source", "lead_source", "in", "partner_api, partner", 20, None),
    ("Google Ads source", "lead_source", "in", "google_ads", 15, None),
    ("Website form source", "lead_source", "in", "website_form, website", 10, None),
    ("Other source", "lead_source", "not_in", "referral, partner_api, partner, google_ads, website_form, website", 5,
     None),
    ("Decision maker", "authority_level", "eq", "decision_maker", 20, None),
    ("Influencer", "authority_level", "eq", "influencer", 15, None),
    ("User", "authority_level", "eq", "user", 5, None),
    ("Budget given", "budget_range", "set", "", 15, None),
    ("Timeline within 60 days", "timeline_days", "lte", "60", 20, None),
    ("Timeline within 61–90 days", "timeline_days", "between", "61-90", 10, None),
    ("Email opened", "engagement.email_open", "per_event", "", 5, None),
    ("Email link clicked", "engagement.email_click", "per_event", "", 10, None),
    ("Form submitted", "engagement.form_submit", "per_event", "", 15, None),
    ("Call", "engagement.call", "per_event", "", 20, None),
    ("Meeting", "engagement.meeting", "per_event", "", 30, None),
    ("Email exchanged", "engagement.email", "per_event", "", 5, None),
]  # fmt: skip


def settings_for(company: Company) -> LeadSettings:
    """The company's settings, created with the defaults (and the default scoring rules) on first use."""
    settings, created = LeadSettings.objects.get_or_create(company=company)
    if created:
        scoring_rules_create_defaults(company)
        forget(company.pk)
    return settings


def scoring_rules_create_defaults(company: Company) -> int:
    """The seed's defaults, unless the company already has scoring rules. Returns how many were made."""
    if ScoringRule.objects.filter(company=company).exists():
        return 0
    rules = [
        ScoringRule(
            company=company,
            name=name,
            field=field_name,
            operator=op,
            value=value,
            points=points,
            max_points=cap,
            order=(index + 1) * 10,
        )  # fmt: skip
        for index, (name, field_name, op, value, points, cap) in enumerate(DEFAULT_RULES)
    ]
    ScoringRule.objects.bulk_create(rules)
    return len(rules)


@receiver(company_created, dispatch_uid="leads.scoring.company_defaults")
def _company_defaults(sender, company, **kwargs):
    settings_for(company)
