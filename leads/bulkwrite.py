"""What large reads and writes of leads share (lead generation, imports, bulk jobs, exports): how
many parameters one statement may carry, a DB-API cursor that skips Django's placeholder rewriting,
multi-row ``INSERT``s of prepared values (``RawInserter``), a page cache sized to the work, and the
full-text index filled once at the end instead of row by row.
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.db import connection

from leads.search import COLUMNS as SEARCH_COLUMNS

SEARCH_TRIGGER, SEARCH_TABLE = "leads_lead_search_ai", "leads_lead_search"


def parameter_limit() -> int:
    """Placeholders allowed in one statement (Django assumes SQLite's old default of 999)."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        raw = connection.connection
        return min(raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER), 32766) if hasattr(raw, "getlimit") else 999
    if connection.vendor == "postgresql":
        return 65535
    return connection.features.max_query_params or 999


def uses_raw_cursor() -> bool:
    """SQLite statements go to the DB-API connection with its own ``?`` placeholders: Django's
    cursor would rewrite every ``%s`` of each many-thousand-parameter statement with a regex, which
    costs more than SQLite's own work."""
    return connection.vendor == "sqlite"


def placeholder() -> str:
    return "?" if uses_raw_cursor() else "%s"


@contextmanager
def raw_cursor() -> Iterator:
    """A cursor for statements built with ``placeholder()``: the DB-API cursor on SQLite (errors
    still wrapped as Django's), else Django's cursor without the debug wrapper (with DEBUG on it
    would keep a rendered copy of every multi-megabyte statement)."""
    connection.ensure_connection()
    if not uses_raw_cursor():
        with connection.make_cursor(connection.create_cursor()) as cursor:
            yield cursor
        return
    cursor = connection.connection.cursor()
    try:
        with connection.wrap_database_errors:
            yield cursor
    finally:
        cursor.close()


@contextmanager
def sqlite_cache_for(kib: int) -> Iterator[None]:
    """A page cache of ``kib`` KiB (at most 1 GiB; never smaller than configured) while a large
    write runs: with the default 64 MiB a write into a table of a million leads spends much of its
    time re-reading index pages and spilling dirty ones."""
    with _sqlite_cache(lambda configured: max(configured, min(kib, 1024 * 1024))):
        yield


@contextmanager
def sqlite_cache_at_most(kib: int) -> Iterator[None]:
    """A page cache of at most ``kib`` KiB while a long read streams through the table (an
    export): caching the pages it passes once would only grow the process by the configured
    64 MiB; the operating system caches the file anyway."""
    with _sqlite_cache(lambda configured: min(configured, kib)):
        yield


@contextmanager
def _sqlite_cache(size_for) -> Iterator[None]:
    """Run the block with ``PRAGMA cache_size`` set to ``size_for(configured KiB)`` KiB."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        configured = cursor.execute("PRAGMA cache_size").fetchone()[0]
        page_kib = cursor.execute("PRAGMA page_size").fetchone()[0] / 1024
        configured_kib = -configured if configured < 0 else int(configured * page_kib)
        wanted = int(size_for(configured_kib))
        if wanted != configured_kib:
            cursor.execute(f"PRAGMA cache_size = -{wanted}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(configured)}")


def id_ranges(ids: Iterable[int]) -> list[list[int]]:
    """[3, 4, 5, 9] → [[3, 5], [9, 9]]."""
    ranges: list[list[int]] = []
    for pk in sorted(ids):
        if ranges and pk == ranges[-1][1] + 1:
            ranges[-1][1] = pk
        else:
            ranges.append([pk, pk])
    return ranges


class DeferredSearchIndex:
    """SQLite: the new leads go into the full-text index in one ``INSERT … SELECT`` per id range
    when the block ends, instead of through ``leads.search``'s per-row trigger (a quarter of the
    cost on a large table). The trigger is dropped and re-created inside the caller's transaction,
    which holds the write lock and commits all at once: no other connection sees it missing, and a
    failed write restores it with everything else. Elsewhere (PostgreSQL) it does nothing.

    ``with DeferredSearchIndex() as index: …; index.add(first_id, last_id)``"""

    def __init__(self):
        self.trigger: str | None = None
        self.ranges: list[tuple[int, int]] = []

    def add(self, first_id: int, last_id: int) -> None:
        self.ranges.append((first_id, last_id))

    def add_ids(self, ids: Iterable[int]) -> None:
        self.ranges.extend((first, last) for first, last in id_ranges(ids))

    def __enter__(self) -> DeferredSearchIndex:
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                found = cursor.execute(
                    "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = %s", [SEARCH_TRIGGER]
                ).fetchone()
                if found is not None:
                    self.trigger = found[0]
                    cursor.execute(f'DROP TRIGGER "{SEARCH_TRIGGER}"')
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if self.trigger is None or kind is not None:
            return  # on an error the caller's transaction rolls the DROP back with the rest
        columns = ", ".join(connection.ops.quote_name(c) for c in SEARCH_COLUMNS)
        table = connection.ops.quote_name("leads_lead")
        with connection.cursor() as cursor:
            for first, last in self.ranges:
                cursor.execute(
                    f'INSERT INTO "{SEARCH_TABLE}"(rowid, {columns}) SELECT id, {columns} FROM {table} '  # noqa: S608
                    "WHERE id BETWEEN %s AND %s",
                    [first, last],
                )
            cursor.execute(self.trigger)


class RawInserter:
    """Multi-row ``INSERT`` of model instances, values prepared per field type exactly as the ORM
    prepares them (``get_db_prep_save``), but with the cheap cases (text, numbers, booleans,
    foreign key ids) passed through and repeated datetimes converted once."""

    def __init__(self, model, *, fixed: dict | None = None):
        """``fixed``: values of some columns that are the same for every row (attname → value)."""
        self.model = model
        self.fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        self.attnames = [f.attname for f in self.fields]
        self.prepare = [self._preparer(f) for f in self.fields]
        fixed = fixed or {}
        self.fixed = [
            (i, value if self.prepare[i] is None else self.prepare[i](value))
            for i, value in ((self.attnames.index(name), value) for name, value in fixed.items())
        ]
        self.read = [i for i, name in enumerate(self.attnames) if name not in fixed]
        self.preparers = [(n, self.prepare[i]) for n, i in enumerate(self.read) if self.prepare[i] is not None]
        self.getter = operator.attrgetter(*(self.attnames[i] for i in self.read))
        self.position = {name: i for i, name in enumerate(self.attnames)}
        quote = connection.ops.quote_name
        self.head = (
            f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in self.fields)}) VALUES "  # noqa: S608
        )
        self.returning = f" RETURNING {quote(model._meta.pk.column)}"
        self.per_statement = max(1, min(500, parameter_limit() // len(self.fields)))
        self.one = "(" + ", ".join([placeholder()] * len(self.fields)) + ")"

    @staticmethod
    def _preparer(model_field):
        from django.db import models

        internal = model_field.get_internal_type()
        if isinstance(model_field, models.ForeignKey) or internal in (
            "CharField", "TextField", "SlugField", "EmailField", "URLField", "BooleanField", "IntegerField",
            "PositiveIntegerField", "PositiveSmallIntegerField", "PositiveBigIntegerField", "SmallIntegerField",
            "BigIntegerField",
        ):  # fmt: skip
            return None
        if internal == "DateTimeField":
            memo: dict = {}

            def datetime_value(value):
                if value is None:
                    return None
                if value not in memo:
                    if len(memo) > 1000:
                        memo.clear()
                    memo[value] = model_field.get_db_prep_save(value, connection)
                return memo[value]

            return datetime_value
        if internal == "JSONField":
            empty = {}

            def json_value(value):
                if value in ({}, []) and type(value) in (dict, list):
                    key = type(value)
                    if key not in empty:
                        empty[key] = model_field.get_db_prep_save(value, connection)
                    return empty[key]
                return model_field.get_db_prep_save(value, connection)

            return json_value
        return lambda value: model_field.get_db_prep_save(value, connection)

    def values_of(self, obj) -> list:
        read = self.getter(obj)
        if len(self.read) == 1:
            read = (read,)
        values = list(read)
        for index, prepare in self.preparers:
            values[index] = prepare(values[index])
        if self.fixed:
            full = [None] * len(self.fields)
            for index, value in zip(self.read, values, strict=True):
                full[index] = value
            for index, value in self.fixed:
                full[index] = value
            return full
        return values

    def derived(self, source: RawInserter, fixed_pk: str = "id"):
        """A function (source row values, pk) → this model's row: a historical row built from the
        values already prepared for the tracked model (no second preparation)."""
        fixed = dict(self.fixed)
        plan = []
        for index, name in enumerate(self.attnames):
            if index in fixed:
                plan.append((0, fixed[index]))
            elif name == fixed_pk:
                plan.append((1, None))
            else:
                plan.append((2, source.position[name]))

        def build(values: list, pk) -> list:
            return [value if kind == 0 else pk if kind == 1 else values[value] for kind, value in plan]

        return build

    def values_from(self, data: dict) -> list:
        """A row from a dict of attnames (missing ones: the field's default)."""
        values = []
        for model_field, prepare in zip(self.fields, self.prepare, strict=True):
            value = data[model_field.attname] if model_field.attname in data else model_field.get_default()
            values.append(value if prepare is None else prepare(value))
        return values

    def insert(self, rows: list[list], *, returning: bool = False) -> list[int]:
        ids: list[int] = []
        with raw_cursor() as cursor:
            for start in range(0, len(rows), self.per_statement):
                chunk = rows[start : start + self.per_statement]
                params = [value for row in chunk for value in row]
                sql = self.head + ", ".join([self.one] * len(chunk))
                if returning:
                    cursor.execute(sql + self.returning, params)
                    # Ids rise in insertion order (one writer holds the lock; sequences increase).
                    ids.extend(sorted(pk for (pk,) in cursor.fetchall()))
                else:
                    cursor.execute(sql, params)
        return ids
