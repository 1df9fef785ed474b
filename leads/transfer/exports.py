"""Exports of leads: the current filter or a selection, with the caller's visibility, as CSV, XLSX or
JSON; the runs that record them (and store their files); export templates.

Memory stays flat however many leads are exported: rows are read with ``.iterator(chunk_size=…)``
as tuples of only the columns the template needs (``leads.transfer.cells``) and written as they come
(``leads.transfer.writers``).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Iterator

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import transaction
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils import timezone

from crm.history import record
from crm.models import Activity, ActivityKind, Company, Membership, Role
from crm.permissions import permissions_for
from crm.queries import team_member_ids
from crm.tasks import enqueue
from leads import listing
from leads.filters import filter_leads
from leads.models import (
    ExportFormat,
    ExportRun,
    ExportRunStatus,
    ExportTemplate,
    Lead,
    ScheduledExport,
)
from leads.queries import leads_visible_to
from leads.transfer.cells import EXPORT_PARAMS, MAX_SELECTION, Column, RowReader, clean_columns, columns_of
from leads.transfer.writers import (
    Counter,
    TemporaryExport,
    file_name,
    json_chunks,
    lead_csv_chunks,
    write_file,
    write_xlsx_cells,
)

# --- which leads ----------------------------------------------------------------------------------------


def export_queryset(membership: Membership, params, *, ids: Iterable | None = None) -> QuerySet[Lead]:
    """Exactly the leads the lead list shows ``membership`` for ``params`` (filters, sort and
    saved or default view), optionally narrowed to a selection of ids; never more than they see.
    Invalid parameters raise ``ValidationError`` (``FilterError``) instead of widening."""
    query = QueryDict(mutable=True)
    for name in params:
        if name not in EXPORT_PARAMS:
            values = params.getlist(name) if hasattr(params, "getlist") else params[name]
            query.setlist(name, list(values) if isinstance(values, list | tuple) else [values])
    filters, sort_spec, _view, view_errors = listing.resolve_view(query, membership)
    if view_errors:
        raise ValidationError(view_errors)
    leads, _ = filter_leads(leads_visible_to(membership), filters or None, membership=membership)
    leads = listing.sorted_leads(leads, listing.parse_sort(sort_spec))
    if ids is not None:
        ids = parse_ids(ids)
        leads = leads.filter(pk__in=ids)
    return leads


def parse_ids(ids) -> list[int]:
    if isinstance(ids, str):
        ids = [part for part in re.split(r"[\s,]+", ids) if part]
    try:
        parsed = sorted({int(pk) for pk in ids})
    except (TypeError, ValueError):
        raise ValidationError({"ids": ["Give lead ids as whole numbers, separated by commas."]}) from None
    if len(parsed) > MAX_SELECTION:
        raise ValidationError({"ids": [f"Select at most {MAX_SELECTION:,} leads, or export the filter instead."]})
    return parsed


def template_for(company: Company, template) -> ExportTemplate | None:
    """The company's template named by id or name ("" → the default columns)."""
    if template in (None, ""):
        return None
    if isinstance(template, ExportTemplate):
        found = template if template.company_id == company.pk else None
    else:
        templates = ExportTemplate.objects.filter(company=company)
        text = str(template).strip()
        found = templates.filter(pk=int(text)).first() if text.isdecimal() else None
        found = found or templates.filter(name__iexact=text).first()
    if found is None:
        raise ValidationError({"template": [f"No export template “{template}” in this company."]})
    return found


def check_format(value: str) -> str:
    value = (value or ExportFormat.CSV).lower()
    if value not in ExportFormat.values:
        raise ValidationError({"format": [f"Choose one of {', '.join(ExportFormat.values)}."]})
    return value


# --- writers --------------------------------------------------------------------------------------------


# --- runs and the activity log ------------------------------------------------------------------------


def record_activity(run: ExportRun, actor: Membership | None, subject: str) -> None:
    Activity.objects.create(
        company_id=run.company_id,
        content_type=ContentType.objects.get_for_model(ExportRun),
        object_id=run.pk,
        kind=ActivityKind.SYSTEM,
        event="leads.leads.exported",
        subject=subject[:200],
        owner=actor,
        data={"format": run.format, "params": run.params, "rows": run.row_count, "run": run.pk},
    )


def _params_dict(params) -> dict:
    if hasattr(params, "lists"):
        return {name: values for name, values in params.lists() if name != "csrfmiddlewaretoken"}
    return dict(params or {})


def export_run_start(
    *,
    membership: Membership,
    params,
    file_format: str,
    template: ExportTemplate | None = None,
    ids=None,
    streamed: bool,
    scheduled: ScheduledExport | None = None,
    due_at: dt.datetime | None = None,
) -> tuple[ExportRun, QuerySet[Lead], list[Column]]:
    """Check everything an export needs (format, filters, template, selection) and record the run
    and its activity-log entry. Bad input raises ``ValidationError``; nothing is recorded then."""
    if "leads.export" not in _permissions(membership):
        raise PermissionDenied
    file_format = check_format(file_format)
    queryset = export_queryset(membership, params, ids=ids)
    columns = columns_of(template, membership.company)
    stored = _params_dict(params)
    if ids is not None:
        stored["ids"] = parse_ids(ids)
    run = ExportRun.objects.create(
        company_id=membership.company_id,
        created_by=membership,
        scheduled_export=scheduled,
        template=template,
        format=file_format,
        params=stored,
        status=ExportRunStatus.STREAMED if streamed else ExportRunStatus.QUEUED,
        file_name=file_name(membership.company, file_format),
        due_at=due_at,
    )
    return run, queryset, columns


def _permissions(membership: Membership) -> frozenset[str]:
    return permissions_for(membership.role)


def stream_export(run: ExportRun, queryset: QuerySet[Lead], columns: list[Column]) -> Iterator[bytes]:
    """CSV or JSON bytes of the run, as they are produced; the row count is recorded at the end."""
    reader = RowReader(columns)
    if run.format == ExportFormat.CSV:
        counter = Counter()
        yield from lead_csv_chunks(reader, queryset, counter)
    else:
        counter = Counter(reader.rows(queryset))
        yield from json_chunks(reader.headers, counter)
    finish_run(run, counter.count, status=run.status)


def xlsx_export(run: ExportRun, queryset: QuerySet[Lead], columns: list[Column]) -> TemporaryExport:
    reader = RowReader(columns)
    counter = Counter(reader.xlsx_rows(queryset))
    temporary = TemporaryExport(".xlsx")
    try:
        write_xlsx_cells(reader.headers, counter, temporary.path)
    except BaseException:
        temporary.discard()
        raise
    finish_run(run, counter.count, status=run.status, size=os.path.getsize(temporary.path))
    return temporary


def finish_run(run: ExportRun, rows: int, *, status: str, size: int = 0, error: str = "") -> None:
    run.row_count, run.status, run.finished_at, run.error = rows, status, timezone.now(), error
    run.file_size = size or run.file_size
    run.save(update_fields=["row_count", "status", "finished_at", "error", "file_size"])
    who = "Scheduled export" if run.scheduled_export_id else "Export"
    if status in (ExportRunStatus.SUCCEEDED, ExportRunStatus.STREAMED):
        record_activity(run, run.created_by, f"{who}: {rows:,} leads as {run.format.upper()}")
    else:
        record_activity(run, run.created_by, f"{who} failed: {error}"[:200])


def export_run_store(*, run_id: int) -> ExportRun:
    """Write a queued run's file to storage (scheduled and API exports). Runs once per run."""
    claimed = ExportRun.objects.filter(pk=run_id, status=ExportRunStatus.QUEUED).update(status=ExportRunStatus.RUNNING)
    run = ExportRun.objects.select_related("company", "created_by__company", "template").get(pk=run_id)
    if not claimed:
        return run
    temporary = TemporaryExport(f".{run.format}")
    try:
        membership = run.created_by
        if membership is None or not membership.is_active:
            raise ValidationError("The member who set up this export has left the company.")
        ids = run.params.get("ids")
        params = {k: v for k, v in run.params.items() if k != "ids"}
        queryset = export_queryset(membership, querydict_of(params), ids=ids)
        reader = RowReader(columns_of(run.template, run.company))
        rows = write_file(run.format, reader, queryset, temporary.path)
        with open(temporary.path, "rb") as handle:
            run.file.save(run.file_name, File(handle), save=False)
        run.save(update_fields=["file"])
        finish_run(run, rows, status=ExportRunStatus.SUCCEEDED, size=os.path.getsize(temporary.path))
    except ValidationError as error:
        finish_run(run, 0, status=ExportRunStatus.FAILED, error=" ".join(error.messages))
    except Exception as error:  # noqa: BLE001 — recorded on the run, shown on the exports page
        finish_run(run, 0, status=ExportRunStatus.FAILED, error=f"Unexpected error: {error.__class__.__name__}.")
    finally:
        temporary.discard()
    return run


def querydict_of(params: dict) -> QueryDict:
    query = QueryDict(mutable=True)
    for name, values in params.items():
        query.setlist(name, [str(v) for v in (values if isinstance(values, list) else [values])])
    return query


def export_runs_visible_to(membership: Membership) -> QuerySet[ExportRun]:
    """Runs whose files hold only leads ``membership`` may see: an admin sees every run of the
    company; others the runs made by themselves or by members of their team."""
    runs = ExportRun.objects.filter(company_id=membership.company_id)
    if membership.role == Role.ADMIN:
        return runs
    return runs.filter(created_by_id__in=team_member_ids(membership))


# --- templates ---------------------------------------------------------------------------------------


def _clean_template(template: ExportTemplate, data: dict) -> None:
    errors = {}
    name = str(data.get("name", template.name) or "").strip()
    if not name:
        errors["name"] = ["Give the template a name."]
    elif len(name) > 100:
        errors["name"] = ["Keep the name under 100 characters."]
    elif ExportTemplate.objects.filter(company_id=template.company_id, name__iexact=name).exclude(pk=template.pk):
        errors["name"] = [f"There is already a template called “{name}”."]
    try:
        template.columns = clean_columns(template.company, data.get("columns", template.columns))
    except ValidationError as error:
        errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    template.name = name


def require_export(actor: Membership, company: Company) -> None:
    if actor.company_id != company.pk or "leads.export" not in _permissions(actor):
        raise PermissionDenied


@transaction.atomic
def export_template_create(*, actor: Membership, data: dict) -> ExportTemplate:
    require_export(actor, actor.company)
    template = ExportTemplate(company=actor.company, created_by=actor)
    _clean_template(template, data)
    record(template, actor, "leads.export_template.created")
    template.save()
    return template


@transaction.atomic
def export_template_update(*, actor: Membership, template: ExportTemplate, data: dict) -> ExportTemplate:
    require_export(actor, template.company)
    _clean_template(template, data)
    record(template, actor, "leads.export_template.changed")
    template.save()
    return template


@transaction.atomic
def export_template_delete(*, actor: Membership, template: ExportTemplate) -> None:
    require_export(actor, template.company)
    record(template, actor, "leads.export_template.deleted")
    template.delete()


def enqueue_export(run_id: int) -> None:
    enqueue("leads.transfer.tasks.run_export", run_id, name=f"export-{run_id}")
