"""Assignment stats on a hand-computed fixture (SLA 24 h, every time in UTC).

lead  assignment                         first touch by the owner             response  SLA
L1    03-03 09:00 auto 'Inbound' → sdr1  status change 10:00 (a touch at 08:00,  1 h     ok
                                         before the assignment, does not count)
L2    03-03 11:00 auto 'Inbound' → sdr1  comment 03-04 17:00 (the manager's      30 h     breach
                                         comment at 12:00 is not sdr1's)
L3    03-03 12:00 manual → sdr1          none; reassigned 22:00                     —     ok (handed over in time)
L3    03-03 22:00 manual → manager       call 03-04 00:00                          2 h     ok
L4    03-04 10:00 claim by sdr1          none, still open on 03-10                  —     breach
L5    03-04 10:00 auto 'Inbound' → sdr2  comment 14:00                             4 h     ok
L6    03-05 10:00 auto → sdr1            outside the period
"""

import datetime as dt
import re

import pytest
from django.contrib.contenttypes.models import ContentType

from crm.models import Activity
from leads.assignment.stats import assignment_stats, percentile, stats_charts
from leads.models import Lead, LeadAssignment, LeadComment, StatusChange
from leads.testing.factories import make_lead, status

UTC = dt.UTC


def at(day, hour):
    return dt.datetime(2025, 3, day, hour, tzinfo=UTC)


@pytest.fixture
def fixture(cast):
    a = cast.a
    leads = [make_lead(a.company, None) for _ in range(6)]
    L1, L2, L3, L4, L5, L6 = leads
    log = [
        (L1, a.sdr1, "auto", "Inbound", at(3, 9)),
        (L2, a.sdr1, "auto", "Inbound", at(3, 11)),
        (L3, a.sdr1, "manual", "", at(3, 12)),
        (L3, a.manager, "manual", "", at(3, 22)),
        (L4, a.sdr1, "claim", "", at(4, 10)),
        (L5, a.sdr2, "auto", "Inbound", at(4, 10)),
        (L6, a.sdr1, "auto", "Inbound", at(5, 10)),
    ]
    for lead, owner, kind, rule_name, when in log:
        LeadAssignment.objects.create(company=a.company, lead=lead, owner=owner, kind=kind, rule_name=rule_name,
                                      reason="fixture", created_at=when)  # fmt: skip
        Lead.objects.filter(pk=lead.pk).update(owner=owner, assigned_at=when)
    new, contacted = status(a.company, "new"), status(a.company, "contacted")
    StatusChange.objects.create(lead=L1, from_status=new, to_status=contacted, changed_by=a.sdr1, changed_at=at(3, 8))
    StatusChange.objects.create(lead=L1, from_status=new, to_status=contacted, changed_by=a.sdr1, changed_at=at(3, 10))
    LeadComment.objects.create(company=a.company, lead=L2, author=a.manager, body="Chase", created_at=at(3, 12))
    LeadComment.objects.create(company=a.company, lead=L2, author=a.sdr1, body="Called", created_at=at(4, 17))
    Activity.objects.create(company=a.company, content_type=ContentType.objects.get_for_model(Lead), object_id=L3.pk,
                            kind="call", subject="Intro", owner=a.manager, occurred_at=at(4, 0))  # fmt: skip
    LeadComment.objects.create(company=a.company, lead=L5, author=a.sdr2, body="Mailed", created_at=at(4, 14))
    return cast


def stats_for(viewer):
    return assignment_stats(viewer=viewer, since=at(3, 0), until=at(5, 0), now=at(10, 12))


def row(stat):
    return (stat.label, stat.assigned, stat.claimed, stat.open, stat.responded, stat.median, stat.p90, stat.breaches)


H = 3600


def test_per_member_figures_match_the_hand_computation(fixture):
    stats = stats_for(fixture.a.admin)

    assert [row(s) for s in stats.members] == [
        ("Alpha Admin", 0, 0, 0, 0, None, None, 0),
        ("Alpha Manager", 1, 0, 1, 1, 2 * H, 2 * H, 0),
        ("Alpha SDR One", 3, 1, 4, 2, 15.5 * H, 30 * H, 2),
        ("Alpha SDR Two", 1, 0, 1, 1, 4 * H, 4 * H, 0),
    ]
    assert row(stats.total) == ("All", 5, 1, 6, 4, 3 * H, 30 * H, 2)


def test_by_day_and_by_rule(fixture):
    stats = stats_for(fixture.a.admin)

    assert [row(s) for s in stats.by_day] == [
        ("2025-03-03", 4, 0, None, 3, 2 * H, 30 * H, 1),
        ("2025-03-04", 1, 1, None, 1, 4 * H, 4 * H, 1),
    ]
    assert [row(s) for s in stats.by_rule] == [
        ("Assigned by a person", 2, 0, None, 1, 2 * H, 2 * H, 0),
        ("Claimed from the pool", 0, 1, None, 0, None, None, 1),
        ("Inbound", 3, 0, None, 3, 4 * H, 30 * H, 1),
    ]


def test_a_manager_sees_only_the_team(fixture):
    stats = stats_for(fixture.a.manager)

    assert [s.label for s in stats.members] == ["Alpha Manager", "Alpha SDR One"]
    assert (stats.total.assigned, stats.total.claimed, stats.total.breaches) == (4, 1, 2)


def test_the_sla_is_configurable(fixture):
    from leads import scoring

    scoring.lead_settings_update(actor=fixture.a.admin, company=fixture.a.company, data={"sla_hours": 48})

    assert stats_for(fixture.a.admin).total.breaches == 1  # only the never-answered claim


def marks(svg) -> list[str]:
    """The tooltip of each bar or point (the chart's own title has an id; the marks' do not)."""
    return re.findall(r"<title>([^<]*)</title>", str(svg))


def axis_titles(svg) -> list[str]:
    return re.findall(r'class="chart-axis-title"[^>]*>([^<]*)<', str(svg))


def test_the_charts_show_leads_received_per_member_and_per_day_with_the_late_ones(fixture):
    found = stats_charts(stats_for(fixture.a.admin))
    members, days = str(found["members"]), str(found["days"])

    assert marks(members) == ["Alpha Admin: 0", "Alpha Manager: 1", "Alpha SDR One: 4 (2 late)", "Alpha SDR Two: 1"]
    assert re.findall(r'class="chart-bar"[^>]* width="([\d.]+)"', members) == ["0.0", "95.0", "380.0", "95.0"]
    assert axis_titles(members) == ["Member", "Leads assigned or claimed"]
    assert 'data-testid="chart-assignment-members"' in members
    assert marks(days) == ["03 Mar: 4 (1 late)", "04 Mar: 2 (1 late)"]
    assert re.findall(r'<circle class="chart-point" cx="([\d.]+)" cy="([\d.]+)"', days) == [
        ("50.0", "30.0"), ("620.0", "100.0"),
    ]  # fmt: skip
    assert axis_titles(days) == ["Leads assigned or claimed", "Day"]


def test_a_period_without_assignments_has_no_charts(fixture):
    empty = assignment_stats(viewer=fixture.a.admin, since=at(20, 0), until=at(21, 0), now=at(21, 0))

    assert (empty.total.received, stats_charts(empty)) == (0, {})


@pytest.mark.parametrize(("values", "p90"), [([], None), ([5], 5), ([1, 2], 2), (list(range(1, 11)), 9),
                                             (list(range(1, 21)), 18)])  # fmt: skip
def test_p90_is_the_nearest_rank(values, p90):
    assert percentile(values, 90) == p90
