"""Writing generated rows fast: multi-row INSERTs built from ``Lead._meta`` by a producer thread
while the calling thread runs them (the database driver releases the GIL)."""

from __future__ import annotations

import queue
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

from django.db import connection, models
from django.utils import timezone

from leads import vendor
from leads.generate.rows import FIELDS
from leads.models import Lead


class LeadInserter:
    """Multi-row ``INSERT INTO leads_lead (FIELDS…, every other column) VALUES …``.

    Rows come from ``LeadFaker`` already adapted for the backend (see ``adapters``); the columns it
    does not fill get the field's default, prepared once. Building statements needs no database,
    so it runs in the producer thread.
    """

    def __init__(self, batch_size: int):
        quote = connection.ops.quote_name
        by_attname = {f.attname: f for f in Lead._meta.concrete_fields if not f.primary_key}
        unknown = set(FIELDS) - set(by_attname)
        if unknown:
            raise RuntimeError(f"Lead has no column for {sorted(unknown)}: update leads.generate.FIELDS.")
        rest = [f for name, f in by_attname.items() if name not in FIELDS]
        self.adapt_datetime, self.adapt_json = adapters()
        self.tail = [self._default(f) for f in rest]
        columns = ", ".join(quote(f.column) for f in [*(by_attname[name] for name in FIELDS), *rest])
        width = len(FIELDS) + len(rest)
        self.per_statement = max(1, min(batch_size, vendor.parameter_limit() // width))
        # On SQLite (``vendor.raw_cursor``) SQLite also gives a multi-row INSERT consecutive
        # rowids (one writer, rowid = max + 1), so the last rowid tells every id, where fetching
        # RETURNING rows would step SQLite, and swap the GIL with the producer thread, once per row.
        self.returning = not vendor.uses_raw_cursor()
        self.one_row = "(" + ", ".join([vendor.placeholder()] * width) + ")"
        self.head = f"INSERT INTO {quote(Lead._meta.db_table)} ({columns}) VALUES "  # noqa: S608 — names from _meta
        self.end = f" RETURNING {quote(Lead._meta.pk.column)}" if self.returning else ""

    def _default(self, model_field: models.Field):
        if getattr(model_field, "auto_now", False) or getattr(model_field, "auto_now_add", False):
            return self.adapt_datetime(timezone.now().astimezone(UTC).replace(tzinfo=None))
        return model_field.get_db_prep_save(model_field.get_default(), connection)

    def statements(self, rows: list[list]) -> list[tuple[str, list, int]]:
        """(SQL, parameters, number of rows) for ``rows``, in order."""
        out, tail = [], self.tail
        for start in range(0, len(rows), self.per_statement):
            chunk = rows[start : start + self.per_statement]
            params = []
            for row in chunk:
                params += row
                params += tail
            out.append((self.head + ", ".join([self.one_row] * len(chunk)) + self.end, params, len(chunk)))
        return out

    def run(self, cursor, sql: str, params: list, size: int) -> Iterable[int]:
        """Execute one statement; the ids of its rows, in order."""
        cursor.execute(sql, params)
        if self.returning:
            return [pk for (pk,) in cursor.fetchall()]
        return range(cursor.lastrowid - size + 1, cursor.lastrowid + 1)

    def check_ids(self, cursor, ids: array) -> None:
        """The ids derived from last rowids are exactly the rows written (SQLite only)."""
        if self.returning or not ids:
            return
        table, pk = connection.ops.quote_name(Lead._meta.db_table), connection.ops.quote_name(Lead._meta.pk.column)
        cursor.execute(f"SELECT MIN({pk}), MAX({pk}), COUNT(*) FROM {table} WHERE {pk} >= ?", [ids[0]])  # noqa: S608
        if tuple(cursor.fetchone()) != (ids[0], ids[-1], len(ids)) or ids[-1] - ids[0] + 1 != len(ids):
            raise RuntimeError("Generated leads did not get consecutive ids; nothing was written.")


def adapters() -> tuple[Callable[[datetime], object], Callable[[object, object], object]]:
    """(naive-UTC datetime → database value, (JSON value, encoder) → database value), identical to
    what the ORM sends (``vendor.datetime_adapter``: several times cheaper on SQLite)."""
    return vendor.datetime_adapter(), connection.ops.adapt_json_value


class _Producer(threading.Thread):
    """Builds the statements of each batch while the main thread writes the previous one: SQLite
    and psycopg release the GIL while they work, so generation and writing overlap on two cores."""

    def __init__(self, batches: Iterator, inserter: LeadInserter):
        super().__init__(name="generate-leads", daemon=True)
        self.batches, self.inserter = batches, inserter
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            for rows, pairs in self.batches:
                if self.stopped.is_set():
                    return
                self._put((len(rows), self.inserter.statements(rows), pairs))
            self._put(None)
        except BaseException as error:  # noqa: BLE001 — handed to the main thread, which raises it
            self._put(error)

    def _put(self, item) -> None:
        while not self.stopped.is_set():
            try:
                self.queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def __iter__(self):
        while (item := self.queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item


def write(batches: Iterator, batch_size: int, progress: Callable[[int], None] | None) -> tuple[list[tuple], array]:
    """Run the statements the producer builds: the planted pairs as (original id, duplicate id,
    kind), and the ids written in order."""
    inserter = LeadInserter(batch_size)
    producer = _Producer(batches, inserter)
    ids, pairs, written_so_far = array("q"), [], 0
    producer.start()
    try:
        with vendor.raw_cursor() as cursor:
            for written, statements, planted in producer:
                for sql, params, size in statements:
                    ids.extend(inserter.run(cursor, sql, params, size))
                pairs.extend(planted)
                written_so_far += written
                if progress is not None:
                    progress(written_so_far)
            inserter.check_ids(cursor, ids)
    finally:
        producer.stopped.set()
        producer.join()
    return [(ids[original], ids[duplicate], kind) for original, duplicate, kind in pairs], ids
