"""The forecast: per month or quarter and forecast category, amounts unweighted and weighted by
probability, per owner and per team. One grouped query (period × category × owner) over a covering
index; everything else is arithmetic on at most periods × categories × owners rows.

Closed-lost opportunities are in the *omitted* category and so never counted; closed-won ones are
*commit* at 100 %. Amounts are summed in one currency (the company's by default): opportunities in
other currencies are counted apart, never added up with a wrong rate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Case, Count, IntegerField, QuerySet, Sum, Value, When

from accounts.models import ForecastCategory, Opportunity
from accounts.pipeline import WEIGHTED, money, weighted
from crm.models import Membership

PERIODS = {"month": 1, "quarter": 3}
MAX_PERIODS = 12
CATEGORIES = [c for c in ForecastCategory if c != ForecastCategory.OMITTED]


@dataclass
class Figure:
    count: int = 0
    amount: Decimal = Decimal("0.00")
    weighted: Decimal = Decimal("0.00")

    def add(self, count: int, amount: Decimal, weighted_amount: Decimal) -> None:
        self.count += count
        self.amount += amount
        self.weighted += weighted_amount


@dataclass
class Period:
    start: dt.date
    end: dt.date  # exclusive
    label: str
    key: str  # the close_period filter value: 2026-03 or 2026-Q1
    by_category: dict[str, Figure] = field(default_factory=lambda: {c.value: Figure() for c in CATEGORIES})
    total: Figure = field(default_factory=Figure)


@dataclass
class Row:
    """One owner's (or team's) figures per period."""

    key: int | None
    label: str
    by_period: dict[str, Figure]
    total: Figure = field(default_factory=Figure)


@dataclass
class Forecast:
    period: str
    currency: str
    periods: list[Period]
    owners: list[Row]
    teams: list[Row]
    total: Figure
    other_currencies: dict[str, int]

    @property
    def start(self) -> dt.date:
        return self.periods[0].start

    @property
    def end(self) -> dt.date:
        return self.periods[-1].end


def period_start(day: dt.date, period: str) -> dt.date:
    month = day.month if period == "month" else (day.month - 1) // 3 * 3 + 1
    return dt.date(day.year, month, 1)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def make_periods(period: str, start: dt.date, count: int) -> list[Period]:
    if period not in PERIODS:
        raise ValidationError({"period": "Choose month or quarter."})
    if not 1 <= count <= MAX_PERIODS:
        raise ValidationError({"periods": f"Show from 1 to {MAX_PERIODS} periods."})
    start, step, periods = period_start(start, period), PERIODS[period], []
    for i in range(count):
        begin = _add_months(start, i * step)
        if period == "month":
            label, key = begin.strftime("%b %Y"), begin.strftime("%Y-%m")
        else:
            quarter = (begin.month - 1) // 3 + 1
            label, key = f"Q{quarter} {begin.year}", f"{begin.year}-Q{quarter}"
        periods.append(Period(begin, _add_months(begin, step), label, key))
    return periods


def forecast(
    opportunities: QuerySet[Opportunity], *, period: str, start: dt.date, count: int, currency: str
) -> Forecast:
    """``opportunities`` already visible to the caller (and filtered, e.g. by owner or team)."""
    periods = make_periods(period, start, count)
    in_range = opportunities.filter(close_date__gte=periods[0].start, close_date__lt=periods[-1].end).exclude(
        forecast_category=ForecastCategory.OMITTED
    )
    rows = (
        in_range.filter(currency=currency)
        .order_by()
        .annotate(p=_period_index(periods))
        .values("p", "forecast_category", "owner_id")
        .annotate(n=Count("id"), total=Sum("amount"), weighted_total=Sum(WEIGHTED))
    )
    owners: dict[int | None, Row] = {}
    total = Figure()
    for row in rows:
        figures = (row["n"], money(row["total"]), weighted(row["weighted_total"]))
        target = periods[row["p"]]
        target.by_category[row["forecast_category"]].add(*figures)
        target.total.add(*figures)
        total.add(*figures)
        owner = owners.setdefault(row["owner_id"], Row(row["owner_id"], "", {p.key: Figure() for p in periods}))
        owner.by_period[target.key].add(*figures)
        owner.total.add(*figures)
    other = in_range.exclude(currency=currency).order_by().values("currency").annotate(n=Count("id"))
    owner_rows, team_rows = _owner_and_team_rows(owners, periods)
    return Forecast(period, currency, periods, owner_rows, team_rows, total,
                    {row["currency"]: row["n"] for row in other})  # fmt: skip


def _period_index(periods: list[Period]) -> Case:
    """The index of the period a close date falls in, as SQL comparisons (a CASE over the period
    bounds) rather than a date truncation, which SQLite runs as a Python function on every row."""
    whens = [When(close_date__lt=p.end, then=Value(i)) for i, p in enumerate(periods[:-1])]
    return Case(*whens, default=Value(len(periods) - 1), output_field=IntegerField())


def _owner_and_team_rows(owners: dict[int | None, Row], periods: list[Period]) -> tuple[list[Row], list[Row]]:
    """Label owner rows and roll them up into teams: a team is a manager and their direct reports
    (someone without a manager is their own team)."""
    members = Membership.objects.filter(pk__in=[k for k in owners if k is not None]).select_related("user")
    people = {m.pk: m for m in members}
    managers = {m.manager_id for m in members if m.manager_id} - set(people)
    people.update({m.pk: m for m in Membership.objects.filter(pk__in=managers).select_related("user")})
    teams: dict[int | None, Row] = {}
    for key, row in owners.items():
        member = people.get(key)
        row.label = str(member.user) if member else "Unassigned"
        lead = member.manager_id if member and member.manager_id else key
        if lead not in teams:
            label = f"Team of {people[lead].user}" if lead in people else "Unassigned"
            teams[lead] = Row(lead, label, {p.key: Figure() for p in periods})
        team = teams[lead]
        for period_key, figure in row.by_period.items():
            team.by_period[period_key].add(figure.count, figure.amount, figure.weighted)
        team.total.add(row.total.count, row.total.amount, row.total.weighted)
    return sorted(owners.values(), key=_by_label), sorted(teams.values(), key=_by_label)


def _by_label(row: Row) -> tuple[bool, str]:
    return row.key is None, row.label
