"""The dashboard per role on /c/<company>/: exact figures for a known data set, visibility (an SDR's
numbers are theirs only, a manager's their team's and the pool, an admin's the company's), empty
states, well-formed and escaped SVG, tenancy, and a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from xml.etree import ElementTree

import pytest
from django.utils import timezone

from accounts.testing.factories import make_account, make_opportunity, stage
from crm import charts
from crm.charts import Datum
from leads import assignment, services
from leads.models import Lead, LeadAssignment, StatusChange
from leads.testing.factories import make_campaign, make_lead, status

SVG = "{http://www.w3.org/2000/svg}"
EVIL = "<script>alert(1)</script>"


def _assigned(tenant, owner, *, ago: dt.timedelta, **data) -> Lead:
    """A pool lead the owner's manager (or the admin) assigns, the assignment dated ``ago``."""
    lead = make_lead(tenant.company, tenant.manager, **data)
    assigner = tenant.manager if owner == tenant.sdr1 else tenant.admin
    lead = assignment.lead_assign(actor=assigner, lead=lead, owner=owner)
    at = timezone.now() - ago
    LeadAssignment.objects.filter(lead=lead).update(created_at=at)
    Lead.objects.filter(pk=lead.pk).update(assigned_at=at)
    return Lead.objects.get(pk=lead.pk)


@pytest.fixture
def data(cast):
    """Alpha: sdr1 owns four recent leads (+ one too old to count), sdr2 two, one in the pool;
    Bravo one. Times are relative to now, so nothing here depends on the clock."""
    a = cast.a
    spring, evil = make_campaign(a.company, "Spring"), make_campaign(a.company, EVIL)
    now = timezone.now()
    hot = _assigned(a, a.sdr1, ago=dt.timedelta(hours=25), first_name="Hana", last_name="Hot",
                    lead_source="Website", campaign=spring)  # fmt: skip
    Lead.objects.filter(pk=hot.pk).update(priority="hot", score=90)

    followed = _assigned(a, a.sdr1, ago=dt.timedelta(hours=34), first_name="Fred", last_name="Follow",
                         lead_source="Referral", campaign=evil)  # fmt: skip
    services.lead_transition(actor=a.sdr1, lead=followed, to_status=status(a.company, "contacted"))
    touched = now - dt.timedelta(hours=32)  # answered two hours after the assignment
    StatusChange.objects.filter(lead=followed, changed_by=a.sdr1).update(changed_at=touched)
    Lead.objects.filter(pk=followed.pk).update(first_response_at=touched, last_activity_at=touched)
    services.activity_log(actor=a.sdr1, lead=Lead.objects.get(pk=followed.pk), kind="call", subject="Asked for a demo",
                          outcome="follow_up_required", occurred_at=now - dt.timedelta(hours=30))  # fmt: skip

    won = _assigned(a, a.sdr1, ago=dt.timedelta(minutes=1), lead_source="Website", campaign=spring)
    # Converting runs the whole account-first conversion; its resulting status is all this needs.
    Lead.objects.filter(pk=won.pk).update(status=status(a.company, "converted"), converted_at=now)

    today = _assigned(a, a.sdr1, ago=dt.timedelta(hours=1), first_name="Tia", last_name="Today",
                      lead_source="Referral", campaign=evil)  # fmt: skip
    services.activity_log(actor=a.sdr1, lead=today, kind="call", subject="Intro call")
    services.comment_create(actor=a.sdr1, lead=today, body="Sent the deck.")
    services.lead_transition(actor=a.sdr1, lead=today, to_status=status(a.company, "contacted"))

    old = _assigned(a, a.sdr1, ago=dt.timedelta(days=100), first_name="Olga", last_name="Old", lead_source="Fair",
                    campaign=spring)  # fmt: skip
    Lead.objects.filter(pk=old.pk).update(created_at=now - dt.timedelta(days=100))
    for _ in range(2):
        _assigned(a, a.sdr2, ago=dt.timedelta(minutes=1), lead_source="Partner", campaign=spring)
    make_lead(a.company, a.manager, first_name="Pia", last_name="Pool", lead_source="Website", campaign=spring)
    make_lead(cast.b.company, cast.b.manager, lead_source="Bravo secret source",
              campaign=make_campaign(cast.b.company, "Bravo secret campaign"))  # fmt: skip
    return {"hot": hot, "followed": followed, "today": today}


def _chart(response, testid: str) -> ElementTree.Element:
    """The chart's SVG, parsed as XML (so it must be well-formed)."""
    html = response.content.decode()
    start = html.index(f'data-testid="{testid}"')
    start, end = html.rindex("<svg", 0, start), html.index("</svg>", start) + len("</svg>")
    return ElementTree.fromstring(html[start:end])  # noqa: S314 — our own page, not untrusted input


def _marks(svg: ElementTree.Element) -> list[tuple[str, str]]:
    """(label, tooltip) of every mark, in drawing order."""
    return [(g.get("data-label"), g.find(f"{SVG}title").text) for g in svg.iter(f"{SVG}g")]


FUNNEL_ORDER = ["New", "Contacted", "Qualified", "Unqualified", "Converted", "Recycled", "Disqualified"]


def test_an_sdr_sees_their_queue_today_and_funnel_and_nothing_of_others(data, cast, client_for):
    response = client_for(cast.a.sdr1).get("/c/alpha/")
    board = response.context["board"]
    assert board.role == "sdr"
    assert [lead.display_name for lead in board.hot] == ["Hana Hot"]
    assert [(lead.display_name, state) for lead, state, _ in board.due] == [
        ("Olga Old", "overdue"),
        ("Hana Hot", "overdue"),
    ]
    assert [lead.display_name for lead in board.follow_ups] == ["Fred Follow"]
    assert [(d.label, d.value) for d in board.today_counts] == [("Call", 1), ("Comment", 1), ("Status change", 1)]
    assert [(t.label, t.text, t.lead.display_name) for t in board.today_latest] == [
        ("Status change", "Contacted", "Tia Today"), ("Comment", "", "Tia Today"), ("Call", "Intro call", "Tia Today"),
    ]  # fmt: skip
    assert board.trend_total == 5  # today's three, and Fred's status change and call
    assert [(d.label, d.value) for d in board.counts.funnel] == list(
        zip(FUNNEL_ORDER, [1, 2, 0, 0, 1, 0, 0], strict=True)
    )
    svg = _chart(response, "chart-my-funnel")
    assert svg.find(f"{SVG}title").text == "My funnel: my leads by status"
    assert _marks(svg)[:2] == [("New", "New: 1 (100%)"), ("Contacted", "Contacted: 2 (200%)")]
    content = response.content.decode()
    hot_link = f'href="/c/alpha/leads/{data["hot"].pk}/">Hana Hot</a>'
    assert hot_link in content
    for leak in ("Partner", "Pia Pool", "Bravo secret", "chart-sources"):
        assert leak not in content


def test_a_manager_sees_the_team_and_the_pool(data, cast, client_for):
    response = client_for(cast.a.manager).get("/c/alpha/")
    board = response.context["board"]
    assert board.role == "manager"
    counts = board.counts
    assert counts.total == 5
    assert [(d.label, d.value) for d in counts.funnel] == list(zip(FUNNEL_ORDER, [2, 2, 0, 0, 1, 0, 0], strict=True))
    assert [(d.label, d.value) for d in counts.sources] == [("Website", 3), ("Referral", 2)]
    assert [(d.label, d.value) for d in counts.campaigns] == [("Spring", 3), (EVIL, 2)]
    assert [(d.label, d.text) for d in counts.conversion] == [("Website", "1 of 3 (33%)"), ("Referral", "0 of 2 (0%)")]
    assert [(r.member.display_name, r.received, r.responded, r.median_hours, r.within_sla) for r in board.responses] == [
        ("Alpha Manager", 0, 0, None, None), ("Alpha SDR One", 4, 2, 1.5, 0.75),
    ]  # fmt: skip
    assert board.pipeline is None
    assert _marks(_chart(response, "chart-sources")) == [("Website", "Website: 3"), ("Referral", "Referral: 2")]
    content = response.content.decode()
    for leak in ("Partner", "Alpha SDR Two", "Bravo secret"):
        assert leak not in content
    assert response.context["team"].count() == 2


def test_an_admin_sees_the_whole_company(data, cast, client_for):
    board = client_for(cast.a.admin).get("/c/alpha/").context["board"]
    assert board.counts.total == 7
    assert [(d.label, d.value) for d in board.counts.sources] == [("Website", 3), ("Partner", 2), ("Referral", 2)]
    assert [(d.label, d.value) for d in board.counts.campaigns] == [("Spring", 5), (EVIL, 2)]
    assert [(r.member.display_name, r.received, r.within_sla) for r in board.responses] == [
        ("Alpha Admin", 0, None), ("Alpha Manager", 0, None), ("Alpha SDR One", 4, 0.75), ("Alpha SDR Two", 2, 1.0),
    ]  # fmt: skip


def test_a_campaign_called_script_is_escaped_everywhere(data, cast, client_for):
    response = client_for(cast.a.manager).get("/c/alpha/")
    content = response.content.decode()
    assert EVIL not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
    assert _marks(_chart(response, "chart-campaigns"))[1] == (EVIL, f"{EVIL}: 2")  # parsed back to the text


def test_empty_states_say_what_to_do(cast, client_for):
    content = client_for(cast.a.manager).get("/c/alpha/").content.decode()
    assert "<svg" not in content
    assert "No leads created in the last 90 days —" in content
    assert 'href="/c/alpha/leads/import/">import a file</a> or <a href="/c/alpha/leads/new/">add a lead</a>' in content
    assert 'data-testid="chart-responses-empty"' in content
    assert 'data-testid="pipeline-empty"' in content
    sdr = client_for(cast.a.sdr1).get("/c/alpha/").content.decode()
    for testid in ("queue-hot-empty", "queue-due-empty", "queue-follow-ups-empty", "today-empty",
                   "chart-my-trend-empty", "chart-my-funnel-empty"):  # fmt: skip
        assert f'data-testid="{testid}"' in sdr
    assert "import a file" not in sdr  # SDRs cannot import: only the links they can follow


def _deals(cast, count: int) -> None:
    account = make_account(cast.a.company, cast.a.sdr1)
    today = timezone.localdate()
    for index in range(count):
        make_opportunity(account, cast.a.sdr1, name=f"Deal {index}", amount=Decimal("1000.00"), currency="GBP",
                         close_date=today, stage=stage(cast.a.company, "Proposal sent"))  # fmt: skip


def test_pipeline_and_forecast_appear_once_opportunities_exist(cast, client_for):
    _deals(cast, 2)
    make_opportunity(
        make_account(cast.a.company, cast.a.sdr2),
        cast.a.sdr2,
        amount=Decimal("500.00"),
        currency="GBP",
        close_date=timezone.localdate(),
    )  # fmt: skip — sdr2's: not the manager's
    response = client_for(cast.a.manager).get("/c/alpha/")
    pipeline = response.context["board"].pipeline
    assert [(s.name, n, amount) for s, n, amount in pipeline.rows] == [
        ("Prospect", 0, Decimal("0.00")), ("Qualified", 0, Decimal("0.00")),
        ("Proposal sent", 2, Decimal("2000.00")), ("Negotiation", 0, Decimal("0.00")),
    ]  # fmt: skip
    assert (pipeline.currency, pipeline.period_total.count, pipeline.period_total.weighted) == (
        "GBP", 2, Decimal("1000.00"),
    )  # fmt: skip
    svg = _chart(response, "chart-pipeline")
    assert ("Proposal sent", "Proposal sent: 2,000") in _marks(svg)
    assert b'data-testid="pipeline-empty"' not in response.content


@pytest.mark.parametrize("role", ["admin", "manager", "sdr1"])
def test_another_company_is_404(role, cast, client_for):
    assert client_for(cast.a.member(role)).get("/c/bravo/").status_code == 404


@pytest.mark.parametrize("role", ["admin", "manager", "sdr1", "sdr2"])
def test_every_role_may_open_it(role, cast, client_for):
    response = client_for(cast.a.member(role)).get("/c/alpha/")
    assert response.status_code == 200
    assert response.context["board"].role == ("sdr" if role.startswith("sdr") else "manager")


def _work(cast, count: int) -> None:
    """``count`` leads worked by sdr1 today, and ``count`` opportunities."""
    for _ in range(count):
        lead = _assigned(cast.a, cast.a.sdr1, ago=dt.timedelta(hours=1), lead_source=f"Source {_}")
        services.activity_log(actor=cast.a.sdr1, lead=lead, kind="call", subject="Call")
    _deals(cast, count)


QUERIES = {"sdr1": 17, "manager": 26, "admin": 25}


@pytest.mark.parametrize("count", [1, 3])
@pytest.mark.parametrize("role", ["sdr1", "manager", "admin"])
def test_the_dashboard_costs_a_fixed_number_of_queries(role, count, cast, client_for, django_assert_num_queries):
    _work(cast, count)
    client = client_for(cast.a.member(role))
    client.get("/c/alpha/")  # warm the session and the content-type cache
    with django_assert_num_queries(QUERIES[role]):
        response = client.get("/c/alpha/")
    board = response.context["board"]
    assert board.counts.total == count


# --- the chart helpers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("draw", "shares"),
    [
        (lambda data: charts.bar_chart(data, title="T <b>", testid="c", value_axis="Leads", category_axis="Source"),
         ("", "")),
        (lambda data: charts.bar_chart(data, title="T <b>", testid="c", value_axis="Leads", category_axis="Source",
                                       horizontal=False), ("", "")),
        (lambda data: charts.funnel_chart(data, title="T <b>", testid="c"), (" (100%)", " (0%)")),
        (lambda data: charts.area_chart(data, title="T <b>", testid="c", value_axis="Leads", time_axis="Day"),
         ("", "")),
    ],
)  # fmt: skip
def test_every_chart_is_well_formed_labelled_and_escaped(draw, shares):
    markup = str(draw([Datum("A & <b>", 3), Datum("Zero", 0)]))
    assert "A &amp; &lt;b&gt;" in markup
    svg = ElementTree.fromstring(markup)  # noqa: S314 — our own output
    assert svg.get("data-testid") == "c"
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "c-title c-desc"
    assert svg.find(f"{SVG}title").text == "T <b>"
    assert _marks(svg) == [("A & <b>", f"A & <b>: 3{shares[0]}"), ("Zero", f"Zero: 0{shares[1]}")]
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert ("Leads" in texts) or ("Status" in texts)  # an axis title
    assert draw([]) == ""


def test_a_percentage_axis_runs_to_its_scale():
    svg = ElementTree.fromstring(  # noqa: S314 — our own output
        str(charts.bar_chart([Datum("Web", 25)], title="T", testid="c", value_axis="%", category_axis="S", scale=100))
    )
    bar = next(svg.iter(f"{SVG}rect"))
    assert float(bar.get("width")) == (charts.WIDTH - 170 - 90) / 4
    assert [t.text for t in svg.iter(f"{SVG}text")][-2] == "100"
