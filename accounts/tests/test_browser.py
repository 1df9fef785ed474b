"""An SDR's journey through the accounts pages in Chromium: open an account, add a contact and an
opportunity, move the opportunity across the pipeline board (drag and drop, then the stage select),
find it in the forecast and on the account's timeline."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Contact, Opportunity
from accounts.testing.factories import make_account
from crm.testing.factories import TEST_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, email):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_test_id("login-submit").click()


def test_account_contact_opportunity_board_forecast_and_timeline(page, live_server, cast):
    account = make_account(cast.a.company, cast.a.sdr1, name="Quartz Labs", website="https://quartz-labs.example")
    base = f"{live_server.url}/c/alpha/accounts"
    close = timezone.localdate() + dt.timedelta(days=20)
    quarter = f"{close.year}-Q{(close.month - 1) // 3 + 1}"
    log_in(page, live_server, "sdr1@alpha.test")

    # Open the account and add its first contact.
    page.goto(f"{base}/{account.pk}/")
    expect(page.get_by_test_id("account-name")).to_have_text("Quartz Labs")
    page.get_by_test_id("add-contact").click()
    page.get_by_label("First name").fill("Ines")
    page.get_by_label("Last name").fill("Haddad")
    page.get_by_label("Email").fill("ines@quartz-labs.example")
    page.get_by_label("Primary contact").check()
    page.get_by_test_id("save").click()
    contact = Contact.objects.get(email="ines@quartz-labs.example")
    expect(page).to_have_url(f"{base}/contacts/{contact.pk}/")
    assert (contact.account_id, contact.is_primary, contact.owner) == (account.pk, True, cast.a.sdr1)

    # Add an opportunity from the account page.
    page.goto(f"{base}/{account.pk}/")
    expect(page.get_by_test_id("account-contacts")).to_contain_text("Ines Haddad")
    page.get_by_test_id("add-opportunity").click()
    page.get_by_label("Name", exact=True).fill("Quartz pilot")
    page.get_by_label("Primary contact").select_option(str(contact.pk))
    page.get_by_label("Amount").fill("12000")
    page.get_by_label("Close date").fill(close.isoformat())
    page.get_by_test_id("save").click()
    deal = Opportunity.objects.get(name="Quartz pilot")
    expect(page).to_have_url(f"{base}/opportunities/{deal.pk}/")
    assert (deal.account_id, deal.stage.name, deal.probability, str(deal.amount), deal.currency) == (
        account.pk, "Prospect", 10, "12000.00", "GBP",
    )  # fmt: skip

    # Drag the card to the next column, then move it on with its stage select.
    page.goto(f"{base}/pipeline/")
    card = page.get_by_test_id("column-prospect").get_by_test_id("card").filter(has_text="Quartz pilot")
    card.drag_to(page.get_by_test_id("column-proposal-sent"))
    moved = page.get_by_test_id("column-proposal-sent").get_by_test_id("card").filter(has_text="Quartz pilot")
    expect(moved).to_be_visible()
    expect(page.get_by_test_id("column-proposal-sent").get_by_test_id("column-count")).to_have_text("1")
    expect(page.get_by_test_id("column-prospect").get_by_test_id("column-count")).to_have_text("0")
    moved.get_by_test_id("move-stage").select_option(label="Negotiation")
    in_negotiation = page.get_by_test_id("column-negotiation").get_by_test_id("card").filter(has_text="Quartz pilot")
    expect(in_negotiation).to_be_visible()
    expect(page.get_by_test_id("column-negotiation").get_by_test_id("column-amount")).to_have_text("12000.00 GBP")
    deal.refresh_from_db()
    assert (deal.stage.name, deal.probability) == ("Negotiation", 75)

    # The forecast counts it in its quarter, weighted by the Negotiation stage's 75 %.
    page.goto(f"{base}/forecast/")
    expect(page.get_by_test_id("forecast-chart")).to_be_visible()
    expect(page.get_by_test_id(f"cell-{quarter}-most_likely")).to_have_text("12000.00")
    expect(page.get_by_test_id(f"total-{quarter}")).to_have_text("12000.00")
    expect(page.get_by_test_id(f"weighted-{quarter}")).to_have_text("9000.00")
    page.get_by_test_id(f"cell-{quarter}-most_likely").click()
    expect(page.get_by_role("link", name="Quartz pilot")).to_be_visible()

    # The account's timeline holds the contact's and the opportunity's entries, marked with their source.
    page.goto(f"{base}/{account.pk}/")
    timeline = page.get_by_test_id("timeline")
    expect(timeline).to_contain_text("moved from Prospect to Proposal sent (50 %)")
    expect(timeline).to_contain_text("moved from Proposal sent to Negotiation (75 %)")
    moves = timeline.locator("li", has_text=re.compile(r"moved from"))
    expect(moves).to_have_count(2)
    expect(moves.first.get_by_test_id("timeline-source")).to_have_text("Opportunity Quartz pilot")
    expect(timeline.get_by_test_id("timeline-source").filter(has_text="Contact Ines Haddad").first).to_be_visible()
    assert deal.stage_changes.count() == 3
