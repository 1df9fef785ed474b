"""Bulk operations on leads: all-or-nothing, row-level checked, one history row per lead with the
operation's change reason and one summary activity. Large jobs run in a django-q2 worker and report
live progress through the cache (the job's own transaction is invisible to other connections
until it commits)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from crm import history
from crm.ids import ID_MESSAGE, is_valid_id
from crm.models import Activity, ActivityKind, Membership, Role
from crm.queries import team_member_ids
from leads import assignment, bulkwrite
from leads.filters import filter_leads
from leads.models import BulkJob, BulkJobStatus, Campaign, Lead, LeadStatus, StatusChange
from leads.queries import leads_trashable_by, leads_visible_to
from leads.services import LEAD_VALIDATORS, run_lead_validators
from leads.workflow import CONVERT_INSTEAD, TransitionCheck, is_conversion_target, status_values

OPERATIONS = {
    "status": "Change status",
    "assign": "Assign",
    "campaign": "Set campaign",
    "comment": "Add a comment",
    "delete": "Delete",
    "restore": "Restore",
}
PERMISSIONS = {"restore": "leads.restore", "delete": "leads.delete", "assign": "leads.assign"}
MAX_LEADS = 100_000
CHUNK = 500


@dataclass(frozen=True)
class ExtraOperation:
    """An operation another app runs as the same all-or-nothing job, started from its own pages (so
    not in the lead list's menu). ``clean(actor, params)`` returns the job's params or raises
    ``BulkError``; ``apply(job, actor, leads, reason)`` handles one locked chunk and returns the leads
    that cannot take the change ("#id name (why)")."""

    label: str
    permission: str
    clean: Callable[[Membership, dict], dict]
    apply: Callable[[BulkJob, Membership, list[Lead], str], list[str]]


EXTRA_OPERATIONS: dict[str, ExtraOperation] = {}  # nurturing registers "enrol"


def operation_label(operation: str) -> str:
    extra = EXTRA_OPERATIONS.get(operation)
    return extra.label if extra else OPERATIONS.get(operation, operation)


class BulkError(ValidationError):
    pass


def _progress_key(job_id: int) -> str:
    return f"bulkjob:{job_id}:done"


def job_progress(job: BulkJob) -> int:
    if job.status == BulkJobStatus.SUCCEEDED:
        return job.total
    if job.status != BulkJobStatus.RUNNING:
        return 0
    return min(int(cache.get(_progress_key(job.pk), 0)), job.total)


def _targets(actor: Membership, operation: str) -> QuerySet[Lead]:
    if operation == "delete":
        return leads_trashable_by(actor)
    return leads_visible_to(actor, deleted=operation == "restore")


def _target_ids(actor: Membership, operation: str, lead_ids, filter_params) -> list[int]:
    visible = _targets(actor, operation)
    if filter_params is not None:
        queryset, _ = filter_leads(visible, filter_params, membership=actor)
        ids = list(queryset.order_by("id").values_list("id", flat=True)[: MAX_LEADS + 1])
    else:
        try:
            ids = sorted({int(i) for i in lead_ids})
        except (TypeError, ValueError):
            raise BulkError({"ids": "Lead ids must be whole numbers."}) from None
        if not all(is_valid_id(i) for i in ids):
            raise BulkError({"ids": ID_MESSAGE})
        if len(ids) > MAX_LEADS:
            raise BulkError({"ids": f"At most {MAX_LEADS:,} leads per operation; narrow the filter."})
        found = set(visible.filter(id__in=ids).values_list("id", flat=True)) if ids else set()
        missing = [i for i in ids if i not in found]
        if missing:
            raise BulkError({"ids": _missing_message(actor, operation, missing)})
    if not ids:
        raise BulkError({"ids": "Select at least one lead."})
    if len(ids) > MAX_LEADS:
        raise BulkError({"ids": f"At most {MAX_LEADS:,} leads per operation; narrow the filter."})
    return ids


def _missing_message(actor: Membership, operation: str, missing: list[int]) -> str:
    """Leads the actor cannot see are "not available"; visible ones they may not trash are "not
    yours to delete" (an SDR and a pool lead, say)."""
    seen = (
        set(leads_visible_to(actor).filter(id__in=missing).values_list("id", flat=True))
        if operation == "delete"
        else set()
    )
    problem = "are not yours to delete" if seen else "are not available to you"
    shown_ids = [i for i in missing if i in seen] if seen else missing
    shown = ", ".join(f"#{i}" for i in shown_ids[:20]) + (" …" if len(shown_ids) > 20 else "")
    return f"{len(shown_ids)} lead(s) {problem}: {shown}. Nothing was changed."


def _clean_params(actor: Membership, operation: str, params: dict) -> dict:
    company_id = actor.company_id
    if operation == "status":
        status = LeadStatus.objects.filter(company_id=company_id, pk=_int(params.get("status"), "status")).first()
        if status is None:
            raise BulkError({"status": "Choose a status of this company."})
        if is_conversion_target(status):
            raise BulkError({"status": CONVERT_INSTEAD.format(status=status.name)})
        return {"status": status.pk, "note": str(params.get("note") or "").strip()}
    if operation == "assign":
        owner = Membership.objects.filter(company_id=company_id, pk=_int(params.get("owner"), "owner")).first()
        if owner is None:
            raise BulkError({"owner": "Choose a member of this company."})
        _check_assignable(actor, owner)
        return {"owner": owner.pk}
    if operation == "campaign":
        campaign = Campaign.objects.filter(company_id=company_id, pk=_int(params.get("campaign"), "campaign")).first()
        if campaign is None:
            raise BulkError({"campaign": "Choose a campaign of this company."})
        return {"campaign": campaign.pk}
    if operation == "comment":
        from crm.sanitize import html_is_blank, sanitize_html

        body = sanitize_html(str(params.get("body") or ""))
        if html_is_blank(body):
            raise BulkError({"body": "Write the comment to add."})
        return {"body": body}
    return {}


def _int(value, field: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BulkError({field: f"Choose a {field}."}) from None


def _check_assignable(actor: Membership, owner: Membership) -> None:
    if not owner.is_active:
        raise BulkError({"owner": f"{owner.user} is no longer active."})
    if not owner.is_available:
        raise BulkError({"owner": f"{owner.user} is unavailable and cannot receive leads."})
    if actor.role == Role.MANAGER and owner.pk not in team_member_ids(actor):
        raise BulkError({"owner": f"{owner.user} is not in your team."})


@transaction.atomic
def bulk_job_create(
    *,
    actor: Membership,
    operation: str,
    params: dict | None = None,
    lead_ids: Iterable | None = None,
    filter_params=None,
) -> BulkJob:
    """Validate the request and fix the exact set of leads. Raises ``BulkError`` naming the problem."""
    extra = EXTRA_OPERATIONS.get(operation)
    if operation not in OPERATIONS and extra is None:
        raise BulkError({"operation": f"Choose one of {', '.join(OPERATIONS)}."})
    required = extra.permission if extra else PERMISSIONS.get(operation)
    from crm.permissions import permissions_for

    if required and required not in permissions_for(actor.role):
        raise BulkError({"operation": f"Your role may not {operation_label(operation).lower()} leads in bulk."})
    if lead_ids is None and filter_params is None:
        raise BulkError({"ids": "Select leads or a filter."})
    cleaned = extra.clean(actor, params or {}) if extra else _clean_params(actor, operation, params or {})
    ids = _target_ids(actor, operation, lead_ids, filter_params)
    return BulkJob.objects.create(
        company_id=actor.company_id, created_by=actor, operation=operation, params=cleaned, lead_ids=ids, total=len(ids)
    )


def bulk_job_start(job: BulkJob) -> BulkJob:
    """Run small jobs now; queue large ones for a worker (they survive the browser being closed)."""
    if job.total <= settings.CRM_BULK_INLINE_LIMIT:
        return bulk_job_run(job_id=job.pk)
    from django_q.tasks import async_task

    async_task("leads.tasks.bulk_job_run", job.pk, task_name=f"bulk-job-{job.pk}")
    job.refresh_from_db()
    return job


def bulk_job_run(*, job_id: int) -> BulkJob:
    """Execute a job in one transaction; any failure rolls back every lead and is recorded."""
    claimed = BulkJob.objects.filter(pk=job_id, status=BulkJobStatus.QUEUED).update(
        status=BulkJobStatus.RUNNING, started_at=timezone.now()
    )
    job = BulkJob.objects.select_related("created_by__user", "company").get(pk=job_id)
    if not claimed:
        return job  # another worker has it, or it already finished: running twice changes nothing
    cache.set(_progress_key(job.pk), 0, timeout=3600)
    try:
        with transaction.atomic(), history.acting_from(history.RequestMeta.of_record(job)):
            summary = _execute(job)
    except ValidationError as error:
        messages = (
            [m for ms in error.message_dict.values() for m in ms] if hasattr(error, "error_dict") else error.messages
        )
        return _finish(job, BulkJobStatus.FAILED, error=" ".join(messages))
    except Exception as error:  # noqa: BLE001 — recorded on the job, shown to the user, re-raised for the log
        _finish(
            job, BulkJobStatus.FAILED, error=f"The operation failed and nothing was changed ({type(error).__name__})."
        )
        raise
    return _finish(job, BulkJobStatus.SUCCEEDED, result=summary)


def _finish(job: BulkJob, status: str, *, error: str = "", result: dict | None = None) -> BulkJob:
    job.status, job.error, job.result, job.finished_at = status, error, result or {}, timezone.now()
    job.save(update_fields=["status", "error", "result", "finished_at"])
    cache.delete(_progress_key(job.pk))
    return job


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _locked_leads(job: BulkJob, chunk: list[int]) -> QuerySet[Lead]:
    visible = _targets(job.created_by, job.operation).filter(id__in=chunk)
    # Ordered by id, not by the model's default (newest first): SQLite then looks the ids up by
    # rowid instead of walking the company's whole created-at index, and PostgreSQL locks the rows
    # in one order whoever runs the job.
    return visible.select_for_update(of=("self",)).select_related("status").order_by("pk")


def _execute(job: BulkJob) -> dict:
    actor = job.created_by
    if actor is None or not actor.is_active:
        raise ValidationError("The member who started this job is no longer active.")
    reason = f"leads.lead.bulk_{job.operation}:{job.pk}"
    move = partial(_apply_status, check=TransitionCheck(actor))
    handler = {"status": move, "comment": _apply_comment}.get(job.operation, _apply_fields)
    if job.operation in EXTRA_OPERATIONS:
        handler = EXTRA_OPERATIONS[job.operation].apply
    done = 0
    offenders: list[str] = []
    for chunk in _chunks(job.lead_ids):
        leads = list(_locked_leads(job, chunk))
        if len(leads) != len(chunk):
            raise ValidationError(
                f"{len(chunk) - len(leads)} lead(s) changed visibility or were removed since the job was created."
            )
        offenders += handler(job, actor, leads, reason)
        done += len(chunk)
        cache.set(_progress_key(job.pk), done, timeout=3600)
    if offenders:
        shown = "; ".join(offenders[:20]) + (f"; and {len(offenders) - 20} more" if len(offenders) > 20 else "")
        raise ValidationError(f"{len(offenders)} lead(s) cannot make this change: {shown}. Nothing was changed.")
    Activity.objects.create(
        company_id=job.company_id,
        content_type=ContentType.objects.get_for_model(BulkJob),
        object_id=job.pk,
        kind=ActivityKind.SYSTEM,
        event=f"leads.bulk.{job.operation}",
        subject=f"{operation_label(job.operation)}: {job.total} leads",
        owner=actor,
        data={"job": job.pk, "params": job.params, "count": job.total},
    )
    return {"changed": job.total, "operation": job.operation}


def _save(leads: list[Lead], values: dict, actor: Membership, reason: str) -> None:
    """Every lead of the chunk gets the same new values: one UPDATE, then one history row each,
    written as multi-row INSERTs (``bulkwrite.RawInserter``: the historical model's own columns,
    prepared as the ORM prepares them, without building a historical instance per lead)."""
    now = timezone.now()
    values = {**values, "updated_at": now}
    Lead.objects.filter(pk__in=[lead.pk for lead in leads]).update(**values)
    for lead in leads:
        for name, value in values.items():
            setattr(lead, name, value)
    rows = bulkwrite.RawInserter(Lead.history.model, fixed=history.raw_history_fields(actor, reason, at=now))
    rows.insert([rows.values_of(lead) for lead in leads])


def _apply_fields(job: BulkJob, actor: Membership, leads: list[Lead], reason: str) -> list[str]:
    now = timezone.now()
    params = job.params
    if job.operation == "assign":
        # The assignment service checks team, availability and capacity, logs why, and queues one
        # notification per owner for the whole transaction.
        try:
            assignment.leads_assign_many(
                actor=actor, leads=leads, owner=params["owner"], reason=f"bulk operation #{job.pk}"
            )
        except PermissionDenied:
            raise ValidationError("You may not reassign some of these leads.") from None
    elif job.operation == "campaign":
        campaign = Campaign.objects.get(pk=params["campaign"])
        if offenders := _refused_by_validators(leads, {"campaign": campaign}):
            return offenders
        _save(leads, {"campaign_id": campaign.pk}, actor, reason)
    elif job.operation in ("delete", "restore"):
        deleting = job.operation == "delete"
        _save(leads, {"is_deleted": deleting, "deleted_at": now if deleting else None}, actor, reason)
    return []


def _refused_by_validators(leads: list[Lead], changes: dict) -> list[str]:
    """A bulk field change meets the rules every door applies (``services.LEAD_VALIDATORS``), lead
    by lead, in memory: "#id name (field: why)" for each lead refused."""
    if not LEAD_VALIDATORS:
        return []
    offenders = []
    for lead in leads:
        for name, value in changes.items():
            setattr(lead, name, value)
        if errors := run_lead_validators(lead, changes):
            why = "; ".join(
                message.rstrip(".") if field == "__all__" else f"{field.replace('_', ' ')}: {message.rstrip('.')}"
                for field, messages in errors.items()
                for message in messages
            )
            offenders.append(f"#{lead.pk} {lead.display_name} ({why})")
    return offenders


def _apply_status(
    job: BulkJob, actor: Membership, leads: list[Lead], reason: str, *, check: TransitionCheck
) -> list[str]:
    """The workflow's own check (``check``: asked once per distinct move of the whole job)."""
    target = LeadStatus.objects.get(pk=job.params["status"])
    note = job.params.get("note", "")
    offenders = []
    for lead in leads:
        problem = check.problem(lead, target, note)
        if problem is not None:
            why = "; ".join(message.rstrip(".") for message in problem.messages)
            offenders.append(f"#{lead.pk} {lead.display_name} ({why})")
    if offenders:
        return offenders
    now = timezone.now()
    changes = bulkwrite.RawInserter(StatusChange)
    rows = [
        changes.values_from({"lead_id": lead.pk, "from_status_id": lead.status_id, "to_status_id": target.pk,
                             "changed_by_id": actor.pk, "changed_at": now, "note": note})
        for lead in leads
    ]  # fmt: skip
    _save(leads, status_values(target, now), actor, reason)
    changes.insert(rows)
    return []


def _apply_comment(job: BulkJob, actor: Membership, leads: list[Lead], reason: str) -> list[str]:
    from leads.models import LeadComment

    now = timezone.now()
    comments = [
        LeadComment(company_id=job.company_id, lead=lead, author=actor, body=job.params["body"], created_at=now)
        for lead in leads
    ]
    from simple_history.utils import bulk_create_with_history

    bulk_create_with_history(
        comments, LeadComment, batch_size=CHUNK, **history.bulk_history_kwargs(LeadComment, actor, reason)
    )
    Lead.objects.filter(id__in=[lead.pk for lead in leads]).update(last_activity_at=now)
    return []
