"""What one exported cell holds: the columns a template can pick, how each value is read and
written, and formula neutralisation with its undo (``neutralise`` / ``unneutralise``).

**Formula neutralisation.** A text value that starts with ``=``, ``+``, ``-``, ``@``, TAB or CR is
written with one leading apostrophe (``'+44 20 7946 0000``) in CSV and XLSX, so no spreadsheet
runs it as a formula (and XLSX text cells are always written as text, never as formulas). A value
that itself starts with an apostrophe gets one more, so the rule is reversible: the import removes
exactly one apostrophe in front of those characters (``unneutralise``), so every value survives an
export → import round trip. Numbers, dates and booleans are written as what they are; JSON is not a
spreadsheet format and is written unchanged. Times are written in UTC (``YYYY-MM-DD HH:MM:SS``);
booleans as ``yes``/``no``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

from django.core.exceptions import ValidationError
from django.db.models import Case, F, QuerySet, TextField, Value, When
from django.db.models.functions import Cast, Concat, Ord, Substr
from django.db.models.lookups import In

from crm.models import Company
from leads import bulkwrite
from leads.models import (
    CustomField,
    ExportFormat,
    ExportTemplate,
    Lead,
)

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


def unneutralise(text: str) -> str:
    """Undo ``neutralise`` on import: drop one apostrophe before = + - @ TAB CR or another
    apostrophe (the export escapes a leading apostrophe too, so every value round-trips)."""
    if len(text) > 1 and text[0] == "'" and text[1] in ESCAPED:
        return text[1:]
    return text


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
