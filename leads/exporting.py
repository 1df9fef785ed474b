"""Exports of leads: the current filter or a selection, with the caller's visibility, as CSV, XLSX or
JSON; export templates; scheduled exports and the runs that store their files.

Memory stays flat however many leads are exported: rows are read with ``.iterator(chunk_size=…)``
as tuples of only the columns the template needs, CSV and JSON are streamed in small chunks as they
are produced, and XLSX goes through openpyxl's write-only workbook into a temporary file.

**Formula neutralisation.** A text value that starts with ``=``, ``+``, ``-``, ``@``, TAB or CR is
written with one leading apostrophe (``'+44 20 7946 0000``) in CSV and XLSX, so no spreadsheet
runs it as a formula (and XLSX text cells are always written as text, never as formulas). A value
that itself starts with an apostrophe gets one more, so the rule is reversible. The import removes
exactly one apostrophe in front of those characters (``leads.importing.unneutralise``), so every
value survives an export → import round trip. Numbers, dates and booleans are written as what they are;
JSON is not a spreadsheet format and is written unchanged.

Times are written in UTC (``YYYY-MM-DD HH:MM:SS``); booleans as ``yes``/``no``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from croniter import croniter
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, QuerySet, TextField, Value, When
from django.db.models.functions import Cast, Concat, Ord, Substr
from django.db.models.lookups import In
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from crm.history import record
from crm.http import absolute_url
from crm.models import Activity, ActivityKind, Company, Membership, Role
from crm.queries import team_member_ids
from crm.tasks import enqueue
from leads import bulkwrite, listing
from leads.filters import filter_leads
from leads.models import (
    CustomField,
    ExportFormat,
    ExportRun,
    ExportRunStatus,
    ExportTemplate,
    Lead,
    ScheduledExport,
    ScheduleFrequency,
)
from leads.queries import leads_visible_to

CHUNK = 2000
READ_CACHE_KIB = 8 * 1024  # SQLite page cache while an export reads (bulkwrite.sqlite_cache_at_most)
BUFFER_BYTES = 64 * 1024
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
ESCAPED = (*FORMULA_TRIGGERS, "'")  # a leading apostrophe is doubled, so the import's undo is exact
MAX_SELECTION = 10_000
EXPORT_PARAMS = {"format", "template", "ids"}
CONTENT_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ExportFormat.JSON: "application/json",
}
_ILLEGAL_XLSX = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


def neutralise(text: str) -> str:
    """A text cell a spreadsheet would run as a formula gets one leading apostrophe (and so does
    one that already starts with an apostrophe, so the import can undo it exactly)."""
    return "'" + text if text and text[0] in ESCAPED else text


# --- columns ------------------------------------------------------------------------------------------

# key → (label, ORM path read for it). The labels are the import's header names, so an export
# imports back without remapping.
FIXED_COLUMNS: dict[str, tuple[str, str]] = {
    "id": ("ID", "id"),
    "first_name": ("First name", "first_name"),
    "last_name": ("Last name", "last_name"),
    "email": ("Email", "email"),
    "phone": ("Phone", "phone"),
    "country": ("Country", "country"),
    "job_title": ("Job title", "job_title"),
    "company_name": ("Company", "company_name"),
    "profile_url": ("Profile URL", "profile_url"),
    "lead_source": ("Lead source", "lead_source"),
    "campaign": ("Campaign", "campaign__name"),
    "medium": ("Medium", "medium"),
    "term": ("Term", "term"),
    "owner": ("Owner", "owner__user__email"),
    "owner_name": ("Owner name", "owner__user__full_name"),
    "status": ("Status", "status__name"),
    "stage": ("Stage", "stage"),
    "score": ("Score", "score"),
    "priority": ("Priority", "priority"),
    "interest_product": ("Interest product", "interest_product"),
    "budget_range": ("Budget range", "budget_range"),
    "authority_level": ("Authority level", "authority_level"),
    "need": ("Need", "need"),
    "timeline": ("Timeline", "timeline"),
    "gdpr_consent": ("GDPR consent", "gdpr_consent"),
    "dnd": ("Do not disturb", "dnd"),
    "opt_in_date": ("Opt-in date", "opt_in_date"),
    "spam_score": ("Spam score", "spam_score"),
    "validation_status": ("Validation status", "validation_status"),
    "created_at": ("Created", "created_at"),
    "updated_at": ("Updated", "updated_at"),
    "assigned_at": ("Assigned at", "assigned_at"),
    "last_activity_at": ("Last activity", "last_activity_at"),
    "converted_at": ("Converted at", "converted_at"),
}
DEFAULT_KEYS = (
    "id", "first_name", "last_name", "email", "phone", "country", "job_title", "company_name", "profile_url",
    "lead_source", "campaign", "medium", "term", "owner", "status", "stage", "score", "priority",
    "interest_product", "budget_range", "authority_level", "need", "timeline", "gdpr_consent", "dnd",
    "opt_in_date", "created_at", "updated_at",
)  # fmt: skip
CUSTOM, PROFILE = "custom:", "profile:"


@dataclass(frozen=True)
class Column:
    key: str
    label: str

    @property
    def path(self) -> str:
        if self.key.startswith(CUSTOM):
            return "custom_fields"
        if self.key.startswith(PROFILE):
            return "profile_data"
        return FIXED_COLUMNS[self.key][1]


def column_choices(company: Company) -> list[tuple[str, str]]:
    """Every column an export can have in ``company``: (key, default label)."""
    choices = [(key, label) for key, (label, _) in FIXED_COLUMNS.items()]
    choices += [(f"{CUSTOM}{d.key}", d.label) for d in CustomField.objects.filter(company=company, is_active=True)]
    return choices


def default_columns(company: Company) -> list[Column]:
    custom = [Column(f"{CUSTOM}{d.key}", d.label) for d in CustomField.objects.filter(company=company, is_active=True)]
    return [Column(key, FIXED_COLUMNS[key][0]) for key in DEFAULT_KEYS] + custom


def columns_of(template: ExportTemplate | None, company: Company) -> list[Column]:
    if template is None:
        return default_columns(company)
    return [Column(c["field"], c["label"]) for c in template.columns]


def clean_columns(company: Company, columns) -> list[dict]:
    """Validate a template's columns: known fields (or ``profile:<attribute>``), labels given and
    unique. Returns them normalised; raises ``ValidationError`` under ``columns``."""
    if not isinstance(columns, list) or not columns:
        raise ValidationError({"columns": ["Choose at least one column."]})
    known = {key for key, _ in column_choices(company)}
    cleaned, errors, labels = [], [], set()
    for position, column in enumerate(columns, start=1):
        if not isinstance(column, dict):
            errors.append(f"Column {position}: give a field and a label.")
            continue
        key = str(column.get("field", "")).strip()
        label = str(column.get("label", "")).strip()
        if key.startswith(PROFILE) and re.fullmatch(r"[\w.\- ]{1,100}", key[len(PROFILE) :]):
            label = label or f"Profile: {key[len(PROFILE) :]}"
        elif key not in known:
            errors.append(f"Column {position}: “{key}” is not a lead field.")
            continue
        label = label or dict(column_choices(company)).get(key, key)
        if len(label) > 100:
            errors.append(f"Column {position}: keep the label under 100 characters.")
        elif label.casefold() in labels:
            errors.append(f"Column {position}: the label “{label}” is used twice.")
        labels.add(label.casefold())
        cleaned.append({"field": key, "label": label})
    if errors:
        raise ValidationError({"columns": errors})
    return cleaned


class RowReader:
    """Reads the columns' values from a queryset, as tuples of only the database columns needed.

    ``rows`` yields typed values (XLSX, JSON); ``text_batches`` yields finished CSV cells."""

    def __init__(self, columns: list[Column]):
        self.columns = columns
        self.paths: list[str] = []
        self.getters = []
        for column in columns:
            if column.path not in self.paths:
                self.paths.append(column.path)
            index = self.paths.index(column.path)
            if column.key.startswith((CUSTOM, PROFILE)):
                name = column.key.split(":", 1)[1]
                self.getters.append(_json_getter(index, name))
            else:
                self.getters.append(_plain_getter(index))

    @property
    def headers(self) -> list[str]:
        return [column.label for column in self.columns]

    def rows(self, queryset: QuerySet[Lead]) -> Iterator[list]:
        getters = self.getters
        with bulkwrite.sqlite_cache_at_most(READ_CACHE_KIB):
            for values in queryset.values_list(*self.paths).iterator(chunk_size=CHUNK):
                yield [values[get] if type(get) is int else get(values) for get in getters]

    def text_batches(self, queryset: QuerySet[Lead]) -> Iterator[list]:
        """Finished CSV cells, up to ``CHUNK`` rows at a time. The database formats them (see
        ``_csv_expression``: neutralised text, yes/no, UTC datetimes to the second), so rows come
        out of the cursor ready for ``csv.writer.writerows`` and no Python runs per cell; only
        custom-field and profile columns, and any field type without a SQL form, are finished in
        Python (``text_cell``)."""
        annotations, finish = {}, []
        for position, column in enumerate(self.columns):
            expression = None if column.key.startswith((CUSTOM, PROFILE)) else _csv_expression(column.path)
            if expression is None:
                expression = F(column.path)
                finish.append((position, _cell_finisher(column)))
            annotations[f"_csv_{position}"] = expression
        rows = queryset.annotate(**annotations).values_list(*annotations).iterator(chunk_size=CHUNK)
        with bulkwrite.sqlite_cache_at_most(READ_CACHE_KIB):
            while batch := list(islice(rows, CHUNK)):
                if finish:
                    batch = [_finish_row(values, finish) for values in batch]
                yield batch


def _cell_finisher(column: Column):
    if column.key.startswith((CUSTOM, PROFILE)):
        name = column.key.split(":", 1)[1]
        return lambda document: text_cell(document.get(name) if isinstance(document, dict) else None)
    return text_cell


def _finish_row(values: tuple, finish: list) -> list:
    row = list(values)
    for position, cell in finish:
        row[position] = cell(row[position])
    return row


_ESCAPED_CODES = [ord(character) for character in ESCAPED]


def _neutralised(expression):
    """SQL of ``neutralise``: one apostrophe in front of a formula's first character (compared as
    a code point: SQLite's ``unicode()``, PostgreSQL's ``ascii()``, cheaper than a substring)."""
    return Case(
        When(In(Ord(expression), _ESCAPED_CODES), then=Concat(Value("'"), expression)),
        default=expression,
        output_field=TextField(),
    )


_NUMBER_TYPES = {
    "AutoField", "BigAutoField", "IntegerField", "BigIntegerField", "SmallIntegerField", "PositiveIntegerField",
    "PositiveSmallIntegerField", "PositiveBigIntegerField",
}  # fmt: skip


def _csv_expression(path: str):
    """The CSV cell of ``path`` computed by the database exactly as ``text_cell`` would write it,
    or None when Python has to (NULL becomes an empty cell either way)."""
    kind = _model_field(path).get_internal_type()
    if kind in _TEXT_TYPES:
        return _neutralised(F(path))
    if kind == "BooleanField":
        return Case(
            When(**{path: True}, then=Value("yes")),
            When(**{path: False}, then=Value("no")),
            default=Value(""),
            output_field=TextField(),
        )
    if kind == "DateTimeField":
        # UTC in both databases (SQLite stores it so; Django runs PostgreSQL sessions in UTC).
        return Substr(Cast(path, output_field=TextField()), 1, 19)
    if kind in _NUMBER_TYPES:
        return F(path)
    return None


def _model_field(path: str):
    model, field = Lead, None
    for part in path.split("__"):
        field = model._meta.get_field(part)
        model = field.related_model if field.is_relation else model
    return field.target_field if field.is_relation else field


_TEXT_TYPES = {"CharField", "TextField", "EmailField", "URLField", "SlugField"}


def _plain_getter(index: int):
    return index


def _json_getter(index: int, name: str):
    def get(values):
        data = values[index]
        return data.get(name) if isinstance(data, dict) else None

    return get


# --- which leads ----------------------------------------------------------------------------------------


def export_queryset(membership: Membership, params, *, ids: Iterable | None = None) -> QuerySet[Lead]:
    """Exactly the leads the lead list shows ``membership`` for ``params`` (filters, sort and
    saved or default view), optionally narrowed to a selection of ids; never more than they see.
    Invalid parameters raise ``ValidationError`` (``FilterError``) instead of widening."""
    query = QueryDict(mutable=True)
    for name in params:
        if name not in EXPORT_PARAMS:
            values = params.getlist(name) if hasattr(params, "getlist") else params[name]
            query.setlist(name, list(values) if isinstance(values, list | tuple) else [values])
    filters, sort_spec, _view, view_errors = listing.resolve_view(query, membership)
    if view_errors:
        raise ValidationError(view_errors)
    leads, _ = filter_leads(leads_visible_to(membership), filters or None, membership=membership)
    leads = listing.sorted_leads(leads, listing.parse_sort(sort_spec))
    if ids is not None:
        ids = parse_ids(ids)
        leads = leads.filter(pk__in=ids)
    return leads


def parse_ids(ids) -> list[int]:
    if isinstance(ids, str):
        ids = [part for part in re.split(r"[\s,]+", ids) if part]
    try:
        parsed = sorted({int(pk) for pk in ids})
    except (TypeError, ValueError):
        raise ValidationError({"ids": ["Give lead ids as whole numbers, separated by commas."]}) from None
    if len(parsed) > MAX_SELECTION:
        raise ValidationError({"ids": [f"Select at most {MAX_SELECTION:,} leads, or export the filter instead."]})
    return parsed


def template_for(company: Company, template) -> ExportTemplate | None:
    """The company's template named by id or name ("" → the default columns)."""
    if template in (None, ""):
        return None
    if isinstance(template, ExportTemplate):
        found = template if template.company_id == company.pk else None
    else:
        templates = ExportTemplate.objects.filter(company=company)
        text = str(template).strip()
        found = templates.filter(pk=int(text)).first() if text.isdecimal() else None
        found = found or templates.filter(name__iexact=text).first()
    if found is None:
        raise ValidationError({"template": [f"No export template “{template}” in this company."]})
    return found


def check_format(value: str) -> str:
    value = (value or ExportFormat.CSV).lower()
    if value not in ExportFormat.values:
        raise ValidationError({"format": [f"Choose one of {', '.join(ExportFormat.values)}."]})
    return value


# --- writers --------------------------------------------------------------------------------------------


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC) if value.tzinfo is not None and value.utcoffset() else value


def text_cell(value) -> str:
    """A value as CSV text (neutralised)."""
    if value is None:
        return ""
    if value is True or value is False:
        return "yes" if value else "no"
    if isinstance(value, str):
        return neutralise(value) if value[:1] in ESCAPED else value
    if isinstance(value, dt.datetime):
        return _utc(value).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, int | float | dt.date):
        return str(value)
    return neutralise(json.dumps(value, ensure_ascii=False))


def xlsx_cell(value):
    """A value as an XLSX cell: empty text is an empty cell (not a text cell holding nothing),
    text neutralised and without the control characters XML cannot hold."""
    if value is None or value == "":
        return None
    if value is True or value is False:
        return "yes" if value else "no"
    if isinstance(value, str):
        return neutralise(_ILLEGAL_XLSX.sub("", value) if _ILLEGAL_XLSX.search(value) else value)
    if isinstance(value, dt.datetime):
        return _utc(value).replace(tzinfo=None)
    if isinstance(value, int | float | dt.date):
        return value
    return neutralise(json.dumps(value, ensure_ascii=False))


def json_value(value):
    if isinstance(value, dt.datetime):
        return _utc(value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


class Counter:
    """Counts the rows that went through, for the run's record."""

    def __init__(self, rows: Iterable[list] = ()):
        self.rows, self.count = rows, 0

    def __iter__(self):
        for row in self.rows:
            self.count += 1
            yield row


def csv_chunks(headers: list[str], batches: Iterable[list], counter: Counter) -> Iterator[bytes]:
    """UTF-8 CSV with a byte-order mark (so Excel reads accents right), in chunks of about 64 KB,
    from batches of finished rows (``RowReader.text_batches``); ``counter`` counts the rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([text_cell(h) for h in headers])
    yield ("\ufeff" + buffer.getvalue()).encode()
    buffer.seek(0)
    buffer.truncate()
    for batch in batches:
        counter.count += len(batch)
        writer.writerows(batch)
        if buffer.tell() > BUFFER_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def json_chunks(headers: list[str], rows: Iterable[list]) -> Iterator[bytes]:
    """A JSON list of objects keyed by the column labels, streamed."""
    parts, size, first = ["["], 1, True
    for row in rows:
        text = json.dumps(dict(zip(headers, map(json_value, row), strict=True)), ensure_ascii=False, default=str)
        parts.append(("\n" if first else ",\n") + text)
        size += len(text) + 2
        first = False
        if size > BUFFER_BYTES:
            yield "".join(parts).encode()
            parts, size = [], 0
    parts.append("\n]\n")
    yield "".join(parts).encode()


def write_xlsx(headers: list[str], rows: Iterable[list], path: str) -> None:
    """A write-only workbook (rows go to disk as they come), bold header, frozen first row."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Leads")
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header_cells = []
    for header in headers:
        cell = WriteOnlyCell(sheet, value=xlsx_cell(header))
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    for row in rows:
        sheet.append([xlsx_cell(value) for value in row])
    workbook.save(path)


def file_name(company: Company, file_format: str, *, stamp: dt.datetime | None = None) -> str:
    stamp = stamp or timezone.now()
    return f"leads-{company.slug}-{stamp:%Y%m%d-%H%M%S}.{file_format}"


class TemporaryExport:
    """A file under the temp directory that deletes itself when closed (XLSX downloads)."""

    def __init__(self, suffix: str):
        handle, self.path = tempfile.mkstemp(suffix=suffix, prefix="crm-export-")
        os.close(handle)

    def open(self):
        path = self.path

        class _SelfDeleting(io.FileIO):
            def close(self):
                super().close()
                if os.path.exists(path):
                    os.unlink(path)

        return _SelfDeleting(path, "rb")

    def discard(self) -> None:
        if os.path.exists(self.path):
            os.unlink(self.path)


def write_file(file_format: str, reader: RowReader, queryset: QuerySet[Lead], path: str) -> int:
    """Write the export to ``path``; returns the number of leads written."""
    if file_format == ExportFormat.XLSX:
        counter = Counter(reader.rows(queryset))
        write_xlsx(reader.headers, counter, path)
        return counter.count
    if file_format == ExportFormat.CSV:
        counter = Counter()
        chunks = csv_chunks(reader.headers, reader.text_batches(queryset), counter)
    else:
        counter = Counter(reader.rows(queryset))
        chunks = json_chunks(reader.headers, counter)
    with open(path, "wb") as out:
        for chunk in chunks:
            out.write(chunk)
    return counter.count


# --- runs and the activity log ------------------------------------------------------------------------


def _record_activity(run: ExportRun, actor: Membership | None, subject: str) -> None:
    Activity.objects.create(
        company_id=run.company_id,
        content_type=ContentType.objects.get_for_model(ExportRun),
        object_id=run.pk,
        kind=ActivityKind.SYSTEM,
        event="leads.leads.exported",
        subject=subject[:200],
        owner=actor,
        data={"format": run.format, "params": run.params, "rows": run.row_count, "run": run.pk},
    )


def _params_dict(params) -> dict:
    if hasattr(params, "lists"):
        return {name: values for name, values in params.lists() if name != "csrfmiddlewaretoken"}
    return dict(params or {})


def export_run_start(
    *,
    membership: Membership,
    params,
    file_format: str,
    template: ExportTemplate | None = None,
    ids=None,
    streamed: bool,
    scheduled: ScheduledExport | None = None,
    due_at: dt.datetime | None = None,
) -> tuple[ExportRun, QuerySet[Lead], list[Column]]:
    """Check everything an export needs (format, filters, template, selection) and record the run
    and its activity-log entry. Bad input raises ``ValidationError``; nothing is recorded then."""
    if "leads.export" not in _permissions(membership):
        raise PermissionDenied
    file_format = check_format(file_format)
    queryset = export_queryset(membership, params, ids=ids)
    columns = columns_of(template, membership.company)
    stored = _params_dict(params)
    if ids is not None:
        stored["ids"] = parse_ids(ids)
    run = ExportRun.objects.create(
        company_id=membership.company_id,
        created_by=membership,
        scheduled_export=scheduled,
        template=template,
        format=file_format,
        params=stored,
        status=ExportRunStatus.STREAMED if streamed else ExportRunStatus.QUEUED,
        file_name=file_name(membership.company, file_format),
        due_at=due_at,
    )
    return run, queryset, columns


def _permissions(membership: Membership) -> frozenset[str]:
    from crm.permissions import permissions_for

    return permissions_for(membership.role)


def stream_export(run: ExportRun, queryset: QuerySet[Lead], columns: list[Column]) -> Iterator[bytes]:
    """CSV or JSON bytes of the run, as they are produced; the row count is recorded at the end."""
    reader = RowReader(columns)
    if run.format == ExportFormat.CSV:
        counter = Counter()
        yield from csv_chunks(reader.headers, reader.text_batches(queryset), counter)
    else:
        counter = Counter(reader.rows(queryset))
        yield from json_chunks(reader.headers, counter)
    finish_run(run, counter.count, status=run.status)


def xlsx_export(run: ExportRun, queryset: QuerySet[Lead], columns: list[Column]) -> TemporaryExport:
    reader = RowReader(columns)
    counter = Counter(reader.rows(queryset))
    temporary = TemporaryExport(".xlsx")
    try:
        write_xlsx(reader.headers, counter, temporary.path)
    except BaseException:
        temporary.discard()
        raise
    finish_run(run, counter.count, status=run.status, size=os.path.getsize(temporary.path))
    return temporary


def finish_run(run: ExportRun, rows: int, *, status: str, size: int = 0, error: str = "") -> None:
    run.row_count, run.status, run.finished_at, run.error = rows, status, timezone.now(), error
    run.file_size = size or run.file_size
    run.save(update_fields=["row_count", "status", "finished_at", "error", "file_size"])
    who = "Scheduled export" if run.scheduled_export_id else "Export"
    if status in (ExportRunStatus.SUCCEEDED, ExportRunStatus.STREAMED):
        _record_activity(run, run.created_by, f"{who}: {rows:,} leads as {run.format.upper()}")
    else:
        _record_activity(run, run.created_by, f"{who} failed: {error}"[:200])


def export_run_store(*, run_id: int) -> ExportRun:
    """Write a queued run's file to storage (scheduled and API exports). Runs once per run."""
    claimed = ExportRun.objects.filter(pk=run_id, status=ExportRunStatus.QUEUED).update(status=ExportRunStatus.RUNNING)
    run = ExportRun.objects.select_related("company", "created_by__company", "template").get(pk=run_id)
    if not claimed:
        return run
    temporary = TemporaryExport(f".{run.format}")
    try:
        membership = run.created_by
        if membership is None or not membership.is_active:
            raise ValidationError("The member who set up this export has left the company.")
        ids = run.params.get("ids")
        params = {k: v for k, v in run.params.items() if k != "ids"}
        queryset = export_queryset(membership, querydict_of(params), ids=ids)
        reader = RowReader(columns_of(run.template, run.company))
        rows = write_file(run.format, reader, queryset, temporary.path)
        with open(temporary.path, "rb") as handle:
            run.file.save(run.file_name, File(handle), save=False)
        run.save(update_fields=["file"])
        finish_run(run, rows, status=ExportRunStatus.SUCCEEDED, size=os.path.getsize(temporary.path))
    except ValidationError as error:
        finish_run(run, 0, status=ExportRunStatus.FAILED, error=" ".join(error.messages))
    except Exception as error:  # noqa: BLE001 — recorded on the run, shown on the exports page
        finish_run(run, 0, status=ExportRunStatus.FAILED, error=f"Unexpected error: {error.__class__.__name__}.")
    finally:
        temporary.discard()
    return run


def querydict_of(params: dict) -> QueryDict:
    query = QueryDict(mutable=True)
    for name, values in params.items():
        query.setlist(name, [str(v) for v in (values if isinstance(values, list) else [values])])
    return query


def export_runs_visible_to(membership: Membership) -> QuerySet[ExportRun]:
    """Runs whose files hold only leads ``membership`` may see: an admin sees every run of the
    company; others the runs made by themselves or by members of their team."""
    runs = ExportRun.objects.filter(company_id=membership.company_id)
    if membership.role == Role.ADMIN:
        return runs
    return runs.filter(created_by_id__in=team_member_ids(membership))


# --- templates ---------------------------------------------------------------------------------------


def _clean_template(template: ExportTemplate, data: dict) -> None:
    errors = {}
    name = str(data.get("name", template.name) or "").strip()
    if not name:
        errors["name"] = ["Give the template a name."]
    elif len(name) > 100:
        errors["name"] = ["Keep the name under 100 characters."]
    elif ExportTemplate.objects.filter(company_id=template.company_id, name__iexact=name).exclude(pk=template.pk):
        errors["name"] = [f"There is already a template called “{name}”."]
    try:
        template.columns = clean_columns(template.company, data.get("columns", template.columns))
    except ValidationError as error:
        errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    template.name = name


def _require_export(actor: Membership, company: Company) -> None:
    if actor.company_id != company.pk or "leads.export" not in _permissions(actor):
        raise PermissionDenied


@transaction.atomic
def export_template_create(*, actor: Membership, data: dict) -> ExportTemplate:
    _require_export(actor, actor.company)
    template = ExportTemplate(company=actor.company, created_by=actor)
    _clean_template(template, data)
    record(template, actor, "leads.export_template.created")
    template.save()
    return template


@transaction.atomic
def export_template_update(*, actor: Membership, template: ExportTemplate, data: dict) -> ExportTemplate:
    _require_export(actor, template.company)
    _clean_template(template, data)
    record(template, actor, "leads.export_template.changed")
    template.save()
    return template


@transaction.atomic
def export_template_delete(*, actor: Membership, template: ExportTemplate) -> None:
    _require_export(actor, template.company)
    record(template, actor, "leads.export_template.deleted")
    template.delete()


# --- scheduled exports -------------------------------------------------------------------------------


def enqueue_export(run_id: int) -> None:
    enqueue("leads.tasks_transfer.run_export", run_id, name=f"export-{run_id}")


SCHEDULE_FUNC = "leads.tasks_transfer.run_scheduled_export"


def _clean_recipients(value) -> list[str]:
    if isinstance(value, str):
        value = [part for part in re.split(r"[\s,;]+", value) if part]
    recipients = []
    for address in value or []:
        address = str(address).strip().lower()
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError({"recipients": [f"“{address}” is not a valid email address."]}) from None
        if address not in recipients:
            recipients.append(address)
    if len(recipients) > 20:
        raise ValidationError({"recipients": ["Send to at most 20 addresses."]})
    return recipients


def _clean_schedule(schedule: ScheduledExport, actor: Membership, data: dict) -> None:
    errors: dict[str, list[str]] = {}
    name = str(data.get("name", schedule.name) or "").strip()
    if not name:
        errors["name"] = ["Give the scheduled export a name."]
    elif ScheduledExport.objects.filter(company_id=actor.company_id, name__iexact=name).exclude(pk=schedule.pk):
        errors["name"] = [f"There is already a scheduled export called “{name}”."]
    schedule.name = name[:100]
    saved = data.get("saved_filter", schedule.saved_filter)
    if saved not in (None, ""):
        found = listing.saved_filters_visible_to(actor).filter(pk=getattr(saved, "pk", saved)).first()
        if found is None:
            errors["saved_filter"] = ["Choose one of your saved views."]
        schedule.saved_filter = found
    else:
        schedule.saved_filter = None
    template = data.get("template", schedule.template)
    try:
        schedule.template = template_for(actor.company, template)
    except ValidationError as error:
        errors.update(error.message_dict)
    try:
        schedule.format = check_format(data.get("format", schedule.format))
    except ValidationError as error:
        errors.update(error.message_dict)
    _clean_timing(schedule, data, errors)
    try:
        schedule.recipients = _clean_recipients(data.get("recipients", schedule.recipients))
    except ValidationError as error:
        errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)


def _clean_timing(schedule: ScheduledExport, data: dict, errors: dict) -> None:
    frequency = data.get("frequency", schedule.frequency)
    if frequency not in ScheduleFrequency.values:
        errors["frequency"] = [f"Choose one of {', '.join(ScheduleFrequency.values)}."]
        return
    schedule.frequency = frequency
    schedule.time_of_day = data.get("time_of_day", schedule.time_of_day) or dt.time(6, 0)
    if isinstance(schedule.time_of_day, str):
        try:
            schedule.time_of_day = dt.time.fromisoformat(schedule.time_of_day)
        except ValueError:
            errors["time_of_day"] = ["Enter a time as HH:MM."]
    weekday = data.get("weekday", schedule.weekday)
    if frequency == ScheduleFrequency.WEEKLY and (not str(weekday).isdecimal() or not 0 <= int(weekday) <= 6):
        errors["weekday"] = ["Choose a day of the week."]
    else:
        schedule.weekday = int(weekday or 0)
    schedule.cron = str(data.get("cron", schedule.cron) or "").strip()
    if frequency == ScheduleFrequency.CRON:
        problem = _cron_problem(schedule.cron)
        if problem:
            errors["cron"] = [problem]


def _cron_problem(expression: str) -> str:
    if len(expression.split()) != 5:
        return "Give five fields: minute hour day-of-month month day-of-week (e.g. “0 7 * * 1-5”)."
    try:
        croniter.expand(expression)
    except (ValueError, KeyError):
        return f"“{expression}” is not a valid cron expression."
    return ""


def next_run_of(schedule: ScheduledExport, now: dt.datetime | None = None) -> dt.datetime:
    """The first slot after ``now`` (UTC) for a daily or weekly schedule."""
    now = now or timezone.now()
    today = now.astimezone(dt.UTC).date()
    moment = dt.datetime.combine(today, schedule.time_of_day, tzinfo=dt.UTC)
    if schedule.frequency == ScheduleFrequency.WEEKLY:
        moment += dt.timedelta(days=(schedule.weekday - today.weekday()) % 7)
        return moment if moment > now else moment + dt.timedelta(days=7)
    return moment if moment > now else moment + dt.timedelta(days=1)


def _sync_q_schedule(schedule: ScheduledExport) -> None:
    """Create, update or remove the django-q2 Schedule row that runs this export."""
    from django_q.models import Schedule

    existing = Schedule.objects.filter(pk=schedule.schedule_id).first() if schedule.schedule_id else None
    if not schedule.is_active:
        if existing is not None:
            existing.delete()
        schedule.schedule_id = None
        return
    kinds = {
        ScheduleFrequency.DAILY: Schedule.DAILY,
        ScheduleFrequency.WEEKLY: Schedule.WEEKLY,
        ScheduleFrequency.CRON: Schedule.CRON,
    }
    row = existing or Schedule(func=SCHEDULE_FUNC)
    row.name = f"Scheduled export #{schedule.pk}: {schedule.name}"[:100]
    row.args = repr(schedule.pk)
    row.schedule_type = kinds[schedule.frequency]
    row.repeats = -1
    row.intended_date_kwarg = "due_at"
    if schedule.frequency == ScheduleFrequency.CRON:
        row.cron = schedule.cron
        row.next_run = row.calculate_next_run()
    else:
        row.cron = None
        row.next_run = next_run_of(schedule)
    row.save()
    schedule.schedule_id = row.pk


def _require_schedule_rights(actor: Membership, schedule: ScheduledExport) -> None:
    _require_export(actor, actor.company)
    if schedule.pk and schedule.owner_id != actor.pk and actor.role != Role.ADMIN:
        raise PermissionDenied


@transaction.atomic
def scheduled_export_save(*, actor: Membership, data: dict, schedule: ScheduledExport | None = None) -> ScheduledExport:
    """Create (``schedule`` None) or change a scheduled export and its django-q2 Schedule row."""
    schedule = schedule or ScheduledExport(company=actor.company, owner=actor)
    _require_schedule_rights(actor, schedule)
    if "is_active" in data:
        schedule.is_active = bool(data["is_active"])
    _clean_schedule(schedule, actor, data)
    record(schedule, actor, "leads.scheduled_export.changed" if schedule.pk else "leads.scheduled_export.created")
    schedule.save()
    _sync_q_schedule(schedule)
    schedule.save_without_historical_record(update_fields=["schedule_id"])
    return schedule


@transaction.atomic
def scheduled_export_delete(*, actor: Membership, schedule: ScheduledExport) -> None:
    _require_schedule_rights(actor, schedule)
    schedule.is_active = False
    _sync_q_schedule(schedule)
    record(schedule, actor, "leads.scheduled_export.deleted")
    schedule.delete()


def scheduled_export_run(*, schedule_id: int, due_at: dt.datetime | None = None) -> ExportRun | None:
    """One slot of a schedule: at most one run (and one email) per slot, however often the task
    is retried. The export runs with the owner's visibility and their saved view."""
    schedule = (
        ScheduledExport.objects.select_related("company", "owner__company", "saved_filter", "template")
        .filter(pk=schedule_id)
        .first()
    )
    if schedule is None or not schedule.is_active:
        return None
    due_at = due_at or timezone.now().replace(microsecond=0)
    params = schedule_params(schedule)
    try:
        with transaction.atomic():
            run, _, _ = export_run_start(
                membership=schedule.owner,
                params=querydict_of(params),
                file_format=schedule.format,
                template=schedule.template,
                streamed=False,
                scheduled=schedule,
                due_at=due_at,
            )
    except IntegrityError:
        return ExportRun.objects.filter(scheduled_export=schedule, due_at=due_at).first()
    except (ValidationError, PermissionDenied) as error:
        run = ExportRun.objects.create(
            company=schedule.company, created_by=schedule.owner, scheduled_export=schedule, format=schedule.format,
            template=schedule.template, params=params, due_at=due_at, status=ExportRunStatus.FAILED,
            error=" ".join(getattr(error, "messages", ["The owner may no longer export leads."])),
        )  # fmt: skip
        _record_activity(run, schedule.owner, f"Scheduled export failed: {run.error}"[:200])
        _mail(schedule, run)
        return run
    run = export_run_store(run_id=run.pk)
    ScheduledExport.objects.filter(pk=schedule.pk).update(last_run_at=timezone.now())
    _mail(schedule, run)
    return run


def schedule_params(schedule: ScheduledExport) -> dict:
    """The list parameters of a schedule: its saved view's filters and sort (none: everything)."""
    params = dict(schedule.saved_filter.query) if schedule.saved_filter else {}
    if schedule.saved_filter and schedule.saved_filter.sort:
        params["sort"] = [schedule.saved_filter.sort]
    return params


def scheduled_export_run_now(*, actor: Membership, schedule: ScheduledExport) -> ExportRun:
    """Queue an extra run of a schedule now ("Run now"): same owner, view, template and format."""
    _require_export(actor, schedule.company)
    run, _, _ = export_run_start(
        membership=schedule.owner,
        params=querydict_of(schedule_params(schedule)),
        file_format=schedule.format,
        template=schedule.template,
        streamed=False,
        scheduled=schedule,
    )
    enqueue_export(run.pk)
    run.refresh_from_db()
    return run


def download_path(run: ExportRun) -> str:
    return reverse("leads:transfer:export_download", kwargs={"company_slug": run.company.slug, "run_id": run.pk})


def _mail(schedule: ScheduledExport, run: ExportRun) -> None:
    recipients = schedule.recipients or [schedule.owner.user.email]
    if run.status == ExportRunStatus.SUCCEEDED:
        subject = f"Export ready: {schedule.name}"
        body = (
            f"The scheduled export “{schedule.name}” is ready: {run.row_count:,} leads as {run.format.upper()}.\n\n"
            f"Download it (log in first): {absolute_url(download_path(run))}\n"
        )
    else:
        subject = f"Export failed: {schedule.name}"
        body = f"The scheduled export “{schedule.name}” failed: {run.error}\n"
    send_mail(subject, body, None, recipients, fail_silently=True)


def scheduled_exports_visible_to(membership: Membership) -> QuerySet[ScheduledExport]:
    schedules = ScheduledExport.objects.filter(company_id=membership.company_id)
    if membership.role == Role.ADMIN:
        return schedules
    return schedules.filter(Q(owner=membership) | Q(owner_id__in=team_member_ids(membership)))
