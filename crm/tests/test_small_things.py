"""The favicon, the notification badge and quiet client errors in the log."""

import logging

from django.contrib.staticfiles import finders
from rest_framework.test import APIClient

from crm.models import Notification
from leads.testing.factories import make_lead

# --- favicon -------------------------------------------------------------------------------------


def test_every_page_names_the_svg_favicon_and_staticfiles_serves_it(cast, client_for):
    page = client_for(cast.a.sdr1).get("/c/alpha/members/")
    svg = finders.find("favicon.svg")

    assert b'<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page.content
    assert svg is not None
    with open(svg, "rb") as file:
        assert file.read().startswith(b'<svg xmlns="http://www.w3.org/2000/svg"')


def test_favicon_ico_points_at_the_svg_without_a_login(client):
    response = client.get("/favicon.ico")

    assert (response.status_code, response["Location"]) == (301, "/static/favicon.svg")


# --- notification badge --------------------------------------------------------------------------

BADGE = b'<mark data-testid="unread-count">'


def notify(membership, text: str) -> Notification:
    return Notification.objects.create(company=membership.company, recipient=membership, verb="mentioned", text=text)


def test_the_badge_counts_unread_notifications_and_clears_once_they_are_read(cast, client_for):
    notify(cast.a.sdr1, "First")
    notify(cast.a.sdr1, "Second")
    notify(cast.a.sdr2, "Someone else's")
    client = client_for(cast.a.sdr1)

    before = client.get("/c/alpha/members/")
    marked = client.post("/c/alpha/notifications/read/", follow=True)
    after = client.get("/c/alpha/members/")

    assert BADGE + b"2</mark>" in before.content
    assert [str(m) for m in marked.context["messages"]] == ["2 notifications marked as read."]
    assert BADGE not in marked.content
    assert BADGE not in after.content
    assert b'aria-label="Notifications: 0 unread"' in after.content
    assert list(Notification.objects.filter(read_at__isnull=True).values_list("text", flat=True)) == ["Someone else's"]


def test_a_new_notification_brings_the_badge_back(cast, client_for):
    notify(cast.a.sdr1, "Old")
    client = client_for(cast.a.sdr1)
    client.post("/c/alpha/notifications/read/")

    notify(cast.a.sdr1, "New")

    assert BADGE + b"1</mark>" in client.get("/c/alpha/members/").content


# --- quiet client errors -------------------------------------------------------------------------


def request_log(caplog) -> list[tuple[str, str, object]]:
    return [(r.levelname, r.getMessage(), r.exc_info) for r in caplog.records if r.name == "django.request"]


def test_a_403_raised_by_a_service_logs_one_line_without_traceback(cast, client_for, caplog):
    pool_lead = make_lead(cast.a.company, cast.a.admin)  # an SDR sees the pool but may not delete from it
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client_for(cast.a.sdr1).post(f"/c/alpha/leads/{pool_lead.pk}/delete/")

    assert response.status_code == 403
    assert request_log(caplog) == [
        ("WARNING", f"Forbidden (Permission denied): /c/alpha/leads/{pool_lead.pk}/delete/", None)
    ]
    assert "Traceback" not in caplog.text


def test_an_api_403_logs_one_line_without_traceback(cast, caplog):
    client = APIClient()
    client.force_authenticate(cast.a.sdr1.user)
    url = f"/api/companies/{cast.a.company.pk}/statuses"
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.post(url, {"name": "Nope"}, format="json")

    assert response.status_code == 403
    assert request_log(caplog) == [("WARNING", f"Forbidden: {url}", None)]
    assert "Traceback" not in caplog.text


def test_a_request_for_an_unknown_host_answers_400_and_logs_one_warning_line(client, caplog):
    with caplog.at_level(logging.WARNING, logger="django.security.DisallowedHost"):
        response = client.get("/c/alpha/leads/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert [(r.name, r.levelname, r.getMessage(), r.exc_info, r.exc_text) for r in caplog.records] == [
        (
            "django.security.DisallowedHost",
            "WARNING",
            "Invalid HTTP_HOST header: 'evil.example'. You may need to add 'evil.example' to ALLOWED_HOSTS.",
            None,
            None,
        )
    ]
    assert "Traceback" not in caplog.text
