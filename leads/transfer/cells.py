"""What one exported cell holds: the columns a template can pick, how each value is read and
written, and formula neutralisation with its undo (``neutralise`` / ``unneutralise``).

**Formula neutralisation.** A text value that starts with ``=``, ``+``, ``-``, ``@``, TAB or CR is
written with one leading apostrophe (``'=HYPERLINK(…)``) in CSV and XLSX, so no spreadsheet runs it
as a formula (and XLSX text cells are always written as text, never as formulas) — unless it can
only be a number (``is_plain_number``: a phone number such as ``+44 20 7946 0958``), which is
written as it is. A value that itself starts with an apostrophe gets one more, so the rule is
reversible: the import removes exactly one apostrophe in front of those characters
(``unneutralise``), so every value survives an export → import round trip. Numbers, dates and
booleans are written as what they are; JSON is not a spreadsheet format and is written unchanged.
Times are written in UTC (``YYYY-MM-DD HH:MM:SS``); booleans as ``yes``/``no``.

**Labels.** Stage, priority and owner are written as the lead list shows them: the stage's and
the priority's label, the owner's display name (read with one query per export, ``owner_names``).
The import reads the labels back (stage by code or label; owner by email or display name).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from itertools import islice

from django.core.exceptions import ValidationError
from django.db.models import Case, F, Func, Q, QuerySet, TextField, Value, When
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Cast, Coalesce, Concat, Length, NullIf, Ord, Replace, Substr
from django.db.models.lookups import Exact, GreaterThanOrEqual, In
from django.db.models.sql.constants import CURSOR

from crm.models import Company, Membership
from leads import vendor
from leads.models import (
    CustomField,
    ExportFormat,
    ExportTemplate,
    Lead,
    Priority,
    Stage,
)

CHUNK = 2000
READ_CACHE_KIB = 8 * 1024  # page cache while an export reads (vendor.page_cache_at_most)
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


# Text that can only be a number: an optional leading "+", then nothing but digits, spaces, dots,
# hyphens and parentheses, with at least six digits ("+44 20 7946 0958", "+1-202-555-0143",
# "-0143 555 0199"). A spreadsheet may read it as arithmetic, but it names no function, cell or
# program, so it cannot run anything. ``_plain_number_sql`` is the same test for the database.
PLAIN_NUMBER = r"\A\+?[-(). ]*(?:[0-9][-(). ]*){6,}\Z"
_PLAIN_NUMBER = re.compile(PLAIN_NUMBER)


def is_plain_number(text: str) -> bool:
    """Whether ``text`` can only be a number (a phone number), so neutralising it would only
    put an apostrophe in front of it."""
    return _PLAIN_NUMBER.match(text) is not None


def neutralise(text: str) -> str:
    """A text cell a spreadsheet would run as a formula gets one leading apostrophe (and so does
    one that already starts with an apostrophe, so the import can undo it exactly); text that can
    only be a number is left alone."""
    if text and text[0] in ESCAPED and not is_plain_number(text):
        return "'" + text
    return text


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
    "owner": ("Owner", "owner"),  # the display name (``owner_names``)
    "owner_email": ("Owner email", "owner__user__email"),
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
CHOICE_LABELS: dict[str, dict[str, str]] = {"stage": dict(Stage.choices), "priority": dict(Priority.choices)}
OWNER = "owner"


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

    @property
    def in_document(self) -> bool:
        """A custom field or profile attribute: one key of a JSON column."""
        return self.key.startswith((CUSTOM, PROFILE))

    @property
    def labelled(self) -> bool:
        """Written as a label looked up from the stored value (stage, priority, owner)."""
        return self.key in CHOICE_LABELS or self.key == OWNER


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

    ``rows`` yields typed values (XLSX, JSON); ``text_batches`` yields finished CSV cells. Both
    write stage, priority and owner as labels (``labels``)."""

    def __init__(self, columns: list[Column]):
        self.columns = columns
        self.paths: list[str] = []
        for column in columns:
            if column.path not in self.paths:
                self.paths.append(column.path)
        self.positions = [self.paths.index(column.path) for column in columns]

    @property
    def headers(self) -> list[str]:
        return [column.label for column in self.columns]

    def labels(self, queryset: QuerySet[Lead]) -> dict[str, dict]:
        """Stored value → label, per labelled column; the owners' names cost one query."""
        labels = {column.key: CHOICE_LABELS.get(column.key) for column in self.columns if column.labelled}
        if OWNER in labels:
            labels[OWNER] = owner_names(queryset)
        return labels

    def rows(self, queryset: QuerySet[Lead]) -> Iterator[list]:
        with vendor.page_cache_at_most(READ_CACHE_KIB):
            getters = self._getters(self.labels(queryset))
            for values in queryset.values_list(*self.paths).iterator(chunk_size=CHUNK):
                yield [values[get] if type(get) is int else get(values) for get in getters]

    def _getters(self, labels: dict[str, dict]) -> list:
        """Per column: the index of its value in the row tuple, or a function of the tuple."""
        getters = []
        for column, index in zip(self.columns, self.positions, strict=True):
            if column.in_document:
                getters.append(_json_getter(index, column.key.split(":", 1)[1]))
            elif column.labelled:
                getters.append(_label_getter(index, labels[column.key]))
            else:
                getters.append(index)
        return getters

    def text_batches(self, queryset: QuerySet[Lead]) -> Iterator[list]:
        """Finished CSV cells, up to ``CHUNK`` rows at a time. The database formats them (see
        ``_csv_expression``: neutralised text, yes/no, UTC datetimes to the second), so rows come
        out of the cursor ready for ``csv.writer.writerows``; only custom-field and profile columns
        are finished in Python (``text_cell``)."""
        annotations, finish = self._cell_expressions(queryset, documents=False)
        rows = queryset.annotate(**annotations).values_list(*annotations).iterator(chunk_size=CHUNK)
        with vendor.page_cache_at_most(READ_CACHE_KIB):
            while batch := list(islice(rows, CHUNK)):
                if finish:
                    batch = [_finish_row(values, finish) for values in batch]
                yield batch

    def copy_select(self, queryset: QuerySet[Lead]) -> tuple[str, tuple] | None:
        """The SELECT of the finished CSV cells, every one by the database (custom-field and profile
        columns too, ``_document_expression``) as text, '' as NULL (an empty unquoted cell, as
        csv.writer writes it), for ``COPY … TO STDOUT``. None when the COPY could not write what
        csv.writer writes: a lone column (csv.writer quotes a lone empty cell) or a query that
        selects more than the cells (ordering columns of a DISTINCT)."""
        if len(self.columns) < 2:
            return None
        annotations, _ = self._cell_expressions(queryset, documents=True)
        cells = {
            name: NullIf(Cast(cell, output_field=TextField()), Value(""), output_field=TextField())
            for name, cell in annotations.items()
        }
        compiler = queryset.annotate(**cells).values_list(*cells).query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()
        if len(compiler.select) != len(cells):
            return None
        return sql, tuple(params)

    def xlsx_rows(self, queryset: QuerySet[Lead]) -> Iterator[tuple | list]:
        """Finished XLSX cells (what ``xlsx_cell`` makes of each value), a row at a time: the
        database writes them as for CSV (``text_batches``), text neutralised, labels, yes/no,
        except that numbers stay numbers, datetimes become naive UTC datetimes (to the second, as
        the CSV writes them) and an empty cell is None, so each row goes to the writer as it is."""
        annotations, finish = self._cell_expressions(queryset, documents=False, typed=True)
        values = queryset.annotate(**annotations).values_list(*annotations)
        with vendor.page_cache_at_most(READ_CACHE_KIB), _values_fetched_ahead(values) as rows:
            if not finish:
                yield from rows
                return
            for row in rows:
                yield _finish_row(row, finish)

    def _cell_expressions(self, queryset: QuerySet[Lead], *, documents: bool, typed: bool = False):
        """Per column, the expression of its CSV cell, and the (position, finisher) of the cells
        Python finishes: custom-field and profile columns unless ``documents``. ``typed``: XLSX
        cells (``xlsx_rows``)."""
        # stage, priority and owner are labelled by the database (``_label_expression``)
        owners = owner_names(queryset) if any(column.key == OWNER for column in self.columns) else {}
        annotations, finish = {}, []
        for position, column in enumerate(self.columns):
            finisher = None
            if column.in_document:
                expression = _document_expression(column) if documents else None
            elif column.labelled:
                expression = _label_expression(column.key, owners)
            else:
                expression = _csv_expression(column.path)
                if typed and _model_field(column.path).get_internal_type() == "DateTimeField":
                    finisher = _datetime_cell
            if expression is None:
                expression, finisher = F(column.path), _cell_finisher(column, xlsx_cell if typed else text_cell)
            elif typed and not _is_number(column):
                expression = NullIf(expression, Value(""), output_field=TextField())
            if finisher is not None:
                finish.append((position, finisher))
            annotations[f"_csv_{position}"] = expression
        return annotations, finish


@contextmanager
def _values_fetched_ahead(queryset: QuerySet) -> Iterator[Iterator[tuple]]:
    """The rows of a ``values_list`` queryset as its ``iterator()`` yields them (the same cursor and
    the same converters: Django's ``execute_sql`` and ``results_iter``), fetched in lists of
    ``CHUNK`` through ``vendor.fetched_ahead`` (on PostgreSQL by a thread, while the caller writes
    the rows before). On leaving, that thread is stopped and the cursor closed."""
    compiler = queryset.query.get_compiler(using=queryset.db)
    chunked = not compiler.connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS")
    cursor = compiler.execute_sql(CURSOR, chunked_fetch=chunked)
    if cursor is None:  # a query that cannot match anything (``EmptyResultSet``) is not run
        yield iter(())
        return
    with cursor, closing(vendor.fetched_ahead(cursor, CHUNK)) as batches:
        if compiler.has_extra_select:  # ordering columns of a DISTINCT, after the values
            batches = ([row[: compiler.col_count] for row in batch] for batch in batches)
        yield compiler.results_iter(batches, tuple_expected=True)


def owner_names(queryset: QuerySet[Lead]) -> dict[int, str]:
    """Membership id → display name (what the lead list shows) of every owner of the leads."""
    owners = Membership.objects.filter(pk__in=queryset.values("owner")).select_related("user")
    return {owner.pk: owner.display_name for owner in owners}


def _cell_finisher(column: Column, cell):
    """The Python end of a cell the database cannot write: a key of a JSON column, or a field
    without a SQL form; ``cell`` is ``text_cell`` (CSV) or ``xlsx_cell``."""
    if column.in_document:
        name = column.key.split(":", 1)[1]
        return lambda document: cell(document.get(name) if isinstance(document, dict) else None)
    return cell


def _datetime_cell(text: str | None) -> dt.datetime | None:
    """A datetime cell written by the database (``YYYY-MM-DD HH:MM:SS``, UTC) as a datetime."""
    return dt.datetime.fromisoformat(text) if text else None


def _is_number(column: Column) -> bool:
    return (
        not column.in_document
        and not column.labelled
        and _model_field(column.path).get_internal_type() in _NUMBER_TYPES
    )


def _finish_row(values: tuple, finish: list) -> list:
    row = list(values)
    for position, cell in finish:
        row[position] = cell(row[position])
    return row


_ESCAPED_CODES = [ord(character) for character in ESCAPED]


OWNER_CASE_LIMIT = 500  # owners named in one CASE; beyond, the names come through a join


def _label_expression(key: str, owners: dict[int, str]):
    """The CSV cell of a labelled column, by the database: a choice's label or an owner's display
    name (``owners``, read once) as a CASE over the few values, neutralised like any text; with
    very many owners, the name through a join (full name, else email)."""
    if key == OWNER and len(owners) > OWNER_CASE_LIMIT:
        name = Coalesce(NullIf(F("owner__user__full_name"), Value("")), F("owner__user__email"))
        return Coalesce(_neutralised(name), Value(""), output_field=TextField())
    if key == OWNER:
        choices, default = {pk: neutralise(name) for pk, name in owners.items()}.items(), Value("")
        field = "owner_id"
    else:
        choices, default, field = CHOICE_LABELS[key].items(), Cast(F(key), output_field=TextField()), key
    return Case(
        *(When(**{field: value}, then=Value(label)) for value, label in choices),
        default=default,
        output_field=TextField(),
    )


_NUMBER_CHARACTERS = "0123456789 ().-+"


class _TrimCharacters(Func):
    """``TRIM(text, characters)``: ``text`` without those characters at either end (PostgreSQL
    names it ``BTRIM``); '' when ``text`` holds nothing else."""

    function, arity, output_field = "TRIM", 2, TextField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, function="BTRIM", **extra)


def _without(expression, characters: str):
    for character in characters:
        expression = Replace(expression, Value(character), Value(""))
    return expression


def _plain_number_sql(expression):
    """SQL of ``is_plain_number`` without a regular expression (SQLite would call back into Python
    for every phone number): only digits, spaces, brackets, dots, hyphens and a leading "+", and
    at least six digits (what is left when the other five characters and "+" are taken out)."""
    rest = Substr(expression, 2)
    return Q(
        Exact(_TrimCharacters(expression, Value(_NUMBER_CHARACTERS)), ""),
        Exact(Length(Replace(rest, Value("+"), Value(""))), Length(rest)),
        GreaterThanOrEqual(Length(_without(expression, " ().-+")), 6),
    )


def _neutralised(expression):
    """SQL of ``neutralise``: one apostrophe in front of a formula's first character (compared as
    a code point: SQLite's ``unicode()``, PostgreSQL's ``ascii()``, cheaper than a substring),
    unless the text is a plain number. The pattern is matched only on text that starts with a
    formula character: CASE evaluates the inner branch for those rows alone."""
    neutralised = Case(
        When(_plain_number_sql(expression), then=expression),
        default=Concat(Value("'"), expression),
        output_field=TextField(),
    )
    return Case(
        When(In(Ord(expression), _ESCAPED_CODES), then=neutralised),
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


def _document_expression(column: Column):
    """The CSV cell of one key of a JSON column, by the database, as ``text_cell`` writes the
    value: text neutralised, booleans yes/no, numbers, objects and lists as JSON text
    (neutralised), nothing for null or a missing key. (A float written by Python in exponent form,
    1e+20, is written here as its digits.) PostgreSQL's SQL (``JSONB_TYPEOF``): only the COPY uses
    it (``copy_select``)."""
    name = column.key.split(":", 1)[1]
    text = KeyTextTransform(name, column.path)
    kind = Func(KeyTransform(name, column.path), function="JSONB_TYPEOF", output_field=TextField())
    return Case(
        When(Exact(kind, "boolean"), then=Case(When(Exact(text, "true"), then=Value("yes")), default=Value("no"))),
        When(In(kind, ["string", "object", "array"]), then=_neutralised(text)),
        default=text,
        output_field=TextField(),
    )


def _model_field(path: str):
    model, field = Lead, None
    for part in path.split("__"):
        field = model._meta.get_field(part)
        model = field.related_model if field.is_relation else model
    return field.target_field if field.is_relation else field


_TEXT_TYPES = {"CharField", "TextField", "EmailField", "URLField", "SlugField"}


def _label_getter(index: int, names: dict):
    def get(values):
        value = values[index]
        return names.get(value, value)

    return get


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
    text neutralised (XlsxWriter writes control characters, which XML cannot hold, as Excel's
    ``_xHHHH_`` escapes, which Excel reads back as the characters)."""
    if value is None or value == "":
        return None
    if value is True or value is False:
        return "yes" if value else "no"
    if isinstance(value, str):
        return neutralise(value)
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
