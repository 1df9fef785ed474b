"""Writes on scoring: company settings, scoring rules, engagement events and rescoring (one lead,
or a whole company in batches). Each rule or settings change bumps the settings' version, so every
process reloads its scorer, and rescores the company's leads after commit."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from crm.history import record
from crm.models import Activity, ActivityKind, Company, Membership
from crm.permissions import permissions_for
from crm.tasks import enqueue
from leads import hooks, vendor
from leads.models import CustomField, EngagementEvent, EngagementKind, Lead, LeadSettings, ScoringRule
from leads.scoring.engine import forget, scorer_for, settings_for
from leads.scoring.rules import clean_condition


def _check_actor(actor: Membership | None, company: Company) -> None:
    if actor is None:
        return
    if actor.company_id != company.pk or not actor.is_active or "rules.manage" not in permissions_for(actor.role):
        raise PermissionDenied


def _changed(company: Company) -> None:
    """Every lead's score may change: bump the version (other processes reload) and rescore after commit."""
    LeadSettings.objects.filter(company=company).update(version=F("version") + 1, updated_at=timezone.now())
    forget(company.pk)
    company_id = company.pk
    # In the background after commit (at once in django-q2's sync mode, as in tests).
    transaction.on_commit(
        lambda: enqueue("leads.assignment.tasks.rescore_company", company_id, name=f"rescore-{company_id}")
    )


SETTINGS_FIELDS = ("hot_threshold", "warm_threshold", "sla_hours", "spam_threshold", "engagement_half_life_days")


@transaction.atomic
def lead_settings_update(*, actor: Membership | None, company: Company, data: dict[str, Any]) -> LeadSettings:
    _check_actor(actor, company)
    settings = LeadSettings.objects.select_for_update().get(pk=settings_for(company).pk)
    unknown = set(data) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "Unknown setting."))
    for name in SETTINGS_FIELDS:
        if name in data:
            setattr(settings, name, data[name])
    settings.full_clean(exclude=["company"])
    if settings.warm_threshold > settings.hot_threshold:
        raise ValidationError({"warm_threshold": "The warm threshold cannot be above the hot threshold."})
    record(settings, actor, "leads.settings.changed")
    settings.save()
    _changed(company)
    return settings


RULE_FIELDS = ("name", "field", "operator", "value", "points", "max_points", "order", "is_active")


def _validated_rule(rule: ScoringRule, data: dict[str, Any]) -> ScoringRule:
    unknown = set(data) - set(RULE_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "Unknown field."))
    for name in RULE_FIELDS:
        if name not in data or (name == "order" and data[name] in (None, "")):
            continue
        value = data[name]
        setattr(rule, name, "" if name == "value" and value is None else value)
    rule.name = (rule.name or "").strip()
    custom_keys = CustomField.objects.filter(company_id=rule.company_id).values_list("key", flat=True)
    condition = clean_condition(rule.field, rule.operator, rule.value, custom_keys=custom_keys, purpose="scoring")
    rule.field, rule.operator, rule.value = condition.field, condition.operator, condition.value
    if rule.max_points is not None and rule.operator != "per_event":
        raise ValidationError({"max_points": "A cap applies to per-event rules only."})
    rule.full_clean(exclude=["company"])
    return rule


@transaction.atomic
def scoring_rule_create(*, actor: Membership | None, company: Company, data: dict[str, Any]) -> ScoringRule:
    _check_actor(actor, company)
    settings_for(company)
    data = dict(data)
    if data.get("order") in (None, ""):
        last = ScoringRule.objects.filter(company=company).order_by("-order").values_list("order", flat=True).first()
        data["order"] = (last or 0) + 10
    rule = _validated_rule(ScoringRule(company=company), data)
    record(rule, actor, "leads.scoring_rule.created")
    rule.save()
    _changed(company)
    return rule


@transaction.atomic
def scoring_rule_update(*, actor: Membership | None, rule: ScoringRule, data: dict[str, Any]) -> ScoringRule:
    _check_actor(actor, rule.company)
    rule = _validated_rule(ScoringRule.objects.select_for_update().get(pk=rule.pk), data)
    record(rule, actor, "leads.scoring_rule.changed")
    rule.save()
    _changed(rule.company)
    return rule


@transaction.atomic
def scoring_rule_delete(*, actor: Membership | None, rule: ScoringRule) -> None:
    company = rule.company
    _check_actor(actor, company)
    record(rule, actor, "leads.scoring_rule.deleted")
    rule.delete()
    _changed(company)


# --- engagement and rescoring ----------------------------------------------------------------------

ACTIVITY_ENGAGEMENT = {ActivityKind.CALL: "call", ActivityKind.MEETING: "meeting", ActivityKind.EMAIL: "email"}


def engagement_of(lead_ids: list[int], *, company_id: int | None = None) -> dict[int, dict[str, list[datetime]]]:
    """kind → event times for each lead: engagement events plus calls, meetings and emails logged
    as activities. Two queries whatever the number of leads; with ``company_id`` they read the id
    range of ``lead_ids`` (a batch in id order) instead of sending every id."""
    found: dict[int, dict[str, list[datetime]]] = {}
    if not lead_ids:
        return found
    events = EngagementEvent.objects.all()
    activities = Activity.objects.filter(
        content_type=ContentType.objects.get_for_model(Lead), kind__in=list(ACTIVITY_ENGAGEMENT)
    )
    if company_id is None:
        events, activities = events.filter(lead_id__in=lead_ids), activities.filter(object_id__in=lead_ids)
    else:
        low, high = min(lead_ids), max(lead_ids)
        events = events.filter(company_id=company_id, lead_id__gte=low, lead_id__lte=high)
        activities = activities.filter(company_id=company_id, object_id__gte=low, object_id__lte=high)
    for lead_id, kind, at in events.values_list("lead_id", "kind", "occurred_at"):
        found.setdefault(lead_id, {}).setdefault(kind, []).append(at)
    activities = activities.values_list("object_id", "kind", "occurred_at")
    for lead_id, kind, at in activities:
        found.setdefault(lead_id, {}).setdefault(ACTIVITY_ENGAGEMENT[kind], []).append(at)
    return found


SCORE_FIELDS = ("score", "score_breakdown", "priority", "spam_score", "validation_status")


@transaction.atomic
def lead_rescore(*, lead: Lead, actor: Membership | None = None, reason: str = "leads.lead.rescored") -> Lead:
    """Rescore one lead from its fields and its engagement (call after logging an interaction;
    ``reason`` names the action the new score is part of, such as a merge)."""
    lead = Lead.objects.select_for_update(of=("self",)).select_related("company").get(pk=lead.pk)
    before = tuple(getattr(lead, name) for name in SCORE_FIELDS)
    scorer_for(lead.company)(lead, engagement=engagement_of([lead.pk]).get(lead.pk, {}))
    if tuple(getattr(lead, name) for name in SCORE_FIELDS) != before:
        record(lead, actor, reason)
        lead.save(update_fields=[*SCORE_FIELDS, "updated_at"])
    if lead.score != before[0]:
        hooks.lead_score_changed.send(sender=Lead, lead=lead, old_score=before[0], new_score=lead.score)
    return lead


@transaction.atomic
def engagement_record(
    *, lead: Lead, kind: str, occurred_at: datetime | None = None, source: str = "", key: str | None = None
) -> EngagementEvent | None:
    """Record an open, click, form submit, … and rescore the lead. Idempotent per ``key``: a
    repeated key records nothing and returns None."""
    if kind not in EngagementKind.values:
        raise ValidationError({"kind": f"Choose one of {', '.join(EngagementKind.values)}."})
    occurred_at = occurred_at or timezone.now()
    if occurred_at > timezone.now() + timedelta(minutes=5):
        raise ValidationError({"occurred_at": "An engagement that already happened cannot be in the future."})
    key = (key or "").strip()[:200] or None
    if key and EngagementEvent.objects.filter(company_id=lead.company_id, key=key).exists():
        return None
    try:
        with transaction.atomic():
            event = EngagementEvent.objects.create(
                company_id=lead.company_id, lead=lead, kind=kind, occurred_at=occurred_at,
                source=source.strip()[:100], key=key,
            )  # fmt: skip
    except IntegrityError:  # the same key recorded concurrently
        return None
    lead_rescore(lead=lead)
    return event


# The page cache while a rescore writes: the score and priority indexes of a million leads are
# updated all over, and re-reading their pages from disk is most of the time (up to the database's size).
WRITE_CACHE_KIB = 256 * 1024


@dataclass
class RescoreResult:
    scanned: int = 0
    changed: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.scanned / self.seconds if self.seconds else 0.0


class _Row:
    """The fields scoring reads, as a plain object (cheaper than a model instance, and filled by one
    ``dict.update``). JSON columns no rule reads are not even fetched."""

    COLUMNS = ("id", "email", "phone", "phone_key", "country", "profile_url", "first_name", "last_name",
               "lead_source", "campaign_id", "medium", "term", "job_title", "company_name", "interest_product",
               "budget_range", "authority_level", "need", "timeline", "stage", "gdpr_consent", "score_breakdown",
               "score", "priority", "spam_score", "validation_status", "custom_fields", "profile_data")  # fmt: skip
    OPTIONAL = ("custom_fields", "profile_data")

    def __init__(self, columns, values):
        self.__dict__.update(zip(columns, values, strict=True))
        for name in self.OPTIONAL:
            if name not in columns:
                self.__dict__[name] = {}


def leads_rescore(
    *, company: Company, batch_size: int = 2000, lead_ids: Iterable[int] | None = None, progress=None
) -> RescoreResult:
    """Rescore the company's leads (or ``lead_ids``) in batches of ``batch_size``: one read of the
    leads and (when the company has any engagement at all) two of their engagement per batch, and
    one UPDATE per changed lead sent as one ``executemany``. Each batch is its own transaction, so
    writers are never blocked for long."""
    started = time.perf_counter()
    scorer = scorer_for(company)
    result = RescoreResult()
    fields = {rule.condition.field.split(".", 1)[0] for rule in scorer.field_rules}
    columns = [name for name in _Row.COLUMNS if name not in _Row.OPTIONAL or name.split("_")[0] in fields]
    engaged = bool(scorer.engagement_rules) and _has_engagement(company)
    with vendor.page_cache_for_database(WRITE_CACHE_KIB):
        _rescore_batches(company, scorer, _batches(company, batch_size, lead_ids, columns), engaged, result, progress)
    result.seconds = time.perf_counter() - started
    return result


def _rescore_batches(company: Company, scorer, batches, engaged: bool, result: RescoreResult, progress) -> None:
    for batch in batches:
        engagement = engagement_of([row.id for row in batch], company_id=company.pk) if engaged else {}
        now = timezone.now()
        changed = []
        for row in batch:
            before = (row.score, row.score_breakdown, row.priority, row.spam_score, row.validation_status)
            scorer(row, engagement=engagement.get(row.id, {}), now=now)
            after = (row.score, row.score_breakdown, row.priority, row.spam_score, row.validation_status)
            if after != before:
                changed.append(row)
        _write_scores(changed)
        result.scanned += len(batch)
        result.changed += len(changed)
        if progress is not None:
            progress(result.scanned)


def _has_engagement(company: Company) -> bool:
    activities = Activity.objects.filter(
        company=company, content_type=ContentType.objects.get_for_model(Lead), kind__in=list(ACTIVITY_ENGAGEMENT)
    )
    return EngagementEvent.objects.filter(company=company).exists() or activities.exists()


def _batches(company: Company, size: int, lead_ids, columns: list[str]) -> Iterator[list[_Row]]:
    queryset = Lead.objects.filter(company=company, merged_into__isnull=True)
    if lead_ids is not None:
        queryset = queryset.filter(pk__in=list(lead_ids))
    last_id = 0
    while True:
        rows = list(queryset.filter(pk__gt=last_id).order_by("pk").values_list(*columns)[:size])
        if not rows:
            return
        last_id = rows[-1][0]
        yield [_Row(columns, row) for row in rows]


def _write_scores(rows: list[_Row]) -> None:
    if not rows:
        return
    meta = Lead._meta
    quote = connection.ops.quote_name
    adapt_json = connection.ops.adapt_json_value
    assignments = ", ".join(f"{quote(meta.get_field(name).column)} = %s" for name in SCORE_FIELDS)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
    params = [
        (row.score, adapt_json(row.score_breakdown, None), row.priority,
         row.spam_score, row.validation_status, row.id)
        for row in rows
    ]  # fmt: skip
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, params)
