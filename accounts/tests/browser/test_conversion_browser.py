"""In the browser: an SDR qualifies a lead on its page, converts it choosing an existing account, lands
on the account and sees the lead's history there."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import LeadConversion
from accounts.testing.factories import make_account
from crm.testing.factories import TEST_PASSWORD
from leads import services as lead_services
from leads.testing.factories import make_comment, make_lead, status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, email):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_test_id("login-submit").click()


def test_qualify_convert_into_an_existing_account_and_see_the_leads_history_there(page, live_server, cast):
    sdr = cast.a.sdr1
    account = make_account(cast.a.company, sdr, name="Tyrell Corporation", domain="tyrell.example")
    lead = make_lead(cast.a.company, sdr, owner=sdr, first_name="Rachael", last_name="Tyrell",
                     email="rachael@tyrell.example", company_name="Tyrell Corp", budget_range="2M")  # fmt: skip
    lead = lead_services.lead_transition(actor=sdr, lead=lead, to_status=status(cast.a.company, "contacted"))
    make_comment(lead, sdr, body="Asked about the Nexus line.")

    log_in(page, live_server, sdr.user.email)
    page.goto(f"{live_server.url}/c/alpha/leads/{lead.pk}/")
    panel = page.get_by_test_id("qualification-panel")
    expect(panel).to_contain_text("not scored yet")
    expect(panel.get_by_label("Budget")).to_have_value("2M")  # prefilled from the lead
    panel.get_by_label("Authority").fill("Eldon Tyrell signs")
    panel.get_by_label("Need").fill("Replicant tracking")
    panel.get_by_label("Timeline").fill("This quarter")
    panel.get_by_test_id("qualify-submit").click()

    expect(page.get_by_test_id("lead-status")).to_have_text("Qualified")
    expect(panel.get_by_test_id("qualification-score")).to_have_text("100")
    expect(panel.get_by_test_id("conversion-eligible")).to_be_visible()

    page.get_by_test_id("convert-link").click()
    expect(page).to_have_url(re.compile(rf"/c/alpha/accounts/leads/{lead.pk}/convert/$"))
    choice = page.get_by_test_id("account-choice").filter(has_text="Tyrell Corporation")
    expect(choice).to_contain_text("score 100: same email domain tyrell.example")
    choice.get_by_role("radio").check()
    page.get_by_test_id("convert-submit").click()

    expect(page).to_have_url(f"{live_server.url}/c/alpha/accounts/{account.pk}/")
    expect(page.get_by_test_id("account-name")).to_have_text("Tyrell Corporation")
    expect(page.get_by_test_id("account-leads")).to_contain_text("Rachael Tyrell")
    expect(page.locator("body")).to_contain_text("Asked about the Nexus line.")
    expect(page.locator("body")).to_contain_text("Lead Rachael Tyrell")
    assert LeadConversion.objects.get().account_id == account.pk
