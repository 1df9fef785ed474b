"""django-q2 tasks of the import & export area: thin wrappers that take ids, re-fetch and call a
service. Every one is safe to retry: a job or run is claimed with a conditional update before any
work, and a scheduled slot produces at most one run (and one email)."""

from __future__ import annotations

import datetime as dt

from django.utils.dateparse import parse_datetime

from crm.models import Membership
from leads.models import ImportJob
from leads.transfer.exports import export_run_store
from leads.transfer.jobs import import_run
from leads.transfer.revert import import_revert, import_revert_failed
from leads.transfer.schedules import scheduled_export_run


def run_import(job_id: int) -> str:
    return import_run(job_id=job_id).status


def revert_import(job_id: int, actor_id: int | None) -> str:
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        return "missing"
    actor = Membership.objects.filter(pk=actor_id, company_id=job.company_id).first() if actor_id else None
    try:
        return import_revert(job=job, actor=actor).status
    except Exception as error:
        import_revert_failed(job_id, error)
        raise


def run_export(run_id: int) -> str:
    return export_run_store(run_id=run_id).status


def run_scheduled_export(schedule_id: int, due_at: str | None = None) -> str:
    """Called by the django-q2 Schedule row of a scheduled export; ``due_at`` is the slot."""
    slot = parse_datetime(due_at) if due_at else None
    if slot is not None and slot.tzinfo is None:
        slot = slot.replace(tzinfo=dt.UTC)
    run = scheduled_export_run(schedule_id=schedule_id, due_at=slot)
    return run.status if run is not None else "inactive"
