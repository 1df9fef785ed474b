"""Every write on who owns a lead: automatic placement (on create, for a batch, for the pool) and
manual assignment, claim and release. Each one locks what it reads, writes the owner with a history
row whose change reason starts with the action (``leads.lead.assigned: <why>``), logs a
``LeadAssignment`` and leaves the new owner's notification to ``notify`` (after commit).

Lock order, the same everywhere so that no two writers wait on each other in a cycle: assignment
rules → memberships → leads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from crm.history import bulk_history_kwargs, record
from crm.ids import is_valid_id
from crm.models import Company, Membership, Role
from crm.permissions import permissions_for
from crm.queries import team_member_ids
from leads import scoring
from leads.assignment.engine import Engine, Placement, open_leads, open_loads
from leads.assignment.notify import queue as notify_queue
from leads.models import AssignmentKind, Lead, LeadAssignment, StatusCategory

ASSIGNED, CLAIMED, RELEASED = "leads.lead.assigned", "leads.lead.claimed", "leads.lead.released"
REASON_LENGTH = 100  # simple-history's change reason column

NOT_AN_ASSIGNER = "Only managers and admins assign leads."
OTHER_COMPANY = "Choose a member of this company."
NOT_IN_TEAM = "{name} is not in your team: managers assign leads within their team."
INACTIVE = "{name} is no longer active in this company."
UNAVAILABLE = "{name} is unavailable (on leave) and receives no new leads."
AT_CAPACITY = "{name} is at capacity ({load} of {capacity} open leads)."
WOULD_EXCEED = "{name} has {load} of {capacity} open leads: {count} more would exceed the capacity."
LEAD_GONE = "This lead is deleted or merged: it cannot be assigned."
HELD = "This lead is held for spam review: a manager has to clear it first."


def change_reason(action: str, why: str = "") -> str:
    text = f"{action}: {why}" if why else action
    return text if len(text) <= REASON_LENGTH else text[: REASON_LENGTH - 1] + "…"


def _log(lead, kind, *, owner, previous, actor, reason, rule=None, strategy="", at=None) -> LeadAssignment:
    return LeadAssignment(
        company_id=lead.company_id,
        lead=lead,
        kind=kind,
        owner=owner,
        previous_owner_id=previous,
        rule=rule,
        rule_name=rule.name if rule is not None else "",
        strategy=strategy,
        reason=reason,
        actor=actor,
        created_at=at or timezone.now(),
    )


def _give(lead: Lead, owner: Membership | None, now) -> None:
    """A new owner starts a new response clock: ``first_response_at`` is theirs to set."""
    lead.owner = owner
    lead.assigned_at = now if owner is not None else None
    lead.first_response_at = None
    lead.updated_at = now


OWNER_FIELDS = ["owner", "assigned_at", "first_response_at", "updated_at"]


# --- automatic placement -------------------------------------------------------------------------


@transaction.atomic
def assign_on_create(lead: Lead, *, actor: Membership | None) -> LeadAssignment | None:
    """Contract hook of ``lead_create`` (after save, same transaction, lead without owner): apply
    the company's rules, write the owner, log why, notify the owner after commit. A lead no rule
    can place stays in the pool, and the log says why; with no active rule nothing is logged."""
    if lead.owner_id is not None:
        return None
    engine = Engine.build(lead.company, lock=True)
    if not engine.rules and not engine.scorer.is_held(lead):
        return None
    entries = _apply(engine, [engine.place(lead)], actor=actor, kind=AssignmentKind.AUTO)
    return entries[0] if entries else None


KEEP_PLACEMENTS = 1000  # what a result keeps to show; the counts cover everything


@dataclass
class BatchResult:
    """Where a batch went: counts for every lead, the placements themselves for the first
    ``KEEP_PLACEMENTS`` (a pool of 200,000 leads is not kept in memory)."""

    placements: list[Placement] = field(default_factory=list)
    total: int = 0
    assigned: int = 0
    owners: dict[Membership, int] = field(default_factory=dict)

    @property
    def left_in_pool(self) -> int:
        return self.total - self.assigned

    def per_owner(self) -> dict[Membership, int]:
        return dict(self.owners)

    def add(self, placements: list[Placement]) -> None:
        room = KEEP_PLACEMENTS - len(self.placements)
        if room > 0:
            self.placements.extend(placements[:room])
        self.total += len(placements)
        for placement in placements:
            if placement.owner is not None:
                self.assigned += 1
                self.owners[placement.owner] = self.owners.get(placement.owner, 0) + 1


@transaction.atomic
def assign_batch(leads: Sequence[Lead], *, actor: Membership | None) -> BatchResult:
    """Contract for bulk imports: place saved, ownerless leads of one company with the same rules
    and fairness as one by one (the cursors and loads advance in memory), then write the owners
    with one bulk update, the log with one bulk insert, and one email per new owner after commit."""
    leads = [lead for lead in leads if lead.owner_id is None]
    result = BatchResult()
    if not leads:
        return result
    if len({lead.company_id for lead in leads}) != 1:
        raise ValueError("assign_batch takes the leads of one company.")
    engine = Engine.build(leads[0].company, lock=True)
    placements = [engine.place(lead) for lead in leads]
    _apply(engine, placements, actor=actor, kind=AssignmentKind.BATCH, log_pool=bool(engine.rules))
    result.add(placements)
    return result


def pool_leads(company: Company):
    """Open, live leads without an owner, oldest first: the order the pool is worked in."""
    return (
        open_leads(company.pk)
        .filter(owner__isnull=True)
        .select_related("campaign", "company")
        .order_by("created_at", "id")
    )


POOL_CHUNK = 2000


@transaction.atomic
def pool_assign(
    *, company: Company, actor: Membership | None, dry_run: bool = False, limit: int | None = None
) -> BatchResult:
    """Run the rules over the pool (``assign_leads`` and the managers' button), oldest first, in
    chunks, in one transaction (one email per owner). ``dry_run`` places the leads in memory only:
    where the next ``limit`` pool leads would go, and why."""
    if actor is not None and (actor.company_id != company.pk or "leads.assign" not in _permissions(actor)):
        raise PermissionDenied
    engine = Engine.build(company, lock=not dry_run)
    result = BatchResult()
    for chunk in _pool_chunks(company, lock=not dry_run, limit=limit):
        placements = [engine.place(lead) for lead in chunk]
        if not dry_run:
            _apply(engine, [p for p in placements if p.owner is not None], actor=actor, kind=AssignmentKind.BATCH)
        result.add(placements)
    return result


def _pool_chunks(company: Company, *, lock: bool, limit: int | None):
    remaining, last = limit, None
    while remaining is None or remaining > 0:
        leads = pool_leads(company)
        if last is not None:
            leads = leads.filter(Q(created_at__gt=last[0]) | Q(created_at=last[0], id__gt=last[1]))
        if lock:  # a lead being claimed right now is skipped, not waited for
            leads = leads.select_for_update(skip_locked=True, of=("self",))
        chunk = list(leads[: POOL_CHUNK if remaining is None else min(POOL_CHUNK, remaining)])
        if not chunk:
            return
        yield chunk
        last = (chunk[-1].created_at, chunk[-1].pk)
        remaining = None if remaining is None else remaining - len(chunk)


def _permissions(actor: Membership) -> frozenset[str]:
    return permissions_for(actor.role)


def _apply(engine: Engine, placements: list[Placement], *, actor, kind, log_pool: bool = True) -> list[LeadAssignment]:
    now = timezone.now()
    placed = [p for p in placements if p.owner is not None]
    for placement in placed:
        _give(placement.lead, placement.owner, now)
        record(placement.lead, actor, change_reason(ASSIGNED, placement.reason))
    if len(placed) == 1:
        placed[0].lead.save(update_fields=OWNER_FIELDS)
    elif placed:
        bulk_update_with_history(
            [p.lead for p in placed], Lead, OWNER_FIELDS, batch_size=500,
            **bulk_history_kwargs(Lead, actor, ASSIGNED),
        )  # fmt: skip
    engine.save_cursors()
    log = [
        _log(p.lead, kind if p.owner else AssignmentKind.POOL, owner=p.owner, previous=None, actor=actor,
             reason=p.reason, rule=p.rule, strategy=p.strategy, at=now)
        for p in placements
        if p.owner is not None or log_pool
    ]  # fmt: skip
    LeadAssignment.objects.bulk_create(log, batch_size=500)
    notify_queue([entry.pk for entry in log if entry.owner_id is not None and entry.pk is not None])
    return log


# --- manual assignment, claim, release -----------------------------------------------------------


def _check_assigner(actor: Membership, company_id: int) -> None:
    if actor.company_id != company_id or not actor.is_active:
        raise PermissionDenied
    if actor.role not in (Role.ADMIN, Role.MANAGER):
        raise PermissionDenied(NOT_AN_ASSIGNER)


def _in_scope(actor: Membership, owner_id: int | None) -> bool:
    """Admins reach the whole company, managers their team (and the pool), SDRs themselves."""
    if owner_id is None or actor.role == Role.ADMIN:
        return True
    if actor.role == Role.MANAGER:
        return owner_id in team_member_ids(actor)
    return owner_id == actor.pk


def _locked_owner(owner: Membership | int, company_id: int) -> Membership:
    pk = getattr(owner, "pk", owner)
    found = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(pk=pk, company_id=company_id)
        .first()
        if is_valid_id(pk)
        else None
    )
    if found is None:
        raise ValidationError({"owner": OTHER_COMPANY})
    return found


def _check_receiver(actor: Membership, owner: Membership, *, adding: int, allow_over_capacity: bool) -> None:
    name = owner.display_name
    if not _in_scope(actor, owner.pk):
        raise ValidationError({"owner": NOT_IN_TEAM.format(name=name)})
    if not owner.is_active:
        raise ValidationError({"owner": INACTIVE.format(name=name)})
    if not owner.is_available:
        raise ValidationError({"owner": UNAVAILABLE.format(name=name)})
    load = open_loads([owner.pk]).get(owner.pk, 0)
    if not allow_over_capacity and load + adding > owner.capacity:
        message = AT_CAPACITY if adding <= 1 else WOULD_EXCEED
        raise ValidationError({"owner": message.format(name=name, load=load, capacity=owner.capacity, count=adding)})


def receiver_check(*, actor: Membership, owner: Membership, adding: int = 1) -> None:
    """The checks ``lead_assign`` makes, for doors that name an owner directly (a new lead from the
    form, the API or the admin): only managers (within their team) and admins assign, and never to
    an inactive, unavailable or full member."""
    _check_assigner(actor, owner.company_id)
    _check_receiver(actor, owner, adding=adding, allow_over_capacity=False)


def _locked_lead(lead: Lead | int) -> Lead:
    found = (
        Lead.objects.select_for_update(of=("self",))
        .select_related("company", "status")
        .get(pk=getattr(lead, "pk", lead))
    )
    if found.is_deleted or found.merged_into_id is not None:
        raise ValidationError({"__all__": LEAD_GONE})
    return found


@transaction.atomic
def lead_assign(
    *, actor: Membership, lead: Lead, owner: Membership | int, reason: str = "", allow_over_capacity: bool = False
) -> Lead:
    """A manager (within their team) or an admin (within the company) gives ``lead`` to ``owner``.
    Refused with a message naming the problem: another company, outside the team, inactive,
    unavailable or at capacity. Assigning a lead to its owner changes nothing."""
    _check_assigner(actor, lead.company_id)
    owner = _locked_owner(owner, lead.company_id)
    lead = _locked_lead(lead)
    if not _in_scope(actor, lead.owner_id):
        raise PermissionDenied
    if lead.owner_id == owner.pk:
        return lead
    adding = 1 if lead.status.category == StatusCategory.OPEN else 0
    _check_receiver(actor, owner, adding=adding, allow_over_capacity=allow_over_capacity)
    why = _manual_reason(actor, owner, lead.owner, reason)
    previous = lead.owner_id
    now = timezone.now()
    _give(lead, owner, now)
    record(lead, actor, change_reason(ASSIGNED, why))
    lead.save(update_fields=OWNER_FIELDS)
    entry = _log(lead, AssignmentKind.MANUAL, owner=owner, previous=previous, actor=actor, reason=why, at=now)
    entry.save()
    notify_queue([entry.pk])
    return lead


def _manual_reason(actor: Membership, owner: Membership, previous: Membership | None, note: str) -> str:
    verb = f"Reassigned from {previous.display_name}" if previous is not None else "Assigned"
    why = f"{verb} to {owner.display_name} by {actor.display_name}"
    note = (note or "").strip()
    return f"{why}: {note}" if note else why + "."


@transaction.atomic
def leads_assign_many(
    *, actor: Membership, leads: Iterable[Lead], owner: Membership | int, reason: str = "",
    allow_over_capacity: bool = False,
) -> int:  # fmt: skip
    """Bulk reassign: the same checks as ``lead_assign`` once for all, one bulk write, and one
    notification for the owner. Returns how many leads changed hands."""
    ids = [getattr(lead, "pk", lead) for lead in leads]
    company_id = actor.company_id
    _check_assigner(actor, company_id)
    owner = _locked_owner(owner, company_id)
    locked = list(
        Lead.objects.select_for_update(of=("self",))
        .select_related("owner__user", "status", "company")
        .filter(pk__in=ids, company_id=company_id)
        .order_by("pk")  # by id: not the newest-first index walk, and one lock order
    )
    if len(locked) != len(set(ids)) or any(not _in_scope(actor, lead.owner_id) for lead in locked):
        raise PermissionDenied
    if any(lead.is_deleted or lead.merged_into_id for lead in locked):
        raise ValidationError({"__all__": LEAD_GONE})
    moving = [lead for lead in locked if lead.owner_id != owner.pk]
    counted = sum(1 for lead in moving if lead.status.category == StatusCategory.OPEN)
    _check_receiver(actor, owner, adding=counted, allow_over_capacity=allow_over_capacity)
    now = timezone.now()
    log = []
    for lead in moving:
        why = _manual_reason(actor, owner, lead.owner, reason)
        log.append(_log(lead, AssignmentKind.MANUAL, owner=owner, previous=lead.owner_id, actor=actor, reason=why,
                        at=now))  # fmt: skip
        _give(lead, owner, now)
        record(lead, actor, change_reason(ASSIGNED, why))
    if moving:
        bulk_update_with_history(
            moving, Lead, OWNER_FIELDS, batch_size=500, **bulk_history_kwargs(Lead, actor, ASSIGNED)
        )
        LeadAssignment.objects.bulk_create(log, batch_size=500)
        notify_queue([entry.pk for entry in log])
    return len(moving)


@transaction.atomic
def lead_claim(*, actor: Membership, lead: Lead) -> Lead:
    """An SDR (or anyone) takes a pool lead for themselves, up to their capacity."""
    if actor.company_id != lead.company_id or not actor.is_active:
        raise PermissionDenied
    actor = _locked_owner(actor, lead.company_id)
    lead = _locked_lead(lead)
    if lead.owner_id == actor.pk:
        raise ValidationError({"__all__": "You already own this lead."})
    if lead.owner_id is not None:
        raise ValidationError({"__all__": "Someone else took this lead first: it is no longer in the pool."})
    if lead.status.category != StatusCategory.OPEN:
        raise ValidationError({"__all__": f"Only open leads can be claimed; this one is {lead.status.name}."})
    if scoring.is_held(lead):
        raise ValidationError({"__all__": HELD})
    if not actor.is_available:
        raise ValidationError({"__all__": "You are marked unavailable: ask a manager to mark you available first."})
    load = open_loads([actor.pk]).get(actor.pk, 0)
    if load >= actor.capacity:
        raise ValidationError(
            {"__all__": f"You are at capacity ({load} of {actor.capacity} open leads): close or release one first."}
        )
    now = timezone.now()
    _give(lead, actor, now)
    record(lead, actor, CLAIMED)
    lead.save(update_fields=OWNER_FIELDS)
    _log(lead, AssignmentKind.CLAIM, owner=actor, previous=None, actor=actor, reason=f"Claimed from the pool by "
         f"{actor.display_name}.", at=now).save()  # fmt: skip
    return lead


@transaction.atomic
def lead_release(*, actor: Membership, lead: Lead, reason: str = "") -> Lead:
    """Back to the pool: by its owner, or by a manager of the owner, or an admin."""
    if actor.company_id != lead.company_id or not actor.is_active:
        raise PermissionDenied
    lead = _locked_lead(lead)
    if lead.owner_id is None:
        raise ValidationError({"__all__": "This lead is already in the pool."})
    if lead.owner_id != actor.pk and (actor.role == Role.SDR or not _in_scope(actor, lead.owner_id)):
        raise PermissionDenied
    previous = lead.owner
    why = f"Released to the pool by {actor.display_name}"
    why = f"{why}: {reason.strip()}" if (reason or "").strip() else why + "."
    now = timezone.now()
    _give(lead, None, now)
    record(lead, actor, RELEASED)
    lead.save(update_fields=OWNER_FIELDS)
    _log(lead, AssignmentKind.RELEASE, owner=None, previous=previous.pk, actor=actor, reason=why, at=now).save()
    return lead


# --- spam review and team settings ---------------------------------------------------------------


@transaction.atomic
def lead_clear_spam(*, actor: Membership, lead: Lead) -> Lead:
    """A manager says a held lead is real: it is no longer held, scored normally, and the rules
    place it (it stays in the pool if none can)."""
    _check_assigner(actor, lead.company_id)
    lead = _locked_lead(lead)
    if not _in_scope(actor, lead.owner_id):
        raise PermissionDenied
    if not scoring.is_held(lead):
        raise ValidationError({"__all__": "This lead is not held for spam review."})
    marker = {"rule": f"Reviewed: not spam ({actor.display_name})", "points": 0, "kind": "review",
              "by": actor.pk, "at": timezone.now().isoformat()}  # fmt: skip
    lead.score_breakdown = [e for e in lead.score_breakdown or [] if e.get("kind") != "hold"] + [marker]
    scoring.apply_scores(lead)
    record(lead, actor, "leads.lead.spam_cleared")
    lead.save(update_fields=[*scoring.SCORE_FIELDS, "updated_at"])
    if lead.owner_id is None:
        assign_on_create(lead, actor=actor)
    return lead


MEMBER_FIELDS = ("capacity", "is_available", "territory", "skills")


@transaction.atomic
def member_assignment_update(*, actor: Membership, member: Membership, data: dict) -> Membership:
    """Capacity, availability, territory and skills of a team member (managers: their team)."""
    _check_assigner(actor, member.company_id)
    if not _in_scope(actor, member.pk):
        raise PermissionDenied
    member = Membership.objects.select_for_update(of=("self",)).select_related("user").get(pk=member.pk)
    unknown = set(data) - set(MEMBER_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "Unknown field."))
    if "capacity" in data:
        capacity = data["capacity"]
        if isinstance(capacity, bool) or not isinstance(capacity, int):
            raise ValidationError({"capacity": "Capacity must be a whole number."})
        if capacity < 0:
            raise ValidationError({"capacity": "Capacity cannot be below zero."})
    if "skills" in data and isinstance(data["skills"], list):
        data = {**data, "skills": [str(s).strip() for s in data["skills"] if str(s).strip()]}
    for name in MEMBER_FIELDS:
        if name in data:
            setattr(member, name, data[name])
    member.territory = (member.territory or "").strip()
    member.full_clean()
    record(member, actor, "crm.membership.assignment_changed")
    member.save(update_fields=list(MEMBER_FIELDS))
    return member
