"""One timeline for any account, contact or opportunity: field changes, stage changes and logged
interactions merged newest first. An account's also holds its contacts', its opportunities' and the
entries of the leads that became it (``leads.timeline.lead_timeline``), each marked with its source."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from accounts.models import Account, Opportunity, OpportunityStageChange
from crm.models import Activity, ActivityKind
from leads.timeline import MAX_ENTRIES, Entry, lead_timeline

HIDDEN_FIELDS = {"domain_key", "company_key", "email_key", "stage_changed_at", "closed_at", "stage", "probability"}


@dataclass
class Item:
    """A timeline entry and where it comes from (the record itself, or a related one)."""

    entry: Entry
    source: str = ""
    source_url: str = ""


def _who(user) -> str:
    return str(user) if user else "System"


def _history_entries(obj) -> list[Entry]:
    rows = list(obj.history.order_by("history_date", "history_id").select_related("history_user"))
    entries, previous = [], None
    for row in rows:
        reason = row.history_change_reason or ""
        if previous is None:
            entries.append(Entry("system", row.history_date, _who(row.history_user), "created it", note=reason))
        else:
            delta = row.diff_against(previous, excluded_fields=HIDDEN_FIELDS)
            changes = [(c.field.replace("_", " "), _text(c.old), _text(c.new)) for c in delta.changes]
            if changes:
                entries.append(Entry("change", row.history_date, _who(row.history_user), "changed", changes=changes,
                                     note=reason))  # fmt: skip
        previous = row
    return entries


def _text(value) -> str:
    return "—" if value in (None, "") else str(value)


def _stage_entries(opportunity: Opportunity) -> list[Entry]:
    entries = []
    changes = OpportunityStageChange.objects.filter(opportunity=opportunity).select_related(
        "from_stage", "to_stage", "changed_by__user"
    )
    for change in changes:
        who = str(change.changed_by.user) if change.changed_by else "System"
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
        title = (
            activity.subject
            if kind == "system"
            else f"logged a {activity.get_kind_display().lower()}: {activity.subject}"
        )
        entries.append(Entry(kind, activity.occurred_at, _who(activity.owner.user if activity.owner else None), title,
                             body=activity.notes, note=activity.get_outcome_display(), obj=activity))  # fmt: skip
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
