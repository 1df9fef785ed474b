"""One timeline for any account, contact or opportunity: field changes, stage changes and logged
interactions merged newest first. An account's also holds its contacts', its opportunities' and the
entries of the leads that became it (``leads.timeline.lead_timeline``), each marked with its source.

Every entry reads as a sentence through ``leads.timeline``'s one registry: change reasons and event
names through ``describe`` (the accounts' labels are in ``accounts.timeline_labels``), field names
through ``field_label`` and stored values through ``display_value``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.urls import reverse

from accounts.models import Account, Contact, Opportunity, OpportunityStageChange
from crm.models import Activity, ActivityKind, Membership
from leads.timeline import (
    MAX_ENTRIES,
    SYSTEM,
    Entry,
    activity_sentence,
    describe,
    label_for,
    lead_timeline,
    row_changes,
)

# Keys and timestamps kept for the code; the stage and its probability have their own entries.
HIDDEN_FIELDS = {"domain_key", "company_key", "email_key", "stage_changed_at", "closed_at", "stage", "probability"}
# What a history row reads as when its reason is missing or unknown: (its first row, a later one).
DEFAULT_REASONS = {
    Account: ("accounts.account.created", "accounts.account.changed"),
    Contact: ("accounts.contact.created", "accounts.contact.changed"),
    Opportunity: ("accounts.opportunity.created", "accounts.opportunity.changed"),
}


@dataclass
class Item:
    """A timeline entry and where it comes from (the record itself, or a related one)."""

    entry: Entry
    source: str = ""
    source_url: str = ""


def _who(user) -> str:
    return str(user) if user else SYSTEM


class _Names(Mapping):
    """Foreign-key field name → {id: name} for the ids the history rows hold (owner, account, primary
    contact, lead …), each field's read on first use: only a field that changed costs a query."""

    def __init__(self, model: type[Model], rows):
        self.fields = {f.name: f for f in model._meta.concrete_fields if f.is_relation and f.name != "company"}
        self.rows, self.loaded = rows, {}

    def __getitem__(self, name: str) -> dict:
        if name not in self.loaded:
            model_field = self.fields[name]
            ids = {getattr(row, model_field.attname) for row in self.rows} - {None}
            related = model_field.related_model.objects.filter(pk__in=ids)
            if model_field.related_model is Membership:
                self.loaded[name] = {m.pk: m.display_name for m in related.select_related("user")}
            else:
                self.loaded[name] = {obj.pk: str(obj) for obj in related}
        return self.loaded[name]

    def __iter__(self):
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)


def _history_entries(obj) -> list[Entry]:
    model = type(obj)
    created, changed = (label_for(reason) for reason in DEFAULT_REASONS[model])
    rows = list(obj.history.order_by("history_date", "history_id").select_related("history_user"))
    lookups = _Names(model, rows)
    entries, previous = [], None
    for row in rows:
        who, reason = _who(row.history_user), row.history_change_reason or ""
        if previous is None:
            title, note, alone = describe(reason, default=created)
            entries.append(Entry("system", row.history_date, who, title, note=note, reason=reason, alone=alone))
        else:
            changes, values = row_changes(row, previous, lookups, model=model, hidden=HIDDEN_FIELDS)
            if changes:
                title, note, alone = describe(reason, values, default=changed)
                entries.append(Entry("change", row.history_date, who, title, changes=changes, note=note,
                                     reason=reason, alone=alone))  # fmt: skip
        previous = row
    return entries


def _stage_entries(opportunity: Opportunity) -> list[Entry]:
    entries = []
    changes = OpportunityStageChange.objects.filter(opportunity=opportunity).select_related(
        "from_stage", "to_stage", "changed_by__user"
    )
    for change in changes:
        who = str(change.changed_by.user) if change.changed_by else SYSTEM
        if change.from_stage is None:
            title = f"started in {change.to_stage.name} ({change.probability} %)"
        elif change.from_stage_id == change.to_stage_id:
            title = f"set the probability to {change.probability} %"
        else:
            title = f"moved from {change.from_stage.name} to {change.to_stage.name} ({change.probability} %)"
        entries.append(Entry("status", change.changed_at, who, title, note=change.note, obj=change))
    return entries


def _activity_entries(obj) -> list[Entry]:
    activities = Activity.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk
    ).select_related("owner__user")
    entries = []
    for activity in activities:
        kind = "system" if activity.kind == ActivityKind.SYSTEM else "interaction"
        title, note, alone = activity_sentence(activity)
        entries.append(Entry(kind, activity.occurred_at, _who(activity.owner.user if activity.owner else None), title,
                             body=activity.notes, note=note, obj=activity, reason=activity.event,
                             alone=alone))  # fmt: skip
    return entries


def _own_entries(obj) -> list[Entry]:
    entries = _history_entries(obj) + _activity_entries(obj)
    if isinstance(obj, Opportunity):
        entries += _stage_entries(obj)
    return entries


def _url(name: str, obj, kwarg: str) -> str:
    return reverse(f"accounts:{name}", kwargs={"company_slug": obj.company.slug, kwarg: obj.pk})


def record_timeline(obj, *, contacts=None, opportunities=None) -> list[Item]:
    """The merged newest-first stream for an account, contact or opportunity. For an account,
    ``contacts`` and ``opportunities`` are the related records to include (default: all of them;
    pages pass the ones the member can see)."""
    items = [Item(entry) for entry in _own_entries(obj)]
    if isinstance(obj, Account):
        for contact in obj.contacts.all() if contacts is None else contacts:
            source, url = f"Contact {contact.display_name}", _url("contact_detail", contact, "contact_id")
            items += [Item(entry, source, url) for entry in _own_entries(contact)]
        for opportunity in obj.opportunities.all() if opportunities is None else opportunities:
            source = f"Opportunity {opportunity.name}"
            url = _url("opportunity_detail", opportunity, "opportunity_id")
            items += [Item(entry, source, url) for entry in _own_entries(opportunity)]
        for conversion in obj.conversions.select_related("lead__company"):
            lead = conversion.lead
            url = reverse("leads:detail", kwargs={"company_slug": lead.company.slug, "lead_id": lead.pk})
            items += [Item(entry, f"Lead {lead.display_name}", url) for entry in lead_timeline(lead)]
    items.sort(key=lambda item: item.entry.at, reverse=True)
    return items[:MAX_ENTRIES]


__all__ = ["Item", "record_timeline"]
