"""The import run: parse once, validate and normalise every row in memory, check exact duplicates in
bulk, then write everything in ONE transaction — or nothing at all.

Each created lead gets the same normalisation, scoring, status change row and assignment as one
created by hand, and a history row whose change reason is ``leads.lead.imported:<job id>``.

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
import functools
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from crm import history
from crm.models import Membership
from leads import assignment, bulkwrite, dedup, vendor
from leads.models import (
    CandidateSource,
    DuplicatePolicy,
    ImportJob,
    Lead,
    StatusChange,
)
from leads.queries import leads_visible_to
from leads.transfer import forked
from leads.transfer.copy import CopiedLeadWriter
from leads.transfer.reading import Issue, ParsedFile
from leads.transfer.rows import (
    IN_CHUNK,
    KEY_LABELS,
    Row,
    RowContext,
    existing_keys,
    row_for_transfer,
    row_from_transfer,
)

CHUNK = 2000  # rows per write step (and per progress report)
WRITE_CACHE_KIB = 256 * 1024  # SQLite page cache while an import writes (vendor.page_cache_for_database)
STORED_ERRORS = 5000  # errors kept on the job; the errors file has them all
STORED_NOTES = 1000
# --- the run -----------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What became of a batch of rows (one chunk of a job, or the rows of a preview)."""

    creates: list[Row] = field(default_factory=list)
    updates: list[Row] = field(default_factory=list)
    skipped: list[Row] = field(default_factory=list)
    invalid: list[Row] = field(default_factory=list)
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


class Importer:
    """Reads, checks and (when asked) writes the rows of one job, ``CHUNK`` rows at a time, so
    memory holds one chunk of leads whatever the size of the file. Every row is checked even
    after the first bad one (to report them all); writing stops at the first bad row unless
    invalid rows are skipped, and the caller rolls the transaction back."""

    def __init__(self, job: ImportJob, parsed: ParsedFile, actor: Membership | None, *, progress: bool = True):
        self.job, self.parsed, self.actor = job, parsed, actor
        self.context = RowContext(job, parsed, actor)
        self.progress = progress
        self.seen: dict[tuple[str, str], _Seen] = {}
        self.updated: dict[int, int] = {}  # lead id → the row that updated it
        # Leads this run created are matched through ``seen`` (by row), never as existing leads:
        # the lookups of a chunk run while the previous chunk is being written.
        self.created: set[int] = set()
        self._ids: list[int] = []  # reserved, not yet used
        self.parse_issues: dict[int, list[Issue]] = {}
        for issue in parsed.issues:
            self.parse_issues.setdefault(issue.row, []).append(issue)

    def check(self, records: list[tuple[int, Any]]) -> Outcome:
        """Read, validate and resolve duplicates for ``records`` (nothing is written)."""
        rows = self.read(records)
        return self.resolve(rows, self.lookup(rows))

    def read(self, records: list[tuple[int, Any]]) -> list[Row]:
        """The rows of ``records``, each read and validated (``lead_prepare``), and scored when
        valid; no query."""
        rows, context = [], self.context
        for number, cells in records:
            row = context.read(number, cells)
            context.validate_new(row)
            if not row.errors:
                context.scorer(row.lead)  # here, so that a long file is scored in the helper process
            rows.append(row)
        return rows

    def lookup(self, rows: list[Row] | None) -> dict | None:
        """The live leads holding the match keys of ``rows`` (``existing_keys``), this run's own
        new leads left out: an earlier row of the file is matched by its row (``seen``)."""
        if rows is None:
            return None
        return existing_keys(self.context.company, self.context.key_fields, rows, ignore=self.created)

    def resolve(self, rows: list[Row], existing: dict) -> Outcome:
        outcome = Outcome()
        self._resolve(rows, existing, outcome)
        return outcome

    def run(self, *, write: bool) -> Summary:
        """Check every row and, when ``write``, write the checked rows, ``CHUNK`` at a time, in a
        pipeline: while chunk k+1 is read and validated (Python; in a helper process when the
        file has more than one chunk, ``_validated``), a second thread (``bulkwrite.WriteBehind``)
        writes chunk k-1 and then looks up chunk k's match keys (the database's work); chunk k is
        then resolved and staged here, and handed to that thread."""
        summary = Summary()
        records, total = self.parsed.rows, len(self.parsed.rows)
        starts = range(0, total, CHUNK)
        writing = write
        with (
            bulkwrite.DeferredSearchIndex() if write else contextlib.nullcontext() as index,
            self._validated(records[start : start + CHUNK] for start in starts) as chunks,
            bulkwrite.WriteBehind() as behind,
        ):
            written = None  # the chunk being written, until ``after_insert``
            rows = next(chunks, [])
            behind.submit(self.lookup, rows)
            for start in starts:
                following = next(chunks, None)
                existing = behind.wait()
                if written is not None:
                    self.after_insert(written, summary.snapshots)
                    written = None
                outcome = self.resolve(rows, existing)
                summary.add(outcome)
                writing = writing and (not summary.invalid or self.context.options.skip_invalid)
                insert, ids = None, []
                if writing:
                    ids, insert = self.stage(outcome, remaining=total - start)
                    summary.created_ids.extend(ids)
                    written = outcome
                behind.submit(self._write_then_lookup, insert, following, index, ids)
                rows = following
                if self.progress:
                    report_progress(self.job.pk, "importing", min(start + CHUNK, total), total)
            behind.wait()
            if written is not None:
                self.after_insert(written, summary.snapshots)
        listed = {number for number, _ in records}
        for number in sorted(set(self.parse_issues) - listed):
            summary.issues.extend(self.parse_issues[number])
            summary.invalid.add(number)
        summary.issues.sort(key=lambda issue: issue.row)
        return summary

    @contextlib.contextmanager
    def _validated(self, chunks: Iterable[list]) -> Iterator[Iterator[list[Row]]]:
        """The chunks read and validated (``read``) in order. A file of more than one chunk is
        validated in a forked helper process (``forked.ForkedMap``) one chunk ahead, while this
        process resolves, stages and writes: the context is complete before the fork (the
        workflow's verdicts asked ahead), so the helper never needs the database."""
        chunks = iter(chunks)
        head = list(itertools.islice(chunks, 2))
        chunks = itertools.chain(head, chunks)
        if len(head) < 2 or not forked.available():
            yield map(self.read, chunks)
            return
        self.context.ask_verdicts_ahead()
        with forked.ForkedMap(self._read_for_transfer, chunks) as results:
            yield ([row_from_transfer(row) for row in rows] for rows in results)

    def _read_for_transfer(self, records: list[tuple[int, Any]]) -> list[Row]:
        return [row_for_transfer(row) for row in self.read(records)]

    def _write_then_lookup(self, insert, rows: list[Row] | None, index, ids: list[int]) -> dict | None:
        if insert is not None:
            insert()
            index.index_now(ids)
        return self.lookup(rows)

    def _resolve(self, rows: list[Row], existing: dict, outcome: Outcome) -> None:
        context, policy, seen = self.context, self.context.policy, self.seen
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

    def _plan_create(self, row: Row, outcome: Outcome, keys: list, existing: dict) -> None:
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

    def _plan_update(self, row: Row, outcome: Outcome) -> None:
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

    def _skip(self, row: Row, outcome: Outcome, why: str) -> None:
        row.action, row.match_reason = "skip", why
        outcome.skipped.append(row)

    # -- writing ------------------------------------------------------------------------------------

    def stage(self, outcome: Outcome, *, remaining: int) -> tuple[list[int], Callable[[], None]]:
        """Ready one checked chunk for writing: its new leads (scored when read) stamped and given their ids
        (``_take_ids``; ``remaining``: the rows of the file from this chunk on). Returns the ids
        and the step that writes the leads, their historical rows and status changes (run by
        ``bulkwrite.WriteBehind``; through ``COPY`` where the database offers it,
        ``leads.transfer.copy``, else multi-row INSERTs); ``after_insert`` does the rest once it
        has run."""
        now = timezone.now()
        leads = [row.lead for row in outcome.creates]
        for lead in leads:  # scored when read
            lead.created_at = lead.updated_at = lead.status_changed_at = now
            if lead.owner_id:
                lead.assigned_at = now
            if lead.converted_at is not None:
                lead.converted_at = now
        if not leads:
            return [], _nothing
        lead_rows, history_rows, changes = self._inserters(now)
        values = [lead_rows.values_of(lead) for lead in leads]
        ids = self._take_ids(len(values), remaining)
        self.created.update(ids)
        for row, pk in zip(outcome.creates, ids, strict=True):
            row.seen.pk = pk
        status_rows = self._status_rows(leads, ids, now, changes)
        if self._copied is not None:
            return ids, functools.partial(self._copied.write, values, ids, status_rows)
        # The historical rows are read back from the rows just written, by the database (the ids
        # of one reservation are consecutive where there is no COPY: SQLite's counter).
        history_sql, history_params = self._history_copy

        def insert() -> None:
            lead_rows.insert(values, ids=ids)
            with connection.cursor() as cursor:
                cursor.execute(history_sql, [*history_params, ids[0], ids[-1]])
            changes.insert(status_rows)

        return ids, insert

    def _take_ids(self, count: int, remaining: int) -> list[int]:
        """``count`` ids from those reserved (``vendor.reserve_ids``) for the rest of the file at
        once: one query per run, made while the other thread is idle. A chunk's ids come from one
        reservation, so they are consecutive on SQLite. Ids of rows that were skipped in the end
        are never used (as a sequence leaves gaps)."""
        if len(self._ids) < count:
            self._ids = vendor.reserve_ids(Lead, max(count, remaining))
        ids, self._ids = self._ids[:count], self._ids[count:]
        return ids

    def after_insert(self, outcome: Outcome, snapshots: dict) -> None:
        """What follows a chunk's new leads once they are written: the updates of existing leads,
        the flagged pairs and the assignment of the leads that have no owner."""
        now = timezone.now()
        snapshots.update(self._write_updates(outcome.updates, now))
        self._flag(outcome.creates)
        unowned = [row.lead for row in outcome.creates if row.lead.owner_id is None]
        if unowned:
            assignment.assign_batch(unowned, actor=self.actor)

    def _inserters(self, now):
        if getattr(self, "_raw", None) is None:
            history_extra = history.raw_history_fields(self.actor, self.job.change_reason, at=now, kind="+")
            self._raw = (
                bulkwrite.RawInserter(Lead),
                bulkwrite.RawInserter(Lead.history.model, fixed=history_extra),
                bulkwrite.RawInserter(StatusChange),
            )
            self._copied = CopiedLeadWriter(*self._raw) if vendor.copy_supported() else None
            pk = connection.ops.quote_name(Lead._meta.pk.column)
            self._history_copy = self._raw[1].copied_sql(self._raw[0], Lead._meta.db_table, f"{pk} BETWEEN %s AND %s")
        return self._raw

    def _status_rows(self, leads: list[Lead], ids: list[int], now, changes: bulkwrite.RawInserter) -> list[list]:
        """Each new lead gets its id and a status change into the initial status, then one into the
        status its row asked for (in that order, lead after lead)."""
        initial, actor_id = self.context.batch.initial, getattr(self.actor, "pk", None)
        # One prepared row copied per lead (ids, statuses and notes need no preparing).
        entry = changes.values_from({"lead_id": None, "from_status_id": None, "to_status_id": initial.pk,
                                     "changed_by_id": actor_id, "changed_at": now, "note": ""})  # fmt: skip
        at = changes.position
        lead_at, from_at, to_at, note_at = at["lead_id"], at["from_status_id"], at["to_status_id"], at["note"]
        rows, alias = [], connection.alias
        for lead, pk in zip(leads, ids, strict=True):
            lead.pk = pk
            lead._state.adding, lead._state.db = False, alias
            row = entry.copy()
            row[lead_at] = pk
            rows.append(row)
            if lead.status_id != initial.pk:
                moved = row.copy()
                moved[from_at], moved[to_at], moved[note_at] = initial.pk, lead.status_id, getattr(lead, "_note", "")
                rows.append(moved)
        return rows

    def _write_updates(self, rows: list[Row], now) -> dict:
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

    def _flag(self, rows: list[Row]) -> None:
        for row in rows:
            for other, key in row.flag_with:
                other_id = other.pk if isinstance(other, _Seen) else other
                code = key.removesuffix("_key")
                reason = dedup.Reason(code, f"same {KEY_LABELS.get(key, code)}", 100)
                dedup.candidate_record(
                    company_id=self.context.company.pk,
                    lead_ids=(row.lead.pk, other_id),
                    reasons=[reason],
                    source=CandidateSource.CREATED_ANYWAY,
                )


def _nothing() -> None:
    pass


def _jsonable(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _snapshot(row: Row) -> dict:
    return {
        "old": {name: _jsonable(row.before[name]) for name in row.changed},
        "new": {name: _jsonable(getattr(row.lead, name)) for name in row.changed},
    }


def ids_of_ranges(ranges: list[list[int]]) -> Iterable[int]:
    for start, end in ranges:
        yield from range(start, end + 1)


def progress_key(job_id: int) -> str:
    return f"importjob:{job_id}:progress"


def import_progress(job: ImportJob) -> dict:
    """{"percent", "phase", "done", "total"} for the progress bar (live while running)."""
    if job.is_finished:
        return {"percent": 100, "phase": job.status, "done": job.total_rows, "total": job.total_rows}
    live = cache.get(progress_key(job.pk)) or {}
    total = live.get("total") or job.total_rows or 0
    done = live.get("done", 0)
    phase = live.get("phase", job.status)
    percent = int(100 * done / total) if total else 0
    return {"percent": min(percent, 99), "phase": phase, "done": done, "total": total}


def report_progress(job_id: int, phase: str, done: int, total: int) -> None:
    cache.set(progress_key(job_id), {"phase": phase, "done": done, "total": total}, timeout=3600)


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
