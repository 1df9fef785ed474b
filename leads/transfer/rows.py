"""One import row: its cells turned into a lead's values with the rules of ``leads.services``
(``RowContext`` holds what a row needs of the company: statuses, campaigns, members, custom fields,
scoring), and the bulk lookup of exact duplicates against the indexed keys."""

from __future__ import annotations

import json
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models.base import ModelState
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from crm.models import Company, Membership
from leads import dedup, scoring, vendor
from leads.customfields import FALSE_WORDS, TRUE_WORDS
from leads.keys import apply_keys
from leads.models import (
    AuthorityLevel,
    Campaign,
    ImportFormat,
    ImportJob,
    Lead,
    LeadStatus,
    Stage,
)
from leads.profiles import profile_to_lead_data
from leads.services import CAMPAIGN_REQUIRED, LeadBatch, lead_prepare
from leads.transfer.mapping import (
    CUSTOM_PREFIX,
    PROFILE_PREFIX,
    ImportOptions,
    OwnerIndex,
    header_key,
    target_label,
)
from leads.transfer.reading import Issue, ParsedFile, column_name
from leads.workflow import status_enter

# --- one row ----------------------------------------------------------------------------------------


@dataclass
class Row:
    number: int
    cells: Any
    values: dict[str, str] = field(default_factory=dict)  # target → raw text
    data: dict[str, Any] = field(default_factory=dict)  # service data (non-empty values)
    custom: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, Any] | None = None
    campaign: Campaign | None = None
    owner: Membership | None = None
    status: LeadStatus | None = None
    note: str = ""
    read_errors: dict[str, list[str]] = field(default_factory=dict)  # from reading the cells
    errors: dict[str, list[str]] = field(default_factory=dict)  # read errors + the services' rules
    lead: Lead | None = None
    action: str = ""  # create, update, skip, invalid
    match_id: int | None = None
    match_reason: str = ""
    before: dict[str, Any] | None = None  # update: attname → old value
    changed: list[str] = field(default_factory=list)
    flag_with: list[tuple[Any, str]] = field(default_factory=list)  # (lead id or _Seen, key field)
    seen: Any = None

    def add(self, target: str, message: str) -> None:
        self.read_errors.setdefault(target, []).append(message)


# --- a row's trip from the helper process -------------------------------------------------------------
# A model pickles through ``Model.__reduce__`` (its state copied, its version stamped) at several
# times the cost of its values: a validated row travels with its lead as a tuple of the fields'
# values, what else the lead holds, and its related objects.

_LEAD_ATTNAMES = tuple(f.attname for f in Lead._meta.concrete_fields)
_NOT_EXTRA = frozenset(_LEAD_ATTNAMES) | {"_state"}


def row_for_transfer(row: Row) -> Row:
    """``row`` ready to be pickled cheaply (``row_from_transfer`` makes it whole again)."""
    lead = row.lead
    if lead is not None:
        state = lead.__dict__
        extra = {name: value for name, value in state.items() if name not in _NOT_EXTRA}
        row.lead = (tuple([state[name] for name in _LEAD_ATTNAMES]), extra, lead._state.fields_cache)
    return row


def row_from_transfer(row: Row) -> Row:
    if row.lead is not None:
        values, extra, related = row.lead
        row.lead = _lead_of(zip(_LEAD_ATTNAMES, values, strict=True), related)
        row.lead.__dict__.update(extra)
    return row


def _lead_of(values, related: dict) -> Lead:
    """An unsaved lead made of attribute values and related objects, without ``Lead.__init__``
    (which costs more for sixty fields than validating them)."""
    lead = Lead.__new__(Lead)
    lead.__dict__.update(values)
    lead._state = ModelState()
    lead._state.fields_cache = related
    return lead


def _word_bool(text: str) -> bool | None:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def _when(text: str):
    text = text.strip()
    moment = parse_datetime(text.replace(" ", "T", 1)) if len(text) > 10 else None
    if moment is None:
        day = parse_date(text)
        if day is None:
            return None
        moment = timezone.datetime(day.year, day.month, day.day)
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _choice(text: str, choices) -> str | None:
    wanted = header_key(text)
    for value, label in choices:
        if header_key(value) == wanted or header_key(label) == wanted:
            return value
    return None


def _profile_value(text: str):
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


_SERVICE_FIELD = {"__all__": ""}
CAMPAIGN_REQUIRED_IN_IMPORT = "Campaign is required: add a Campaign column or choose one for the import."


class RowContext:
    """What every row of one job needs, read once: the company's campaigns, members, statuses,
    custom fields, scorer and the column plan."""

    def __init__(self, job: ImportJob, parsed: ParsedFile, actor: Membership | None):
        self.job, self.parsed, self.actor = job, parsed, actor
        self.company = job.company
        self.options = ImportOptions.from_dict(job.options)
        self.policy = self.options.on_duplicate
        self.batch = LeadBatch.of(self.company, actor)
        self.statuses = list(LeadStatus.objects.filter(company=self.company))
        self.campaigns = {c.pk: c for c in Campaign.objects.filter(company=self.company)}
        self.campaigns_by_name = {c.name.casefold(): c for c in self.campaigns.values()}
        self.default_campaign = self.campaigns.get(self.options.campaign_id)
        self.owners = OwnerIndex(self.company)
        self.scorer = scoring.scorer_for(self.company)
        self.key_fields = list(dedup.exact_key_fields(self.company))
        self._prototype = None
        self.plan = [
            (position, target)
            for position, target in enumerate(job.mapping or [])
            if target and position < len(parsed.headers)
        ]
        self.column_of = {target: column_name(parsed.headers, position) for position, target in self.plan}

    # -- cells → row ---------------------------------------------------------------------------

    def read(self, number: int, cells) -> Row:
        row = Row(number, cells)
        if self.parsed.format == ImportFormat.JSONL:
            self._read_profile(row, cells)
        else:
            for position, target in self.plan:
                text = cells[position].strip() if position < len(cells) else ""
                row.values[target] = text
                if text:
                    self._read_value(row, target, text)
        return row

    def _read_profile(self, row: Row, profile: dict) -> None:
        data = profile_to_lead_data(profile)
        row.values = {k: str(v) for k, v in data.items() if k != "profile_data"}
        row.data = {k: v for k, v in data.items() if v not in ("", None)}
        row.profile = data["profile_data"]

    def _read_value(self, row: Row, target: str, text: str) -> None:
        reader = self.READERS.get(target)
        if reader is not None:
            reader(self, row, text)
        elif target.startswith(CUSTOM_PREFIX):
            row.custom[target[len(CUSTOM_PREFIX) :]] = text
        elif target.startswith(PROFILE_PREFIX):
            row.profile = row.profile or {}
            row.profile[target[len(PROFILE_PREFIX) :]] = _profile_value(text)
        else:
            row.data[target] = text

    def _full_name(self, row: Row, text: str) -> None:
        first, _, last = text.partition(" ")
        row.data.setdefault("_first", first)
        row.data.setdefault("_last", last.strip())

    def _campaign(self, row: Row, text: str) -> None:
        row.campaign = self.campaigns_by_name.get(text.casefold())
        if row.campaign is None:
            row.add("campaign", f"“{text}” is not a campaign of this company.")

    def _owner(self, row: Row, text: str) -> None:
        row.owner, problem = self.owners.find(text)
        if problem:
            row.add("owner", problem)

    def _status(self, row: Row, text: str) -> None:
        wanted = text.casefold()
        row.status = next((s for s in self.statuses if wanted in (s.key.casefold(), s.name.casefold())), None)
        if row.status is None:
            row.add("status", f"“{text}” is not a status of this company.")

    def _note(self, row: Row, text: str) -> None:
        row.note = text

    def _stage(self, row: Row, text: str) -> None:
        value = _choice(text, Stage.choices)
        if value is None:
            row.add("stage", f"Choose one of {', '.join(Stage.values)}.")
        else:
            row.data["stage"] = value

    def _authority(self, row: Row, text: str) -> None:
        value = _choice(text, AuthorityLevel.choices)
        if value is None:
            row.add("authority_level", f"Choose one of {', '.join(AuthorityLevel.values)}.")
        else:
            row.data["authority_level"] = value

    def _flag(self, row: Row, target: str, text: str) -> None:
        value = _word_bool(text)
        if value is None:
            row.add(target, "Enter yes or no.")
        else:
            row.data[target] = value

    def _opt_in(self, row: Row, text: str) -> None:
        moment = _when(text)
        if moment is None:
            row.add("opt_in_date", "Enter a date as YYYY-MM-DD (optionally with HH:MM).")
        else:
            row.data["opt_in_date"] = moment

    READERS: dict[str, Callable] = {
        "full_name": _full_name,
        "campaign": _campaign,
        "owner": _owner,
        "status": _status,
        "status_note": _note,
        "stage": _stage,
        "authority_level": _authority,
        "gdpr_consent": lambda self, row, text: self._flag(row, "gdpr_consent", text),
        "dnd": lambda self, row, text: self._flag(row, "dnd", text),
        "opt_in_date": _opt_in,
    }

    def ask_verdicts_ahead(self) -> None:
        """Ask the workflow now, for every status a new lead could be given with or without a
        note, what ``validate_new`` would otherwise ask on the first row that needs it (one query
        per move): after this, validating new rows makes no query at all."""
        if self.batch.transitions is None:
            return
        lead = self._blank_lead()
        for status in self.statuses:
            if status.pk != lead.status_id:
                for note in ("", "a note"):
                    self.batch.transitions.problem(lead, status, note)

    # -- validation: the services' rules ---------------------------------------------------------

    def _service_data(self, row: Row, *, creating: bool) -> dict:
        data = {k: v for k, v in row.data.items() if not k.startswith("_")}
        first, last = row.data.get("_first"), row.data.get("_last")
        if first is not None and not data.get("first_name") and not data.get("last_name"):
            data["first_name"], data["last_name"] = first, last
        if creating and not data.get("lead_source"):
            campaign = row.campaign or self.default_campaign
            source = self.options.lead_source.strip() or (campaign.source if campaign else "")
            data["lead_source"] = source
        elif self.options.lead_source.strip() and self.parsed.format == ImportFormat.JSONL:
            data["lead_source"] = self.options.lead_source.strip()
        return data

    def _blank_lead(self) -> Lead:
        """``Lead(company=…, created_by=…, status=initial)``, cloned from a prototype: building
        a model of sixty fields through ``__init__`` costs more than validating it."""
        if self._prototype is None:
            model = Lead(company=self.company, created_by=self.actor, status=self.batch.initial)
            state = dict(model.__dict__)
            self._prototype = (state.pop("_state").fields_cache, state)
        cache_, values = self._prototype
        lead = _lead_of(values, dict(cache_))
        lead.profile_data, lead.custom_fields, lead.score_breakdown = {}, {}, []
        lead.created_at = timezone.now()
        return lead

    def validate_new(self, row: Row) -> None:
        """Build the row's lead with ``lead_prepare``, as ``lead_create`` would, collecting every error."""
        data = self._service_data(row, creating=True)
        if row.profile is not None:
            data["profile_data"] = row.profile
        campaign = row.campaign or self.default_campaign
        if campaign is not None:
            data["campaign"] = campaign
        if row.custom:
            data["custom_fields"] = row.custom
        lead = self._prepare(row, self._blank_lead(), data)
        if lead.requested_status is not None:
            status_enter(lead, lead.requested_status, at=lead.created_at)
            lead._note = row.note

    def validate_update(self, row: Row, lead: Lead) -> None:
        """Apply the row's non-empty values to an existing lead with ``lead_prepare``, as
        ``lead_update`` would."""
        row.before = {f.attname: getattr(lead, f.attname) for f in Lead._meta.concrete_fields}
        data = self._service_data(row, creating=False)
        if row.profile:
            data["profile_data"] = {**(lead.profile_data or {}), **row.profile}
        if row.campaign is not None:
            data["campaign"] = row.campaign
        if row.custom:
            data["custom_fields"] = {**lead.custom_fields, **row.custom}
        lead = self._prepare(row, lead, data)
        if lead.owner_id != row.before["owner_id"]:
            lead.assigned_at = timezone.now()
        if lead.requested_status is not None:
            status_enter(lead, lead.requested_status, at=timezone.now())

    def _prepare(self, row: Row, lead: Lead, data: dict) -> Lead:
        """``lead_prepare`` on the row's values (the owner and status resolved from the file); its
        errors join the row's reading errors. The lead keeps its match keys even when refused: an
        update match is looked up by them."""
        if row.owner is not None:
            data["owner"] = row.owner
        if row.status is not None:
            data["status"], data["status_note"] = row.status, row.note
        errors: dict[str, list[str]] = {}
        try:
            lead_prepare(company=self.company, actor=self.actor, data=data, lead=lead, batch=self.batch)
        except ValidationError as error:
            errors = error.message_dict
            if errors.get("campaign") == [CAMPAIGN_REQUIRED]:
                # A campaign name the file got wrong already says why; else say how to give one.
                errors = {k: v for k, v in errors.items() if k != "campaign"}
                if "campaign" not in row.read_errors:
                    errors["campaign"] = [CAMPAIGN_REQUIRED_IN_IMPORT]
            lead.requested_status = None
            apply_keys(lead)
        row.errors = {}
        self._merge_errors(row, errors)
        row.lead = lead
        return lead

    def _merge_errors(self, row: Row, errors: dict[str, list[str]]) -> None:
        for name, messages in row.read_errors.items():
            row.errors[name] = list(messages)
        for name, messages in errors.items():
            target = _SERVICE_FIELD.get(name, name)
            if name.startswith("custom_fields."):
                target = f"{CUSTOM_PREFIX}{name.split('.', 1)[1]}"
            for message in messages:
                if message not in row.errors.get(target, []):
                    row.errors.setdefault(target, []).append(message)

    # -- reporting ----------------------------------------------------------------------------------

    def issues_of(self, row: Row) -> list[Issue]:
        issues = []
        for target, messages in row.errors.items():
            column = self.column_of.get(target) or (target_label(target) if target else "")
            if self.parsed.format == ImportFormat.JSONL:
                column = target if target not in ("__all__", "") else ""
            value = row.values.get(target, "")
            issues.extend(Issue(row.number, column, value, message) for message in messages)
        return issues


# --- duplicates -------------------------------------------------------------------------------------

KEY_LABELS = {"email_key": "email", "phone_key": "phone", "profile_url_key": "profile URL"}
IN_CHUNK = 900


def existing_keys(
    company: Company, key_fields: list[str], rows: list[Row], *, ignore: Container[int] = ()
) -> dict[tuple[str, str], int]:
    """(key field, value) → id of a live lead of the company holding it (the oldest one), leaving
    out the leads in ``ignore`` (an import's own new leads).

    Plain SQL on the raw cursor: an import asks this for every chunk of rows, and the ORM's
    preparation of each value of each ``IN`` list cost more than the indexed look-ups did."""
    found: dict[tuple[str, str], int] = {}
    table = connection.ops.quote_name(Lead._meta.db_table)
    live = "merged_into_id IS NULL AND NOT is_deleted"
    with vendor.raw_cursor() as cursor:
        for name in key_fields:
            column = connection.ops.quote_name(Lead._meta.get_field(name).column)
            values = sorted({getattr(r.lead, name) for r in rows if r.lead is not None and getattr(r.lead, name)})
            for start in range(0, len(values), IN_CHUNK):
                condition, params = vendor.is_in_sql(column, values[start : start + IN_CHUNK])
                # No ORDER BY: with one, SQLite walks the company index instead of (company, key).
                sql = f"SELECT {column}, id FROM {table} WHERE company_id = {vendor.placeholder()} AND {live} AND {condition}"  # noqa: S608 (names quoted above)
                cursor.execute(sql, [company.pk, *params])
                for value, pk in cursor.fetchall():
                    if pk in ignore:
                        continue
                    key = (name, value)
                    found[key] = min(pk, found.get(key, pk))
    return found
