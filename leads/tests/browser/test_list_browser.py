import re
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from crm.tests.browser.test_journey import log_in
from leads.models import Lead
from leads.testing.factories import make_campaign, make_lead

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_filter_sort_save_a_view_and_bulk_assign_with_progress(page, live_server, cast, django_q_cluster):
    campaign = make_campaign(cast.a.company, "Expo")
    for n, country in enumerate(["GB", "GB", "GB", "DE"]):
        make_lead(cast.a.company, cast.a.admin, last_name=f"Lead{n}", country=country, campaign=campaign,
                  phone="", email=f"l{n}@example.com")  # fmt: skip
    log_in(page, live_server, "manager@alpha.test")
    page.goto(f"{live_server.url}/c/alpha/leads/")

    page.locator("details.filters summary").click()
    page.get_by_label("Country", exact=True).fill("GB")
    page.get_by_test_id("apply-filters").click()
    expect(page.get_by_test_id("lead-row")).to_have_count(3)

    page.get_by_test_id("sort-name").first.click()  # first click: descending
    expect(page.get_by_test_id("lead-row").first).to_contain_text("Lead2")

    page.get_by_label("View name").fill("UK expo")
    page.get_by_test_id("save-view").click()
    expect(page.locator(".message-success")).to_have_text("View “UK expo” saved.")
    page.goto(f"{live_server.url}/c/alpha/leads/")
    expect(page.get_by_test_id("lead-row")).to_have_count(4)
    page.get_by_test_id("views").get_by_role("link", name="UK expo").click()
    expect(page.get_by_test_id("lead-row")).to_have_count(3)
    expect(page.get_by_test_id("lead-row").first).to_contain_text("Lead2")

    page.get_by_test_id("all-matching").check()
    page.get_by_test_id("bulk-operation").select_option("assign")
    page.get_by_test_id("bulk-owner").select_option(label="Alpha SDR One")
    page.get_by_test_id("bulk-submit").click()

    expect(page).to_have_url(re.compile(r"/c/alpha/leads/bulk/\d+/$"))
    progress = page.get_by_test_id("bulk-progress")
    expect(progress).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(page.get_by_test_id("bulk-summary")).to_have_text("Done: 3 leads changed.")
    expect(progress.locator("progress")).to_have_attribute("value", "3")
    assert sorted(Lead.objects.filter(owner=cast.a.sdr1).values_list("last_name", flat=True)) == [
        "Lead0",
        "Lead1",
        "Lead2",
    ]
    assert Lead.objects.get(last_name="Lead3").owner is None


SCREENSHOT = Path(settings.BASE_DIR) / "docs" / "screenshots" / "lead-list.png"


def test_an_sdr_works_the_list_from_the_keyboard_and_removes_a_filter_chip(page, live_server, cast):
    campaign = make_campaign(cast.a.company, "Expo")
    leads = {}
    for n, (name, country) in enumerate((("Ava", "GB"), ("Ben", "DE"), ("Cal", "GB"))):  # newest first: Cal, Ben, Ava
        leads[name] = make_lead(cast.a.company, cast.a.admin, first_name=name, last_name="Stone", owner=cast.a.sdr1,
                                country=country, campaign=campaign, phone=f"+44 20 7946 000{n}")  # fmt: skip
    log_in(page, live_server, "sdr1@alpha.test")
    page.goto(f"{live_server.url}/c/alpha/leads/")
    rows = page.get_by_test_id("lead-row")
    expect(rows).to_have_count(3)

    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_class(re.compile(r"\bis-focused\b"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/c/alpha/leads/{leads['Ben'].pk}/")

    page.goto(f"{live_server.url}/c/alpha/leads/")
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect(rows.first.get_by_role("checkbox")).to_be_checked()
    expect(rows.nth(1).get_by_role("checkbox")).not_to_be_checked()

    page.keyboard.press("/")  # the search box, where letters are typed, not shortcuts
    expect(page.locator("#id_q")).to_be_focused()
    page.keyboard.type("jk")
    expect(page.locator("#id_q")).to_have_value("jk")
    page.locator("#id_q").fill("")

    page.get_by_label("Country", exact=True).fill("GB")
    page.get_by_test_id("apply-filters").click()
    expect(rows).to_have_count(2)
    chip = page.get_by_test_id("filter-chip")
    expect(chip).to_have_text("Country: GB ×")

    page.get_by_test_id("column-picker").locator("summary").click()
    page.get_by_test_id("column-phone").check()  # submits the picker: the chip and filter stay
    expect(page.get_by_test_id("row-phone")).to_have_count(2)
    expect(chip).to_have_text("Country: GB ×")
    page.keyboard.press("j")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    chip.click()
    expect(page.get_by_test_id("filter-chip")).to_have_count(0)
    expect(rows).to_have_count(3)
    expect(page.get_by_label("Country", exact=True)).to_have_value("")
    expect(page.get_by_test_id("row-phone")).to_have_count(3)
