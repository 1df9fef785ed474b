"""The whole nurturing journey in Chromium: build a two-step sequence in the builder, enrol a lead from
its page, run the sender (SMTP backend pointed at an aiosmtpd sink), see the first email arrive,
open its tracked link, and see the lead's score rise and the click on its timeline."""

import re

import pytest
from playwright.sync_api import expect

from crm.tests.browser.test_journey import log_in
from leads.models import Lead
from nurturing import sending
from nurturing.models import EmailSequence, LeadEmailActivity
from nurturing.testing.factories import make_consenting_lead

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def add_step(page, subject: str, body: str, days: str) -> None:
    page.get_by_test_id("step-new").click()
    page.get_by_label("Subject").fill(subject)
    page.get_by_label("Body").fill(body)
    page.get_by_label("Delay in days").fill(days)
    page.get_by_test_id("step-save").click()


def test_build_enrol_send_click_and_see_the_score_and_timeline(page, live_server, cast, smtp_sink, settings):
    settings.SITE_URL = live_server.url  # the tracking links in the email lead to this server
    guide = f"{live_server.url}/healthz?from=email"  # the link's target: a page of this server (no network here)
    lead = make_consenting_lead(cast.a.company, first_name="Ann", last_name="Lee", email="ann@example.com",
                                owner=cast.a.manager)  # fmt: skip
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    log_in(page, live_server, "manager@alpha.test")

    page.get_by_test_id("nav-sequences").click()
    page.get_by_test_id("sequence-new").click()
    page.locator("#id_name").fill("Welcome")
    page.get_by_test_id("sequence-save").click()
    expect(page.get_by_test_id("sequence-name")).to_have_text("Welcome")
    expect(page.get_by_test_id("sequence-state")).to_have_text("Inactive")

    add_step(
        page, "Hello {{ first_name }}", '<p>Hi {{ first_name }},</p><p>read <a href="{{ unknown }}">x</a></p>', "0"
    )
    expect(page.locator('[data-field="body"]')).to_contain_text("Unknown merge field “unknown”")
    page.get_by_label("Body").fill(f'<p>Hi {{{{ first_name }}}}, read <a href="{guide}">our guide</a>.</p>')
    page.get_by_test_id("step-save").click()
    add_step(page, "Still there, {{ first_name }}?", "<p>A second note.</p>", "2")
    steps = page.get_by_test_id("step-row")
    expect(steps).to_have_count(2)
    expect(steps.nth(1)).to_contain_text("2 d 0 h")
    page.get_by_test_id("sequence-activate").click()
    expect(page.get_by_test_id("sequence-state")).to_have_text("Active")

    page.goto(f"{live_server.url}/c/alpha/leads/{lead.pk}/")
    page.get_by_test_id("enrol-sequence").select_option(label="Welcome")
    page.get_by_test_id("enrol").click()
    expect(page.get_by_test_id("enrolment")).to_contain_text("Welcome: Active")
    score_before = int(page.get_by_test_id("lead-score").inner_text())

    result = sending.send_due()
    assert (result.sent, EmailSequence.objects.get().enrolments.get().last_step_number) == (1, 1)
    [message] = smtp_sink.wait_for(1)
    assert (message["Subject"], message["To"]) == ("Hello Ann", "ann@example.com")
    html = message.get_body(preferencelist=("html",)).get_content()
    [tracked] = re.findall(r'href="([^"]+/n/c/[^"]+)"', html)
    assert tracked.startswith(f"{live_server.url}/n/c/")

    page.goto(tracked)
    expect(page).to_have_url(guide)
    expect(page.locator("body")).to_contain_text('"status": "ok"')

    page.goto(f"{live_server.url}/c/alpha/leads/{lead.pk}/")
    expect(page.get_by_test_id("lead-score")).to_have_text(str(score_before + 15))  # open 5 + click 10
    timeline = page.get_by_test_id("timeline")
    expect(timeline).to_contain_text(f"Clicked {guide} in “Hello Ann”")
    expect(timeline).to_contain_text("Sequence email sent: Hello Ann")
    expect(page.get_by_test_id("nurturing-message")).to_contain_text("Hello Ann")
    row = LeadEmailActivity.objects.get()
    assert (row.clicked_at is not None, row.opened_at is not None) == (True, True)
    assert Lead.objects.get(pk=lead.pk).score == score_before + 15
    assert violations == []  # the builder, its chart and the lead panel need no inline script or style
