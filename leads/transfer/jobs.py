"""Batch import of leads: the job's life and its entry points (UI, API, admin and ``import_leads``).

1. ``import_job_create`` stores the file and reads its columns (a file that cannot be read at all
   is refused here, with the reason); the headers are matched to lead fields (``auto_mapping``).
2. ``import_preview`` checks the first rows with a mapping: per-row errors and duplicates found.
3. ``import_job_start`` fixes the mapping and options and queues ``leads.transfer.tasks.run_import``.
4. ``import_run`` (the task) validates every row (``leads.transfer.importer``). By default one
   invalid row imports nothing and every bad row is reported (row, column, value, reason) in
   ``ImportJob.errors`` and in a file; with ``skip_invalid`` the valid rows are imported and the
   invalid ones are returned as a file to fix and re-import.
5. ``import_revert`` (``leads.transfer.revert``) removes the job's created leads and undoes its
   updates.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import dataclass

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from crm import history
from crm.models import Company, Membership, Role
from crm.queries import team_member_ids
from crm.tasks import enqueue
from leads import bulkwrite, vendor
from leads.dedup.tasks import queue_check_new_leads
from leads.models import (
    ImportFormat,
    ImportJob,
    ImportStatus,
    Lead,
    StatusChange,
)
from leads.transfer.cells import neutralise
from leads.transfer.importer import (
    STORED_ERRORS,
    STORED_NOTES,
    WRITE_CACHE_KIB,
    Importer,
    Summary,
    progress_key,
    report_progress,
)
from leads.transfer.mapping import (
    ERRORS_COLUMN,
    PREVIEW_ROWS,
    SOURCE_ROW_COLUMN,
    ImportOptions,
    auto_mapping,
    clean_options,
    mapping_errors,
)
from leads.transfer.reading import FileProblem, Issue, ParsedFile, parse_file
from leads.transfer.rows import Row

logger = logging.getLogger(__name__)

# An import that created this many leads changed the tables enough for the planner's statistics to
# mislead it (a table that had a hundred leads now has tens of thousands): refresh them at once.
STATISTICS_AFTER_CREATED = 10_000

# --- job lifecycle ----------------------------------------------------------------------------------


def _check_actor(company: Company, actor: Membership | None) -> None:
    if actor is not None and actor.company_id != company.pk:
        raise PermissionDenied


def import_job_create(
    *,
    company: Company,
    actor: Membership | None,
    upload,
    file_format: str | None = None,
    options: ImportOptions | None = None,
    ip_address: str | None = None,
    user_agent: str = "",
) -> ImportJob:
    """Store an uploaded file as a new job and read its columns. A file that cannot be read at all
    (empty, binary, too large, a zip bomb, not a list of objects, …) raises ``ValidationError``
    under ``file`` and stores nothing."""
    _check_actor(company, actor)
    name = getattr(upload, "name", "") or "upload"
    if file_format not in (None, "") and file_format not in ImportFormat.values:
        raise ValidationError({"format": [f"Choose one of {', '.join(ImportFormat.values)}."]})
    with bulkwrite.collecting_rarely():
        parsed = parse_file(upload, name, file_format or None)
    options = options or ImportOptions()
    clean_options(company, actor, options, parsed.format)
    upload.seek(0)
    job = ImportJob(
        company=company,
        created_by=actor,
        file_name=name.rsplit("/", 1)[-1][:255],
        file_size=getattr(upload, "size", None) or _size(upload),
        file_format=parsed.format,
        encoding=parsed.encoding,
        delimiter=parsed.delimiter,
        headers=parsed.headers,
        mapping=auto_mapping(parsed.headers, company) if parsed.format != ImportFormat.JSONL else [],
        options=options.as_dict(),
        total_rows=len(parsed.rows) + len({i.row for i in parsed.issues} - {n for n, _ in parsed.rows}),
        ip_address=ip_address or None,
        user_agent=(user_agent or "")[:300],
    )
    job.file.save(f"{timezone.now():%Y%m%d%H%M%S}-{_safe_name(job.file_name)}", _content(upload), save=False)
    job.save()
    # The file as just read, for a run in this process (``import_job_start(inline=True)``); a
    # worker reads the stored file again.
    job.parsed_file = parsed
    return job


def _size(handle) -> int:
    handle.seek(0, io.SEEK_END)
    size = handle.tell()
    handle.seek(0)
    return size


def _content(upload):
    upload.seek(0)
    return upload if hasattr(upload, "chunks") else ContentFile(upload.read())


def _safe_name(name: str) -> str:
    return re.sub(r"[^\w.\-]+", "_", name)[-100:] or "upload"


def import_jobs_visible_to(membership: Membership) -> QuerySet[ImportJob]:
    """Import jobs hold the file's data: an admin sees every job of the company, others the jobs
    started by themselves or by members of their team (as with export runs)."""
    jobs = ImportJob.objects.filter(company_id=membership.company_id)
    if membership.role == Role.ADMIN:
        return jobs
    return jobs.filter(created_by_id__in=team_member_ids(membership))


def enqueue_import(job_id: int) -> None:
    enqueue("leads.transfer.tasks.run_import", job_id, name=f"import-{job_id}")


def import_job_start(
    *,
    job: ImportJob,
    actor: Membership | None,
    mapping: list | None = None,
    options: ImportOptions | None = None,
    inline: bool = False,
) -> ImportJob:
    """Fix the job's mapping and options and queue it as a django-q2 task (sync in tests), or run
    it in this process when ``inline`` (the management command and the admin, which wait)."""
    _check_actor(job.company, actor)
    if job.status != ImportStatus.UPLOADED:
        raise ValidationError({"__all__": ["This import has already been started."]})
    if mapping is not None:
        job.mapping = list(mapping)
    if options is not None:
        clean_options(job.company, actor, options, job.file_format)
        job.options = options.as_dict()
    if job.file_format != ImportFormat.JSONL:
        problems = mapping_errors(job.headers, job.mapping, job.company)
        if not job.options.get("campaign_id") and "campaign" not in job.mapping:
            problems.append("Every lead needs a campaign: choose one for the import or map a Campaign column.")
        if problems:
            raise ValidationError({"mapping": problems})
    # A conditional update: of two clicks on "Import", only one starts the job.
    started = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.UPLOADED).update(
        status=ImportStatus.QUEUED, mapping=job.mapping, options=job.options
    )
    if not started:
        raise ValidationError({"__all__": ["This import has already been started."]})
    job.status = ImportStatus.QUEUED
    if inline:
        return import_run(job_id=job.pk, parsed=getattr(job, "parsed_file", None))
    enqueue_import(job.pk)
    job.refresh_from_db()
    return job


# --- public entry points -------------------------------------------------------------------------------


def _open_parsed(job: ImportJob) -> ParsedFile:
    with job.file.open("rb") as handle:
        return parse_file(handle, job.file_name, job.file_format)


@dataclass
class PreviewRow:
    number: int
    values: list[str]
    issues: list[Issue]
    action: str
    note: str


def import_preview(
    *, job: ImportJob, actor: Membership | None, mapping: list, limit: int = PREVIEW_ROWS
) -> list[PreviewRow]:
    """The first ``limit`` rows as the import would treat them (nothing is written)."""
    _check_actor(job.company, actor)
    parsed = _open_parsed(job)
    head = parsed.rows[:limit]
    numbers = {n for n, _ in head}
    head_file = ParsedFile(
        format=parsed.format, headers=parsed.headers, rows=head,
        issues=[i for i in parsed.issues if i.row in numbers], row_noun=parsed.row_noun,
    )  # fmt: skip
    preview_job = ImportJob(
        pk=job.pk, company=job.company, mapping=mapping, options=job.options, file_format=job.file_format
    )
    importer = Importer(preview_job, head_file, actor, progress=False)
    outcome = importer.check(head)
    for number in sorted(set(importer.parse_issues) - numbers):
        outcome.issues.extend(importer.parse_issues[number])
        outcome.invalid.append(Row(number, None, action="invalid"))
    by_number: dict[int, list[Issue]] = {}
    for issue in outcome.issues:
        by_number.setdefault(issue.row, []).append(issue)
    rows = []
    for row in sorted(outcome.creates + outcome.updates + outcome.skipped + outcome.invalid, key=lambda r: r.number):
        cells = row.cells if isinstance(row.cells, list) else []
        note = row.match_reason
        if row.action == "update":
            note = f"updates lead #{row.match_id} (same {row.match_reason})"
        elif row.flag_with:
            note = "possible duplicate: will be flagged"
        rows.append(PreviewRow(row.number, cells, by_number.get(row.number, []), row.action, note))
    return rows


def import_run(*, job_id: int, parsed: ParsedFile | None = None) -> ImportJob:
    """The task body: validate the whole file, then write it in one transaction (or report why
    nothing was written). A job that is not queued (already run, or being run) is left alone.
    ``parsed``: the job's file as already read in this process (else it is read again)."""
    now = timezone.now()
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=now
    )
    job = ImportJob.objects.select_related("company", "created_by__user").get(pk=job_id)
    if not claimed:
        return job
    try:
        with history.acting_from(history.RequestMeta.of_record(job)), bulkwrite.collecting_rarely():
            _run(job, parsed or _open_parsed(job))
    except FileProblem as problem:
        _finish(job, ImportStatus.FAILED, error=problem.text)
    except ValidationError as error:
        _finish(job, ImportStatus.FAILED, error=" ".join(error.messages))
    except Exception:
        logger.exception("Import job %s failed", job_id)
        _finish(job, ImportStatus.FAILED, error="The import stopped on an unexpected error; nothing was imported.")
    finally:
        cache.delete(progress_key(job_id))
    job.refresh_from_db()
    return job


def _finish(job: ImportJob, status: str, **fields) -> None:
    fields.update(status=status, finished_at=timezone.now())
    for name, value in fields.items():
        setattr(job, name, value)
    ImportJob.objects.filter(pk=job.pk).update(**fields)


def _run(job: ImportJob, parsed: ParsedFile) -> None:
    options = ImportOptions.from_dict(job.options)
    importer = Importer(job, parsed, job.created_by)
    total = len(parsed.rows)
    report_progress(job.pk, "importing", 0, total)
    with vendor.page_cache_for_database(WRITE_CACHE_KIB), transaction.atomic():
        summary = importer.run(write=not options.dry_run)
        counts = {
            "total_rows": total + len({i.row for i in parsed.issues} - {n for n, _ in parsed.rows}),
            "processed_rows": total,
            "created_count": summary.created,
            "updated_count": summary.updated,
            "skipped_count": summary.skipped,
            "flagged_count": summary.flagged,
            "invalid_count": len(summary.invalid),
            "errors": [issue.as_dict() for issue in summary.issues[:STORED_ERRORS]],
            "notes": sorted(summary.notes, key=lambda n: n["row"])[:STORED_NOTES],
        }
        failed = summary.invalid and not options.skip_invalid
        if failed or options.dry_run:
            transaction.set_rollback(True)
        else:
            written = {
                "created_ranges": bulkwrite.id_ranges(summary.created_ids),
                "updated_snapshots": summary.snapshots,
            }
            _finish(job, ImportStatus.SUCCEEDED, **counts, **written)
            # Near-duplicates of the new leads (no key in common) go to the review queue as a
            # form's lead's would: checked by a worker once this commits.
            queue_check_new_leads(job.company_id, summary.created_ids, name=f"import-duplicates-{job.pk}")
    if summary.invalid:
        _store_errors_file(job, parsed, summary)
        ImportJob.objects.filter(pk=job.pk).update(errors_file=job.errors_file.name)
    if failed:
        nothing = {"created_count": 0, "updated_count": 0, "skipped_count": 0, "flagged_count": 0}
        _finish(job, ImportStatus.FAILED, error=_failure_text(len(summary.invalid), parsed), **counts | nothing)
    elif options.dry_run:
        _finish(job, ImportStatus.CHECKED, **counts)
    elif summary.created >= STATISTICS_AFTER_CREATED:
        # Fresh planner statistics for the tables the import wrote, by a worker: the import is
        # committed and done (ANALYZE of a million leads takes seconds on PostgreSQL); a failure
        # there is the task's, and the daily refresh catches up.
        tables = [model._meta.db_table for model in (Lead, Lead.history.model, StatusChange)]
        enqueue(vendor.STATISTICS_TASK, tables, name=f"import-statistics-{job.pk}")


def _failure_text(rows: int, parsed: ParsedFile) -> str:
    noun = parsed.row_noun + ("s" if rows != 1 else "")
    return f"{rows} {noun} with errors: nothing was imported. Fix them (or skip invalid rows) and import again."


def _store_errors_file(job: ImportJob, parsed: ParsedFile, summary: Summary) -> None:
    """The invalid rows as they were, with their errors, to fix and import again."""
    messages: dict[int, list[str]] = {}
    for issue in summary.issues:
        prefix = f"{issue.column}: " if issue.column else ""
        messages.setdefault(issue.row, []).append(prefix + issue.message)
    invalid = summary.invalid
    stem = job.file_name.rsplit(".", 1)[0]
    if parsed.format == ImportFormat.JSONL:
        with job.file.open("rb") as handle:
            lines = handle.read().decode(parsed.encoding or "utf-8").splitlines()
        body = "\n".join(lines[n - 1] for n in sorted(invalid) if n - 1 < len(lines)) + "\n"
        job.errors_file.save(f"{_safe_name(stem)}-errors.jsonl", ContentFile(body.encode()), save=False)
        return
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*(neutralise(h) for h in parsed.headers), ERRORS_COLUMN, SOURCE_ROW_COLUMN])
    for number, cells in parsed.rows:
        if number in invalid:
            writer.writerow([*(neutralise(str(c)) for c in cells), "; ".join(messages.get(number, [])), number])
    for number in sorted(invalid - {n for n, _ in parsed.rows}):
        writer.writerow([""] * len(parsed.headers) + ["; ".join(messages.get(number, [])), number])
    job.errors_file.save(
        f"{_safe_name(stem)}-errors.csv", ContentFile(("\ufeff" + out.getvalue()).encode("utf-8")), save=False
    )
