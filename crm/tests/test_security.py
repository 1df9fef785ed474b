"""Web security: login lockouts, password-reset and API rate limits, the Content-Security-Policy,
safe ``next`` redirects, absolute links in emails and quiet 403s."""

import datetime as dt
import logging
import re
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core import mail
from django.core.cache import cache
from django.db.models import F
from django.test import Client, RequestFactory
from django.urls import reverse
from rest_framework.test import APIClient

from crm.env import ConfigError, env_rate, env_url
from crm.http import safe_next
from crm.security import client_ip
from crm.testing.auth import api_key_for
from crm.testing.factories import TEST_PASSWORD
from crm.tests.test_env import run_manage

LOCKED = "Too many failed attempts to log in: try again in 15 minutes, or reset your password."
HOME = "10.0.0.1"
ELSEWHERE = "10.0.0.2"


@pytest.fixture(autouse=True)
def empty_cache():
    """Throttle histories live in the cache, which outlives a test's database."""
    cache.clear()
    yield
    cache.clear()


def log_in(email, password, *, ip=HOME, path="/accounts/login/"):
    return Client(REMOTE_ADDR=ip).post(path, {"username": email, "password": password})


def logged_in(response) -> bool:
    return response.status_code == 302 and "_auth_user_id" in response.wsgi_request.session


def errors(response) -> list[str]:
    return response.context["form"].non_field_errors()


def let_minutes_pass(minutes: float) -> None:
    """Move every recorded failure back in time: axes measures its cool-off from them."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - dt.timedelta(minutes=minutes))


# --- login lockout -------------------------------------------------------------------------------


def test_five_wrong_passwords_lock_the_account_even_with_the_right_password(cast):
    statuses = [log_in("sdr1@alpha.test", f"wrong {n}").status_code for n in range(5)]
    right = log_in("sdr1@alpha.test", TEST_PASSWORD)

    assert statuses == [200, 200, 200, 200, 429]
    assert (right.status_code, right["Retry-After"], logged_in(right)) == (429, "900", False)
    assert errors(right) == [LOCKED]


def let_seconds_pass(seconds: float) -> None:
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - dt.timedelta(seconds=seconds))


def test_repeated_failures_are_slowed_down_before_the_lock(cast, settings, caplog):
    settings.LOGIN_SLOW_AFTER = 3
    first = [log_in("sdr1@alpha.test", f"wrong {n}").status_code for n in range(3)]
    with caplog.at_level(logging.WARNING, logger="crm.security"):
        too_soon = log_in("sdr1@alpha.test", TEST_PASSWORD)  # right password, but too soon

    assert (first, too_soon.status_code, logged_in(too_soon)) == ([200, 200, 200], 200, False)
    assert errors(too_soon) == ["Too many failed attempts to log in: wait 2 seconds and try again."]
    assert AccessAttempt.objects.get().failures_since_start == 3  # the refused try was not counted
    assert [r.getMessage() for r in caplog.records if r.name == "crm.security"] == [
        "Login slowed down: email=sdr1@alpha.test ip=10.0.0.1 retry_in=2s"
    ]
    let_seconds_pass(2)
    assert logged_in(log_in("sdr1@alpha.test", TEST_PASSWORD)) is True


def test_each_further_failure_doubles_the_wait(cast, settings):
    settings.LOGIN_SLOW_AFTER = 3
    for n in range(3):
        log_in("sdr1@alpha.test", f"wrong {n}")
    let_seconds_pass(2)
    log_in("sdr1@alpha.test", "wrong 3")

    assert errors(log_in("sdr1@alpha.test", TEST_PASSWORD)) == [
        "Too many failed attempts to log in: wait 4 seconds and try again."
    ]


def test_the_fourth_failure_still_says_wrong_password(cast):
    for n in range(3):
        log_in("sdr1@alpha.test", f"wrong {n}")
    fourth = log_in("sdr1@alpha.test", "wrong 3")
    assert (fourth.status_code, errors(fourth)) == (
        200,
        ["Please enter a correct email and password. Note that both fields may be case-sensitive."],
    )
    assert logged_in(log_in("sdr1@alpha.test", TEST_PASSWORD)) is True


def test_the_lock_on_an_email_holds_from_every_address_whatever_its_case(cast):
    for n in range(5):
        log_in("SDR1@alpha.test" if n % 2 else "sdr1@alpha.test", "wrong", ip=f"10.0.1.{n}")
    right = log_in("sdr1@alpha.test", TEST_PASSWORD, ip="10.0.1.99")
    assert (right.status_code, errors(right)) == (429, [LOCKED])


def test_the_lock_on_an_address_holds_for_every_account_and_no_other_address(cast):
    for email in ("sdr1@alpha.test", "sdr2@alpha.test", "manager@alpha.test", "nobody@alpha.test", "x@y.test"):
        log_in(email, "wrong", ip=HOME)
    from_home = log_in("sdr1@bravo.test", TEST_PASSWORD, ip=HOME)
    from_elsewhere = log_in("sdr1@bravo.test", TEST_PASSWORD, ip=ELSEWHERE)
    assert (from_home.status_code, errors(from_home)) == (429, [LOCKED])
    assert logged_in(from_elsewhere) is True


def test_another_account_on_another_address_is_unaffected(cast):
    for _ in range(6):
        log_in("sdr1@alpha.test", "wrong", ip=HOME)
    assert logged_in(log_in("sdr2@alpha.test", TEST_PASSWORD, ip=ELSEWHERE)) is True
    assert logged_in(log_in("sdr1@alpha.test", TEST_PASSWORD, ip=ELSEWHERE)) is False


def test_the_lock_counts_down_and_expires_after_the_cool_off(cast):
    for _ in range(5):
        log_in("sdr1@alpha.test", "wrong")

    let_minutes_pass(14)
    still = log_in("sdr1@alpha.test", TEST_PASSWORD)
    assert (still.status_code, errors(still)) == (
        429,
        ["Too many failed attempts to log in: try again in 1 minute, or reset your password."],
    )

    let_minutes_pass(1.01)
    assert logged_in(log_in("sdr1@alpha.test", TEST_PASSWORD)) is True


def test_attempts_while_locked_do_not_extend_the_lock(cast):
    for _ in range(5):
        log_in("sdr1@alpha.test", "wrong")
    let_minutes_pass(10)
    for _ in range(3):
        log_in("sdr1@alpha.test", "wrong again")
    let_minutes_pass(5.01)
    assert logged_in(log_in("sdr1@alpha.test", TEST_PASSWORD)) is True


def test_a_lockout_is_logged_as_one_warning(cast, caplog):
    for _ in range(4):
        log_in("sdr1@alpha.test", "wrong")
    with caplog.at_level(logging.WARNING, logger="crm.security"):
        log_in("sdr1@alpha.test", "wrong")
    lines = [(r.name, r.levelname, r.getMessage()) for r in caplog.records if r.name == "crm.security"]
    assert lines == [
        (
            "crm.security",
            "WARNING",
            "Login locked out: email=sdr1@alpha.test ip=10.0.0.1 path=/accounts/login/ retry_in=900s",
        )
    ]


def test_the_admin_login_is_locked_too_and_says_so(cast):
    assert cast.a.admin.user.is_staff is True
    for _ in range(5):
        log_in("admin@alpha.test", "wrong", path="/admin/login/")
    right = log_in("admin@alpha.test", TEST_PASSWORD, path="/admin/login/")
    assert (right.status_code, errors(right), logged_in(right)) == (429, [LOCKED], False)
    assert LOCKED in right.content.decode()


def test_the_lock_is_shared_by_the_app_and_the_admin_login(cast):
    for _ in range(5):
        log_in("admin@alpha.test", "wrong", path="/admin/login/")
    assert log_in("admin@alpha.test", TEST_PASSWORD).status_code == 429


def test_a_password_reset_lifts_the_lock_on_the_email(cast):
    for n in range(5):
        log_in("sdr1@alpha.test", "wrong", ip=f"10.0.2.{n}")
    assert log_in("sdr1@alpha.test", TEST_PASSWORD, ip=ELSEWHERE).status_code == 429

    client = Client(REMOTE_ADDR=ELSEWHERE)
    client.post("/accounts/password_reset/", {"email": "sdr1@alpha.test"})
    link = next(line for line in mail.outbox[0].body.splitlines() if "/accounts/reset/" in line)
    form_page = client.get(link.removeprefix("http://testserver"), follow=True)
    new = "a brand new passphrase"
    client.post(form_page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})

    assert logged_in(log_in("sdr1@alpha.test", new, ip=ELSEWHERE)) is True


def test_the_test_clients_login_still_works(cast, client):
    assert client.login(username="sdr1@alpha.test", password=TEST_PASSWORD) is True
    assert client.get("/c/alpha/").status_code == 200


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "1.1.1.1", "10.9.9.9"),  # no proxy: X-Forwarded-For is the client's to forge
        (1, "1.1.1.1, 2.2.2.2", "2.2.2.2"),
        (2, "1.1.1.1, 2.2.2.2", "1.1.1.1"),
        (3, "1.1.1.1, 2.2.2.2", "1.1.1.1"),
        (1, "1.1.1.1, not-an-address", "10.9.9.9"),
        (1, "", "10.9.9.9"),
    ],
)
def test_the_client_address_trusts_only_the_configured_proxies(proxies, forwarded, expected, settings):
    settings.NUM_PROXIES = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


# --- password reset requests ---------------------------------------------------------------------


def test_password_reset_requests_are_limited_per_email_and_per_address(cast, settings):
    settings.PASSWORD_RESET_RATE = "2/hour"
    home = Client(REMOTE_ADDR=HOME)
    first = [home.post("/accounts/password_reset/", {"email": "sdr1@alpha.test"}).status_code for _ in range(2)]
    third = home.post("/accounts/password_reset/", {"email": "sdr1@alpha.test"})
    same_email_elsewhere = Client(REMOTE_ADDR=ELSEWHERE).post("/accounts/password_reset/", {"email": "sdr1@alpha.test"})
    other_email_from_home = home.post("/accounts/password_reset/", {"email": "sdr2@alpha.test"})
    other_email_elsewhere = Client(REMOTE_ADDR=ELSEWHERE).post(
        "/accounts/password_reset/", {"email": "sdr2@alpha.test"}
    )

    assert first == [302, 302]
    assert (third.status_code, third.context["form"].errors["email"]) == (
        429,
        ["Too many password reset requests: try again in 60 minutes."],
    )
    assert int(third["Retry-After"]) in range(3590, 3601)
    assert (same_email_elsewhere.status_code, other_email_from_home.status_code) == (429, 429)
    assert other_email_elsewhere.status_code == 302
    assert [m.to for m in mail.outbox] == [["sdr1@alpha.test"], ["sdr1@alpha.test"], ["sdr2@alpha.test"]]


def test_the_reset_link_is_built_on_site_url_not_on_the_host_header(cast, settings):
    settings.SITE_URL = "https://crm.example.com"
    Client(HTTP_HOST="localhost").post("/accounts/password_reset/", {"email": "sdr1@alpha.test"})
    link = next(line for line in mail.outbox[0].body.splitlines() if "/accounts/reset/" in line)
    assert re.fullmatch(r"https://crm\.example\.com/accounts/reset/[\w-]+/[\w-]+/", link)


# --- API rate limits -----------------------------------------------------------------------------


def token_client(membership) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key_for(membership.user)}")
    return client


def test_the_api_answers_429_with_retry_after_past_the_rate_of_a_token(cast, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "3/minute", "anon": "3/minute"},
    }
    url = f"/api/companies/{cast.a.company.pk}/leads"
    sdr1, sdr2 = token_client(cast.a.sdr1), token_client(cast.a.sdr2)

    allowed = [sdr1.get(url).status_code for _ in range(3)]
    refused = sdr1.get(url)

    assert allowed == [200, 200, 200]
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert refused.json() == {
        "detail": f"Request was throttled. Expected available in {refused['Retry-After']} seconds."
    }
    assert sdr2.get(url).status_code == 200  # another token has its own budget


def test_the_test_settings_rates_are_too_high_to_throttle_the_suite():
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert rates == {"user": "100000/minute", "anon": "100000/minute"}


# --- Content-Security-Policy ---------------------------------------------------------------------

EXPECTED_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}


def policy(response) -> dict[str, list[str]]:
    directives = (part.split() for part in response["Content-Security-Policy"].split(";") if part.strip())
    return {name: sources for name, *sources in directives}


def test_the_csp_covers_tenant_pages_the_login_page_the_admin_and_the_api_docs(cast, client_for):
    login_page = Client().get("/accounts/login/")
    client = client_for(cast.a.admin)
    pages = [login_page, client.get("/c/alpha/"), client.get("/c/alpha/leads/"), client.get("/admin/"),
             client.get("/api/docs/")]  # fmt: skip
    assert [response.status_code for response in pages] == [200] * 5
    assert [policy(response) for response in pages] == [EXPECTED_CSP] * 5


def test_the_api_docs_page_loads_its_start_up_script_as_a_file(cast, client_for):
    client = client_for(cast.a.sdr1)
    page = client.get("/api/docs/").content.decode()
    script = client.get("/api/docs/?script=")
    assert re.findall(r"<script[^>]*>", page) == [
        '<script src="/static/vendor/swagger-ui/swagger-ui-bundle.js">',
        '<script src="/static/vendor/swagger-ui/swagger-ui-standalone-preset.js">',
        '<script src="/api/docs/?script=">',
    ]
    assert (script.status_code, script["Content-Type"]) == (200, "application/javascript")
    assert 'SwaggerUIBundle({\n  url: "/api/schema/"' in script.content.decode()


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>\s*[^<\s]", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=|\son[a-z]+\s*=", re.IGNORECASE)


def test_no_template_carries_inline_script_style_or_event_handlers():
    offenders = []
    for template in sorted(Path(settings.BASE_DIR, "templates").rglob("*.html")):
        text = template.read_text()
        for pattern in (INLINE_SCRIPT, INLINE_STYLE):
            offenders += [f"{template.name}: {match.group()}" for match in pattern.finditer(text)]
    assert offenders == []


def test_the_inline_code_patterns_do_catch_inline_code():
    samples = ["<script>alert(1)</script>", '<p style="color: red">', "<style>p{}</style>", '<a onclick="x()">']
    assert [bool(INLINE_SCRIPT.search(s) or INLINE_STYLE.search(s)) for s in samples] == [True] * 4
    assert INLINE_SCRIPT.search('<script src="/static/js/app.js" defer></script>') is None


def test_status_badges_carry_their_colour_as_data_not_style(cast, client_for):
    from leads.testing.factories import make_lead

    lead = make_lead(cast.a.company, cast.a.sdr1)
    page = client_for(cast.a.sdr1).get(f"/c/alpha/leads/{lead.pk}/").content.decode()
    assert '<span class="status-badge" data-status-color="#1e88e5">New</span>' in page


# --- next= redirects -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("https://evil.example/", "/fallback/"),
        ("//evil.example", "/fallback/"),
        ("javascript:alert(1)", "/fallback/"),
        ("https:///evil.example", "/fallback/"),
        ("", "/fallback/"),
        ("/c/alpha/leads/?page=2", "/c/alpha/leads/?page=2"),
        ("http://testserver/c/alpha/", "http://testserver/c/alpha/"),
    ],
)
def test_safe_next_follows_only_this_site(target, expected):
    request = RequestFactory().post("/somewhere/", {"next": target})
    assert safe_next(request, "/fallback/") == expected


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "javascript:alert(1)"])
def test_dismissing_a_duplicate_never_redirects_off_site(target, cast, client_for):
    from leads.testing.factories import make_duplicate_pair

    candidate = make_duplicate_pair(cast.a.company, first_name="Ana", email="ana@acme.example")[2]
    dismiss = reverse("leads:dedup:dismiss", kwargs={"company_slug": "alpha", "candidate_id": candidate.pk})
    response = client_for(cast.a.manager).post(dismiss, {"next": target})
    assert (response.status_code, response["Location"]) == (302, "/c/alpha/leads/duplicates/")


@pytest.mark.parametrize(
    ("target", "expected"),
    [("https://evil.example/", "/"), ("//evil.example", "/"), ("javascript:alert(1)", "/"), ("/c/alpha/", "/c/alpha/")],
)
def test_the_login_page_follows_next_only_into_this_site(target, expected, cast):
    response = Client().post(
        "/accounts/login/", {"username": "sdr1@alpha.test", "password": TEST_PASSWORD, "next": target}
    )
    assert (response.status_code, response["Location"]) == (302, expected)


def test_dismissing_a_duplicate_returns_to_the_page_it_came_from(cast, client_for):
    from leads.testing.factories import make_duplicate_pair

    candidate = make_duplicate_pair(cast.a.company, first_name="Ana", email="ana@acme.example")[2]
    dismiss = reverse("leads:dedup:dismiss", kwargs={"company_slug": "alpha", "candidate_id": candidate.pk})
    back = reverse("leads:dedup:queue", kwargs={"company_slug": "alpha"}) + "?page=2"
    response = client_for(cast.a.manager).post(dismiss, {"next": back})
    assert (response.status_code, response["Location"]) == (302, back)


# --- absolute links in emails --------------------------------------------------------------------


def test_an_assignment_email_links_to_site_url(cast, settings, mailoutbox, django_capture_on_commit_callbacks):
    from leads import assignment
    from leads.testing.factories import make_lead

    settings.SITE_URL = "https://crm.example.com"
    lead = make_lead(cast.a.company, cast.a.manager)
    with django_capture_on_commit_callbacks(execute=True):
        assignment.lead_assign(actor=cast.a.manager, lead=lead, owner=cast.a.sdr1, reason="Speaks Polish")

    lines = mailoutbox[0].body.splitlines()
    queue = reverse("leads:assignment:queue", kwargs={"company_slug": "alpha"})
    assert f"  https://crm.example.com/c/alpha/leads/{lead.pk}/" in lines
    assert f"Your queue, most urgent first: https://crm.example.com{queue}" in lines


def test_a_scheduled_export_email_links_to_site_url(cast, settings):
    from django.http import QueryDict

    from leads.listing import saved_filter_create
    from leads.models import ExportRun
    from leads.transfer.schedules import scheduled_export_save
    from leads.transfer.tasks import run_scheduled_export

    settings.SITE_URL = "https://crm.example.com/"
    view = saved_filter_create(
        actor=cast.a.manager, name="All", params=QueryDict(""), sort="-created", visibility="private"
    )
    saved = scheduled_export_save(
        actor=cast.a.manager,
        data={"name": "Daily", "saved_filter": view.pk, "format": "csv", "frequency": "daily", "time_of_day": "07:30"},
    )
    assert run_scheduled_export(saved.pk, due_at="2026-11-25T07:30:00+00:00") == "succeeded"

    run = ExportRun.objects.get()
    assert mail.outbox[0].body.splitlines()[-1] == (
        f"Download it (log in first): https://crm.example.com/c/alpha/leads/exports/{run.pk}/download/"
    )


# --- SITE_URL configuration ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("https://crm.example.com", "https://crm.example.com"), ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
     ("https://example.com/crm/", "https://example.com/crm")],
)  # fmt: skip
def test_site_url_accepts_absolute_http_urls(raw, expected, monkeypatch):
    monkeypatch.setenv("SITE_URL", raw)
    assert env_url("SITE_URL") == expected


@pytest.mark.parametrize("raw", ["crm.example.com", "ftp://crm.example.com", "https://", "https://x.test/?a=1"])
def test_site_url_refuses_anything_else(raw, monkeypatch):
    monkeypatch.setenv("SITE_URL", raw)
    with pytest.raises(ConfigError) as caught:
        env_url("SITE_URL")
    assert (
        str(caught.value) == f"SITE_URL must be an absolute http(s) URL such as https://crm.example.com, got {raw!r}."
    )


@pytest.mark.parametrize("raw", ["100", "0/minute", "ten/minute", "100/fortnight"])
def test_a_malformed_rate_is_refused(raw, monkeypatch):
    monkeypatch.setenv("API_RATE_USER", raw)
    with pytest.raises(ConfigError) as caught:
        env_rate("API_RATE_USER", "600/minute")
    assert str(caught.value) == (
        f"API_RATE_USER must be a rate such as 100/minute (count/second|minute|hour|day), got {raw!r}."
    )


def test_a_rate_from_the_environment_is_used(monkeypatch):
    monkeypatch.setenv("API_RATE_USER", "50/hour")
    assert (env_rate("API_RATE_USER", "600/minute"), env_rate("API_RATE_ANON", "60/minute")) == ("50/hour", "60/minute")


def test_production_without_site_url_stops_with_one_clear_line():
    secret = "s" * 60
    result = run_manage(
        {"DJANGO_SETTINGS_MODULE": "crm.settings.production", "SECRET_KEY": secret, "SITE_URL": ""}, "check"
    )
    assert result.returncode == 1
    assert result.stderr == (
        "Configuration error: SITE_URL is required but not set: the address users open the CRM at, "
        "e.g. https://crm.example.com (emails link to it).\n"
    )


# --- quiet 403s ----------------------------------------------------------------------------------


def test_a_403_logs_one_line_and_no_traceback(cast, client_for, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client_for(cast.a.sdr1).get("/c/alpha/settings/")
    records = [r for r in caplog.records if r.name == "django.request"]
    assert response.status_code == 403
    assert [(r.levelname, r.getMessage(), r.exc_info) for r in records] == [
        ("WARNING", "Forbidden (Permission denied): /c/alpha/settings/", None)
    ]
    assert "Traceback" not in caplog.text
