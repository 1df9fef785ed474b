import pytest
from playwright.sync_api import expect

from crm.tests.browser.test_journey import log_in
from leads.models import Lead, LeadComment
from leads.testing.factories import make_campaign

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_a_lead_change_status_comment_reply_and_see_the_timeline(page, live_server, cast):
    make_campaign(cast.a.company, "Autumn outbound")
    log_in(page, live_server, "sdr1@alpha.test")
    page.get_by_role("link", name="Leads", exact=True).click()
    page.get_by_test_id("new-lead").click()

    page.get_by_label("First name").fill("Marta")
    page.get_by_label("Last name").fill("Kowalska")
    page.get_by_label("Email").fill("not-an-email")
    page.get_by_label("Lead source").fill("Website")
    page.get_by_label("Campaign").select_option(label="Autumn outbound")
    page.get_by_role("button", name="Create lead").click()
    expect(page.locator('[data-field="email"]')).to_have_text("Enter a valid email address.")

    page.get_by_label("Email").fill("marta@kowalska.example")
    page.get_by_role("button", name="Create lead").click()
    expect(page.get_by_test_id("lead-name")).to_have_text("Marta Kowalska")
    expect(page.get_by_test_id("lead-status")).to_have_text("New")

    page.get_by_test_id("transition-contacted").click()  # htmx swaps the panel in place
    expect(page.get_by_test_id("lead-status")).to_have_text("Contacted")
    expect(page.get_by_test_id("transition-qualified")).to_be_visible()

    page.get_by_label("Comment").click()  # the editor shows bold as bold: Ctrl+B, not typed tags
    page.keyboard.press("Control+b")
    page.keyboard.type("Spoke")
    page.keyboard.press("Control+b")
    page.keyboard.type(" to Marta, wants pricing")
    page.get_by_test_id("comment-submit").click()
    first = page.get_by_test_id("comment").first
    expect(first.locator(".rich b")).to_have_text("Spoke")

    first.get_by_test_id("reply-toggle").click()
    first.get_by_label("Reply").fill("Sent the price list")
    first.get_by_test_id("reply-submit").click()
    expect(page.locator(".replies [data-testid=comment] .rich")).to_have_text("Sent the price list")

    timeline = page.get_by_test_id("timeline")
    expect(timeline.locator("[data-kind=comment]")).to_have_count(2)
    expect(timeline.locator("[data-kind=status]")).to_contain_text("moved from New to Contacted")

    lead = Lead.objects.get(email="marta@kowalska.example")
    assert lead.status.key == "contacted"
    first_comment, reply = LeadComment.objects.filter(lead=lead).order_by("id")
    assert (first_comment.body, first_comment.parent_id) == ("<b>Spoke</b> to Marta, wants pricing", None)
    assert (reply.body, reply.parent_id) == ("Sent the price list", first_comment.pk)
