"""The dashboard in a real browser, as a manager and as an SDR: the charts are drawn (visible SVG
marks), and a screenshot of each is saved to docs/screenshots/dashboard-<role>.png (a CI artefact)."""

from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from crm.tests.browser.test_journey import log_in
from leads import assignment, services
from leads.testing.factories import make_campaign, make_lead, status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = Path(settings.BASE_DIR) / "docs" / "screenshots"


def _leads(cast) -> None:
    a = cast.a
    campaigns = [make_campaign(a.company, name) for name in ("Spring webinar", "Partner referrals", "Trade fair")]
    for index in range(6):
        lead = make_lead(a.company, a.manager, lead_source=("Website", "Referral", "Event")[index % 3],
                         campaign=campaigns[index % 3])  # fmt: skip
        lead = assignment.lead_assign(actor=a.manager, lead=lead, owner=a.sdr1)
        if index % 2:
            services.lead_transition(actor=a.sdr1, lead=lead, to_status=status(a.company, "contacted"))
    services.activity_log(actor=a.sdr1, lead=lead, kind="call", subject="Intro call")


def _screenshot(page, role: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"dashboard-{role}.png"), full_page=True)


def test_a_manager_sees_the_team_charts(page, live_server, cast):
    _leads(cast)
    log_in(page, live_server, "manager@alpha.test")
    expect(page).to_have_url(f"{live_server.url}/c/alpha/")
    for testid in ("chart-funnel", "chart-sources", "chart-campaigns", "chart-conversion", "chart-responses"):
        expect(page.get_by_test_id(testid)).to_be_visible()
    expect(page.get_by_test_id("chart-sources").locator("rect.chart-bar")).to_have_count(3)
    expect(page.get_by_test_id("chart-funnel").locator("rect.chart-funnel").first).to_be_visible()
    expect(page.get_by_test_id("pipeline-empty")).to_contain_text("No opportunities yet")
    expect(page.get_by_test_id("team-count")).to_have_text("2")
    _screenshot(page, "manager")


def test_an_sdr_sees_their_queue_today_and_funnel(page, live_server, cast):
    _leads(cast)
    log_in(page, live_server, "sdr1@alpha.test")
    expect(page.get_by_test_id("my-queue")).to_contain_text("Response due soon")
    expect(page.get_by_test_id("today-count")).to_have_count(2)  # the call and the status changes
    for testid in ("chart-my-funnel", "chart-my-trend"):
        expect(page.get_by_test_id(testid)).to_be_visible()
    expect(page.get_by_test_id("chart-my-funnel").locator("rect.chart-funnel")).to_have_count(7)
    expect(page.get_by_test_id("chart-my-trend").locator("polyline.chart-line")).to_be_visible()
    expect(page.get_by_test_id("dashboard-manager")).to_have_count(0)
    _screenshot(page, "sdr")
