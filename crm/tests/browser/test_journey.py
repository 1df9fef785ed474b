import re

import pytest
from playwright.sync_api import expect

from crm.services import membership_create
from crm.testing.factories import TEST_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, email):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_test_id("login-submit").click()


def test_log_in_switch_company_and_log_out(page, live_server, cast):
    membership_create(company=cast.b.company, user=cast.a.sdr1.user)
    log_in(page, live_server, "sdr1@alpha.test")
    expect(page).to_have_url(f"{live_server.url}/c/alpha/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Alpha")

    switcher = page.get_by_test_id("company-switcher")
    switcher.locator("summary").click()
    switcher.get_by_role("link", name=re.compile("Bravo")).click()
    expect(page).to_have_url(f"{live_server.url}/c/bravo/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Bravo")

    page.locator("summary", has_text="Alpha SDR One").click()
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    page.goto(f"{live_server.url}/c/bravo/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/c/bravo/")
