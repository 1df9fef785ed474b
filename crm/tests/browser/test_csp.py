"""The pages work under the Content-Security-Policy: Chromium reports no violation, and what the
policy could have broken (htmx, page scripts, status colours, Swagger UI, the admin's scripts) runs."""

import pytest
from playwright.sync_api import expect

from crm.testing.factories import TEST_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def violations(page):
    """Every CSP violation Chromium reports on the console, as it reports it."""
    seen = []
    page.on("console", lambda message: seen.append(message.text) if "Content Security Policy" in message.text else None)
    return seen


def log_in(page, live_server, email):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(f"{live_server.url}/c/alpha/")


def test_the_app_pages_run_without_a_csp_violation(page, live_server, cast, violations):
    from leads.testing.factories import make_lead

    lead = make_lead(cast.a.company, cast.a.admin)
    log_in(page, live_server, "admin@alpha.test")

    page.goto(f"{live_server.url}/c/alpha/leads/")
    badge = page.locator(".status-badge").first
    expect(badge).to_have_text("New")
    # static/js/app.js moved the colour from data-status-color into the CSS variable.
    assert badge.evaluate("el => getComputedStyle(el).getPropertyValue('--status-color').trim()") == "#1e88e5"
    assert page.evaluate("typeof htmx") == "object"

    page.goto(f"{live_server.url}/c/alpha/leads/{lead.pk}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(lead.display_name)

    assert violations == []
    # The policy is really enforced (and would have been reported above): inline style is refused.
    with page.expect_console_message(lambda message: "Content Security Policy" in message.text):
        page.evaluate("document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">x</p>')")
    assert violations[0].startswith("Applying inline style violates the following Content Security Policy directive")


def test_the_api_docs_render_without_a_csp_violation(page, live_server, cast, violations):
    log_in(page, live_server, "admin@alpha.test")
    page.goto(f"{live_server.url}/api/docs/")
    expect(page.locator(".swagger-ui .title")).to_contain_text("CRM API")
    assert violations == []


def test_the_admin_scripts_run_under_the_csp(page, live_server, cast, violations):
    from leads.testing.factories import make_lead

    make_lead(cast.a.company, cast.a.admin)
    make_lead(cast.a.company, cast.a.admin)
    log_in(page, live_server, "admin@alpha.test")

    page.goto(f"{live_server.url}/admin/leads/lead/")
    # admin/js/actions.js: the header checkbox selects every row and the counter follows.
    page.locator("#action-toggle").check()
    expect(page.locator(".action-counter")).to_contain_text("2 of 2 selected")
    assert violations == []
