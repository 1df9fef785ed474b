# ruff: noqa: S608 — SQL built from the constant table, column and trigger names below, never from input.
"""Every difference between SQLite and PostgreSQL in how the lead data is stored, written, searched
and planned, behind one set of functions: the rest of the project calls these and never asks which
engine it runs on (``leads/tests/test_vendor.py`` checks that).

* Statements: how many parameters one may carry (``parameter_limit``); the placeholder and cursor
  for statements built by hand (``placeholder``, ``raw_cursor``); a prefix condition an index
  answers (``starts_with_sql``); how a datetime is sent (``datetime_adapter``).
* The page cache while a block of work runs (``page_cache_for``, ``page_cache_for_database``,
  ``page_cache_at_most``): SQLite's cache belongs to the connection; PostgreSQL's shared buffers
  belong to the server, so there these do nothing.
* Full-text search over ``SEARCH_COLUMNS`` (what it finds is described in ``leads.search``):
  SQLite's external-content FTS5 table kept current by triggers; PostgreSQL's GIN index over an
  immutable ``tsvector`` expression (``ensure_search_index``, ``rebuild_search_index``,
  ``search_ids_sql``), and new rows indexed once at the end of a large write instead of row by
  row (``search_trigger_drop``, ``search_index_fill``).
* Planner statistics (``refresh_statistics``): ``ANALYZE``, daily (django-q2) and after large loads.
* Plans the statistics cannot choose (``read_through_index``): SQLite's ``INDEXED BY``.
* Bulk transfer (``copy_supported``, ``copy_csv_rows``): PostgreSQL's ``COPY`` (psycopg 3) into an
  import's tables and out of an export's SELECT; SQLite has none, its callers use INSERTs
  and ``csv.writer``. Ids taken before the rows are written (``reserve_ids``): a sequence, or
  SQLite's AUTOINCREMENT counter. Whether a second thread may write on the caller's connection
  (``connection_shareable``). A long SELECT's rows read ahead by a thread while the caller writes
  the ones before (``fetched_ahead``, PostgreSQL).

Functions without a ``connection`` argument use the default database, as their callers do.
"""

from __future__ import annotations

import datetime as dt
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from django.db import OperationalError, connection
from django_q.models import Schedule

from crm.tasks import ensure_daily

SEARCH_COLUMNS = ("first_name", "last_name", "email", "company_name", "job_title")
SEARCH_TABLE, SEARCH_TRIGGER = "leads_lead_search", "leads_lead_search_ai"
MAX_PAGE_CACHE_KIB = 1024 * 1024
# ANALYZE holds SQLite's write lock while it reads every index: sampling about this many rows per
# index keeps that short on a table of a million leads (SQLite's advice for PRAGMA optimize); the
# planner needs the proportions, which a sample gives.
SQLITE_ANALYSIS_ROWS = 10_000
STATISTICS_SCHEDULE = "leads.vendor.daily-statistics"
STATISTICS_TASK = "leads.vendor.refresh_statistics"


def _sqlite(db=None) -> bool:
    return (db or connection).vendor == "sqlite"


# --- statements ------------------------------------------------------------------------------------


def parameter_limit() -> int:
    """Placeholders allowed in one statement (Django assumes SQLite's old default of 999)."""
    if _sqlite():
        connection.ensure_connection()
        raw = connection.connection
        return min(raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER), 32766) if hasattr(raw, "getlimit") else 999
    if connection.vendor == "postgresql":
        return 65535
    return connection.features.max_query_params or 999


def uses_raw_cursor() -> bool:
    """SQLite statements go to the DB-API connection with its own ``?`` placeholders: Django's
    cursor would rewrite every ``%s`` of each many-thousand-parameter statement with a regex, which
    costs more than SQLite's own work. (SQLite also gives a multi-row INSERT on that cursor
    consecutive rowids.)"""
    return _sqlite()


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


def is_in_sql(column: str, values: list) -> tuple[str, list]:
    """``column`` is one of ``values``, as (SQL condition, params) for ``raw_cursor()``: a single
    array parameter on PostgreSQL (the driver adapts the list in one call, where a placeholder per
    value is adapted one by one), a placeholder per value elsewhere. ``column`` is a quoted column
    reference, never user input."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(values)]
    return f"{column} IN ({', '.join([placeholder()] * len(values))})", list(values)


def starts_with_sql(column: str, prefix: str) -> tuple[str, list]:
    """``column`` starts with ``prefix`` (case counts), as (SQL condition, params) that an index on
    the column answers: a range on SQLite (whose LIKE ignores case and so skips the index), LIKE
    elsewhere. ``column`` is a quoted column reference, never user input."""
    if _sqlite():
        return f"{column} >= %s AND {column} < %s", [prefix, prefix + "\U0010ffff"]
    return f"{column} LIKE %s ESCAPE '\\'", [f"{connection.ops.prep_for_like_query(prefix)}%"]


def datetime_adapter() -> Callable[[dt.datetime], object]:
    """A naive UTC datetime → the value the ORM sends for it. On SQLite with a UTC connection that
    is ``str(value)``, several times cheaper than the general path."""
    adapt = connection.ops.adapt_datetimefield_value
    probe = dt.datetime(2024, 5, 6, 7, 8, 9, 123456)
    if _sqlite() and adapt(probe.replace(tzinfo=dt.UTC)) == str(probe):
        return str
    return lambda value: adapt(value.replace(tzinfo=dt.UTC))


# --- plans -----------------------------------------------------------------------------------------


@contextmanager
def read_through_index(table: str, index: str) -> Iterator[None]:
    """Make the block's SELECTs read ``table`` through ``index`` (SQLite's ``INDEXED BY``): for a
    list page whose filter matches many rows, walking the sort's index stops after one page, while
    the planner — ``sqlite_stat1`` holds averages, not a common country's or the biggest campaign's
    share — would read every match through the filter's index and sort them. A statement the index
    cannot answer runs as it was. PostgreSQL's planner keeps per-value statistics (most common
    values), so there this does nothing."""
    if not _sqlite():
        yield
        return
    source = f'FROM "{table}"'
    hinted = f'{source} INDEXED BY "{index}"'

    def through_index(execute, sql, params, many, context):
        if sql.startswith("SELECT") and source in sql:
            try:
                return execute(sql.replace(source, hinted, 1), params, many, context)
            except OperationalError as error:
                if not str(error).startswith(("no query solution", "no such index")):
                    raise
        return execute(sql, params, many, context)

    with connection.execute_wrapper(through_index):
        yield


# --- bulk transfer ---------------------------------------------------------------------------------


def reserve_ids(model, count: int) -> list[int]:
    """``count`` new primary keys of ``model``'s table, ascending, that no other insert will take,
    so rows can be written with their ids already known (by a second thread, or through ``COPY``).
    PostgreSQL: the table's sequence. SQLite: the table's AUTOINCREMENT counter
    (``sqlite_sequence``, which SQLite keeps at the largest id ever used) moved on by ``count`` in
    one UPDATE, which also takes the database's write lock: the ids are consecutive, and later
    inserts, ours or anyone's, are numbered after them."""
    if count <= 0:
        return []
    table, pk = model._meta.db_table, model._meta.pk.column
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if not _sqlite():
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)", [table, pk, count]
            )
            return sorted(value for (value,) in cursor.fetchall())
        highest = f"(SELECT coalesce(max({quote(pk)}), 0) FROM {quote(table)})"
        cursor.execute(
            f"UPDATE sqlite_sequence SET seq = max(seq, {highest}) + %s WHERE name = %s RETURNING seq", [count, table]
        )
        row = cursor.fetchone()
        if row is None:  # no row was ever inserted: the counter does not exist yet
            cursor.execute(f"INSERT INTO sqlite_sequence (name, seq) SELECT %s, {highest} + %s RETURNING seq",
                           [table, count])  # fmt: skip
            row = cursor.fetchone()
    return list(range(row[0] - count + 1, row[0] + 1))


def connection_shareable() -> bool:
    """Whether a second thread may run statements on the caller's connection while the caller runs
    others (``bulkwrite.WriteBehind``): psycopg 3 connections lock themselves around each operation;
    SQLite serialises calls on one connection when the library is built thread-safe
    (``sqlite3.threadsafety == 3``, Debian's and the python.org builds; Django opens it with
    ``check_same_thread=False``)."""
    return not _sqlite() or sqlite3.threadsafety == 3


def copy_supported() -> bool:
    """Whether the database takes and gives rows through ``COPY`` (PostgreSQL, psycopg 3)."""
    return not _sqlite()


def copy_csv_rows(sql: str, params) -> Iterator[bytes]:
    """The CSV rows of a SELECT (``%s`` placeholders, as Django compiles it), one ``bytes`` per row
    ending in ``\\n``: the server sends one CopyData message per row, and psycopg hands them over as
    they come, so memory stays flat. NULL is an empty unquoted cell, '' a quoted ``""``; a cell is
    quoted when it holds a comma, a double quote, CR or LF. The parameters are bound on the client
    (COPY cannot take server-side parameters). Abandoning the iterator cancels the COPY, or inside
    a transaction reads its rest."""
    from psycopg import ClientCursor

    connection.ensure_connection()
    with connection.wrap_database_errors, ClientCursor(connection.connection) as cursor, _without_jit(cursor):
        select = cursor.mogrify(sql, tuple(params))
        with cursor.copy(f"COPY ({select}) TO STDOUT WITH (FORMAT csv)") as copy:
            abandoned = False
            for row in copy:
                if abandoned:
                    continue
                try:
                    yield bytes(row)
                except GeneratorExit:
                    # Cancelling would abort the surrounding transaction: read the rest instead.
                    if not connection.in_atomic_block:
                        raise
                    abandoned = True


def fetched_ahead(cursor, size: int, *, depth: int = 2, threaded: bool | None = None) -> Iterator[list]:
    """The rest of the rows of ``cursor`` (a Django cursor the caller executed, e.g. by
    ``execute_sql``) in lists of up to ``size``. On PostgreSQL a thread fetches them while the
    caller works on the lists before (at most ``depth`` lists wait, so memory stays flat): psycopg
    waits for each list without holding the GIL, and the caller writes meanwhile. SQLite's are
    fetched by the caller (``threaded`` forces either way): Python's sqlite3 gives up the GIL
    around every row's step, so a fetching thread costs the busy caller a GIL handover per row,
    more than the SQL it would take off it (XLSX exports of 20,000 and 50,000 rows were 7–15 % slower).

    The thread is safe because it uses only this cursor (one thread at a time: the caller must not
    use it, nor run other statements on the connection, until the iterator ends) and the caller's
    own connection, so it reads in the caller's transaction, rows not yet committed too: psycopg 3
    connections lock around each operation; Django opens SQLite connections with
    ``check_same_thread=False``. An error in the thread is raised in the caller; closing the
    iterator early stops the thread and waits for it (it fetches at most one more list). The
    caller closes the cursor, after the iterator."""
    if threaded is None:
        threaded = not _sqlite(getattr(cursor, "db", None))
    if not threaded:
        yield from iter(lambda: cursor.fetchmany(size), [])
        return
    lists: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def fetch() -> None:
        try:
            while not stop.is_set():
                rows = cursor.fetchmany(size)
                lists.put(rows)
                if not rows:
                    return
        except BaseException as error:  # handed to the caller, who raises it
            lists.put(error)

    thread = threading.Thread(target=fetch, name="fetched-ahead", daemon=True)
    thread.start()
    try:
        while rows := lists.get():
            if isinstance(rows, BaseException):
                raise rows
            yield rows
    finally:
        stop.set()
        while not lists.empty():  # a thread waiting to put a list can then put it and see the stop
            lists.get_nowait()
        thread.join()


@contextmanager
def _without_jit(cursor) -> Iterator[None]:
    """PostgreSQL's JIT compiles an export's cell expressions in each parallel worker (4.4 s of
    compiling summed over the workers for a million rows, ``EXPLAIN ANALYZE``); without it the
    million-row export ran in 5.5 s instead of 5.8–6.8 s. A transaction that failed meanwhile
    undoes the SET itself when it rolls back."""
    from psycopg.pq import TransactionStatus

    cursor.execute("SET jit = off")
    try:
        yield
    finally:
        if connection.connection.info.transaction_status != TransactionStatus.INERROR:
            cursor.execute("RESET jit")


# --- page cache ------------------------------------------------------------------------------------


@contextmanager
def page_cache_for(kib: int) -> Iterator[None]:
    """A page cache of ``kib`` KiB (at most 1 GiB; never smaller than configured) while a large
    write runs: with the default 64 MiB a write into a table of a million leads spends much of its
    time re-reading index pages and spilling dirty ones."""
    with _sqlite_cache(lambda configured, database: max(configured, min(kib, MAX_PAGE_CACHE_KIB))):
        yield


@contextmanager
def page_cache_for_database(at_most_kib: int) -> Iterator[None]:
    """``page_cache_for`` the database's current size, up to ``at_most_kib``: the index pages the
    new rows land in are read once instead of again and again (an import)."""
    limit = min(at_most_kib, MAX_PAGE_CACHE_KIB)
    with _sqlite_cache(lambda configured, database: max(configured, min(database, limit))):
        yield


@contextmanager
def page_cache_at_most(kib: int) -> Iterator[None]:
    """A page cache of at most ``kib`` KiB while a long read streams through the table (an
    export): caching the pages it passes once would only grow the process by the configured
    64 MiB; the operating system caches the file anyway."""
    with _sqlite_cache(lambda configured, database: min(configured, kib)):
        yield


@contextmanager
def _sqlite_cache(size_for: Callable[[int, int], int]) -> Iterator[None]:
    """Run the block with ``PRAGMA cache_size`` set to ``size_for(configured KiB, database KiB)`` KiB."""
    if not _sqlite():
        yield
        return
    with connection.cursor() as cursor:
        configured = cursor.execute("PRAGMA cache_size").fetchone()[0]
        page_kib = cursor.execute("PRAGMA page_size").fetchone()[0] / 1024
        database_kib = int(cursor.execute("PRAGMA page_count").fetchone()[0] * page_kib)
        configured_kib = -configured if configured < 0 else int(configured * page_kib)
        wanted = int(size_for(configured_kib, database_kib))
        if wanted != configured_kib:
            cursor.execute(f"PRAGMA cache_size = -{wanted}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(configured)}")


# --- full-text search --------------------------------------------------------------------------------

_cols = ", ".join(SEARCH_COLUMNS)
_new = ", ".join(f"new.{c}" for c in SEARCH_COLUMNS)
_old = ", ".join(f"old.{c}" for c in SEARCH_COLUMNS)

SQLITE_SEARCH_CREATE = [
    f"CREATE VIRTUAL TABLE {SEARCH_TABLE} USING fts5({_cols}, content='leads_lead', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    f"CREATE TRIGGER {SEARCH_TRIGGER} AFTER INSERT ON leads_lead BEGIN "
    f"INSERT INTO {SEARCH_TABLE}(rowid, {_cols}) VALUES (new.id, {_new}); END",
    f"CREATE TRIGGER leads_lead_search_ad AFTER DELETE ON leads_lead BEGIN "
    f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}, rowid, {_cols}) VALUES ('delete', old.id, {_old}); END",
    f"CREATE TRIGGER leads_lead_search_au AFTER UPDATE OF {_cols} ON leads_lead BEGIN "
    f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}, rowid, {_cols}) VALUES ('delete', old.id, {_old}); "
    f"INSERT INTO {SEARCH_TABLE}(rowid, {_cols}) VALUES (new.id, {_new}); END",
    f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}) VALUES ('rebuild')",
]

# unaccent() is only STABLE (it reads its dictionary by name); naming the dictionary explicitly in an
# IMMUTABLE wrapper is the documented way to index it.
_PG_NORMALISE = (
    "regexp_replace(lower(public.unaccent('public.unaccent'::regdictionary, {})), '[^[:alnum:]]+', ' ', 'g')"
)
PG_SEARCH_DOCUMENT = f"leads_search_document({_cols})"
PG_SEARCH_CREATE = [
    "CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public",
    "CREATE OR REPLACE FUNCTION leads_search_document(text, text, text, text, text) RETURNS tsvector "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT to_tsvector('simple', "
    + _PG_NORMALISE.format("concat_ws(' ', $1, $2, $3, $4, $5)")
    + ") $$",
    "CREATE OR REPLACE FUNCTION leads_search_query(text) RETURNS tsquery "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT to_tsquery('simple', "
    "(SELECT string_agg(quote_literal(word) || ':*', ' & ') FROM regexp_split_to_table("
    + _PG_NORMALISE.format("$1")
    + ", ' ') AS word WHERE word <> '')) $$",
    f"CREATE INDEX IF NOT EXISTS leads_lead_search_gin ON leads_lead USING gin ({PG_SEARCH_DOCUMENT})",
]


def ensure_search_index(db) -> bool:
    """Create the search index (and on SQLite its triggers) in the database of connection ``db``
    when missing (``post_migrate``); True when it was created."""
    if db.vendor not in ("sqlite", "postgresql"):
        return False
    with db.cursor() as cursor:
        if _sqlite(db):
            cursor.execute("SELECT 1 FROM sqlite_master WHERE name = %s", [SEARCH_TABLE])
        else:
            cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = 'leads_lead_search_gin'")
        if cursor.fetchone() is not None:
            return False
        for statement in SQLITE_SEARCH_CREATE if _sqlite(db) else PG_SEARCH_CREATE:
            cursor.execute(statement)
    return True


def rebuild_search_index(db) -> None:
    """Re-read every lead into the index of connection ``db`` after bulk loads that bypassed the
    triggers (SQLite only: PostgreSQL's expression index is maintained by every insert)."""
    if _sqlite(db):
        with db.cursor() as cursor:
            cursor.execute(f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}) VALUES ('rebuild')")


def search_ids_sql(words: list[str]) -> tuple[str, list]:
    """The ids of the leads matching every one of ``words`` (lower-case, each a prefix) as
    (SQL, params); the words travel as a bound parameter."""
    if _sqlite():
        match = " AND ".join(f'"{w}"*' for w in words)
        return f"SELECT rowid FROM {SEARCH_TABLE} WHERE {SEARCH_TABLE} MATCH %s", [match]
    return f"SELECT id FROM leads_lead WHERE {PG_SEARCH_DOCUMENT} @@ leads_search_query(%s)", [" ".join(words)]


def search_trigger_drop() -> str | None:
    """Stop indexing new leads row by row, for a large write that indexes them once at the end
    (``leads.bulkwrite.DeferredSearchIndex``). SQLite: drops the per-row insert trigger and returns
    its SQL for ``search_index_fill``; inside the caller's transaction, which holds the write lock
    and commits all at once, so no other connection sees it missing and a failed write restores it
    with everything else. PostgreSQL: None (its expression index follows every insert)."""
    if not _sqlite():
        return None
    with connection.cursor() as cursor:
        found = cursor.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = %s", [SEARCH_TRIGGER]
        ).fetchone()
        if found is None:
            return None
        cursor.execute(f'DROP TRIGGER "{SEARCH_TRIGGER}"')
    return found[0]


def search_index_add(ranges: Iterable[tuple[int, int]]) -> None:
    """Index the leads of the id ranges (first, last) in one ``INSERT … SELECT`` each (a quarter of
    the per-row trigger's cost on a large table), while ``search_trigger_drop`` holds the trigger
    back (SQLite only: elsewhere there is nothing to drop or add)."""
    columns = ", ".join(connection.ops.quote_name(c) for c in SEARCH_COLUMNS)
    with connection.cursor() as cursor:
        for first, last in ranges:
            cursor.execute(
                f'INSERT INTO "{SEARCH_TABLE}"(rowid, {columns}) SELECT id, {columns} FROM "leads_lead" '
                "WHERE id BETWEEN %s AND %s",
                [first, last],
            )


def search_index_fill(ranges: Iterable[tuple[int, int]], trigger: str) -> None:
    """``search_index_add`` of the ranges, then re-create ``trigger`` (from ``search_trigger_drop``)."""
    search_index_add(ranges)
    with connection.cursor() as cursor:
        cursor.execute(trigger)


# --- planner statistics ------------------------------------------------------------------------------


def refresh_statistics(tables: Iterable[str] | None = None) -> list[str]:
    """Bring the query planner's statistics up to date, so that it plans for the tables as they are
    now (after a load of many rows it would otherwise keep plans made for a small table): ``ANALYZE``
    of ``tables`` (default: the whole database), then on SQLite ``PRAGMA optimize``. Returns the
    statements run. The target of the daily ``STATISTICS_SCHEDULE``."""
    quote = connection.ops.quote_name
    statements = ["ANALYZE"] if tables is None else [f"ANALYZE {quote(table)}" for table in tables]
    with connection.cursor() as cursor:
        if not _sqlite():
            for statement in statements:
                cursor.execute(statement)
            return statements
        limit = cursor.execute("PRAGMA analysis_limit").fetchone()[0]
        cursor.execute(f"PRAGMA analysis_limit = {SQLITE_ANALYSIS_ROWS}")
        try:
            for statement in statements:
                cursor.execute(statement)
            cursor.execute("PRAGMA optimize")
        finally:
            cursor.execute(f"PRAGMA analysis_limit = {int(limit)}")
    return [*statements, "PRAGMA optimize"]


def ensure_statistics_schedule(*, hour: int = 1) -> Schedule:
    """Create (or update) the daily ``refresh_statistics`` run, an hour before the nightly
    duplicate scan so that it plans with fresh statistics; returns the django-q2 Schedule."""
    return ensure_daily(STATISTICS_SCHEDULE, STATISTICS_TASK, hour=hour)
