"""The lead page in a browser: the comment editor shows formatting as it will look, and the posted
comment appears bold on the timeline, with no raw tags anywhere."""

from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from crm.tests.browser.test_journey import log_in
from leads import services
from leads.models import LeadComment
from leads.testing.factories import make_lead

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOT = Path(settings.BASE_DIR) / "docs" / "screenshots" / "lead-page.png"


def test_an_sdr_types_a_bold_comment_and_the_timeline_shows_it_bold(page, live_server, cast):
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1, first_name="Marta", last_name="Kowalska",
                     job_title="Head of Ops", company_name="Fjord Freight")  # fmt: skip
    services.activity_log(actor=cast.a.sdr1, lead=lead, kind="email", subject="Pricing sheet")
    log_in(page, live_server, "sdr1@alpha.test")
    page.goto(f"{live_server.url}/c/alpha/leads/{lead.pk}/")

    editor = page.get_by_label("Comment")
    editor.click()
    page.keyboard.press("Control+b")
    page.keyboard.type("Spoke")
    page.keyboard.press("Control+b")
    page.keyboard.type(" to Marta, ")
    page.get_by_role("button", name="Italic (Ctrl+I)").click()
    page.keyboard.type("wants pricing")
    page.get_by_role("button", name="Italic (Ctrl+I)").click()
    page.keyboard.type(" — @sdr2 can you help?")
    expect(editor.locator("b")).to_have_text("Spoke")  # formatting shown while typing, not tags
    expect(editor).not_to_contain_text("<b>")

    page.get_by_test_id("comment-submit").click()
    entry = page.get_by_test_id("timeline").locator("[data-kind=comment]").first
    expect(entry.locator(".rich b")).to_have_text("Spoke")
    expect(entry.locator(".rich i")).to_have_text("wants pricing")
    expect(entry.locator(".rich")).to_have_text("Spoke to Marta, wants pricing — @sdr2 can you help?")
    expect(entry.locator(".rich .mention")).to_have_text("@sdr2")
    expect(page.get_by_test_id("timeline")).to_contain_text("Alpha SDR One logged an email: Pricing sheet")
    expect(page.get_by_label("Comment")).to_have_text("")  # a fresh editor after the post
    assert (
        LeadComment.objects.get(lead=lead).body == "<b>Spoke</b> to Marta, <i>wants pricing</i> — @sdr2 can you help?"
    )

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
