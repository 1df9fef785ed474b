import re

import pytest
from playwright.sync_api import expect

from crm.tests.browser.test_journey import log_in
from leads import assignment
from leads.models import Lead
from leads.testing.factories import make_lead

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_claim_from_the_pool_see_the_bell_and_work_my_queue(page, live_server, cast):
    assigned = make_lead(cast.a.company, cast.a.manager, first_name="Ada", last_name="Assigned",
                         email="ada@acme-corp.com")  # fmt: skip
    assignment.lead_assign(actor=cast.a.manager, lead=assigned, owner=cast.a.sdr1, reason="Speaks German")
    pooled = make_lead(cast.a.company, cast.a.manager, first_name="Pia", last_name="Pool", email="pia@acme-corp.com",
                       lead_source="referral", authority_level="decision_maker")  # fmt: skip

    log_in(page, live_server, "sdr1@alpha.test")
    expect(page.get_by_test_id("unread-count")).to_have_text("1")
    page.get_by_test_id("bell").click()
    expect(page.get_by_test_id("notifications")).to_contain_text("Alpha Manager assigned you Ada Assigned")

    page.goto(f"{live_server.url}/c/alpha/leads/queue/")
    expect(page.get_by_test_id("queue-title")).to_have_text("My queue")
    expect(page.get_by_test_id("queue-row")).to_have_count(1)
    pool_row = page.locator(f'[data-testid=pool-row][data-lead="{pooled.pk}"]')
    expect(pool_row.get_by_test_id("priority")).to_have_text("Warm")
    pool_row.get_by_test_id("claim").click()

    expect(page.get_by_role("status")).to_have_text("Pia Pool is yours now: it is in your queue.")
    rows = page.get_by_test_id("queue-row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Pia Pool")  # warm (45) before cold (10)
    expect(page.get_by_test_id("claimable")).to_have_count(0)

    page.get_by_test_id("queue-start").click()
    expect(page).to_have_url(re.compile(rf"/c/alpha/leads/{pooled.pk}/$"))
    expect(page.get_by_test_id("lead-name")).to_have_text("Pia Pool")
    assert Lead.objects.get(pk=pooled.pk).owner == cast.a.sdr1
