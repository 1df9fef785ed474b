"""Merging duplicate leads into one survivor, reversibly.

``leads_merge`` moves every row that points at a merged lead to the survivor — the relations are
read from the model graph (reverse foreign keys and one-to-ones of ``Lead``, hidden ones included,
and every generic relation through a content type), so a model added later moves too — turns the
merged leads into tombstones (``merged_into``), applies the chosen field values to the survivor
through ``services.lead_update`` and writes a ``MergeRecord`` with everything needed to undo it
(``leads.dedup.undo``). All of it is one transaction: a merge that fails half-way changes nothing.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, models, transaction

from crm import history
from crm.models import Membership
from crm.permissions import permissions_for
from leads import dedup, scoring, services
from leads.models import CandidateStatus, DuplicateCandidate, Lead, MergeRecord, Stage
from leads.queries import leads_visible_to
from leads.timeline import MERGED

# The fields a merge lets you pick per lead; the workflow (status, stage) stays the survivor's.
MERGE_FIELDS = tuple(name for name in services.EDITABLE_FIELDS if name not in ("stage", "custom_fields"))
CUSTOM_PREFIX = "custom_fields."
# Snapshots leave out what a merge never sets and what moves by itself.
SNAPSHOT_EXCLUDED = {"id", "company", "updated_at"}
# Computed from other fields: never reported as "kept", recomputed when other fields are kept.
DERIVED = {"email_key", "phone_key", "profile_url_key", "company_key", "name_key", "score", "score_breakdown",
           "priority", "assigned_at"}  # fmt: skip
OWN_MODELS = {"leads.duplicatecandidate", "leads.mergerecord"}


# --- the model graph ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Relation:
    """Rows of ``model`` that point at a lead through ``field`` (or a content type + id pair)."""

    model: type[models.Model]
    field: str  # the attname holding the lead's id
    content_type_field: str = ""  # set for generic relations

    @property
    def label(self) -> str:
        return self.model._meta.label_lower

    @property
    def name(self) -> str:
        return str(self.model._meta.verbose_name_plural)

    def counted(self, count: int) -> str:
        """'1 status change', '2 status changes'."""
        meta = self.model._meta
        return f"{count} {meta.verbose_name if count == 1 else meta.verbose_name_plural}"

    def rows(self, lead_id: int):
        rows = self.model._base_manager.filter(**{self.field: lead_id})
        if self.content_type_field:
            rows = rows.filter(**{self.content_type_field: ContentType.objects.get_for_model(Lead)})
        return rows

    def unique_sets(self) -> list[tuple[str, ...]]:
        """Unique field sets that include the lead reference (moving may collide on them)."""
        opts, found = self.model._meta, []
        names = {self.field, self.field.removesuffix("_id")}
        for fields in opts.unique_together:
            found.append(tuple(fields))
        for constraint in opts.constraints:
            if isinstance(constraint, models.UniqueConstraint) and constraint.fields:
                found.append(tuple(constraint.fields))
        for model_field in opts.concrete_fields:
            if model_field.unique and not model_field.primary_key:
                found.append((model_field.name,))
        return [fields for fields in found if names & set(fields)]

    def key_of(self, fields: tuple[str, ...]) -> list[str]:
        return [self.model._meta.get_field(name).attname for name in fields]


def _is_historical(model) -> bool:
    return hasattr(model, "instance_type")  # simple-history's historical models


def lead_relations() -> list[Relation]:
    """Every relation to ``Lead`` that a merge moves: found from the model graph each time."""
    found: dict[tuple, Relation] = {}
    merged_into = Lead._meta.get_field("merged_into")
    for rel in Lead._meta.get_fields(include_hidden=True):
        if not (rel.auto_created and not rel.concrete and (rel.one_to_many or rel.one_to_one)):
            continue
        model = rel.related_model
        if rel.field is merged_into or _is_historical(model) or model._meta.label_lower in OWN_MODELS:
            continue
        found[(model, rel.field.attname)] = Relation(model, rel.field.attname)
    lead_type_fields = [(f.related_model, f.content_type_field_name, f.object_id_field_name)
                        for f in Lead._meta.private_fields if isinstance(f, GenericRelation)]  # fmt: skip
    for model in apps.get_models():
        for private in model._meta.private_fields:
            if isinstance(private, GenericForeignKey):
                lead_type_fields.append((model, private.ct_field, private.fk_field))
    for model, ct_field, fk_field in lead_type_fields:
        if _is_historical(model) or model._meta.label_lower in OWN_MODELS:
            continue
        ct_attname = model._meta.get_field(ct_field).attname
        found[(model, fk_field)] = Relation(model, model._meta.get_field(fk_field).attname, ct_attname)
    return sorted(found.values(), key=lambda r: (r.label, r.field))


# --- snapshots ----------------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    """A field value as exact JSON (datetimes to the microsecond, in UTC)."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    return value


def snapshot_fields() -> list[models.Field]:
    return [f for f in Lead._meta.concrete_fields if f.name not in SNAPSHOT_EXCLUDED]


def snapshot(lead: Lead) -> dict[str, Any]:
    return {f.attname: _json_value(getattr(lead, f.attname)) for f in snapshot_fields()}


def restore_field(lead: Lead, attname: str, value: Any) -> None:
    model_field = next(f for f in snapshot_fields() if f.attname == attname)
    setattr(lead, attname, None if value is None else model_field.to_python(value))


# --- checks -------------------------------------------------------------------------------------


def require_merge_right(actor: Membership) -> None:
    if "leads.merge" not in permissions_for(actor.role) or not actor.is_active:
        raise PermissionDenied("Only managers and admins merge leads.")


def _ids(values) -> list[int]:
    ids = []
    for value in values:
        pk = getattr(value, "pk", value)
        try:
            ids.append(int(pk))
        except (TypeError, ValueError):
            raise ValidationError({"leads": f"“{pk}” is not a lead id."}) from None
    return ids


def _is_converted(lead: Lead) -> bool:
    return lead.converted_at is not None or lead.stage == Stage.CONVERTED


def _load(actor: Membership, survivor, others, *, lock: bool) -> tuple[Lead, list[Lead]]:
    """The survivor and the other leads, checked: at least two distinct leads of the actor's
    company, each visible to the actor, live (not a tombstone, not deleted)."""
    survivor_id, other_ids = _ids([survivor])[0], _ids(others)
    if survivor_id in other_ids or len(set(other_ids)) != len(other_ids):
        raise ValidationError({"leads": "A lead cannot be merged with itself: each lead may appear only once."})
    if not other_ids:
        raise ValidationError({"leads": "Choose at least two leads to merge."})
    queryset = Lead.objects.select_related("company", "owner__user", "campaign", "status")
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    found = queryset.in_bulk([survivor_id, *other_ids])
    company_name = actor.company.name
    for pk in [survivor_id, *other_ids]:
        if pk not in found or found[pk].company_id != actor.company_id:
            raise ValidationError({"leads": f"Lead #{pk} is not a lead of {company_name}; "
                                            "leads of different companies cannot be merged."})  # fmt: skip
    for pk in [survivor_id, *other_ids]:
        lead = found[pk]
        if lead.merged_into_id is not None:
            raise ValidationError({"leads": f"{lead.display_name} (#{pk}) was already merged into lead "
                                            f"#{lead.merged_into_id}."})  # fmt: skip
        if lead.is_deleted:
            raise ValidationError({"leads": f"{lead.display_name} (#{pk}) is deleted; restore it first."})
    visible = set(leads_visible_to(actor).filter(pk__in=list(found)).values_list("pk", flat=True))
    hidden = [pk for pk in [survivor_id, *other_ids] if pk not in visible]
    if hidden:
        raise ValidationError({"leads": f"You cannot see or edit lead #{hidden[0]}, so you cannot merge it."})
    survivor_lead = found[survivor_id]
    if _is_converted(survivor_lead):
        raise ValidationError({"survivor": f"{survivor_lead.display_name} (#{survivor_id}) is converted: "
                                           "keep a lead that is not converted and merge the converted one into it."})  # fmt: skip
    return survivor_lead, [found[pk] for pk in other_ids]


def _warnings(others: list[Lead]) -> list[str]:
    """Said before and recorded with the merge: converted leads only ever merge into an open one."""
    warnings = []
    for lead in others:
        if _is_converted(lead):
            when = f" on {lead.converted_at:%Y-%m-%d}" if lead.converted_at else ""
            warnings.append(
                f"{lead.display_name} (#{lead.pk}) was converted{when}: it becomes a tombstone of the survivor, "
                "which stays open, and what it was converted into keeps pointing at the tombstone."
            )
    return warnings


# --- field choices ------------------------------------------------------------------------------


def _custom_keys(leads: list[Lead]) -> list[str]:
    keys: dict[str, None] = {}
    for lead in leads:
        keys.update(dict.fromkeys(lead.custom_fields or {}))
    return list(keys)


def mergeable_fields(leads: list[Lead]) -> list[str]:
    return [*MERGE_FIELDS, *(f"{CUSTOM_PREFIX}{key}" for key in _custom_keys(leads))]


def _value(lead: Lead, name: str) -> Any:
    if name.startswith(CUSTOM_PREFIX):
        return (lead.custom_fields or {}).get(name[len(CUSTOM_PREFIX) :])
    attname = Lead._meta.get_field(name).attname
    return getattr(lead, attname)


def _empty(value: Any) -> bool:
    return value in (None, "", {}, [], False)


def default_choices(survivor: Lead, others: list[Lead]) -> dict[str, int]:
    """Each field's default source: the survivor's value, else the most recently updated lead's
    non-empty one."""
    recent_first = sorted(others, key=lambda lead: (lead.updated_at, lead.pk), reverse=True)
    choices = {}
    for name in mergeable_fields([survivor, *others]):
        source = survivor
        if _empty(_value(survivor, name)):
            source = next((lead for lead in recent_first if not _empty(_value(lead, name))), survivor)
        choices[name] = source.pk
    return choices


def _clean_choices(choices: dict | None, survivor: Lead, others: list[Lead]) -> dict[str, int]:
    leads = {lead.pk: lead for lead in [survivor, *others]}
    allowed = mergeable_fields(list(leads.values()))
    cleaned = default_choices(survivor, others)
    errors: dict[str, list[str]] = {}
    for name, value in (choices or {}).items():
        if name not in allowed:
            errors.setdefault("choices", []).append(f"“{name}” is not a field a merge can choose.")
            continue
        try:
            pk = int(getattr(value, "pk", value))
        except (TypeError, ValueError):
            pk = None
        if pk not in leads:
            errors.setdefault("choices", []).append(
                f"The value of {_label(name)} must come from one of the merged leads; #{value} is not one of them."
            )
            continue
        cleaned[name] = pk
    if errors:
        raise ValidationError(errors)
    return cleaned


def _label(name: str) -> str:
    if name.startswith(CUSTOM_PREFIX):
        return name[len(CUSTOM_PREFIX) :].replace("_", " ")
    return str(Lead._meta.get_field(name).verbose_name)


def _update_data(survivor: Lead, leads: dict[int, Lead], choices: dict[str, int]) -> dict[str, Any]:
    """What ``services.lead_update`` must change on the survivor for the chosen values."""
    data: dict[str, Any] = {}
    custom = dict(survivor.custom_fields or {})
    for name, pk in choices.items():
        if pk == survivor.pk:
            continue
        value = _value(leads[pk], name)
        if name.startswith(CUSTOM_PREFIX):
            key = name[len(CUSTOM_PREFIX) :]
            if value is None:
                custom.pop(key, None)
            else:
                custom[key] = value
        elif value != _value(survivor, name):
            data[name] = value
    if custom != (survivor.custom_fields or {}):
        data["custom_fields"] = custom
    return data


# --- preview --------------------------------------------------------------------------------------


@dataclass
class FieldRow:
    name: str
    label: str
    values: list[tuple[int, str]]  # (lead id, shown value), survivor first
    chosen: int
    differs: bool


@dataclass
class Preview:
    survivor: Lead
    others: list[Lead]
    rows: list[FieldRow]
    moves: list[tuple[Lead, list[tuple[str, int, str]]]]  # per merged lead: (relation, rows, in words)
    warnings: list[str] = field(default_factory=list)

    @property
    def leads(self) -> list[Lead]:
        return [self.survivor, *self.others]


def _shown(lead: Lead, name: str) -> str:
    value = _value(lead, name)
    if _empty(value) and value is not False:
        return ""
    if name in ("owner", "campaign"):
        related = getattr(lead, name)
        return str(related.user if name == "owner" else related) if related else ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if name == "authority_level":
        return lead.get_authority_level_display()
    if isinstance(value, dict | list):
        return (
            ", ".join(f"{k}: {v}" for k, v in value.items()) if isinstance(value, dict) else ", ".join(map(str, value))
        )
    return str(value)


def _move_counts(lead: Lead) -> list[tuple[str, int, str]]:
    """(relation name, rows, "2 status changes") of each relation with rows on ``lead``."""
    counts = []
    for relation in lead_relations():
        count = relation.rows(lead.pk).count()
        if count:
            counts.append((relation.name, count, relation.counted(count)))
    return counts


def merge_preview(*, actor: Membership, survivor, others, choices: dict | None = None) -> Preview:
    """What merging ``others`` into ``survivor`` would do: each field's values side by side with
    the chosen (or default) source, the rows that would move, and warnings. Writes nothing."""
    require_merge_right(actor)
    survivor, others = _load(actor, survivor, others, lock=False)
    chosen = _clean_choices(choices, survivor, others)
    leads = [survivor, *others]
    rows = []
    for name in mergeable_fields(leads):
        values = [(lead.pk, _shown(lead, name)) for lead in leads]
        rows.append(FieldRow(name, _label(name), values, chosen[name], len({v for _, v in values}) > 1))
    moves = [(lead, _move_counts(lead)) for lead in others]
    return Preview(survivor, others, rows, moves, _warnings(others))


# --- merge --------------------------------------------------------------------------------------


def history_rows(model, ids: list[int], actor: Membership, reason: str) -> None:
    """A historical row for each moved object of a model that keeps history."""
    manager_name = getattr(model._meta, "simple_history_manager_attribute", None)
    if not manager_name or not ids:
        return
    objects = list(model._base_manager.filter(pk__in=ids))
    getattr(model, manager_name).bulk_history_create(
        objects, update=True, **history.bulk_history_kwargs(model, actor, reason)
    )


def _move(relation: Relation, from_id: int, to_id: int, actor: Membership) -> dict | None:
    """Point ``relation``'s rows at ``to_id``; rows that would break a unique constraint stay."""
    ids = list(relation.rows(from_id).order_by("pk").values_list("pk", flat=True))
    if not ids:
        return None
    kept: list[int] = []
    for fields in relation.unique_sets():
        attnames = relation.key_of(fields)
        others = [a for a in attnames if a != relation.field]
        if others:
            taken = {tuple(values) for values in relation.rows(to_id).values_list(*others)}
        else:
            taken = {()} if relation.rows(to_id).exists() else set()
        for pk, *values in relation.rows(from_id).filter(pk__in=ids).values_list("pk", *others):
            if tuple(values) in taken:
                kept.append(pk)
    moved = [pk for pk in ids if pk not in set(kept)]
    for start in range(0, len(moved), 500):
        relation.model._base_manager.filter(pk__in=moved[start : start + 500]).update(**{relation.field: to_id})
    history_rows(relation.model, moved, actor, MERGED)
    return {"model": relation.label, "field": relation.field, "content_type_field": relation.content_type_field,
            "from": from_id, "ids": moved, "kept": kept}  # fmt: skip


def _tombstone(lead: Lead, survivor: Lead, actor: Membership, reason: str) -> None:
    lead.merged_into = survivor
    history.record(lead, actor, reason)
    lead.save(update_fields=["merged_into", "updated_at"])


def _resolve_candidates(lead_ids: list[int]) -> list[dict]:
    """Mark the queue's pairs among the merged leads as merged; their previous status, for undo."""
    pairs = DuplicateCandidate.objects.filter(lead_a_id__in=lead_ids, lead_b_id__in=lead_ids).exclude(
        status=CandidateStatus.MERGED
    )
    previous = [{"id": pk, "status": status} for pk, status in pairs.values_list("pk", "status")]
    pairs.update(status=CandidateStatus.MERGED)
    return previous


def leads_merge(*, actor: Membership, survivor, others, choices: dict | None = None) -> MergeRecord:
    """Merge ``others`` (leads or ids) into ``survivor``. ``choices`` maps a field name (or
    ``custom_fields.<key>``) to the id of the merged lead whose value the survivor takes; fields
    left out take the default (the survivor's value, else the most recent non-empty one).

    One transaction: on any error — a bad choice, a row that cannot move, a database error — the
    database is left exactly as it was and a ``ValidationError`` says why."""
    require_merge_right(actor)
    try:
        return _merge(actor=actor, survivor=survivor, others=others, choices=choices)
    except DatabaseError as error:
        raise ValidationError(
            {"__all__": f"The merge could not be completed and nothing was changed ({error})."}
        ) from error


@transaction.atomic
def _merge(*, actor: Membership, survivor, others, choices: dict | None) -> MergeRecord:
    survivor, others = _load(actor, survivor, others, lock=True)
    leads = {lead.pk: lead for lead in [survivor, *others]}
    chosen = _clean_choices(choices, survivor, others)
    warnings = _warnings(others)
    before = snapshot(survivor)
    loser_snapshots = {str(lead.pk): snapshot(lead) for lead in others}
    data = _update_data(survivor, leads, chosen)
    moves = []
    for lead in others:
        for relation in lead_relations():
            move = _move(relation, lead.pk, survivor.pk, actor)
            if move is not None:
                moves.append(move)
    for lead in others:
        _tombstone(lead, survivor, actor, MERGED)
    survivor = services.lead_update(
        actor=actor,
        lead=survivor,
        data=data,
        reason=MERGED,
        allow_duplicates=True,
        queue_duplicates=False,
        owner_as_field=True,
    )
    candidates = _resolve_candidates(list(leads))
    queue_before, queue_created = _queue_duplicates(survivor, actor)
    survivor = scoring.lead_rescore(lead=survivor, actor=actor, reason=MERGED)  # its engagement moved here
    return MergeRecord.objects.create(
        company_id=survivor.company_id,
        survivor=survivor,
        lead_ids=[lead.pk for lead in others],
        field_choices=chosen,
        survivor_before=before,
        survivor_after=snapshot(survivor),
        loser_snapshots=loser_snapshots,
        moves=moves,
        candidates=candidates,
        queue_before=queue_before,
        queue_created=queue_created,
        warnings=warnings,
        merged_by=actor,
    )


def _queue_duplicates(survivor: Lead, actor: Membership) -> tuple[dict, list[int]]:
    """Queue the survivor's duplicates for review, as saving any lead does, and return the queue
    as it was before plus the pairs created, so that undoing the merge takes exactly those back."""
    matches = dedup.matches_of(survivor, actor)
    before = dedup.queue_snapshot(survivor.company_id, [survivor.pk, *(match.lead_id for match in matches)])
    dedup.after_save(survivor, matches, actor=actor)
    return before, dedup.queue_created_since(survivor.company_id, survivor.pk, before)
