"""What large writes of leads share (lead generation, imports, bulk jobs): multi-row ``INSERT``s of
prepared values (``RawInserter``), the full-text index filled once at the end instead of row by row
(``DeferredSearchIndex``), writes run by a second thread while the caller prepares the next ones
(``WriteBehind``), the garbage collector run less often meanwhile (``collecting_rarely``), and id
ranges. What differs between SQLite and PostgreSQL underneath
(statement size, placeholders, cursors, the search index's trigger) is asked of ``leads.vendor``.
"""

from __future__ import annotations

import contextlib
import gc
import operator
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for

from django.db import DEFAULT_DB_ALIAS, connection, connections, models

from leads import vendor

# --- the cycle collector during a long batch ---------------------------------------------------------

_RARELY = (50_000, 20, 100)  # (young, middle, old) thresholds: a young collection every 50,000 allocations
_rarely_lock = threading.Lock()
_rarely_depth = 0
_usual_thresholds: tuple[int, int, int] | None = None


@contextlib.contextmanager
def collecting_rarely() -> Iterator[None]:
    """The cycle collector runs about seventy times less often inside the block. A long batch
    allocates a container or more per value of each row, nearly all of them freed by reference
    counting; yet with the default thresholds (a young collection every 700 allocations) an import
    of 100,000 rows spent 2.5–3.3 CPU-seconds in about 3,900 collections, a sixth of its importing
    process's time; with these, about 30 collections and 0.7–1.3 s. Cycles are still collected, later.
    The thresholds are process-wide: nested or concurrent blocks (threads) share one setting, and the
    usual one is back when the last block ends. A forked child inherits the setting."""
    global _rarely_depth, _usual_thresholds
    with _rarely_lock:
        if _rarely_depth == 0:
            _usual_thresholds = gc.get_threshold()
            if _usual_thresholds[0]:  # 0: automatic collection is off, and stays off
                gc.set_threshold(*_RARELY)
        _rarely_depth += 1
    try:
        yield
    finally:
        with _rarely_lock:
            _rarely_depth -= 1
            if _rarely_depth == 0:
                gc.set_threshold(*_usual_thresholds)


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
    """The new leads go into the full-text index in one statement per id range when the block ends,
    instead of row by row (``vendor.search_trigger_drop`` / ``vendor.search_index_fill``; nothing to
    do where the index follows every insert). On an error the caller's transaction rolls everything
    back, the dropped trigger included.

    ``with DeferredSearchIndex() as index: …; index.add(first_id, last_id)``"""

    def __init__(self):
        self.trigger: str | None = None
        self.ranges: list[tuple[int, int]] = []

    def add(self, first_id: int, last_id: int) -> None:
        self.ranges.append((first_id, last_id))

    def add_ids(self, ids: Iterable[int]) -> None:
        self.ranges.extend((first, last) for first, last in id_ranges(ids))

    def index_now(self, ids: Iterable[int]) -> None:
        """Index the new leads ``ids`` now rather than when the block ends (a writer that
        overlaps its writes with other work, ``WriteBehind``, does it as it goes)."""
        if self.trigger is not None:
            vendor.search_index_add(id_ranges(ids))

    def __enter__(self) -> DeferredSearchIndex:
        self.trigger = vendor.search_trigger_drop()
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if self.trigger is not None and kind is None:
            vendor.search_index_fill(self.ranges, self.trigger)


class WriteBehind:
    """Runs write steps one at a time, in order, in a second thread, on the caller's own connection
    (so inside the caller's transaction), while the caller goes on preparing the next step. The
    database's work overlaps the caller's Python: SQLite's driver and psycopg release the GIL while
    a statement runs.

    ``submit(step, *args)`` waits for the previous step, then starts this one; ``wait()`` waits for
    the last one and returns its result or raises its error: call it before reading or changing
    what the step writes. Leaving the block waits for the running step whatever happened, so the caller never
    commits or rolls back under it; an error in a step is raised by the next ``submit``, ``wait`` or
    the block's end. Where the connection cannot be shared (``vendor.connection_shareable``) the
    steps run at once in the caller's thread.

    Inside a step, ``django.db.connection`` is the caller's connection (as Django's live server
    test thread shares an in-memory database). The caller's own statements meanwhile are
    serialised with the step's by the driver; they may see part of what the step has written."""

    def __init__(self, using: str = DEFAULT_DB_ALIAS):
        self.using = using
        self._pool: ThreadPoolExecutor | None = None
        self._pending: Future | None = None
        self._done = None  # the result of a step run in the caller's thread

    def __enter__(self) -> WriteBehind:
        if vendor.connection_shareable():
            shared = connections[self.using]
            shared.ensure_connection()
            shared.inc_thread_sharing()
            self._shared = shared
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="write-behind", initializer=self._adopt)
        return self

    def _adopt(self) -> None:
        connections[self.using] = self._shared

    def submit(self, step: Callable, *args) -> None:
        self.wait()
        if self._pool is None:
            self._done = step(*args)
        else:
            self._pending = self._pool.submit(step, *args)

    def wait(self):
        pending, self._pending = self._pending, None
        if pending is not None:
            return pending.result()
        done, self._done = self._done, None
        return done

    def __exit__(self, kind, error, traceback) -> None:
        if self._pool is None:
            return
        try:
            if kind is None:
                self.wait()
            elif self._pending is not None:
                wait_for([self._pending])  # its own error is dropped: the caller's is raised
        finally:
            self._pool.shutdown(wait=True)
            self._shared.dec_thread_sharing()


def _rows_per_statement(columns: int) -> int:
    """Rows of ``columns`` values one multi-row INSERT carries: as many as the database's parameter
    limit allows, at most 500."""
    return max(1, min(500, vendor.parameter_limit() // columns))


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
        table, columns = quote(model._meta.db_table), ", ".join(quote(f.column) for f in self.fields)
        self.head = f"INSERT INTO {table} ({columns}) VALUES "  # noqa: S608
        self.head_with_pk = f"INSERT INTO {table} ({quote(model._meta.pk.column)}, {columns}) VALUES "  # noqa: S608
        self.returning = f" RETURNING {quote(model._meta.pk.column)}"
        self.per_statement = _rows_per_statement(len(self.fields))
        self.one = "(" + ", ".join([vendor.placeholder()] * len(self.fields)) + ")"

    @staticmethod
    def _preparer(model_field):
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

    def copied_sql(self, source: RawInserter, table: str, where: str = "") -> tuple[str, list]:
        """INSERT … SELECT of this model's rows (a historical model's) from rows of ``source``'s
        model held in ``table`` (its own table, or a copy of it): each column read from the
        source's column of the same name (``id`` as this model's ``fixed_pk``), the ``fixed``
        ones as parameters; in id order, so the rows are numbered as the source's. ``where``:
        a condition on the source rows, with its own ``%s`` parameters added after these."""
        quote = connection.ops.quote_name
        fixed = dict(self.fixed)
        columns = {f.attname: f.column for f in source.fields} | {"id": source.model._meta.pk.column}
        selected, params = [], []
        for index, model_field in enumerate(self.fields):
            if index in fixed:
                selected.append("%s")
                params.append(fixed[index])
            else:
                selected.append(quote(columns[model_field.attname]))
        condition = f" WHERE {where}" if where else ""
        sql = (
            f"INSERT INTO {quote(self.model._meta.db_table)} ({', '.join(quote(f.column) for f in self.fields)}) "  # noqa: S608
            f"SELECT {', '.join(selected)} FROM {quote(table)}{condition} ORDER BY {quote(columns['id'])}"
        )
        return sql, params

    def values_from(self, data: dict) -> list:
        """A row from a dict of attnames (missing ones: the field's default)."""
        values = []
        for model_field, prepare in zip(self.fields, self.prepare, strict=True):
            value = data[model_field.attname] if model_field.attname in data else model_field.get_default()
            values.append(value if prepare is None else prepare(value))
        return values

    def insert(self, rows: list[list], *, returning: bool = False, ids: list[int] | None = None) -> list[int]:
        """Insert ``rows`` (``values_of``); with ``ids``, each row with its given primary key
        (``vendor.reserve_ids``), else numbered by the database (``returning`` its ids)."""
        if ids is not None:
            return self._insert_with_ids(rows, ids)
        found: list[int] = []
        with vendor.raw_cursor() as cursor:
            for start in range(0, len(rows), self.per_statement):
                chunk = rows[start : start + self.per_statement]
                params = [value for row in chunk for value in row]
                sql = self.head + ", ".join([self.one] * len(chunk))
                if returning:
                    cursor.execute(sql + self.returning, params)
                    # Ids rise in insertion order (one writer holds the lock; sequences increase).
                    found.extend(sorted(pk for (pk,) in cursor.fetchall()))
                else:
                    cursor.execute(sql, params)
        return found

    def _insert_with_ids(self, rows: list[list], ids: list[int]) -> list[int]:
        if len(ids) != len(rows):
            raise ValueError(f"{len(rows)} rows but {len(ids)} ids")
        width = len(self.fields) + 1
        one = "(" + ", ".join([vendor.placeholder()] * width) + ")"
        per_statement = _rows_per_statement(width)
        with vendor.raw_cursor() as cursor:
            for start in range(0, len(rows), per_statement):
                chunk = rows[start : start + per_statement]
                params = [
                    value
                    for pk, row in zip(ids[start : start + len(chunk)], chunk, strict=True)
                    for value in (pk, *row)
                ]
                cursor.execute(self.head_with_pk + ", ".join([one] * len(chunk)), params)
        return ids
