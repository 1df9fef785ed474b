"""Imports on PostgreSQL: the new leads and their status changes go through ``COPY`` into staging
tables, then one ``INSERT … SELECT`` each into the real tables (leads, their historical rows, status
changes), inside the import's transaction: all or nothing, as the multi-row INSERTs elsewhere.

The leads' ids are reserved from their sequence first (ascending, as the INSERTs would assign them),
so the status change rows and the history rows are the same rows, in the same order, with the same
ids as the other path's. The staging tables are temporary and dropped at commit (``ON COMMIT DROP``);
each write step empties them first, so several imports in one transaction reuse them.

``COPY`` is PostgreSQL's (psycopg 3's ``cursor.copy()``): ``vendor.copy_supported()`` says whether the importer may take this path.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from django.db import connection

from leads.bulkwrite import RawInserter

LEAD_STAGE, CHANGE_STAGE = "leads_import_stage_lead", "leads_import_stage_change"


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


class StagedLeadWriter:
    """Writes prepared rows of ``RawInserter``s through the staging tables: ``reserve_ids(n)``, then
    ``write(lead values, their ids, status change values)``."""

    def __init__(self, leads: RawInserter, history: RawInserter, changes: RawInserter):
        self.leads, self.history, self.changes = leads, history, changes
        lead_table, change_table = leads.model._meta.db_table, changes.model._meta.db_table
        self.sequence = f"pg_get_serial_sequence('{lead_table}', '{leads.model._meta.pk.column}')"
        self.lead_columns = [leads.model._meta.pk.column, *(f.column for f in leads.fields)]
        self.change_columns = [changes.model._meta.pk.column, *(f.column for f in changes.fields)]
        self.prepare = [
            f"CREATE TEMP TABLE IF NOT EXISTS {_quote(LEAD_STAGE)} (LIKE {_quote(lead_table)}) ON COMMIT DROP",
            f"CREATE TEMP TABLE IF NOT EXISTS {_quote(CHANGE_STAGE)} (LIKE {_quote(change_table)}) ON COMMIT DROP",
            f"TRUNCATE {_quote(LEAD_STAGE)}, {_quote(CHANGE_STAGE)}",
        ]
        self.copy_leads = self._copy_sql(LEAD_STAGE, self.lead_columns)
        self.copy_changes = self._copy_sql(CHANGE_STAGE, self.change_columns)
        self.inserts = [
            (self._move_sql(lead_table, self.lead_columns, LEAD_STAGE, self.lead_columns), []),
            self._history_sql(),
            (self._move_sql(change_table, self.change_columns[1:], CHANGE_STAGE, self.change_columns[1:]), []),
        ]

    @staticmethod
    def _copy_sql(table: str, columns: list[str]) -> str:
        return f"COPY {_quote(table)} ({', '.join(map(_quote, columns))}) FROM STDIN"

    @staticmethod
    def _move_sql(table: str, columns: list[str], stage: str, selected: list[str]) -> str:
        """Rows in the staging table's id order: the order the other path inserts them in."""
        return (
            f"INSERT INTO {_quote(table)} ({', '.join(map(_quote, columns))}) "  # noqa: S608 — model metadata
            f"SELECT {', '.join(map(_quote, selected))} FROM {_quote(stage)} ORDER BY {_quote('id')}"
        )

    def _history_sql(self) -> tuple[str, list]:
        """Historical rows from the staged leads: the lead's columns, and the fixed ones (when, why,
        who, from where) as parameters."""
        fixed = dict(self.history.fixed)
        source = {f.attname: f.column for f in self.leads.fields} | {"id": self.leads.model._meta.pk.column}
        selected, params = [], []
        for index, model_field in enumerate(self.history.fields):
            if index in fixed:
                selected.append("%s")
                params.append(fixed[index])
            else:
                selected.append(_quote(source[model_field.attname]))
        columns = [f.column for f in self.history.fields]
        table = self.history.model._meta.db_table
        sql = (
            f"INSERT INTO {_quote(table)} ({', '.join(map(_quote, columns))}) "  # noqa: S608 — model metadata
            f"SELECT {', '.join(selected)} FROM {_quote(LEAD_STAGE)} ORDER BY {_quote('id')}"
        )
        return sql, params

    def reserve_ids(self, count: int) -> list[int]:
        """``count`` new lead ids, ascending, from the table's sequence."""
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT nextval({self.sequence}) FROM generate_series(1, %s)", [count])  # noqa: S608
            return sorted(pk for (pk,) in cursor.fetchall())

    def write(self, leads: list[list], ids: list[int], changes: list[list]) -> None:
        with connection.cursor() as cursor:
            for statement in self.prepare:
                cursor.execute(statement)
            _copy(cursor, self.copy_leads, ([pk, *row] for pk, row in zip(ids, leads, strict=True)), len(leads))
            _copy(cursor, self.copy_changes, ([n, *row] for n, row in enumerate(changes)), len(changes))
            for sql, params in self.inserts:
                cursor.execute(sql, params)


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
