"""Assignment statistics for managers: per member, per day and per rule — leads assigned and
claimed, open now, time to first response (median and p90) and SLA breaches.

An assignment's first response is the new owner's first touch of the lead — a status change, a
comment or a logged interaction — at or after the assignment and before the lead next changed
hands. It breaches the SLA when that touch came later than ``sla_hours`` after the assignment,
or when it has not come and the deadline has passed (while the owner still had the lead).
p90 is the nearest-rank percentile: the smallest time that at least 90 % of responses beat.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from django.utils.safestring import SafeString

from crm import charts
from crm.charts import Datum
from crm.models import Activity, ActivityKind, Membership
from crm.queries import memberships_visible_to
from leads.assignment.engine import open_loads
from leads.models import AssignmentKind, Lead, LeadAssignment, LeadComment, StatusChange
from leads.scoring import settings_for

RECEIVED = (AssignmentKind.AUTO, AssignmentKind.BATCH, AssignmentKind.MANUAL, AssignmentKind.CLAIM)
HANDOVERS = (*RECEIVED, AssignmentKind.RELEASE)
KIND_GROUPS = {
    AssignmentKind.MANUAL: "Assigned by a person",
    AssignmentKind.CLAIM: "Claimed from the pool",
    AssignmentKind.AUTO: "Rules (rule since deleted)",
    AssignmentKind.BATCH: "Rules (rule since deleted)",
}


@dataclass
class Stat:
    label: str
    key: object = None
    assigned: int = 0
    claimed: int = 0
    responded: int = 0
    breaches: int = 0
    open: int | None = None
    seconds: list[float] = field(default_factory=list)

    @property
    def received(self) -> int:
        return self.assigned + self.claimed

    @property
    def median(self) -> float | None:
        return statistics.median(self.seconds) if self.seconds else None

    @property
    def p90(self) -> float | None:
        return percentile(self.seconds, 90)

    def add(self, kind: str, response: float | None, breached: bool) -> None:
        if kind == AssignmentKind.CLAIM:
            self.claimed += 1
        else:
            self.assigned += 1
        if response is not None:
            self.responded += 1
            self.seconds.append(response)
        self.breaches += breached


def percentile(values: list[float], rank: int) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(rank / 100 * len(ordered)) - 1)]


@dataclass
class AssignmentStats:
    since: datetime
    until: datetime
    sla_hours: int
    members: list[Stat]
    by_day: list[Stat]
    by_rule: list[Stat]
    total: Stat


def assignment_stats(*, viewer: Membership, since: datetime, until: datetime, now=None) -> AssignmentStats:
    """Statistics of the assignments made in [since, until) to the members ``viewer`` can see."""
    now = now or timezone.now()
    sla_hours = settings_for(viewer.company).sla_hours
    sla = timedelta(hours=sla_hours)
    members = list(memberships_visible_to(viewer).select_related("user").order_by("user__full_name", "user__email"))
    rows = LeadAssignment.objects.filter(
        company_id=viewer.company_id, owner__in=members, kind__in=RECEIVED, created_at__gte=since, created_at__lt=until
    )
    assignments = list(rows.values_list("pk", "lead_id", "owner_id", "kind", "rule_name", "created_at"))
    lead_ids = rows.values("lead_id")
    handovers = _handovers(lead_ids, since)
    touches = _touches(lead_ids, [m.pk for m in members], since)
    loads = open_loads([m.pk for m in members])
    by_member = {m.pk: Stat(m.display_name, key=m, open=loads.get(m.pk, 0)) for m in members}
    by_day: dict[date, Stat] = {}
    by_rule: dict[str, Stat] = {}
    total = Stat("All")
    for pk, lead_id, owner_id, kind, rule_name, at in sorted(assignments, key=lambda a: (a[5], a[0])):
        ended = _next_handover(handovers.get(lead_id, []), at, pk)
        response = _first_touch(touches.get((lead_id, owner_id), []), at, ended)
        seconds = (response - at).total_seconds() if response is not None else None
        horizon = response or min(ended or now, now)
        breached = horizon > at + sla
        day = timezone.localtime(at).date()
        label = rule_name or KIND_GROUPS[kind]
        for stat in (
            by_member[owner_id],
            by_day.setdefault(day, Stat(day.isoformat(), key=day)),
            by_rule.setdefault(label, Stat(label)),
            total,
        ):
            stat.add(kind, seconds, breached)
    total.open = sum(loads.values())
    days = _every_day(by_day, since, until)
    return AssignmentStats(
        since, until, sla_hours, list(by_member.values()), days, sorted(by_rule.values(), key=lambda s: s.label),
        total,
    )  # fmt: skip


def _handovers(lead_ids, since) -> dict[int, list[tuple[datetime, int]]]:
    found = defaultdict(list)
    later = LeadAssignment.objects.filter(lead_id__in=lead_ids, kind__in=HANDOVERS, created_at__gte=since)
    for lead_id, at, pk in later.values_list("lead_id", "created_at", "pk"):
        found[lead_id].append((at, pk))
    for items in found.values():
        items.sort()
    return found


def _next_handover(items: list[tuple[datetime, int]], at: datetime, pk: int) -> datetime | None:
    index = bisect.bisect_right(items, (at, pk))
    return items[index][0] if index < len(items) else None


def _touches(lead_ids, member_ids: list[int], since) -> dict[tuple[int, int], list[datetime]]:
    found = defaultdict(list)
    statuses = StatusChange.objects.filter(lead_id__in=lead_ids, changed_by_id__in=member_ids, changed_at__gte=since)
    comments = LeadComment.objects.filter(lead_id__in=lead_ids, author_id__in=member_ids, created_at__gte=since)
    activities = Activity.objects.filter(
        content_type=ContentType.objects.get_for_model(Lead),
        object_id__in=lead_ids,
        owner_id__in=member_ids,
        occurred_at__gte=since,
    ).exclude(kind=ActivityKind.SYSTEM)
    for rows in (
        statuses.values_list("lead_id", "changed_by_id", "changed_at"),
        comments.values_list("lead_id", "author_id", "created_at"),
        activities.values_list("object_id", "owner_id", "occurred_at"),
    ):
        for lead_id, member_id, at in rows:
            found[(lead_id, member_id)].append(at)
    for times in found.values():
        times.sort()
    return found


def _first_touch(times: list[datetime], start: datetime, end: datetime | None) -> datetime | None:
    index = bisect.bisect_left(times, start)
    if index < len(times) and (end is None or times[index] < end):
        return times[index]
    return None


def _every_day(by_day: dict[date, Stat], since: datetime, until: datetime) -> list[Stat]:
    first, last = timezone.localtime(since).date(), timezone.localtime(until - timedelta(microseconds=1)).date()
    days, day = [], first
    while day <= last:
        days.append(by_day.get(day) or Stat(day.isoformat(), key=day))
        day += timedelta(days=1)
    return days


RECEIVED_AXIS = "Leads assigned or claimed"


def stats_charts(stats: AssignmentStats) -> dict[str, SafeString]:
    """The stats page's SVG charts (``crm.charts``): leads received per member and per day, each
    figure with its SLA breaches; none when nobody received a lead in the period."""
    if not stats.total.received:
        return {}
    return {
        "members": charts.bar_chart(
            [_received(stat, stat.label) for stat in stats.members], title="Leads received per member",
            testid="chart-assignment-members", value_axis=RECEIVED_AXIS, category_axis="Member",
        ),
        "days": charts.area_chart(
            [_received(stat, stat.key.strftime("%d %b")) for stat in stats.by_day], title="Leads received per day",
            testid="chart-assignment-days", value_axis=RECEIVED_AXIS, time_axis="Day",
        ),
    }  # fmt: skip


def _received(stat: Stat, label: str) -> Datum:
    return Datum(label, stat.received, f"{stat.received} ({stat.breaches} late)" if stat.breaches else "")
