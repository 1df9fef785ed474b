"""Reverting an import: ``import_revert`` removes the leads the job created and puts the leads it
updated back as they were (``leads.lead.import_reverted``) — except what was changed since."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.deletion import Collector
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from crm import history
from crm.models import Membership, Role
from crm.tasks import enqueue
from leads.models import (
    ImportJob,
    ImportStatus,
    Lead,
    StatusChange,
)
from leads.transfer.importer import STORED_NOTES, ids_of_ranges
from leads.transfer.rows import IN_CHUNK

# --- revert --------------------------------------------------------------------------------------------


NOT_REVERTIBLE = "Only a finished import that created or changed leads can be reverted."


def _check_actor(job: ImportJob, actor: Membership | None) -> None:
    if actor is not None and (actor.company_id != job.company_id or actor.role == Role.SDR):
        raise PermissionDenied


def import_revert_start(*, job: ImportJob, actor: Membership | None) -> ImportJob:
    """Queue the revert of ``job`` for a worker. The job is claimed first (``Reverting``, so its
    page follows the revert and offers no second one): a second request is refused, never queued."""
    _check_actor(job, actor)
    claimed = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.SUCCEEDED).filter(
        Q(created_count__gt=0) | Q(updated_count__gt=0)
    )
    if not claimed.update(status=ImportStatus.REVERTING, error=""):
        raise ValidationError({"__all__": [NOT_REVERTIBLE]})
    enqueue("leads.transfer.tasks.revert_import", job.pk, getattr(actor, "pk", None), name=f"import-revert-{job.pk}")
    job.refresh_from_db()
    return job


def import_revert_failed(job_id: int, error: Exception) -> None:
    """A queued revert that failed leaves the import as it was (and revertible), saying why."""
    if isinstance(error, ValidationError):
        why = " ".join(error.messages)
    elif isinstance(error, PermissionDenied):
        why = "the member who asked for it may not revert imports."
    else:
        why = "an unexpected error (the worker's log has the details)."
    ImportJob.objects.filter(pk=job_id, status=ImportStatus.REVERTING).update(
        status=ImportStatus.SUCCEEDED, error=f"The revert failed and nothing was changed: {why}"
    )


@transaction.atomic
def import_revert(*, job: ImportJob, actor: Membership | None) -> ImportJob:
    """Undo a finished (or claimed, ``Reverting``) import: its created leads are deleted (unless someone worked on them since:
    those are kept and listed) and the fields it changed on existing leads get their old values
    back (a field changed again since is left as it is). History rows say
    ``leads.lead.import_reverted:<job id>``."""
    _check_actor(job, actor)
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if not (job.can_revert or job.status == ImportStatus.REVERTING):
        raise ValidationError({"__all__": [NOT_REVERTIBLE]})
    reason = f"leads.lead.import_reverted:{job.pk}"
    user = history.history_user(actor)
    deleted, kept = _revert_created(job, reason, user)
    restored, conflicts = _revert_updated(job, reason, user, actor)
    job.status, job.reverted_at, job.reverted_by = ImportStatus.REVERTED, timezone.now(), actor
    job.revert_result = {"deleted": deleted, "kept": kept[:STORED_NOTES], "kept_count": len(kept),
                         "restored": restored, "conflicts": conflicts}  # fmt: skip
    job.save(update_fields=["status", "reverted_at", "reverted_by", "revert_result"])
    return job


def _revert_created(job: ImportJob, reason: str, user) -> tuple[int, list[int]]:
    ids = list(ids_of_ranges(job.created_ranges))
    deleted, kept = 0, []
    since = job.finished_at
    for start in range(0, len(ids), IN_CHUNK):
        leads = list(Lead.objects.filter(company=job.company, pk__in=ids[start : start + IN_CHUNK]).order_by())
        doomed = []
        for lead in leads:
            touched = (lead.updated_at and lead.updated_at > since) or (
                lead.last_activity_at and lead.last_activity_at > since
            )
            if touched or lead.merged_into_id:
                kept.append(lead.pk)
                continue
            lead._change_reason, lead._history_user = reason, user
            doomed.append(lead)
        if doomed:
            collector = Collector(using=connection.alias)
            collector.collect(doomed)
            collector.delete()
            deleted += len(doomed)
    return deleted, kept


def _revert_updated(job: ImportJob, reason: str, user, actor) -> tuple[int, int]:
    snapshots = job.updated_snapshots or {}
    if not snapshots:
        return 0, 0
    leads = {
        str(lead.pk): lead
        for lead in Lead.objects.filter(company=job.company, pk__in=[int(k) for k in snapshots]).order_by()
    }
    changed_leads, fields, conflicts, status_moves = [], set(), 0, []
    for pk, snapshot in snapshots.items():
        lead = leads.get(pk)
        if lead is None:
            continue
        touched = False
        for attname, new in snapshot["new"].items():
            model_field = Lead._meta.get_field(attname)
            if _python(model_field, getattr(lead, attname)) != _python(model_field, new):
                conflicts += 1
                continue
            old = _python(model_field, snapshot["old"][attname])
            if attname == "status_id" and old != lead.status_id:
                status_moves.append((lead, lead.status_id, old))
            setattr(lead, attname, old)
            fields.add(model_field.name)
            touched = True
        if touched:
            changed_leads.append(lead)
    if changed_leads:
        bulk_update_with_history(
            changed_leads, Lead, sorted(fields), batch_size=500, **history.bulk_history_kwargs(Lead, actor, reason)
        )
        StatusChange.objects.bulk_create(
            StatusChange(lead=lead, from_status_id=old, to_status_id=new, changed_by=actor, note="Import reverted")
            for lead, old, new in status_moves
        )
    return len(changed_leads), conflicts


def _python(model_field, value):
    if value is None:
        return None
    target = model_field.target_field if model_field.is_relation else model_field
    if target.get_internal_type() == "JSONField":
        return value
    return target.to_python(value)
