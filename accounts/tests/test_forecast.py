"""The forecast and the board against figures computed by hand."""

import datetime as dt
from decimal import Decimal as D

import pytest

from accounts import services
from accounts.forecast import forecast, make_periods
from accounts.pipeline import average_days_in_stage, board_totals, time_in_stage
from accounts.queries import opportunities_visible_to, stages_of
from accounts.testing.factories import make_account, make_opportunity, stage


@pytest.fixture
def deals(cast):
    """Alpha's deals (hand-computed figures in the tests below) and one Bravo deal that must not leak.

    | owner   | close      | stage (prob.)       | category    | amount   | weighted  |
    | sdr1    | 2026-01-15 | Prospect (10)       | most_likely | 1000.00  | 100.00    |
    | sdr1    | 2026-02-10 | Proposal sent (50)  | best_case   | 2500.50  | 1250.25   |
    | sdr2    | 2026-03-31 | Negotiation (75)    | commit      | 4000.00  | 3000.00   |
    | manager | 2026-02-01 | Qualified → 40 (mgr)| most_likely | 333.33   | 133.33    |
    | manager | 2026-04-01 | Closed won (100)    | commit      | 800.00   | 800.00    |
    | sdr1    | 2026-01-20 | Closed lost (0)     | omitted     | 9999.00  | —         |
    | sdr2    | 2026-02-02 | Prospect, in INR    | most_likely | 50000.00 | —         |
    """
    a = cast.a
    account = make_account(a.company)

    def deal(owner, close, amount, stage_name=None, currency="USD", **extra):
        made = make_opportunity(account, owner=owner, close_date=close, amount=amount, currency=currency, **extra)
        if stage_name:
            made = services.opportunity_change_stage(actor=a.admin, opportunity=made,
                                                     stage=stage(a.company, stage_name), **extra_stage(stage_name))  # fmt: skip
        return made

    def extra_stage(name):
        return {"lost_reason": "Budget cut"} if name == "Closed lost" else {}

    deal(a.sdr1, "2026-01-15", "1000.00")
    deal(a.sdr1, "2026-02-10", "2500.50", "Proposal sent", forecast_category="best_case")
    deal(a.sdr2, "2026-03-31", "4000.00", "Negotiation", forecast_category="commit")
    managed = deal(a.manager, "2026-02-01", "333.33")
    services.opportunity_change_stage(actor=a.manager, opportunity=managed, stage=stage(a.company, "Qualified"),
                                      probability=40, note="Verbal yes")  # fmt: skip
    deal(a.manager, "2026-04-01", "800.00", "Closed won")
    deal(a.sdr1, "2026-01-20", "9999.00", "Closed lost")
    deal(a.sdr2, "2026-02-02", "50000.00", currency="INR")
    make_opportunity(make_account(cast.b.company), close_date="2026-02-01", amount="777.00", currency="USD")


def test_the_quarterly_forecast_matches_the_hand_computed_figures(cast, deals):
    result = forecast(opportunities_visible_to(cast.a.admin), period="quarter", start=dt.date(2026, 2, 14), count=2,
                      currency="USD")  # fmt: skip
    q1, q2 = result.periods
    assert (q1.key, q1.start, q1.end, q2.key) == ("2026-Q1", dt.date(2026, 1, 1), dt.date(2026, 4, 1), "2026-Q2")
    figures = {c: (f.count, f.amount, f.weighted) for c, f in q1.by_category.items()}
    assert figures == {
        "commit": (1, D("4000.00"), D("3000.00")),
        "best_case": (1, D("2500.50"), D("1250.25")),
        "most_likely": (2, D("1333.33"), D("233.33")),
        "worst_case": (0, D("0.00"), D("0.00")),
    }
    assert (q1.total.count, q1.total.amount, q1.total.weighted) == (4, D("7833.83"), D("4483.58"))
    assert (q2.by_category["commit"].amount, q2.total.weighted) == (D("800.00"), D("800.00"))
    assert (result.total.amount, result.total.weighted) == (D("8633.83"), D("5283.58"))
    assert result.other_currencies == {"INR": 1}
    owners = {row.label: (row.by_period["2026-Q1"].amount, row.total.weighted) for row in result.owners}
    assert owners == {
        "Alpha Manager": (D("333.33"), D("933.33")),
        "Alpha SDR One": (D("3500.50"), D("1350.25")),
        "Alpha SDR Two": (D("4000.00"), D("3000.00")),
    }
    teams = {row.label: row.total.weighted for row in result.teams}
    # sdr1 reports to the manager, the manager and sdr2 to the admin.
    assert teams == {"Team of Alpha Admin": D("3933.33"), "Team of Alpha Manager": D("1350.25")}


def test_the_monthly_forecast_and_visibility(cast, deals):
    result = forecast(opportunities_visible_to(cast.a.sdr1), period="month", start=dt.date(2026, 1, 1), count=3,
                      currency="USD")  # fmt: skip
    assert [(p.label, p.total.amount, p.total.weighted) for p in result.periods] == [
        ("Jan 2026", D("1000.00"), D("100.00")),
        ("Feb 2026", D("2500.50"), D("1250.25")),
        ("Mar 2026", D("0.00"), D("0.00")),
    ]
    inr = forecast(opportunities_visible_to(cast.a.admin), period="month", start=dt.date(2026, 2, 1), count=1,
                   currency="INR")  # fmt: skip
    assert (inr.total.count, inr.total.amount, inr.total.weighted) == (1, D("50000.00"), D("5000.00"))


def test_bad_periods_are_refused():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        make_periods("week", dt.date(2026, 1, 1), 3)
    assert error.value.message_dict == {"period": ["Choose month or quarter."]}
    with pytest.raises(ValidationError) as error:
        make_periods("month", dt.date(2026, 1, 1), 13)
    assert error.value.message_dict == {"periods": ["Show from 1 to 12 periods."]}
    assert [p.key for p in make_periods("month", dt.date(2026, 11, 30), 3)] == ["2026-11", "2026-12", "2027-01"]


def test_the_board_totals_per_stage(cast, deals):
    columns = board_totals(opportunities_visible_to(cast.a.manager), list(stages_of(cast.a.company.pk)))
    figures = {c.stage.name: (c.count, c.amounts, c.weighted) for c in columns}
    assert figures == {
        "Prospect": (1, {"USD": D("1000.00")}, {"USD": D("100.00")}),
        "Qualified": (1, {"USD": D("333.33")}, {"USD": D("133.33")}),
        "Proposal sent": (1, {"USD": D("2500.50")}, {"USD": D("1250.25")}),
        "Negotiation": (0, {}, {}),
        "Closed won": (1, {"USD": D("800.00")}, {"USD": D("800.00")}),
        "Closed lost": (1, {"USD": D("9999.00")}, {"USD": D("0.00")}),
    }


def test_time_in_stage_per_opportunity_and_averaged_per_stage(cast):
    from accounts.models import OpportunityStageChange

    account = make_account(cast.a.company)
    first, second = make_opportunity(account), make_opportunity(account)
    for deal in (first, second):
        services.opportunity_change_stage(
            actor=cast.a.admin, opportunity=deal, stage=stage(cast.a.company, "Qualified")
        )
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    rows = OpportunityStageChange.objects.filter(to_stage__name="Prospect")
    rows.filter(opportunity=first).update(changed_at=start, left_at=start + dt.timedelta(days=2))
    rows.filter(opportunity=second).update(changed_at=start, left_at=start + dt.timedelta(days=5))
    qualified = OpportunityStageChange.objects.filter(to_stage__name="Qualified")
    qualified.update(changed_at=start + dt.timedelta(days=5))
    now = start + dt.timedelta(days=8)
    averages = average_days_in_stage(cast.a.company.pk, [stage(cast.a.company, n).pk for n in ("Prospect", "Qualified")],
                                     now=now)  # fmt: skip
    assert averages == {stage(cast.a.company, "Prospect").pk: 3.5, stage(cast.a.company, "Qualified").pk: 3.0}
    assert [(s.name, days) for s, days in time_in_stage(first, now=now)] == [("Prospect", 2.0), ("Qualified", 3.0)]


def test_the_average_time_in_stage_reads_only_the_latest_stays(cast, monkeypatch):
    from accounts import pipeline
    from accounts.models import OpportunityStageChange

    account = make_account(cast.a.company)
    old, recent = make_opportunity(account), make_opportunity(account)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    rows = OpportunityStageChange.objects.filter(to_stage__name="Prospect")
    rows.filter(opportunity=old).update(changed_at=start, left_at=start + dt.timedelta(days=30))
    rows.filter(opportunity=recent).update(
        changed_at=start + dt.timedelta(days=40), left_at=start + dt.timedelta(days=42)
    )
    prospect = stage(cast.a.company, "Prospect").pk
    assert average_days_in_stage(cast.a.company.pk, [prospect]) == {prospect: 16.0}
    monkeypatch.setattr(pipeline, "RECENT_STAYS", 1)
    assert average_days_in_stage(cast.a.company.pk, [prospect]) == {prospect: 2.0}
