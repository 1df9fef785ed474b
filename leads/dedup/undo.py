"""Undoing a merge: ``merge_undo`` puts every moved row back where it was, brings the tombstones
back and restores the survivor's fields — except those edited since the merge, which it keeps and
reports. One transaction, like the merge itself."""

from __future__ import annotations

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.utils import timezone

from crm import history
from crm.ids import is_valid_id
from crm.models import Membership
from leads import dedup, scoring
from leads.dedup.merge import (
    DERIVED,
    Relation,
    history_rows,
    require_merge_right,
    restore_field,
    snapshot,
    snapshot_fields,
)
from leads.keys import apply_keys
from leads.models import CandidateStatus, DuplicateCandidate, Lead, MergeRecord
from leads.queries import leads_visible_to
from leads.timeline import UNMERGED

# --- unmerge ------------------------------------------------------------------------------------


def _field_label(attname: str) -> str:
    model_field = next(f for f in snapshot_fields() if f.attname == attname)
    return str(model_field.verbose_name)


def _move_back(move: dict, survivor_id: int, actor: Membership) -> str | None:
    """Put a move's rows back on the lead they came from; what could not be, in words."""
    try:
        model = apps.get_model(move["model"])
    except LookupError:
        return f"{len(move['ids'])} {move['model']} rows could not be restored: that model no longer exists."
    relation = Relation(model, move["field"], move.get("content_type_field", ""))
    rows = relation.rows(survivor_id).filter(pk__in=move["ids"])
    back = list(rows.values_list("pk", flat=True))
    for start in range(0, len(back), 500):
        model._base_manager.filter(pk__in=back[start : start + 500]).update(**{relation.field: move["from"]})
    history_rows(model, back, actor, UNMERGED)
    missing = len(move["ids"]) - len(back)
    if missing:
        return (f"{missing} of the {len(move['ids'])} {relation.name} moved from lead #{move['from']} no longer "
                "exist or no longer belong to the survivor, so they were not moved back.")  # fmt: skip
    return None


def _restore_survivor(survivor: Lead, record: MergeRecord) -> list[str]:
    """Restore the fields the merge changed, unless edited since; what was kept, in words."""
    current = snapshot(survivor)
    kept = []
    for attname, old in record.survivor_before.items():
        new = record.survivor_after.get(attname)
        if old == new or attname not in current:
            continue
        if current[attname] == new:
            restore_field(survivor, attname, old)
        elif attname not in DERIVED:
            kept.append(attname)
    if kept:
        # Some values stay as edited: the keys and the score follow the lead's values as they are now.
        apply_keys(survivor)
        scoring.apply_scores(survivor)
    return [f"Kept the change of {_field_label(a)} made after the merge (now “{current[a]}”)." for a in kept]


def _record_of(actor: Membership, record) -> MergeRecord:
    pk = getattr(record, "pk", record)
    found = (
        MergeRecord.objects.select_for_update().filter(company_id=actor.company_id, pk=pk).first()
        if is_valid_id(pk)
        else None
    )
    if found is None:
        raise ValidationError({"record": f"There is no merge #{pk} in {actor.company.name}."})
    return found


def merge_undo(*, actor: Membership, record) -> MergeRecord:
    """Undo a merge from its record: the tombstones come back with their own values and exactly
    the rows they had; the survivor gets its values back except those edited since the merge,
    which are kept and listed in ``record.undo_report`` with anything else not restored."""
    require_merge_right(actor)
    try:
        return _undo(actor=actor, record=record)
    except DatabaseError as error:
        raise ValidationError(
            {"__all__": f"The merge could not be undone and nothing was changed ({error})."}
        ) from error


@transaction.atomic
def _undo(*, actor: Membership, record) -> MergeRecord:
    record = _record_of(actor, record)
    if record.undone_at is not None:
        who = record.undone_by.display_name if record.undone_by else "someone"
        raise ValidationError({"record": f"Merge #{record.pk} was already undone by {who} on "
                                         f"{record.undone_at:%Y-%m-%d %H:%M}."})  # fmt: skip
    survivor = Lead.objects.select_for_update().get(pk=record.survivor_id)
    if survivor.merged_into_id is not None:
        later = MergeRecord.objects.filter(survivor_id=survivor.merged_into_id, undone_at__isnull=True).first()
        raise ValidationError({"record": f"Lead #{survivor.pk} was merged again, into lead #{survivor.merged_into_id}"
                                         f"{f' (merge #{later.pk})' if later else ''}: undo that merge first."})  # fmt: skip
    visible = (
        leads_visible_to(actor).filter(pk=survivor.pk).exists()
        or leads_visible_to(actor, deleted=True).filter(pk=survivor.pk).exists()
    )
    if not visible:
        raise ValidationError({"record": f"You cannot see or edit lead #{survivor.pk}, so you cannot undo this merge."})
    report = []
    for move in reversed(record.moves):
        problem = _move_back(move, survivor.pk, actor)
        if problem:
            report.append(problem)
    tombstones = Lead.objects.select_for_update().in_bulk(record.lead_ids)
    for pk in record.lead_ids:
        lead = tombstones.get(pk)
        if lead is None:
            report.append(f"Lead #{pk} no longer exists and could not be brought back.")
        elif lead.merged_into_id != survivor.pk:
            report.append(f"Lead #{pk} is no longer merged into lead #{survivor.pk}; it was left as it is.")
        else:
            lead.merged_into = None
            history.record(lead, actor, UNMERGED)
            lead.save(update_fields=["merged_into", "updated_at"])
    report += _restore_survivor(survivor, record)
    history.record(survivor, actor, UNMERGED)
    survivor.save()
    dedup.queue_restore(record.company_id, record.queue_before, record.queue_created)
    for candidate in record.candidates:
        DuplicateCandidate.objects.filter(pk=candidate["id"], status=CandidateStatus.MERGED).update(
            status=candidate["status"]
        )
    for lead in [survivor, *(tombstones[pk] for pk in record.lead_ids if pk in tombstones)]:
        scoring.lead_rescore(lead=lead, actor=actor, reason=UNMERGED)  # engagement moved back
    record.undone_at = timezone.now()
    record.undone_by = actor
    record.undo_report = report
    record.save(update_fields=["undone_at", "undone_by", "undo_report"])
    return record
