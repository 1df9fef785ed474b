"""A lead's timeline and the company activity feed: field changes, status changes, comments,
interactions and system events merged into one stream, newest first."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet

from crm.models import Activity, ActivityKind, Membership
from leads.models import Campaign, Lead, LeadComment, LeadStatus, MergeRecord, StatusChange

# The change reasons of a merge and its undo (``leads.dedup.merge`` writes them; the timeline reads them).
MERGED, UNMERGED = "leads.lead.merged", "leads.lead.unmerged"

KINDS = {
    "change": "Field changes",
    "status": "Status changes",
    "comment": "Comments",
    "interaction": "Calls, emails & meetings",
    "system": "System events",
}
HIDDEN_FIELDS = {"status", "status_changed_at", "last_activity_at", "first_response_at", "score_breakdown",
                 "email_key", "phone_key", "profile_url_key", "company_key", "name_key", "assigned_at"}  # fmt: skip
MAX_ENTRIES = 300


@dataclass
class Entry:
    kind: str
    at: datetime
    who: str
    title: str
    lead: Lead | None = None
    changes: list[tuple[str, str, str]] = field(default_factory=list)
    body: str = ""
    note: str = ""
    obj: object = None


def _names(model, ids, attr="name") -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    if model is Membership:
        return {m.pk: str(m.user) for m in Membership.objects.filter(pk__in=ids).select_related("user")}
    return dict(model.objects.filter(pk__in=ids).values_list("pk", attr))


def _display(field_name: str, value, lookups) -> str:
    if value in (None, ""):
        return "—"
    if field_name in lookups:
        return lookups[field_name].get(value, f"#{value}")
    return str(value)


def _change_entries(lead: Lead) -> list[Entry]:
    rows = list(lead.history.order_by("history_date", "history_id").select_related("history_user"))
    fk_ids = {"owner": set(), "campaign": set()}
    for row in rows:
        fk_ids["owner"].add(row.owner_id)
        fk_ids["campaign"].add(row.campaign_id)
    lookups = {"owner": _names(Membership, fk_ids["owner"]), "campaign": _names(Campaign, fk_ids["campaign"])}
    entries, previous = [], None
    for row in rows:
        who = str(row.history_user) if row.history_user else "System"
        if previous is None:
            entries.append(
                Entry("system", row.history_date, who, "created the lead", note=row.history_change_reason or "")
            )
        else:
            delta = row.diff_against(previous, excluded_fields=HIDDEN_FIELDS)
            changes = [
                (c.field.replace("_", " "), _display(c.field, c.old, lookups), _display(c.field, c.new, lookups))
                for c in delta.changes
            ]
            if changes:
                entries.append(Entry("change", row.history_date, who, "changed", changes=changes,
                                     note=row.history_change_reason or ""))  # fmt: skip
        previous = row
    return entries


def _status_entries(changes: QuerySet[StatusChange]) -> list[Entry]:
    entries = []
    for change in changes.select_related("from_status", "to_status", "changed_by__user", "lead"):
        if change.from_status is None:
            continue  # the initial status is part of "created the lead"
        who = str(change.changed_by.user) if change.changed_by else "System"
        title = f"moved from {change.from_status.name} to {change.to_status.name}"
        entries.append(Entry("status", change.changed_at, who, title, lead=change.lead, note=change.note, obj=change))
    return entries


def _comment_entries(comments: QuerySet[LeadComment]) -> list[Entry]:
    entries = []
    for comment in comments.select_related("author__user", "lead"):
        who = str(comment.author.user) if comment.author else "Former member"
        title = "replied" if comment.parent_id else "commented"
        body = "" if comment.is_deleted else comment.body
        entries.append(Entry("comment", comment.created_at, who, title, lead=comment.lead, body=body, obj=comment))
    return entries


def _activity_entries(activities, leads_by_id: dict[int, Lead]) -> list[Entry]:
    """``activities``: Activity rows with ``owner__user`` already joined."""
    entries = []
    for activity in activities:
        who = str(activity.owner.user) if activity.owner else "System"
        kind = "system" if activity.kind == ActivityKind.SYSTEM else "interaction"
        title = activity.subject if kind == "system" else f"logged a {activity.get_kind_display().lower()}"
        entry = Entry(kind, activity.occurred_at, who, title, lead=leads_by_id.get(activity.object_id),
                      body=activity.notes, note=activity.get_outcome_display(), obj=activity)  # fmt: skip
        entries.append(entry)
    return entries


def lead_timeline(lead: Lead, *, kind: str | None = None, with_merged: bool = True) -> list[Entry]:
    """Everything that happened to one lead, newest first, optionally one kind only; with the
    history of the leads merged into it unless ``with_merged`` is false."""
    lead_type = ContentType.objects.get_for_model(Lead)
    activities = Activity.objects.filter(content_type=lead_type, object_id=lead.pk).select_related("owner__user")
    sources = {
        "change": lambda: _change_entries(lead),
        "status": lambda: _status_entries(StatusChange.objects.filter(lead=lead)),
        "comment": lambda: _comment_entries(LeadComment.objects.filter(lead=lead)),
        "interaction": lambda: _activity_entries(activities.exclude(kind=ActivityKind.SYSTEM), {}),
        "system": lambda: (
            [e for e in _change_entries(lead) if e.kind == "system"]
            + _activity_entries(activities.filter(kind=ActivityKind.SYSTEM), {})
        ),
    }
    if kind in sources:
        entries = sources[kind]()
    else:
        entries = _change_entries(lead) + sources["status"]() + sources["comment"]()
        entries += _activity_entries(activities, {})
    entries += _merged_entries(lead, entries, kind, with_merged=with_merged)
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:MAX_ENTRIES]


def _merged_entries(lead: Lead, entries: list[Entry], kind: str | None, *, with_merged: bool) -> list[Entry]:
    """The history of leads merged into this one, and a mark on rows that moved here in a merge."""
    origins = moved_origins(lead)
    for entry in entries:
        obj = entry.obj
        origin = origins.get((obj._meta.label_lower, obj.pk)) if obj is not None else None
        if origin is not None:
            entry.note = f"From merged lead #{origin}{f' · {entry.note}' if entry.note else ''}"
    if not with_merged:
        return []
    return [e for e in merged_history_entries(lead) if kind is None or e.kind == kind]


# --- merged leads ----------------------------------------------------------------------------------


def merged_leads_of(lead: Lead) -> list[Lead]:
    """The tombstones merged into ``lead``, directly or through merges of merges."""
    found, frontier = [], [lead.pk]
    while frontier:
        batch = list(Lead.objects.filter(merged_into_id__in=frontier).order_by("pk"))
        batch = [t for t in batch if t.pk not in {f.pk for f in found} and t.pk != lead.pk]
        found += batch
        frontier = [t.pk for t in batch]
    return found


def merged_history_entries(lead: Lead) -> list[Entry]:
    """Extra timeline entries for a survivor: each merged lead's own history (created, field
    changes, anything left on it), marked with where it came from (``entry.lead`` is the merged
    lead, ``entry.note`` starts "From merged lead …"), and the merges and unmerges themselves.
    ``merged_leads_of`` already follows merges of merges, so the merged leads' timelines are read
    without their own merged history."""
    entries = []
    for tombstone in merged_leads_of(lead):
        origin = f"From merged lead {tombstone.display_name} (#{tombstone.pk})"
        for entry in lead_timeline(tombstone, with_merged=False):
            if entry.note in (MERGED, UNMERGED) and entry.kind == "change":
                continue  # the tombstone's own "merged into" row: the merge entry below says it
            entry.lead = tombstone
            entry.note = f"{origin}{f' · {entry.note}' if entry.note else ''}"
            entries.append(entry)
    for record in MergeRecord.objects.filter(survivor=lead).select_related("merged_by__user", "undone_by__user"):
        names = ", ".join(f"#{pk}" for pk in record.lead_ids)
        who = str(record.merged_by.user) if record.merged_by else "System"
        entries.append(Entry("system", record.merged_at, who, f"merged lead(s) {names} into this lead",
                             note=MERGED, obj=record))  # fmt: skip
        if record.undone_at:
            who = str(record.undone_by.user) if record.undone_by else "System"
            entries.append(Entry("system", record.undone_at, who, f"undid the merge of lead(s) {names}",
                                 note=UNMERGED, obj=record))  # fmt: skip
    return _dedupe(entries)


def _dedupe(entries: list[Entry]) -> list[Entry]:
    seen, unique = set(), []
    for entry in entries:
        key = (entry.kind, entry.at, entry.title, entry.note)
        if key not in seen:
            seen.add(key)
            unique.append(entry)
    return unique


def moved_origins(lead: Lead | int) -> dict[tuple[str, int], int]:
    """(model label, row id) → the id of the lead a row was on before active merges moved it onto
    ``lead`` — through merges of merges, the lead it was first on — so the timeline can mark it."""
    lead_id = getattr(lead, "pk", lead)
    origins: dict[tuple[str, int], int] = {}
    records = MergeRecord.objects.filter(survivor_id=lead_id, undone_at__isnull=True).order_by("merged_at", "pk")
    for record in records:
        for move in record.moves:
            earlier = moved_origins(move["from"])
            for pk in move["ids"]:
                key = (move["model"], pk)
                origins[key] = earlier.get(key, move["from"])
    return origins


def company_feed(
    visible_leads: QuerySet[Lead], *, kind: str | None = None, member: Membership | None = None,
    since: datetime | None = None, until: datetime | None = None, limit: int = 100,
) -> list[Entry]:  # fmt: skip
    """Recent status changes, comments and interactions on the given leads, newest first."""
    lead_ids = visible_leads.values("id")
    status_q = StatusChange.objects.filter(lead_id__in=lead_ids, from_status__isnull=False)
    comment_q = LeadComment.objects.filter(lead_id__in=lead_ids)
    activity_q = Activity.objects.filter(content_type=ContentType.objects.get_for_model(Lead), object_id__in=lead_ids)
    if member is not None:
        status_q, comment_q = status_q.filter(changed_by=member), comment_q.filter(author=member)
        activity_q = activity_q.filter(owner=member)
    if since:
        status_q, comment_q = status_q.filter(changed_at__gte=since), comment_q.filter(created_at__gte=since)
        activity_q = activity_q.filter(occurred_at__gte=since)
    if until:
        status_q, comment_q = status_q.filter(changed_at__lt=until), comment_q.filter(created_at__lt=until)
        activity_q = activity_q.filter(occurred_at__lt=until)
    entries: list[Entry] = []
    if kind in (None, "", "status"):
        entries += _status_entries(status_q.order_by("-changed_at")[:limit])
    if kind in (None, "", "comment"):
        entries += _comment_entries(comment_q.order_by("-created_at")[:limit])
    if kind in (None, "", "interaction", "system"):
        if kind == "interaction":
            activity_q = activity_q.exclude(kind=ActivityKind.SYSTEM)
        elif kind == "system":
            activity_q = activity_q.filter(kind=ActivityKind.SYSTEM)
        activities = list(activity_q.select_related("owner__user").order_by("-occurred_at")[:limit])
        leads_by_id = Lead.objects.in_bulk([a.object_id for a in activities])
        entries += _activity_entries(activities, leads_by_id)
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


def time_in_status(lead: Lead, *, now: datetime | None = None) -> list[tuple[LeadStatus, float]]:
    """Seconds spent in each status, in order of first visit (revisits add up)."""
    from django.utils import timezone

    now = now or timezone.now()
    changes = list(StatusChange.objects.filter(lead=lead).select_related("to_status").order_by("changed_at", "id"))
    totals: dict[int, float] = {}
    statuses: dict[int, LeadStatus] = {}
    for current, following in zip(changes, changes[1:] + [None], strict=True):
        end = following.changed_at if following else now
        statuses[current.to_status_id] = current.to_status
        totals[current.to_status_id] = (
            totals.get(current.to_status_id, 0.0) + (end - current.changed_at).total_seconds()
        )
    return [(statuses[pk], seconds) for pk, seconds in totals.items()]
