"""Imports on PostgreSQL: the new leads and their status changes go into their tables through
``COPY``, and the leads' historical rows are copied from the leads just written by one ``INSERT …
SELECT``, inside the import's transaction: all or nothing, as the multi-row INSERTs elsewhere.

The leads' ids are reserved first (``vendor.reserve_ids``), as on the other path, so the status
change rows and the history rows are the same rows, in the same order, with the same ids. ``COPY``
numbers the status changes in the order of its rows, as a multi-row INSERT does.

``COPY`` is PostgreSQL's (psycopg 3's ``cursor.copy()``): ``vendor.copy_supported()`` says whether the
importer may take this path.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from django.db import connection

from leads.bulkwrite import RawInserter


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


class CopiedLeadWriter:
    """Writes prepared rows of ``RawInserter``s: ``write(lead values, their ids, status change
    values)``."""

    def __init__(self, leads: RawInserter, history: RawInserter, changes: RawInserter):
        pk = leads.model._meta.pk.column
        self.copy_leads = _copy_sql(leads.model._meta.db_table, [pk, *(f.column for f in leads.fields)])
        self.copy_changes = _copy_sql(changes.model._meta.db_table, [f.column for f in changes.fields])
        self.history = history.copied_sql(leads, leads.model._meta.db_table, f"{_quote(pk)} = ANY(%s)")

    def write(self, leads: list[list], ids: list[int], changes: list[list]) -> None:
        with connection.cursor() as cursor:
            _copy(cursor, self.copy_leads, ([pk, *row] for pk, row in zip(ids, leads, strict=True)), len(leads))
            sql, params = self.history
            cursor.execute(sql, [*params, ids])
            _copy(cursor, self.copy_changes, changes, len(changes))


def _copy_sql(table: str, columns: list[str]) -> str:
    return f"COPY {_quote(table)} ({', '.join(map(_quote, columns))}) FROM STDIN"


def _copy(cursor, sql: str, rows: Iterable[list], count: int) -> None:
    """``COPY … FROM STDIN`` of ``rows`` on Django's ``cursor`` (its driver cursor underneath), with
    errors wrapped as Django's and the statement logged where queries are (``CaptureQueriesContext``,
    DEBUG) — without the rows."""
    started = time.monotonic()
    with connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
    if connection.queries_logged:
        seconds = time.monotonic() - started
        connection.queries_log.append({"sql": f"{sql} -- {count} rows", "time": f"{seconds:.3f}"})
