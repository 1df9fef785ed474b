"""The dashboard's reads, one selector per role: an SDR's queue, today and funnel; a manager's (or a
company admin's) team funnel, sources, campaigns, response times, conversion, pipeline and forecast.

Every figure starts from the visibility functions (``leads_visible_to``, ``opportunities_visible_to``,
``memberships_visible_to`` through the assignment statistics), so an SDR counts only their leads, a
manager their team's plus the pool, an admin the company's. The definitions are the ones the rest of
the CRM uses: hot is the scoring's priority band, the response deadline the company's SLA
(``sla_state``), converted ``is_conversion_target``, response times ``assignment_stats``, pipeline
and forecast the board's and the forecast page's functions.

Cost: a fixed number of queries whatever the data, each bounded by an index range — lead counts
over the leads created in the last ``WINDOW_DAYS`` (``lead_company_created`` or, for an SDR,
``lead_company_owner``), one grouped query serving funnel, sources, campaigns and conversion;
an SDR's touches over the leads touched in the last ``TREND_DAYS`` (``lead_company_activity``);
response times over ``RESPONSE_DAYS`` of assignments (``leadassignment_owner``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db.models import CharField, Count, F, OuterRef, QuerySet, Subquery, Value
from django.utils import timezone
from django.utils.safestring import SafeString

from accounts.forecast import Figure, forecast, period_start
from accounts.pipeline import Column, board_totals
from accounts.queries import opportunities_visible_to, stages_of
from accounts.validation import default_currency
from crm import charts
from crm.charts import Datum
from crm.models import Activity, ActivityKind, ActivityOutcome, Membership, Role
from leads.assignment.queries import queue_for, sla_state
from leads.assignment.stats import assignment_stats
from leads.models import Lead, LeadComment, LeadStatus, Priority, StatusChange
from leads.queries import leads_visible_to, statuses_of
from leads.scoring import settings_for
from leads.workflow import is_conversion_target

WINDOW_DAYS = 90  # lead counts: leads created in this many days
RESPONSE_DAYS = 30  # response times: assignments made in this many days
TREND_DAYS = 14  # an SDR's touches per day
DUE_SOON_HOURS = 4  # "response due soon": the deadline falls within this many hours (or has passed)
QUEUE_SIZE = 5
TOP = 8  # sources and campaigns: the biggest eight, then "Other"
TOUCH_LABELS = {**dict(ActivityKind.choices), "comment": "Comment", "status": "Status change"}


# --- shared: lead counts ----------------------------------------------------------------------------


@dataclass
class LeadCounts:
    """Leads created in the window, by status (in workflow order), source and campaign."""

    funnel: list[Datum]
    sources: list[Datum]
    campaigns: list[Datum]
    conversion: list[Datum]
    total: int


def lead_counts(leads: QuerySet[Lead], statuses: list[LeadStatus]) -> LeadCounts:
    """One grouped query (status × source × campaign) → every lead chart of the dashboard."""
    rows = leads.order_by().values("status_id", "lead_source", "campaign__name").annotate(n=Count("id"))
    converted_ids = {s.pk for s in statuses if is_conversion_target(s)}
    by_status, by_source, by_campaign, converted = Counter(), Counter(), Counter(), Counter()
    for row in rows:
        by_status[row["status_id"]] += row["n"]
        by_source[row["lead_source"]] += row["n"]
        by_campaign[row["campaign__name"]] += row["n"]
        if row["status_id"] in converted_ids:
            converted[row["lead_source"]] += row["n"]
    funnel = [Datum(s.name, by_status[s.pk]) for s in statuses if s.is_active or by_status[s.pk]]
    return LeadCounts(
        funnel=funnel,
        sources=top_with_other(by_source, "sources"),
        campaigns=top_with_other(by_campaign, "campaigns"),
        conversion=conversion_by_source(by_source, converted),
        total=sum(by_status.values()),
    )


def _biggest(counts: Counter) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def top_with_other(counts: Counter, noun: str) -> list[Datum]:
    ordered = _biggest(counts)
    data = [Datum(label, n) for label, n in ordered[:TOP]]
    rest = ordered[TOP:]
    if rest:
        data.append(Datum(f"Other {noun} ({len(rest)})", sum(n for _, n in rest)))
    return data


def conversion_by_source(totals: Counter, converted: Counter) -> list[Datum]:
    """Converted / created per source, the biggest sources first (the rest pooled as "Other")."""
    ordered = _biggest(totals)
    groups = [(label, [label]) for label, _ in ordered[:TOP]]
    if len(ordered) > TOP:
        groups.append((f"Other sources ({len(ordered) - TOP})", [label for label, _ in ordered[TOP:]]))
    data = []
    for label, members in groups:
        total, won = sum(totals[m] for m in members), sum(converted[m] for m in members)
        data.append(Datum(label, round(100 * won / total, 1), f"{won} of {total} ({won / total:.0%})"))
    return data


def _since(now: dt.datetime, days: int) -> dt.datetime:
    return now - dt.timedelta(days=days)


# --- the SDR's dashboard ----------------------------------------------------------------------------


@dataclass
class Touch:
    kind: str
    at: dt.datetime
    lead_id: int
    text: str
    lead: Lead | None = None

    @property
    def label(self) -> str:
        return TOUCH_LABELS.get(self.kind, self.kind)


@dataclass
class SdrDashboard:
    role = "sdr"
    sla_hours: int
    hot: list[Lead]
    due: list[tuple[Lead, str, dt.timedelta | None]]
    follow_ups: list[Lead]
    today_counts: list[Datum]
    today_latest: list[Touch]
    counts: LeadCounts
    funnel_chart: SafeString = SafeString("")
    trend_chart: SafeString = SafeString("")
    trend_total: int = 0
    due_soon_hours: int = DUE_SOON_HOURS
    window_days: int = WINDOW_DAYS
    trend_days: int = TREND_DAYS


def sdr_dashboard(membership: Membership, *, now: dt.datetime | None = None) -> SdrDashboard:
    now = now or timezone.now()
    sla_hours = settings_for(membership.company).sla_hours
    queue = queue_for(membership).select_related("status")
    hot = list(queue.filter(priority=Priority.HOT)[:QUEUE_SIZE])
    statuses = list(statuses_of(membership.company_id, active_only=False))
    own = leads_visible_to(membership).filter(owner=membership, created_at__gte=_since(now, WINDOW_DAYS))
    counts = lead_counts(own, statuses)
    touches = touches_since(membership, _since(now, TREND_DAYS))
    today = timezone.localtime(now).date()
    todays = [t for t in touches if timezone.localtime(t.at).date() == today]
    per_day = _per_day(touches, today)
    board = SdrDashboard(
        sla_hours=sla_hours,
        hot=hot,
        due=[(lead, *sla_state(lead, sla_hours, now)) for lead in responses_due(queue, sla_hours, now)],
        follow_ups=follow_ups_overdue(queue, sla_hours, now),
        today_counts=[Datum(label, n) for label, n in _biggest(Counter(t.label for t in todays))],
        today_latest=_with_leads(membership, todays[:QUEUE_SIZE]),
        counts=counts,
        trend_total=sum(int(d.value) for d in per_day),
    )
    if counts.total:
        board.funnel_chart = charts.funnel_chart(
            counts.funnel, title="My funnel: my leads by status", testid="chart-my-funnel"
        )
    if board.trend_total:
        board.trend_chart = charts.area_chart(
            per_day, title=f"My touches per day, last {TREND_DAYS} days", testid="chart-my-trend",
            value_axis="Touches", time_axis="Day",
        )  # fmt: skip
    return board


def responses_due(queue: QuerySet[Lead], sla_hours: int, now: dt.datetime) -> list[Lead]:
    """Leads still waiting for a first response whose deadline (assigned + SLA) falls within
    ``DUE_SOON_HOURS`` or has passed, the earliest deadline first."""
    latest_assignment = now + dt.timedelta(hours=DUE_SOON_HOURS) - dt.timedelta(hours=sla_hours)
    waiting = queue.filter(first_response_at__isnull=True, assigned_at__lte=latest_assignment)
    return list(waiting.order_by("assigned_at", "id")[:QUEUE_SIZE])


def follow_ups_overdue(queue: QuerySet[Lead], sla_hours: int, now: dt.datetime) -> list[Lead]:
    """Leads whose latest touch is an interaction marked "Follow-up required", logged more than
    the response SLA ago. The CRM has no follow-up due date, so the SLA is the promise kept here."""
    requested = Activity.objects.filter(
        content_type=ContentType.objects.get_for_model(Lead),
        object_id=OuterRef("pk"),
        outcome=ActivityOutcome.FOLLOW_UP_REQUIRED,
        occurred_at__gte=OuterRef("last_activity_at"),  # nothing was logged on the lead since
    ).order_by("-occurred_at")
    leads = queue.annotate(follow_up_at=Subquery(requested.values("occurred_at")[:1]))
    overdue = leads.filter(follow_up_at__lt=now - dt.timedelta(hours=sla_hours))
    return list(overdue.order_by("follow_up_at", "id")[:QUEUE_SIZE])


def touches_since(membership: Membership, since: dt.datetime) -> list[Touch]:
    """What ``membership`` logged since ``since`` — interactions, comments, status changes — newest
    first, in one query over the leads touched since then (``last_activity_at``) that they can see."""
    touched = leads_visible_to(membership).filter(last_activity_at__gte=since).values("pk")
    text = CharField()
    activities = (
        Activity.objects.filter(
            content_type=ContentType.objects.get_for_model(Lead), object_id__in=touched, owner=membership,
            occurred_at__gte=since,
        ).exclude(kind=ActivityKind.SYSTEM)
        .annotate(k=F("kind"), at=F("occurred_at"), target=F("object_id"), words=F("subject"))
    )  # fmt: skip
    comments = LeadComment.objects.filter(
        lead__in=touched, author=membership, created_at__gte=since, is_deleted=False
    ).annotate(k=Value("comment", output_field=text), at=F("created_at"), target=F("lead_id"), words=Value("", text))
    changes = StatusChange.objects.filter(lead__in=touched, changed_by=membership, changed_at__gte=since).annotate(
        k=Value("status", output_field=text), at=F("changed_at"), target=F("lead_id"), words=F("to_status__name")
    )
    columns = ("k", "at", "target", "words")
    parts = [qs.order_by().values_list(*columns) for qs in (activities, comments, changes)]
    union = parts[0].union(*parts[1:], all=True)
    return [Touch(*row) for row in union.order_by("-at")]


def _per_day(touches: list[Touch], today: dt.date) -> list[Datum]:
    counts = Counter(timezone.localtime(t.at).date() for t in touches)
    days = [today - dt.timedelta(days=back) for back in range(TREND_DAYS - 1, -1, -1)]
    return [Datum(day.strftime("%d %b"), counts[day]) for day in days]


def _with_leads(membership: Membership, touches: list[Touch]) -> list[Touch]:
    """Attach the (still visible) lead to each touch: one query for the few shown."""
    ids = {t.lead_id for t in touches}
    leads = {lead.pk: lead for lead in leads_visible_to(membership).filter(pk__in=ids)} if ids else {}
    for touch in touches:
        touch.lead = leads.get(touch.lead_id)
    return touches


# --- the manager's (and admin's) dashboard -----------------------------------------------------------


@dataclass
class MemberResponse:
    member: Membership
    received: int
    responded: int
    median_hours: float | None
    within_sla: float | None  # share of the assignments answered within the SLA


@dataclass
class Pipeline:
    currency: str
    columns: list[Column]
    period_label: str
    commit: Figure
    best_case: Figure
    period_total: Figure
    other_currencies: dict[str, int] = field(default_factory=dict)

    def amount(self, column: Column) -> Decimal:
        return column.amounts.get(self.currency, Decimal("0.00"))

    @property
    def rows(self) -> list[tuple]:
        return [(c.stage, c.count, self.amount(c)) for c in self.columns]


@dataclass
class ManagerDashboard:
    role = "manager"
    counts: LeadCounts
    responses: list[MemberResponse]
    sla_hours: int
    pipeline: Pipeline | None
    charts: dict[str, SafeString]
    window_days: int = WINDOW_DAYS
    response_days: int = RESPONSE_DAYS


def manager_dashboard(membership: Membership, *, now: dt.datetime | None = None) -> ManagerDashboard:
    now = now or timezone.now()
    statuses = list(statuses_of(membership.company_id, active_only=False))
    recent = leads_visible_to(membership).filter(created_at__gte=_since(now, WINDOW_DAYS))
    counts = lead_counts(recent, statuses)
    stats = assignment_stats(viewer=membership, since=_since(now, RESPONSE_DAYS), until=now, now=now)
    responses = [member_response(stat) for stat in stats.members]
    pipeline = pipeline_summary(membership, timezone.localtime(now).date())
    return ManagerDashboard(counts, responses, stats.sla_hours, pipeline, manager_charts(counts, responses, pipeline))


def member_response(stat) -> MemberResponse:
    within = (stat.received - stat.breaches) / stat.received if stat.received else None
    median = round(stat.median / 3600, 1) if stat.median is not None else None
    return MemberResponse(stat.key, stat.received, stat.responded, median, within)


def pipeline_summary(membership: Membership, today: dt.date) -> Pipeline | None:
    """Open opportunities per stage (the board's totals) and this quarter's forecast, in the
    company's currency; ``None`` while the caller can see no opportunity in an active stage."""
    opportunities = opportunities_visible_to(membership)
    columns = board_totals(opportunities, list(stages_of(membership.company_id)))
    if not any(column.count for column in columns):
        return None
    currency = default_currency(membership.company.default_country)
    quarter = forecast(
        opportunities, period="quarter", start=period_start(today, "quarter"), count=1, currency=currency
    )
    period = quarter.periods[0]
    return Pipeline(
        currency=currency,
        columns=[c for c in columns if not (c.stage.is_won or c.stage.is_lost)],
        period_label=period.label,
        commit=period.by_category["commit"],
        best_case=period.by_category["best_case"],
        period_total=period.total,
        other_currencies=quarter.other_currencies,
    )


def manager_charts(counts: LeadCounts, responses: list[MemberResponse], pipeline: Pipeline | None) -> dict:
    found: dict[str, SafeString] = {}
    if counts.total:
        found["funnel"] = charts.funnel_chart(
            counts.funnel, title="Team funnel: leads by status", testid="chart-funnel"
        )
        found["sources"] = charts.bar_chart(counts.sources, title="Leads by source", testid="chart-sources",
                                            value_axis="Leads", category_axis="Source")  # fmt: skip
        found["campaigns"] = charts.bar_chart(counts.campaigns, title="Leads by campaign", testid="chart-campaigns",
                                              value_axis="Leads", category_axis="Campaign")  # fmt: skip
        found["conversion"] = charts.bar_chart(counts.conversion, title="Conversion rate by source",
                                               testid="chart-conversion", value_axis="Converted (%)",
                                               category_axis="Source", scale=100)  # fmt: skip
    answered = [r for r in responses if r.median_hours is not None]
    if answered:
        found["responses"] = charts.bar_chart(
            [Datum(r.member.display_name, r.median_hours, f"{r.median_hours:g} h") for r in answered],
            title="Median time to first response", testid="chart-responses", value_axis="Hours",
            category_axis="Member",
        )  # fmt: skip
    if pipeline is not None:
        found["pipeline"] = charts.bar_chart(
            [Datum(c.stage.name, pipeline.amount(c), f"{pipeline.amount(c):,.0f}") for c in pipeline.columns],
            title=f"Open pipeline per stage ({pipeline.currency})", testid="chart-pipeline",
            value_axis=f"Amount ({pipeline.currency})", category_axis="Stage", horizontal=False,
        )  # fmt: skip
    return found


def dashboard_for(membership: Membership, *, now: dt.datetime | None = None) -> SdrDashboard | ManagerDashboard:
    """Admins see the manager's dashboard over the whole company (their visibility)."""
    if membership.role == Role.SDR:
        return sdr_dashboard(membership, now=now)
    return manager_dashboard(membership, now=now)
