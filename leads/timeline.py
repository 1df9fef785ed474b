"""A lead's timeline and the company activity feed: field changes, status changes, comments,
interactions and system events merged into one stream, newest first.

Every entry reads as a sentence. The dotted action names (history change reasons such as
``leads.lead.rescored``, ``Activity.event`` names, interaction kinds as ``crm.activity.<kind>``)
map to ``Label``s in one registry, ``LABELS``: this module registers the leads' and the core's;
another app registers its own in a ``timeline_labels`` module (``register_labels``), found on first
use like the admin's ``admin.py`` modules. A name nobody registered reads "made a change", never as
its code."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, QuerySet
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules
from django.utils.text import capfirst

from crm.models import Activity, ActivityKind, Membership
from leads.feed import FeedKey, feed_sort_key, older_than
from leads.models import Campaign, CustomField, Lead, LeadComment, LeadStatus, MergeRecord, StatusChange

# The change reasons of a merge and its undo (``leads.dedup.merge`` writes them; the timeline reads them).
MERGED, UNMERGED = "leads.lead.merged", "leads.lead.unmerged"
SYSTEM = "System"

KINDS = {
    "change": "Field changes",
    "status": "Status changes",
    "comment": "Comments",
    "interaction": "Calls, emails & meetings",
    "system": "System events",
}
HIDDEN_FIELDS = {"status", "status_changed_at", "last_activity_at", "first_response_at", "score_breakdown",
                 "email_key", "phone_key", "profile_url_key", "company_key", "name_key", "assigned_at"}  # fmt: skip
# Where a field's verbose_name is not what a person says (acronyms the model spells in lower case);
# another app adds its models' own with ``register_field_labels``.
FIELD_LABELS = {"gdpr_consent": "GDPR consent", "profile_url": "Profile URL", "opt_in_date": "Opt-in date"}
MODEL_FIELD_LABELS: dict[type[Model], dict[str, str]] = {}
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
    reason: str = ""  # the dotted action name, for code; never shown
    alone: bool = False  # ``title`` is a sentence of its own, not "<who> <title>"

    @property
    def byline(self) -> str:
        """Who to credit after a sentence of its own (nobody when the system did it)."""
        return "" if self.who == SYSTEM else self.who


# --- labels ----------------------------------------------------------------------------------------


class _Values(dict):
    def __missing__(self, key: str) -> str:
        return ""


@dataclass(frozen=True)
class Label:
    """How one dotted action reads. ``text`` completes "<who> …" ("assigned this lead to {owner}"),
    or with ``alone`` is a sentence of its own ("Score recalculated: {score_old} → {score}");
    ``note`` adds a line under it. Both are ``str.format`` patterns over the entry's values (a
    history row: each changed field's new display under its name, the old one under ``<name>_old``,
    and ``detail``, the text after a ":" in the reason; an activity: ``subject`` and its data), or
    ``text`` (or ``note``) is a function of those values."""

    text: str | Callable[[Mapping[str, str]], str]
    alone: bool = False
    note: str | Callable[[Mapping[str, str]], str] = ""

    def render(self, values: Mapping[str, str]) -> tuple[str, str]:
        values = _Values(values)
        text = self.text(values) if callable(self.text) else self.text.format_map(values)
        return text, self.note(values) if callable(self.note) else self.note.format_map(values)


LABELS: dict[str, Label] = {}
UNKNOWN = Label("made a change")


def register_labels(labels: Mapping[str, Label | str]) -> None:
    """Add (or replace) labels; a key ending in ``*`` covers every name it starts."""
    for code, label in labels.items():
        LABELS[code] = label if isinstance(label, Label) else Label(label)


@cache
def _discover() -> None:
    autodiscover_modules("timeline_labels")


def label_for(reason: str | None) -> Label | None:
    """The label of a reason or event name (any ":" detail ignored), or None if nobody registered it."""
    _discover()
    code = (reason or "").partition(":")[0].strip()
    if code in LABELS:
        return LABELS[code]
    families = [key for key in LABELS if key.endswith("*") and code.startswith(key[:-1])]
    return LABELS[max(families, key=len)] if families else None


def describe(reason: str | None, values: Mapping[str, str] | None = None, *, default: Label = UNKNOWN):
    """(title, note, alone) for one action; ``values`` fill the label's pattern."""
    code, _, detail = (reason or "").partition(":")
    label = label_for(code) or default
    title, note = label.render({"detail": detail.strip(), **(values or {})})
    return title, note, label.alone


def _score_text(values: Mapping[str, str]) -> str:
    if values["score"]:
        return f"Score recalculated: {values['score_old']} → {values['score']}"
    return "Score details recalculated"


def _assigned_text(values: Mapping[str, str]) -> str:
    owner = values["owner"]
    return f"assigned this lead to {owner}" if owner and owner != "—" else "assigned this lead"


register_labels({
    # history change reasons of a lead
    "leads.lead.created": "created the lead",
    "leads.lead.created_from_profile": "created the lead from a scraped profile",
    "leads.lead.created_by_demo": "created the lead (demo data)",
    "leads.lead.imported": "imported the lead (import #{detail})",
    "leads.lead.import_reverted": "undid import #{detail}",
    "leads.lead.changed": "edited the lead",
    "leads.lead.status_changed": "changed the status",
    "leads.lead.rescored": Label(_score_text, alone=True),
    "leads.lead.assigned": Label(_assigned_text, note="{detail}"),
    "leads.lead.claimed": "claimed this lead from the pool",
    "leads.lead.released": Label("released this lead to the pool", note="{detail}"),
    "leads.lead.spam_cleared": "cleared the spam flag",
    "leads.lead.deleted": "deleted the lead",
    "leads.lead.restored": "restored the lead",
    MERGED: "merged duplicates into this lead",
    UNMERGED: "undid a merge",
    "leads.lead.bulk_*": "changed this lead in bulk operation #{detail}",
    # interactions (``crm.activity.<kind>``) and system events
    "crm.activity.call": "logged a call",
    "crm.activity.email": "logged an email",
    "crm.activity.meeting": "logged a meeting",
    "crm.activity.note": "added a note",
    "crm.activity.whatsapp": "logged a WhatsApp message",
    "crm.activity.system": Label("{subject}", alone=True),
    "crm.activity.*": "logged an interaction",
    "leads.bulk.*": "ran a bulk operation: {subject}",
    "leads.leads.exported": "exported leads: {subject}",
    # comments, notifications and the other records' history (the Django admin's history pages)
    "leads.comment.created": "commented",
    "leads.comment.edited": "edited a comment",
    "leads.comment.deleted": "deleted a comment",
    "leads.comment.mentioned": "mentioned a teammate",
    "leads.status.created": "added a status",
    "leads.status.changed": "edited a status",
    "leads.status.retired": "retired a status",
    "leads.status.unretired": "brought a status back",
    "leads.status.deleted": "deleted a status",
    "leads.campaign.created": "added a campaign",
    "leads.campaign.changed": "edited a campaign",
    "leads.settings.changed": "changed the lead settings",
    "leads.scoring_rule.created": "added a scoring rule",
    "leads.scoring_rule.changed": "edited a scoring rule",
    "leads.scoring_rule.deleted": "deleted a scoring rule",
    "leads.assignment_rule.created": "added an assignment rule",
    "leads.assignment_rule.changed": "edited an assignment rule",
    "leads.assignment_rule.deleted": "deleted an assignment rule",
    "leads.assignment_rule.moved": "reordered the assignment rules",
    "leads.duplicate_rule.changed": "changed the duplicate rules",
    "leads.export_template.created": "added an export template",
    "leads.export_template.changed": "edited an export template",
    "leads.export_template.deleted": "deleted an export template",
    "leads.scheduled_export.created": "scheduled an export",
    "leads.scheduled_export.changed": "edited a scheduled export",
    "leads.scheduled_export.deleted": "deleted a scheduled export",
    "crm.company.created": "created the company",
    "crm.company.changed": "changed the company settings",
    "crm.membership.created": "added a member",
    "crm.membership.changed": "edited a member",
    "crm.membership.assignment_changed": "changed a member's assignment settings",
})  # fmt: skip


# --- field changes ---------------------------------------------------------------------------------


def _names(model, ids, attr="name") -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    if model is Membership:
        return {m.pk: str(m.user) for m in Membership.objects.filter(pk__in=ids).select_related("user")}
    return dict(model.objects.filter(pk__in=ids).values_list("pk", attr))


def register_field_labels(model: type[Model], labels: Mapping[str, str]) -> None:
    """Name some of ``model``'s fields on a timeline where their verbose_name does not say it."""
    MODEL_FIELD_LABELS.setdefault(model, {}).update(labels)


def field_label(name: str, model: type[Model] = Lead) -> str:
    _discover()
    label = MODEL_FIELD_LABELS.get(model, {}).get(name) or FIELD_LABELS.get(name)
    return label or capfirst(model._meta.get_field(name).verbose_name)


def display_value(name: str, value, lookups: Mapping[str, Mapping], model: type[Model] = Lead) -> str:
    """A stored value of ``model``'s field as a person reads it: choice labels, names for ids (from
    ``lookups``: field name → {id: name}), yes/no, local times."""
    if value in (None, "", [], {}):
        return "—"
    model_field = model._meta.get_field(name)
    if name in lookups:
        return lookups[name].get(value, f"#{value}")
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= 80 else text[:79] + "…"
    return str(value)


def _custom_changes(old: dict, new: dict, labels: Mapping[str, str]) -> list[tuple[str, str, str]]:
    old, new = old or {}, new or {}
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return [(labels.get(k, capfirst(k.replace("_", " "))), _text(old.get(k)), _text(new.get(k))) for k in keys]


def _text(value) -> str:
    if value in (None, ""):
        return "—"
    return ("yes" if value else "no") if isinstance(value, bool) else str(value)


def _lookups(lead: Lead, rows) -> dict[str, dict]:
    members = {row.owner_id for row in rows} | {row.created_by_id for row in rows}
    members = _names(Membership, members)
    merged = {row.merged_into_id: f"#{row.merged_into_id}" for row in rows if row.merged_into_id}
    return {
        "owner": members, "created_by": members, "merged_into": merged,
        "campaign": _names(Campaign, {row.campaign_id for row in rows}),
        "custom_fields": dict(CustomField.objects.filter(company_id=lead.company_id).values_list("key", "label")),
    }  # fmt: skip


def row_changes(
    row, previous, lookups, *, model: type[Model] = Lead, hidden=HIDDEN_FIELDS
) -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    """The visible changes of one history row of ``model`` (fields in ``hidden`` left out), and the
    values a label may quote; ``lookups`` as for ``display_value``."""
    changes, values = [], {}
    for change in row.diff_against(previous, excluded_fields=hidden).changes:
        if change.field == "custom_fields":
            changes += _custom_changes(change.old, change.new, lookups["custom_fields"])
            continue
        old = display_value(change.field, change.old, lookups, model)
        new = display_value(change.field, change.new, lookups, model)
        changes.append((field_label(change.field, model), old, new))
        values.update({change.field: new, f"{change.field}_old": old})
    return changes, values


def _change_entries(lead: Lead) -> list[Entry]:
    rows = list(lead.history.order_by("history_date", "history_id").select_related("history_user"))
    lookups = _lookups(lead, rows)
    entries, previous = [], None
    for row in rows:
        who = str(row.history_user) if row.history_user else SYSTEM
        reason = row.history_change_reason or ""
        if previous is None:
            title, note, alone = describe(reason, default=LABELS["leads.lead.created"])
            entries.append(Entry("system", row.history_date, who, title, note=note, reason=reason, alone=alone))
        else:
            changes, values = row_changes(row, previous, lookups)
            if changes:
                title, note, alone = describe(reason, values, default=LABELS["leads.lead.changed"])
                entries.append(Entry("change", row.history_date, who, title, changes=changes, note=note,
                                     reason=reason, alone=alone))  # fmt: skip
        previous = row
    return entries


def _status_entries(changes: QuerySet[StatusChange]) -> list[Entry]:
    entries = []
    for change in changes.select_related("from_status", "to_status", "changed_by__user", "lead"):
        if change.from_status is None:
            continue  # the initial status is part of "created the lead"
        who = str(change.changed_by.user) if change.changed_by else SYSTEM
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


def activity_sentence(activity: Activity) -> tuple[str, str, bool]:
    """(title, note, alone) of an interaction ("logged an email: Pricing") or a system event."""
    if activity.kind != ActivityKind.SYSTEM:
        title, _note, alone = describe(f"crm.activity.{activity.kind}")
        title = f"{title}: {activity.subject}" if activity.subject else title
        return title, activity.get_outcome_display(), alone
    values = {key: str(value) for key, value in (activity.data or {}).items()}
    values["subject"] = activity.subject
    return describe(activity.event, values, default=LABELS["crm.activity.system"])


def _activity_entries(activities, leads_by_id: dict[int, Lead]) -> list[Entry]:
    """``activities``: Activity rows with ``owner__user`` already joined."""
    entries = []
    for activity in activities:
        who = str(activity.owner.user) if activity.owner else SYSTEM
        kind = "system" if activity.kind == ActivityKind.SYSTEM else "interaction"
        title, note, alone = activity_sentence(activity)
        entry = Entry(kind, activity.occurred_at, who, title, lead=leads_by_id.get(activity.object_id),
                      body=activity.notes, note=note, obj=activity, reason=activity.event, alone=alone)  # fmt: skip
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
            if entry.reason in (MERGED, UNMERGED) and entry.kind == "change":
                continue  # the tombstone's own "merged into" row: the merge entry below says it
            entry.lead = tombstone
            entry.note = f"{origin}{f' · {entry.note}' if entry.note else ''}"
            entries.append(entry)
    for record in MergeRecord.objects.filter(survivor=lead).select_related("merged_by__user", "undone_by__user"):
        names = ", ".join(f"#{pk}" for pk in record.lead_ids)
        who = str(record.merged_by.user) if record.merged_by else SYSTEM
        entries.append(Entry("system", record.merged_at, who, f"merged lead(s) {names} into this lead",
                             reason=MERGED, obj=record))  # fmt: skip
        if record.undone_at:
            who = str(record.undone_by.user) if record.undone_by else SYSTEM
            entries.append(Entry("system", record.undone_at, who, f"undid the merge of lead(s) {names}",
                                 reason=UNMERGED, obj=record))  # fmt: skip
    return _dedupe(entries)


def _dedupe(entries: list[Entry]) -> list[Entry]:
    seen, unique = set(), []
    for entry in entries:
        key = (entry.kind, entry.at, entry.title, entry.note, entry.reason)
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
    since: datetime | None = None, until: datetime | None = None, limit: int = 100, before: FeedKey | None = None,
) -> list[Entry]:  # fmt: skip
    """Recent status changes, comments and interactions on the given leads, newest first (ordered by
    ``leads.feed``'s key); ``before``: only entries older than that key (the next keyset page)."""
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
    if before is not None:
        status_q, comment_q, activity_q = (older_than(q, before) for q in (status_q, comment_q, activity_q))
    entries: list[Entry] = []
    if kind in (None, "", "status"):
        entries += _status_entries(status_q.order_by("-changed_at", "-id")[:limit])
    if kind in (None, "", "comment"):
        entries += _comment_entries(comment_q.order_by("-created_at", "-id")[:limit])
    if kind in (None, "", "interaction", "system"):
        if kind == "interaction":
            activity_q = activity_q.exclude(kind=ActivityKind.SYSTEM)
        elif kind == "system":
            activity_q = activity_q.filter(kind=ActivityKind.SYSTEM)
        activities = list(activity_q.select_related("owner__user").order_by("-occurred_at", "-id")[:limit])
        leads_by_id = Lead.objects.in_bulk([a.object_id for a in activities])
        entries += _activity_entries(activities, leads_by_id)
    entries.sort(key=feed_sort_key, reverse=True)
    return entries[:limit]


def time_in_status(lead: Lead, *, now: datetime | None = None) -> list[tuple[LeadStatus, float]]:
    """Seconds spent in each status, in order of first visit (revisits add up)."""
    now = now or timezone.now()
    changes = list(StatusChange.objects.filter(lead=lead).select_related("to_status").order_by("changed_at", "id"))
    if not changes:  # a lead written without its status rows (generated, or older data): since it was made
        since = lead.status_changed_at or lead.created_at
        return [(lead.status, (now - since).total_seconds())] if since else []
    totals: dict[int, float] = {}
    statuses: dict[int, LeadStatus] = {}
    for current, following in zip(changes, changes[1:] + [None], strict=True):
        end = following.changed_at if following else now
        statuses[current.to_status_id] = current.to_status
        totals[current.to_status_id] = (
            totals.get(current.to_status_id, 0.0) + (end - current.changed_at).total_seconds()
        )
    return [(statuses[pk], seconds) for pk, seconds in totals.items()]
