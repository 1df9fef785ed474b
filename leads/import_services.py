"""Batch import of leads: parse once, validate and normalise every row in memory with the rules of
``leads.services``, check exact duplicates in bulk against the indexed keys, then write everything
in ONE transaction — or nothing at all.

The flow (UI, API, admin and ``import_leads`` all use it):

1. ``import_job_create`` stores the file and reads its columns (a file that cannot be read at all
   is refused here, with the reason); the headers are matched to lead fields (``auto_mapping``).
2. ``import_preview`` checks the first rows with a mapping: per-row errors and duplicates found.
3. ``import_job_start`` fixes the mapping and options and queues ``leads.tasks_transfer.run_import``.
4. ``import_run`` (the task) validates every row. By default one invalid row imports nothing and
   every bad row is reported (row, column, value, reason) in ``ImportJob.errors`` and in a file;
   with ``skip_invalid`` the valid rows are imported and the invalid ones are returned as a file
   to fix and re-import. Each created lead gets the same normalisation, scoring, status change row
   and assignment as one created by hand, and a history row whose change reason is
   ``leads.lead.imported:<job id>``.
5. ``import_revert`` removes the job's created leads and undoes its updates (``import_reverted``).

Duplicates (exact: equal ``dedup.exact_key_fields`` keys, against live leads of the company and
earlier rows of the same file) follow the job's policy: ``skip`` the row, ``update`` the matching
lead (only when the importer can see it) with the row's non-empty values, ``flag`` (create it and
put the pair in the duplicates review queue) or ``create`` it anyway. A row that repeats an earlier
row of the file is skipped unless the policy is ``flag`` or ``create``.

Writes are raw multi-row INSERTs built from the models' metadata (the ORM's ``bulk_create`` spends
most of its time preparing values one by one; SQLite also caps it at 999 variables per statement):
leads, their historical rows and their status changes. On SQLite the full-text index of leads is
filled once for the new rows instead of by its per-row trigger (``bulkwrite.DeferredSearchIndex``).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import QuerySet
from django.db.models.base import ModelState
from django.db.models.deletion import Collector
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from simple_history.utils import bulk_update_with_history

from crm import history
from crm.models import Company, Membership, Role
from crm.queries import team_member_ids
from crm.tasks import enqueue
from leads import assignment, bulkwrite, dedup, scoring
from leads.customfields import FALSE_WORDS, TRUE_WORDS, clean_custom_fields
from leads.importing import FileProblem, Issue, ParsedFile, column_name, parse_file
from leads.models import (
    AuthorityLevel,
    Campaign,
    CustomField,
    DuplicatePolicy,
    ImportFormat,
    ImportJob,
    ImportStatus,
    Lead,
    LeadStatus,
    Stage,
    StatusChange,
)
from leads.profiles import profile_to_lead_data
from leads.queries import leads_visible_to
from leads.services import TEXT_FIELDS, _apply_fields, _refresh_keys, _validate_contact
from leads.workflow import check_transition, initial_status, is_conversion_target

logger = logging.getLogger(__name__)

CHUNK = 2000  # rows per write step (and per progress report)
WRITE_CACHE_KIB = 256 * 1024  # SQLite page cache while an import writes (see _write_cache_kib)
STORED_ERRORS = 5000  # errors kept on the job; the errors file has them all
STORED_NOTES = 1000
IGNORE = ""
ERRORS_COLUMN = "Import errors"
SOURCE_ROW_COLUMN = "Source row"
PREVIEW_ROWS = 20

# --- what a column can fill -------------------------------------------------------------------------

# key, label, extra header names it is recognised by (besides key and label)
FIXED_TARGETS: list[tuple[str, str, tuple[str, ...]]] = [
    ("first_name", "First name", ("firstname", "given name", "forename", "first")),
    ("last_name", "Last name", ("lastname", "surname", "family name", "last")),
    ("full_name", "Full name", ("name", "fullname", "contact name", "contact", "lead name")),
    ("email", "Email", ("e mail", "email address", "e mail address", "mail", "work email")),
    ("phone", "Phone", ("telephone", "tel", "phone number", "mobile", "mobile phone", "cell", "phone no")),
    ("country", "Country", ("country code", "iso country")),
    ("job_title", "Job title", ("title", "position", "role", "job", "jobtitle")),
    ("company_name", "Company", ("company name", "organisation", "organization", "employer", "account")),
    ("profile_url", "Profile URL", ("linkedin", "linkedin url", "profile", "url", "profile link")),
    ("lead_source", "Lead source", ("source", "leadsource")),
    ("campaign", "Campaign", ("campaign name",)),
    ("medium", "Medium", ("utm medium",)),
    ("term", "Term", ("utm term", "search term", "keyword")),
    ("owner", "Owner", ("owner email", "assigned to", "sdr", "owner e mail")),
    ("status", "Status", ("lead status",)),
    ("status_note", "Status note", ("status comment",)),
    ("stage", "Stage", ("lead stage",)),
    ("interest_product", "Interest product", ("product", "interest", "product interest")),
    ("budget_range", "Budget range", ("budget",)),
    ("authority_level", "Authority level", ("authority",)),
    ("need", "Need", ("needs",)),
    ("timeline", "Timeline", ("time frame", "timeframe")),
    ("gdpr_consent", "GDPR consent", ("consent", "gdpr")),
    ("dnd", "Do not disturb", ("dnd",)),
    ("opt_in_date", "Opt-in date", ("opt in", "opted in", "opt in date")),
]
FIXED_LABELS = {key: label for key, label, _ in FIXED_TARGETS}
# Columns our own exports write that are computed, never imported: recognised and ignored.
READ_ONLY_HEADERS = (
    "id", "lead id", "score", "priority", "spam score", "validation status", "created", "created at",
    "updated", "updated at", "assigned at", "status changed at", "first response at", "last activity",
    "last activity at", "converted at", "score breakdown", "custom fields", "profile data", "status key",
    "owner name", "campaign id", "owner id", "status id", "import errors", "source row",
)  # fmt: skip
PROFILE_PREFIX, CUSTOM_PREFIX = "profile:", "custom:"
_SEPARATORS = re.compile(r"[\s_\-.]+")


def header_key(name: str) -> str:
    """How headers are compared: case-folded, separators as single spaces, trimmed."""
    return _SEPARATORS.sub(" ", name.casefold()).strip()


def targets_for(company: Company) -> list[tuple[str, str]]:
    """Every (key, label) a column may be mapped to in ``company``."""
    custom = [
        (f"{CUSTOM_PREFIX}{d.key}", f"{d.label} (custom field)")
        for d in CustomField.objects.filter(company=company, is_active=True)
    ]
    return [(key, label) for key, label, _ in FIXED_TARGETS] + custom


def _header_index(company: Company) -> dict[str, str]:
    index: dict[str, str] = dict.fromkeys((header_key(h) for h in READ_ONLY_HEADERS), IGNORE)
    for key, label, extra in FIXED_TARGETS:
        for name in (key, label, *extra):
            index[header_key(name)] = key
    for definition in CustomField.objects.filter(company=company, is_active=True):
        for name in (definition.key, definition.label, f"{CUSTOM_PREFIX}{definition.key}"):
            index[header_key(name)] = f"{CUSTOM_PREFIX}{definition.key}"
    return index


def profile_target(header: str, position: int) -> str:
    """The profile attribute a column fills when mapped to one: ``Profile: headline`` → headline."""
    match = re.match(r"^\s*profile\s*:\s*(.+)$", header, re.IGNORECASE)
    attribute = match.group(1).strip() if match else header_key(header)
    return f"{PROFILE_PREFIX}{attribute or position + 1}"


def auto_mapping(headers: list[str], company: Company) -> list[str | None]:
    """Per column: the matching target key, "" (known, ignored) or None (no match). A header
    ``Profile: x`` fills the profile attribute ``x``. Of two columns with the same name only the
    first is matched; the other stays unmapped, so the person decides."""
    index = _header_index(company)
    mapping: list[str | None] = []
    taken: set[str] = set()
    for position, header in enumerate(headers):
        target = index.get(header_key(header))
        if target is None and re.match(r"^\s*profile\s*:\s*\S", header, re.IGNORECASE):
            target = profile_target(header, position)
        if target and target in taken:
            target = None
        if target:
            taken.add(target)
        mapping.append(target)
    return mapping


def mapping_errors(headers: list[str], mapping: list, company: Company) -> list[str]:
    """Every reason the mapping cannot be used, one sentence each (empty when it can)."""
    if len(mapping) != len(headers):
        return [f"The mapping names {len(mapping)} columns but the file has {len(headers)}."]
    valid = {key for key, _ in targets_for(company)}
    errors, used = [], {}
    for position, target in enumerate(mapping):
        name = column_name(headers, position)
        if target is None:
            errors.append(f"Column {position + 1} “{name}” matches no lead field: choose a field or ignore it.")
        elif target == IGNORE:
            continue
        elif target not in valid and not (target.startswith(PROFILE_PREFIX) and len(target) > len(PROFILE_PREFIX)):
            errors.append(f"Column {position + 1} “{name}”: “{target}” is not a lead field.")
        elif target in used:
            first = used[target]
            errors.append(
                f"{_target_label(target)} is filled from two columns: {first + 1} “{column_name(headers, first)}” "
                f"and {position + 1} “{name}”; ignore one of them."
            )
        else:
            used[target] = position
    return errors


def _target_label(target: str) -> str:
    if target.startswith(PROFILE_PREFIX):
        return f"Profile: {target[len(PROFILE_PREFIX) :]}"
    if target.startswith(CUSTOM_PREFIX):
        return target[len(CUSTOM_PREFIX) :]
    return FIXED_LABELS.get(target, target)


# --- options ---------------------------------------------------------------------------------------


@dataclass
class ImportOptions:
    on_duplicate: str = DuplicatePolicy.SKIP
    skip_invalid: bool = False
    dry_run: bool = False
    campaign_id: int | None = None
    lead_source: str = ""

    @classmethod
    def from_dict(cls, data: dict) -> ImportOptions:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _clean_options(company: Company, actor: Membership | None, options: ImportOptions, file_format: str) -> None:
    errors: dict[str, list[str]] = {}
    if options.on_duplicate not in DuplicatePolicy.values:
        errors["on_duplicate"] = [f"Choose one of {', '.join(DuplicatePolicy.values)}."]
    elif options.on_duplicate in (DuplicatePolicy.CREATE, DuplicatePolicy.FLAG):
        may = getattr(dedup, "can_create_anyway", lambda a: a is None or a.role != Role.SDR)
        if not may(actor):
            errors["on_duplicate"] = ["Only managers and admins may import duplicates (create or flag)."]
    if options.campaign_id is not None and not Campaign.objects.filter(company=company, pk=options.campaign_id):
        errors["campaign"] = ["Choose a campaign of this company."]
    if file_format == ImportFormat.JSONL and options.campaign_id is None:
        errors["campaign"] = ["Choose the campaign these scraped profiles belong to."]
    if len(options.lead_source) > 100:
        errors["lead_source"] = ["Keep the lead source under 100 characters."]
    if errors:
        raise ValidationError(errors)


# --- job lifecycle ----------------------------------------------------------------------------------


def _check_actor(company: Company, actor: Membership | None) -> None:
    if actor is not None and actor.company_id != company.pk:
        raise PermissionDenied


def import_job_create(
    *,
    company: Company,
    actor: Membership | None,
    upload,
    file_format: str | None = None,
    options: ImportOptions | None = None,
    ip_address: str | None = None,
    user_agent: str = "",
) -> ImportJob:
    """Store an uploaded file as a new job and read its columns. A file that cannot be read at all
    (empty, binary, too large, a zip bomb, not a list of objects, …) raises ``ValidationError``
    under ``file`` and stores nothing."""
    _check_actor(company, actor)
    name = getattr(upload, "name", "") or "upload"
    if file_format not in (None, "") and file_format not in ImportFormat.values:
        raise ValidationError({"format": [f"Choose one of {', '.join(ImportFormat.values)}."]})
    parsed = parse_file(upload, name, file_format or None)
    options = options or ImportOptions()
    _clean_options(company, actor, options, parsed.format)
    upload.seek(0)
    job = ImportJob(
        company=company,
        created_by=actor,
        file_name=name.rsplit("/", 1)[-1][:255],
        file_size=getattr(upload, "size", None) or _size(upload),
        file_format=parsed.format,
        encoding=parsed.encoding,
        delimiter=parsed.delimiter,
        headers=parsed.headers,
        mapping=auto_mapping(parsed.headers, company) if parsed.format != ImportFormat.JSONL else [],
        options=options.as_dict(),
        total_rows=len(parsed.rows) + len({i.row for i in parsed.issues} - {n for n, _ in parsed.rows}),
        ip_address=ip_address or None,
        user_agent=(user_agent or "")[:300],
    )
    job.file.save(f"{timezone.now():%Y%m%d%H%M%S}-{_safe_name(job.file_name)}", _content(upload), save=False)
    job.save()
    return job


def _size(handle) -> int:
    handle.seek(0, io.SEEK_END)
    size = handle.tell()
    handle.seek(0)
    return size


def _content(upload):
    upload.seek(0)
    return upload if hasattr(upload, "chunks") else ContentFile(upload.read())


def _safe_name(name: str) -> str:
    return re.sub(r"[^\w.\-]+", "_", name)[-100:] or "upload"


def import_jobs_visible_to(membership: Membership) -> QuerySet[ImportJob]:
    """Import jobs hold the file's data: an admin sees every job of the company, others the jobs
    started by themselves or by members of their team (as with export runs)."""
    jobs = ImportJob.objects.filter(company_id=membership.company_id)
    if membership.role == Role.ADMIN:
        return jobs
    return jobs.filter(created_by_id__in=team_member_ids(membership))


def enqueue_import(job_id: int) -> None:
    enqueue("leads.tasks_transfer.run_import", job_id, name=f"import-{job_id}")


def enqueue_revert(job_id: int, actor_id: int | None) -> None:
    enqueue("leads.tasks_transfer.revert_import", job_id, actor_id, name=f"import-revert-{job_id}")


def import_job_start(
    *,
    job: ImportJob,
    actor: Membership | None,
    mapping: list | None = None,
    options: ImportOptions | None = None,
    inline: bool = False,
) -> ImportJob:
    """Fix the job's mapping and options and queue it as a django-q2 task (sync in tests), or run
    it in this process when ``inline`` (the management command and the admin, which wait)."""
    _check_actor(job.company, actor)
    if job.status != ImportStatus.UPLOADED:
        raise ValidationError({"__all__": ["This import has already been started."]})
    if mapping is not None:
        job.mapping = list(mapping)
    if options is not None:
        _clean_options(job.company, actor, options, job.file_format)
        job.options = options.as_dict()
    if job.file_format != ImportFormat.JSONL:
        problems = mapping_errors(job.headers, job.mapping, job.company)
        if not job.options.get("campaign_id") and "campaign" not in job.mapping:
            problems.append("Every lead needs a campaign: choose one for the import or map a Campaign column.")
        if problems:
            raise ValidationError({"mapping": problems})
    # A conditional update: of two clicks on "Import", only one starts the job.
    started = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.UPLOADED).update(
        status=ImportStatus.QUEUED, mapping=job.mapping, options=job.options
    )
    if not started:
        raise ValidationError({"__all__": ["This import has already been started."]})
    job.status = ImportStatus.QUEUED
    if inline:
        return import_run(job_id=job.pk)
    enqueue_import(job.pk)
    job.refresh_from_db()
    return job


def _progress_key(job_id: int) -> str:
    return f"importjob:{job_id}:progress"


def import_progress(job: ImportJob) -> dict:
    """{"percent", "phase", "done", "total"} for the progress bar (live while running)."""
    if job.is_finished:
        return {"percent": 100, "phase": job.status, "done": job.total_rows, "total": job.total_rows}
    live = cache.get(_progress_key(job.pk)) or {}
    total = live.get("total") or job.total_rows or 0
    done = live.get("done", 0)
    phase = live.get("phase", job.status)
    percent = int(100 * done / total) if total else 0
    return {"percent": min(percent, 99), "phase": phase, "done": done, "total": total}


def _report(job_id: int, phase: str, done: int, total: int) -> None:
    cache.set(_progress_key(job_id), {"phase": phase, "done": done, "total": total}, timeout=3600)


# --- one row ----------------------------------------------------------------------------------------


@dataclass
class _Row:
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


_SERVICE_FIELD = {"note": "status_note", "__all__": ""}


class _Context:
    """What every row of one job needs, read once: the company's campaigns, members, statuses,
    custom fields, scorer and the column plan."""

    def __init__(self, job: ImportJob, parsed: ParsedFile, actor: Membership | None):
        self.job, self.parsed, self.actor = job, parsed, actor
        self.company = job.company
        self.options = ImportOptions.from_dict(job.options)
        self.policy = self.options.on_duplicate
        self.initial = initial_status(self.company.pk)
        self.statuses = list(LeadStatus.objects.filter(company=self.company))
        self.campaigns = {c.pk: c for c in Campaign.objects.filter(company=self.company)}
        self.campaigns_by_name = {c.name.casefold(): c for c in self.campaigns.values()}
        self.default_campaign = self.campaigns.get(self.options.campaign_id)
        members = Membership.objects.filter(company=self.company, is_active=True).select_related("user")
        self.members = {m.user.email.casefold(): m for m in members}
        self.definitions = list(CustomField.objects.filter(company=self.company))
        self.scorer = scoring.scorer_for(self.company) if hasattr(scoring, "scorer_for") else scoring.apply_scores
        self.key_fields = list(dedup.exact_key_fields(self.company))
        self.limits = {
            name: Lead._meta.get_field(name).max_length for name in TEXT_FIELDS if Lead._meta.get_field(name).max_length
        }
        self.transition_memo: dict[tuple, ValidationError | None] = {}
        self._prototype = None
        self.plan = [
            (position, target)
            for position, target in enumerate(job.mapping or [])
            if target and position < len(parsed.headers)
        ]
        self.column_of = {target: column_name(parsed.headers, position) for position, target in self.plan}

    # -- cells → row ---------------------------------------------------------------------------

    def read(self, number: int, cells) -> _Row:
        row = _Row(number, cells)
        if self.parsed.format == ImportFormat.JSONL:
            self._read_profile(row, cells)
        else:
            for position, target in self.plan:
                text = cells[position].strip() if position < len(cells) else ""
                row.values[target] = text
                if text:
                    self._read_value(row, target, text)
        return row

    def _read_profile(self, row: _Row, profile: dict) -> None:
        data = profile_to_lead_data(profile)
        row.values = {k: str(v) for k, v in data.items() if k != "profile_data"}
        row.data = {k: v for k, v in data.items() if v not in ("", None)}
        row.profile = data["profile_data"]

    def _read_value(self, row: _Row, target: str, text: str) -> None:
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

    def _full_name(self, row: _Row, text: str) -> None:
        first, _, last = text.partition(" ")
        row.data.setdefault("_first", first)
        row.data.setdefault("_last", last.strip())

    def _campaign(self, row: _Row, text: str) -> None:
        row.campaign = self.campaigns_by_name.get(text.casefold())
        if row.campaign is None:
            row.add("campaign", f"“{text}” is not a campaign of this company.")

    def _owner(self, row: _Row, text: str) -> None:
        row.owner = self.members.get(text.casefold())
        if row.owner is None:
            row.add("owner", f"No active member of this company has the email “{text}”.")

    def _status(self, row: _Row, text: str) -> None:
        wanted = text.casefold()
        row.status = next((s for s in self.statuses if wanted in (s.key.casefold(), s.name.casefold())), None)
        if row.status is None:
            row.add("status", f"“{text}” is not a status of this company.")

    def _note(self, row: _Row, text: str) -> None:
        row.note = text

    def _stage(self, row: _Row, text: str) -> None:
        value = _choice(text, Stage.choices)
        if value is None:
            row.add("stage", f"Choose one of {', '.join(Stage.values)}.")
        else:
            row.data["stage"] = value

    def _authority(self, row: _Row, text: str) -> None:
        value = _choice(text, AuthorityLevel.choices)
        if value is None:
            row.add("authority_level", f"Choose one of {', '.join(AuthorityLevel.values)}.")
        else:
            row.data["authority_level"] = value

    def _flag(self, row: _Row, target: str, text: str) -> None:
        value = _word_bool(text)
        if value is None:
            row.add(target, "Enter yes or no.")
        else:
            row.data[target] = value

    def _opt_in(self, row: _Row, text: str) -> None:
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

    # -- validation: the services' rules ---------------------------------------------------------

    def _service_data(self, row: _Row, *, creating: bool) -> dict:
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
            model = Lead(company=self.company, created_by=self.actor, status=self.initial)
            state = dict(model.__dict__)
            self._prototype = (state.pop("_state").fields_cache, state)
        cache_, values = self._prototype
        lead = Lead.__new__(Lead)
        lead.__dict__.update(values)
        lead._state = ModelState()
        lead._state.fields_cache = dict(cache_)
        lead.profile_data, lead.custom_fields, lead.score_breakdown = {}, {}, []
        lead.created_at = timezone.now()
        return lead

    def validate_new(self, row: _Row) -> None:
        """Build the row's lead as ``lead_create`` would, collecting every error."""
        lead = self._blank_lead()
        data = self._service_data(row, creating=True)
        if row.profile is not None:
            data["profile_data"] = row.profile
        errors = _apply_fields(lead, data)
        lead.campaign = row.campaign or self.default_campaign
        if lead.campaign_id is None and "campaign" not in row.read_errors:
            errors["campaign"] = ["Campaign is required: add a Campaign column or choose one for the import."]
        if row.owner is not None:
            if self.actor is not None and self.actor.role == Role.SDR and row.owner.pk != self.actor.pk:
                errors["owner"] = ["Only managers and admins assign leads to someone else."]
            lead.owner = row.owner
        self._custom(lead, row.custom, errors)
        self._check(lead, errors)
        moves = row.status is not None and row.status.pk != self.initial.pk
        if moves and self._transition(lead, row.status, row.note, errors):
            lead.status, lead._note = row.status, row.note
            _mark_converted(lead, lead.created_at)
        row.errors = {}
        self._merge_errors(row, errors)
        _refresh_keys(lead)
        row.lead = lead

    def validate_update(self, row: _Row, lead: Lead) -> None:
        """Apply the row's non-empty values to an existing lead as ``lead_update`` would."""
        row.before = {f.attname: getattr(lead, f.attname) for f in Lead._meta.concrete_fields}
        data = self._service_data(row, creating=False)
        if row.profile:
            data["profile_data"] = {**(lead.profile_data or {}), **row.profile}
        errors = _apply_fields(lead, data)
        if row.campaign is not None:
            lead.campaign = row.campaign
        if row.owner is not None and row.owner.pk != lead.owner_id:
            if self.actor is not None and self.actor.role == Role.SDR:
                errors["owner"] = ["Only managers and admins assign leads."]
            lead.owner = row.owner
            lead.assigned_at = timezone.now()
        if row.custom:
            self._custom(lead, {**lead.custom_fields, **row.custom}, errors)
        self._check(lead, errors)
        moves = row.status is not None and row.status.pk != lead.status_id
        if moves and self._transition(lead, row.status, row.note, errors):
            lead.status = row.status
            lead.status_changed_at = timezone.now()
            _mark_converted(lead, lead.status_changed_at)
        row.errors = {}
        self._merge_errors(row, errors)
        _refresh_keys(lead)
        row.lead = lead

    def _custom(self, lead: Lead, values: dict, errors: dict) -> None:
        if not values and not any(d.required and d.is_active for d in self.definitions):
            return
        cleaned, problems = clean_custom_fields(self.definitions, values)
        lead.custom_fields = cleaned
        for key, message in problems.items():
            errors.setdefault(f"custom_fields.{key}", []).append(message)

    def _check(self, lead: Lead, errors: dict) -> None:
        _validate_contact(lead, errors)
        for name, limit in self.limits.items():
            value = getattr(lead, name)
            if len(value) > limit:
                errors.setdefault(name, []).append(
                    f"Ensure this value has at most {limit} characters (it has {len(value)})."
                )

    def _transition(self, lead: Lead, to_status: LeadStatus, note: str, errors: dict) -> bool:
        """The workflow's own check (``check_transition``), run once per distinct move."""
        if self.actor is None:
            errors.setdefault("status", []).append(
                "Only a person can set a status other than the initial one: import as a member."
            )
            return False
        key = (lead.status_id, to_status.pk, bool(note.strip()))
        if key not in self.transition_memo:
            try:
                check_transition(lead=lead, to_status=to_status, actor=self.actor, note=note)
                self.transition_memo[key] = None
            except ValidationError as error:
                self.transition_memo[key] = error
        problem = self.transition_memo[key]
        if problem is None:
            return True
        for name, messages in problem.message_dict.items():
            errors.setdefault(name, []).extend(messages)
        return False

    def _merge_errors(self, row: _Row, errors: dict[str, list[str]]) -> None:
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

    def issues_of(self, row: _Row) -> list[Issue]:
        issues = []
        for target, messages in row.errors.items():
            column = self.column_of.get(target) or (_target_label(target) if target else "")
            if self.parsed.format == ImportFormat.JSONL:
                column = target if target not in ("__all__", "") else ""
            value = row.values.get(target, "")
            issues.extend(Issue(row.number, column, value, message) for message in messages)
        return issues


# --- duplicates -------------------------------------------------------------------------------------

KEY_LABELS = {"email_key": "email", "phone_key": "phone", "profile_url_key": "profile URL"}
IN_CHUNK = 900


def existing_keys(company: Company, key_fields: list[str], rows: list[_Row]) -> dict[tuple[str, str], int]:
    """(key field, value) → id of a live lead of the company holding it (the oldest one)."""
    found: dict[tuple[str, str], int] = {}
    # No ORDER BY: with one, SQLite walks the company index instead of (company, key).
    live = Lead.objects.filter(company=company, merged_into__isnull=True, is_deleted=False).order_by()
    for name in key_fields:
        values = sorted({getattr(r.lead, name) for r in rows if r.lead is not None and getattr(r.lead, name)})
        for start in range(0, len(values), IN_CHUNK):
            chunk = values[start : start + IN_CHUNK]
            for value, pk in live.filter(**{f"{name}__in": chunk}).values_list(name, "id"):
                key = (name, value)
                found[key] = min(pk, found.get(key, pk))
    return found


# --- the run -----------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What became of a batch of rows (one chunk of a job, or the rows of a preview)."""

    creates: list[_Row] = field(default_factory=list)
    updates: list[_Row] = field(default_factory=list)
    skipped: list[_Row] = field(default_factory=list)
    invalid: list[_Row] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    @property
    def flagged(self) -> int:
        return sum(1 for row in self.creates if row.flag_with)


class _Seen:
    """An earlier row of the file holding a match key: its number and, once written, its lead."""

    __slots__ = ("number", "pk")

    def __init__(self, number: int):
        self.number, self.pk = number, None


@dataclass
class Summary:
    """A whole job's outcome, kept small: counts, every issue, what a revert needs."""

    created: int = 0
    updated: int = 0
    skipped: int = 0
    flagged: int = 0
    invalid: set[int] = field(default_factory=set)
    issues: list[Issue] = field(default_factory=list)
    notes: list[dict] = field(default_factory=list)
    created_ids: list[int] = field(default_factory=list)
    snapshots: dict = field(default_factory=dict)

    def add(self, outcome: Outcome) -> None:
        self.created += len(outcome.creates)
        self.updated += len(outcome.updates)
        self.skipped += len(outcome.skipped)
        self.flagged += outcome.flagged
        self.invalid.update(row.number for row in outcome.invalid)
        self.issues.extend(outcome.issues)
        if len(self.notes) < STORED_NOTES:
            self.notes.extend(_notes(outcome))


class _Importer:
    """Reads, checks and (when asked) writes the rows of one job, ``CHUNK`` rows at a time, so
    memory holds one chunk of leads whatever the size of the file. Every row is checked even
    after the first bad one (to report them all); writing stops at the first bad row unless
    invalid rows are skipped, and the caller rolls the transaction back."""

    def __init__(self, job: ImportJob, parsed: ParsedFile, actor: Membership | None, *, progress: bool = True):
        self.job, self.parsed, self.actor = job, parsed, actor
        self.context = _Context(job, parsed, actor)
        self.progress = progress
        self.seen: dict[tuple[str, str], _Seen] = {}
        self.updated: dict[int, int] = {}  # lead id → the row that updated it
        self.parse_issues: dict[int, list[Issue]] = {}
        for issue in parsed.issues:
            self.parse_issues.setdefault(issue.row, []).append(issue)

    def check(self, records: list[tuple[int, Any]]) -> Outcome:
        """Read, validate and resolve duplicates for ``records`` (nothing is written)."""
        rows = []
        for number, cells in records:
            row = self.context.read(number, cells)
            self.context.validate_new(row)
            rows.append(row)
        outcome = Outcome()
        self._resolve(rows, outcome)
        return outcome

    def run(self, *, write: bool) -> Summary:
        summary = Summary()
        rows, total = self.parsed.rows, len(self.parsed.rows)
        writing = write
        with bulkwrite.DeferredSearchIndex() if write else contextlib.nullcontext() as index:
            for start in range(0, total, CHUNK):
                outcome = self.check(rows[start : start + CHUNK])
                summary.add(outcome)
                writing = writing and (not summary.invalid or self.context.options.skip_invalid)
                if writing:
                    created = self.write(outcome, summary.snapshots)
                    summary.created_ids.extend(created)
                    index.add_ids(created)
                if self.progress:
                    _report(self.job.pk, "importing", min(start + CHUNK, total), total)
        listed = {number for number, _ in rows}
        for number in sorted(set(self.parse_issues) - listed):
            summary.issues.extend(self.parse_issues[number])
            summary.invalid.add(number)
        summary.issues.sort(key=lambda issue: issue.row)
        return summary

    def _resolve(self, rows: list[_Row], outcome: Outcome) -> None:
        context, policy, seen = self.context, self.context.policy, self.seen
        existing = existing_keys(context.company, context.key_fields, rows)
        targets = self._update_targets(existing) if policy == DuplicatePolicy.UPDATE else {}
        for row in rows:
            keys = [(name, getattr(row.lead, name)) for name in context.key_fields if getattr(row.lead, name)]
            match = next(((existing[k], k[0]) for k in keys if k in existing), None)
            earlier = next(((seen[k], k[0]) for k in keys if k in seen), None)
            if policy == DuplicatePolicy.UPDATE and match is not None and match[0] in targets:
                if match[0] in self.updated:
                    why = f"also matches lead #{match[0]}, updated from row {self.updated[match[0]]}"
                    self._skip(row, outcome, why)
                    continue
                context.validate_update(row, targets[match[0]])
                row.match_id, row.match_reason = match[0], KEY_LABELS.get(match[1], match[1])
            if row.errors or row.number in self.parse_issues:
                row.action = "invalid"
                outcome.invalid.append(row)
                outcome.issues.extend(self.parse_issues.get(row.number, []) + context.issues_of(row))
                continue
            if row.match_id is not None:
                self._plan_update(row, outcome)
            elif match is not None and policy in (DuplicatePolicy.SKIP, DuplicatePolicy.UPDATE):
                hidden = " (a lead you cannot see)" if policy == DuplicatePolicy.UPDATE else ""
                self._skip(row, outcome, f"same {KEY_LABELS.get(match[1], match[1])} as lead #{match[0]}{hidden}")
            elif earlier is not None and policy in (DuplicatePolicy.SKIP, DuplicatePolicy.UPDATE):
                self._skip(row, outcome, f"same {KEY_LABELS.get(earlier[1], earlier[1])} as row {earlier[0].number}")
            else:
                self._plan_create(row, outcome, keys, existing)

    def _plan_create(self, row: _Row, outcome: Outcome, keys: list, existing: dict) -> None:
        if self.context.policy == DuplicatePolicy.FLAG:
            row.flag_with = [(existing[k], k[0]) for k in keys if k in existing]
            row.flag_with += [(self.seen[k], k[0]) for k in keys if k in self.seen and k not in existing]
        row.action = "create"
        outcome.creates.append(row)
        row.seen = _Seen(row.number)
        for key in keys:
            self.seen.setdefault(key, row.seen)

    def _update_targets(self, existing: dict) -> dict[int, Lead]:
        ids = sorted(set(existing.values()))
        visible = (
            leads_visible_to(self.actor)
            if self.actor is not None
            else Lead.objects.filter(company=self.context.company, merged_into__isnull=True, is_deleted=False)
        )
        found: dict[int, Lead] = {}
        for start in range(0, len(ids), IN_CHUNK):
            # Unordered: with the list's newest-first order SQLite would walk the company's index.
            chunk = visible.filter(pk__in=ids[start : start + IN_CHUNK]).order_by()
            for lead in chunk.select_related("company", "status"):
                found[lead.pk] = lead
        return found

    def _plan_update(self, row: _Row, outcome: Outcome) -> None:
        lead = row.lead
        self.context.scorer(lead)
        if lead.status_id == row.before["status_id"]:
            lead.status_changed_at = row.before["status_changed_at"]
        row.changed = [name for name, old in row.before.items() if getattr(lead, name) != old and name != "updated_at"]
        if not row.changed:
            self._skip(row, outcome, f"lead #{row.match_id} already has these values")
            return
        row.action = "update"
        outcome.updates.append(row)
        self.updated[row.match_id] = row.number

    def _skip(self, row: _Row, outcome: Outcome, why: str) -> None:
        row.action, row.match_reason = "skip", why
        outcome.skipped.append(row)

    # -- writing ------------------------------------------------------------------------------------

    def write(self, outcome: Outcome, snapshots: dict) -> list[int]:
        """Write one checked chunk; returns the ids of the leads it created."""
        now = timezone.now()
        creates = [row.lead for row in outcome.creates]
        for lead in creates:
            self.context.scorer(lead)
            lead.created_at = lead.updated_at = lead.status_changed_at = now
            if lead.owner_id:
                lead.assigned_at = now
            if lead.converted_at is not None:
                lead.converted_at = now
        ids = self._insert_leads(creates, now)
        for row in outcome.creates:
            row.seen.pk = row.lead.pk
        snapshots.update(self._write_updates(outcome.updates, now))
        self._flag(outcome.creates)
        unowned = [lead for lead in creates if lead.owner_id is None]
        if unowned:
            if hasattr(assignment, "assign_batch"):
                assignment.assign_batch(unowned, actor=self.actor)
            else:
                for lead in unowned:
                    assignment.assign_on_create(lead, actor=self.actor)
        return ids

    def _inserters(self, now):
        if getattr(self, "_raw", None) is None:
            history_extra = history.raw_history_fields(self.actor, self.job.change_reason, at=now, kind="+")
            self._raw = (
                bulkwrite.RawInserter(Lead),
                bulkwrite.RawInserter(Lead.history.model, fixed=history_extra),
                bulkwrite.RawInserter(StatusChange),
            )
        return self._raw

    def _insert_leads(self, leads: list[Lead], now) -> list[int]:
        if not leads:
            return []
        lead_rows, history_rows, changes = self._inserters(now)
        initial, actor_id = self.context.initial, getattr(self.actor, "pk", None)
        values = [lead_rows.values_of(lead) for lead in leads]
        ids = lead_rows.insert(values, returning=True)
        status_rows = []
        for lead, pk in zip(leads, ids, strict=True):
            lead.pk = pk
            lead._state.adding, lead._state.db = False, connection.alias
            change = {"lead_id": pk, "from_status_id": None, "to_status_id": initial.pk,
                      "changed_by_id": actor_id, "changed_at": now, "note": ""}  # fmt: skip
            status_rows.append(changes.values_from(change))
            if lead.status_id != initial.pk:
                change = {**change, "from_status_id": initial.pk, "to_status_id": lead.status_id,
                          "note": getattr(lead, "_note", "")}  # fmt: skip
                status_rows.append(changes.values_from(change))
        history_of = history_rows.derived(lead_rows)
        history_rows.insert([history_of(row, pk) for row, pk in zip(values, ids, strict=True)])
        changes.insert(status_rows)
        return ids

    def _write_updates(self, rows: list[_Row], now) -> dict:
        if not rows:
            return {}
        leads = [row.lead for row in rows]
        for lead in leads:
            lead.updated_at = now
        names = {Lead._meta.get_field(attname).name for row in rows for attname in row.changed} | {"updated_at"}
        bulk_update_with_history(
            leads,
            Lead,
            sorted(names),
            batch_size=500,
            **history.bulk_history_kwargs(Lead, self.actor, self.job.change_reason),
            default_date=now,
        )
        StatusChange.objects.bulk_create(
            StatusChange(
                lead=row.lead,
                from_status_id=row.before["status_id"],
                to_status_id=row.lead.status_id,
                changed_by=self.actor,
                changed_at=now,
                note=row.note,
            )  # fmt: skip
            for row in rows
            if "status_id" in row.changed
        )
        return {str(row.lead.pk): _snapshot(row) for row in rows}

    def _flag(self, rows: list[_Row]) -> None:
        record = getattr(dedup, "candidate_record", None)
        reason_type = getattr(dedup, "Reason", None)
        if record is None or reason_type is None:
            return
        from leads.models import CandidateSource

        for row in rows:
            for other, key in row.flag_with:
                other_id = other.pk if isinstance(other, _Seen) else other
                code = key.removesuffix("_key")
                reason = reason_type(code, f"same {KEY_LABELS.get(key, code)}", 100)
                record(
                    company_id=self.context.company.pk,
                    lead_ids=(row.lead.pk, other_id),
                    reasons=[reason],
                    source=CandidateSource.CREATED_ANYWAY,
                )


def _mark_converted(lead: Lead, now) -> None:
    if is_conversion_target(lead.status):
        lead.converted_at = now
        lead.stage = Stage.CONVERTED


def _jsonable(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _snapshot(row: _Row) -> dict:
    return {
        "old": {name: _jsonable(row.before[name]) for name in row.changed},
        "new": {name: _jsonable(getattr(row.lead, name)) for name in row.changed},
    }


def ids_of_ranges(ranges: list[list[int]]) -> Iterable[int]:
    for start, end in ranges:
        yield from range(start, end + 1)


# --- public entry points -------------------------------------------------------------------------------


def _open_parsed(job: ImportJob) -> ParsedFile:
    with job.file.open("rb") as handle:
        return parse_file(handle, job.file_name, job.file_format)


@dataclass
class PreviewRow:
    number: int
    values: list[str]
    issues: list[Issue]
    action: str
    note: str


def import_preview(
    *, job: ImportJob, actor: Membership | None, mapping: list, limit: int = PREVIEW_ROWS
) -> list[PreviewRow]:
    """The first ``limit`` rows as the import would treat them (nothing is written)."""
    _check_actor(job.company, actor)
    parsed = _open_parsed(job)
    head = parsed.rows[:limit]
    numbers = {n for n, _ in head}
    head_file = ParsedFile(
        format=parsed.format, headers=parsed.headers, rows=head,
        issues=[i for i in parsed.issues if i.row in numbers], row_noun=parsed.row_noun,
    )  # fmt: skip
    preview_job = ImportJob(
        pk=job.pk, company=job.company, mapping=mapping, options=job.options, file_format=job.file_format
    )
    importer = _Importer(preview_job, head_file, actor, progress=False)
    outcome = importer.check(head)
    for number in sorted(set(importer.parse_issues) - numbers):
        outcome.issues.extend(importer.parse_issues[number])
        outcome.invalid.append(_Row(number, None, action="invalid"))
    by_number: dict[int, list[Issue]] = {}
    for issue in outcome.issues:
        by_number.setdefault(issue.row, []).append(issue)
    rows = []
    for row in sorted(outcome.creates + outcome.updates + outcome.skipped + outcome.invalid, key=lambda r: r.number):
        cells = row.cells if isinstance(row.cells, list) else []
        note = row.match_reason
        if row.action == "update":
            note = f"updates lead #{row.match_id} (same {row.match_reason})"
        elif row.flag_with:
            note = "possible duplicate: will be flagged"
        rows.append(PreviewRow(row.number, cells, by_number.get(row.number, []), row.action, note))
    return rows


def import_run(*, job_id: int) -> ImportJob:
    """The task body: validate the whole file, then write it in one transaction (or report why
    nothing was written). A job that is not queued (already run, or being run) is left alone."""
    now = timezone.now()
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=now
    )
    job = ImportJob.objects.select_related("company", "created_by__user").get(pk=job_id)
    if not claimed:
        return job
    try:
        with history.acting_from(history.RequestMeta.of_record(job)):
            _run(job)
    except FileProblem as problem:
        _finish(job, ImportStatus.FAILED, error=problem.text)
    except ValidationError as error:
        _finish(job, ImportStatus.FAILED, error=" ".join(error.messages))
    except Exception:
        logger.exception("Import job %s failed", job_id)
        _finish(job, ImportStatus.FAILED, error="The import stopped on an unexpected error; nothing was imported.")
    finally:
        cache.delete(_progress_key(job_id))
    job.refresh_from_db()
    return job


def _finish(job: ImportJob, status: str, **fields) -> None:
    fields.update(status=status, finished_at=timezone.now())
    for name, value in fields.items():
        setattr(job, name, value)
    ImportJob.objects.filter(pk=job.pk).update(**fields)


def _run(job: ImportJob) -> None:
    parsed = _open_parsed(job)
    options = ImportOptions.from_dict(job.options)
    importer = _Importer(job, parsed, job.created_by)
    total = len(parsed.rows)
    _report(job.pk, "importing", 0, total)
    with bulkwrite.sqlite_cache_for(_write_cache_kib()), transaction.atomic():
        summary = importer.run(write=not options.dry_run)
        counts = {
            "total_rows": total + len({i.row for i in parsed.issues} - {n for n, _ in parsed.rows}),
            "processed_rows": total,
            "created_count": summary.created,
            "updated_count": summary.updated,
            "skipped_count": summary.skipped,
            "flagged_count": summary.flagged,
            "invalid_count": len(summary.invalid),
            "errors": [issue.as_dict() for issue in summary.issues[:STORED_ERRORS]],
            "notes": sorted(summary.notes, key=lambda n: n["row"])[:STORED_NOTES],
        }
        failed = summary.invalid and not options.skip_invalid
        if failed or options.dry_run:
            transaction.set_rollback(True)
        else:
            written = {
                "created_ranges": bulkwrite.id_ranges(summary.created_ids),
                "updated_snapshots": summary.snapshots,
            }
            _finish(job, ImportStatus.SUCCEEDED, **counts, **written)
    if summary.invalid:
        _store_errors_file(job, parsed, summary)
        ImportJob.objects.filter(pk=job.pk).update(errors_file=job.errors_file.name)
    if failed:
        nothing = {"created_count": 0, "updated_count": 0, "skipped_count": 0, "flagged_count": 0}
        _finish(job, ImportStatus.FAILED, error=_failure_text(len(summary.invalid), parsed), **counts | nothing)
    elif options.dry_run:
        _finish(job, ImportStatus.CHECKED, **counts)


def _write_cache_kib() -> int:
    """Page cache for an import: the database's size up to ``WRITE_CACHE_KIB``, so the index pages
    the new rows land in are mostly read once instead of again and again."""
    if connection.vendor != "sqlite":
        return 0
    with connection.cursor() as cursor:
        pages = cursor.execute("PRAGMA page_count").fetchone()[0]
        page_size = cursor.execute("PRAGMA page_size").fetchone()[0]
    return min(pages * page_size // 1024, WRITE_CACHE_KIB)


def _failure_text(rows: int, parsed: ParsedFile) -> str:
    noun = parsed.row_noun + ("s" if rows != 1 else "")
    return f"{rows} {noun} with errors: nothing was imported. Fix them (or skip invalid rows) and import again."


def _notes(outcome: Outcome) -> list[dict]:
    notes = [{"row": r.number, "action": "skipped", "note": r.match_reason} for r in outcome.skipped]
    notes += [
        {"row": r.number, "action": "updated", "note": f"lead #{r.match_id} (same {r.match_reason})"}
        for r in outcome.updates
    ]
    notes += [
        {"row": r.number, "action": "flagged", "note": "possible duplicate"} for r in outcome.creates if r.flag_with
    ]
    return notes


def _store_errors_file(job: ImportJob, parsed: ParsedFile, summary: Summary) -> None:
    """The invalid rows as they were, with their errors, to fix and import again."""
    from leads.exporting import neutralise

    messages: dict[int, list[str]] = {}
    for issue in summary.issues:
        prefix = f"{issue.column}: " if issue.column else ""
        messages.setdefault(issue.row, []).append(prefix + issue.message)
    invalid = summary.invalid
    stem = job.file_name.rsplit(".", 1)[0]
    if parsed.format == ImportFormat.JSONL:
        with job.file.open("rb") as handle:
            lines = handle.read().decode(parsed.encoding or "utf-8").splitlines()
        body = "\n".join(lines[n - 1] for n in sorted(invalid) if n - 1 < len(lines)) + "\n"
        job.errors_file.save(f"{_safe_name(stem)}-errors.jsonl", ContentFile(body.encode()), save=False)
        return
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*(neutralise(h) for h in parsed.headers), ERRORS_COLUMN, SOURCE_ROW_COLUMN])
    for number, cells in parsed.rows:
        if number in invalid:
            writer.writerow([*(neutralise(str(c)) for c in cells), "; ".join(messages.get(number, [])), number])
    for number in sorted(invalid - {n for n, _ in parsed.rows}):
        writer.writerow([""] * len(parsed.headers) + ["; ".join(messages.get(number, [])), number])
    job.errors_file.save(
        f"{_safe_name(stem)}-errors.csv", ContentFile(("\ufeff" + out.getvalue()).encode("utf-8")), save=False
    )


# --- revert --------------------------------------------------------------------------------------------


@transaction.atomic
def import_revert(*, job: ImportJob, actor: Membership | None) -> ImportJob:
    """Undo a finished import: its created leads are deleted (unless someone worked on them since:
    those are kept and listed) and the fields it changed on existing leads get their old values
    back (a field changed again since is left as it is). History rows say
    ``leads.lead.import_reverted:<job id>``."""
    if actor is not None and (actor.company_id != job.company_id or actor.role == Role.SDR):
        raise PermissionDenied
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if not job.can_revert:
        raise ValidationError({"__all__": ["Only a finished import that created or changed leads can be reverted."]})
    reason = f"leads.lead.import_reverted:{job.pk}"
    user = history.history_user(actor)
    deleted, kept = _revert_created(job, reason, user)
    restored, conflicts = _revert_updated(job, reason, user, actor)
    job.status, job.reverted_at, job.reverted_by = ImportStatus.REVERTED, timezone.now(), actor
    job.revert_result = {"deleted": deleted, "kept": kept[:STORED_NOTES], "kept_count": len(kept),
                         "restored": restored, "conflicts": conflicts}  # fmt: skip
    job.save(update_fields=["status", "reverted_at", "reverted_by", "revert_result"])
    return job


def _revert_created(job: ImportJob, reason: str, user) -> tuple[int, list[int]]:
    ids = list(ids_of_ranges(job.created_ranges))
    deleted, kept = 0, []
    since = job.finished_at
    for start in range(0, len(ids), IN_CHUNK):
        leads = list(Lead.objects.filter(company=job.company, pk__in=ids[start : start + IN_CHUNK]).order_by())
        doomed = []
        for lead in leads:
            touched = (lead.updated_at and lead.updated_at > since) or (
                lead.last_activity_at and lead.last_activity_at > since
            )
            if touched or lead.merged_into_id:
                kept.append(lead.pk)
                continue
            lead._change_reason, lead._history_user = reason, user
            doomed.append(lead)
        if doomed:
            collector = Collector(using=connection.alias)
            collector.collect(doomed)
            collector.delete()
            deleted += len(doomed)
    return deleted, kept


def _revert_updated(job: ImportJob, reason: str, user, actor) -> tuple[int, int]:
    snapshots = job.updated_snapshots or {}
    if not snapshots:
        return 0, 0
    leads = {
        str(lead.pk): lead
        for lead in Lead.objects.filter(company=job.company, pk__in=[int(k) for k in snapshots]).order_by()
    }
    changed_leads, fields, conflicts, status_moves = [], set(), 0, []
    for pk, snapshot in snapshots.items():
        lead = leads.get(pk)
        if lead is None:
            continue
        touched = False
        for attname, new in snapshot["new"].items():
            model_field = Lead._meta.get_field(attname)
            if _python(model_field, getattr(lead, attname)) != _python(model_field, new):
                conflicts += 1
                continue
            old = _python(model_field, snapshot["old"][attname])
            if attname == "status_id" and old != lead.status_id:
                status_moves.append((lead, lead.status_id, old))
            setattr(lead, attname, old)
            fields.add(model_field.name)
            touched = True
        if touched:
            changed_leads.append(lead)
    if changed_leads:
        bulk_update_with_history(
            changed_leads, Lead, sorted(fields), batch_size=500, **history.bulk_history_kwargs(Lead, actor, reason)
        )
        StatusChange.objects.bulk_create(
            StatusChange(lead=lead, from_status_id=old, to_status_id=new, changed_by=actor, note="Import reverted")
            for lead, old, new in status_moves
        )
    return len(changed_leads), conflicts


def _python(model_field, value):
    if value is None:
        return None
    target = model_field.target_field if model_field.is_relation else model_field
    if target.get_internal_type() == "JSONField":
        return value
    return target.to_python(value)
