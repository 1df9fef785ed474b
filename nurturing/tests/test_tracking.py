"""Open pixel, click redirect and one-click unsubscribe: signed tokens, no login, idempotent events
that feed the score, a 404 that reveals nothing for anything forged."""

import re

import pytest
from django.core import signing

from leads.models import EngagementEvent, Lead
from nurturing import sending, tracking
from nurturing.models import EnrolmentState, LeadEmailActivity, StopReason
from nurturing.testing.factories import make_consenting_lead, make_enrolment, make_sequence

pytestmark = pytest.mark.django_db


def sent_message(cast, smtp_sink, **lead_data):
    lead = make_consenting_lead(cast.a.company, **lead_data)
    make_enrolment(cast.a.company, lead=lead)
    sending.send_due()
    html = smtp_sink.messages[-1].get_body(("html",)).get_content()
    urls = dict(re.findall(r'(?:href|src)="http://testserver(/n/([ocu])/[^"]+)"', html)[i][::-1] for i in range(3))
    return LeadEmailActivity.objects.get(lead=lead), urls


def test_opening_records_once_raises_the_score_and_returns_a_gif(cast, smtp_sink, client):
    message, urls = sent_message(cast, smtp_sink)
    score = message.lead.score
    first, again = client.get(urls["o"]), client.get(urls["o"])
    assert (first.status_code, first["Content-Type"], again.status_code) == (200, "image/gif", 200)
    message.refresh_from_db()
    assert message.opened_at is not None
    assert list(EngagementEvent.objects.filter(lead=message.lead).values_list("kind", flat=True)) == ["email_open"]
    assert Lead.objects.get(pk=message.lead_id).score == score + 5


def test_a_click_redirects_to_the_link_and_lands_on_the_timeline_once(cast, smtp_sink, client):
    message, urls = sent_message(cast, smtp_sink)
    score = message.lead.score
    response = client.get(urls["c"])
    client.get(urls["c"])
    assert (response.status_code, response["Location"]) == (302, "https://example.com/guide?a=1&b=2")
    kinds = sorted(EngagementEvent.objects.filter(lead=message.lead).values_list("kind", flat=True))
    assert kinds == ["email_click", "email_open"]
    assert Lead.objects.get(pk=message.lead_id).score == score + 15
    events = list(message.lead.activities.filter(event__startswith="nurturing.email.").values_list("event", flat=True))
    assert events == ["nurturing.email.clicked", "nurturing.email.opened", "nurturing.email.sent"]


def test_a_click_token_for_a_url_not_in_the_message_is_404(cast, smtp_sink, client):
    message, _ = sent_message(cast, smtp_sink)
    forged = signing.dumps({"m": message.uid, "u": "https://evil.example/"}, salt=tracking.CLICK_SALT, compress=True)
    assert client.get(f"/n/c/{forged}/").status_code == 404
    message.refresh_from_db()
    assert message.clicked_at is None


def test_tampered_tokens_are_404_and_reveal_nothing(cast, smtp_sink, client):
    message, urls = sent_message(cast, smtp_sink)
    csrf = re.compile(rb'("X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]+')
    nowhere = csrf.sub(b"", client.get("/no-such-page/").content)
    for path in urls.values():
        token = path.split("/")[3]
        tampered = path.replace(token, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
        response = client.get(tampered)
        assert (response.status_code, csrf.sub(b"", response.content)) == (404, nowhere)
    other_salt = signing.dumps({"m": message.uid}, salt=tracking.OPEN_SALT)
    assert client.post(f"/n/u/{other_salt}/").status_code == 404  # an open token does not unsubscribe
    message.refresh_from_db()
    assert (message.opened_at, message.clicked_at, message.unsubscribed_at) == (None, None, None)
    assert Lead.objects.get(pk=message.lead_id).dnd is False


def test_one_click_unsubscribe_stops_everything_and_shows_on_the_timeline(cast, smtp_sink, client):
    message, urls = sent_message(cast, smtp_sink)
    other = make_enrolment(cast.a.company, sequence=make_sequence(cast.a.company), lead=message.lead)
    page = client.get(urls["u"])
    assert page.status_code == 200
    assert b"Stop receiving emails from Alpha?" in page.content
    assert Lead.objects.get(pk=message.lead_id).dnd is False  # a link scanner's GET changes nothing
    response = client.post(urls["u"], {"List-Unsubscribe": "One-Click"})  # RFC 8058, no session, no CSRF token
    assert response.status_code == 200
    assert b"You are unsubscribed" in response.content
    lead = Lead.objects.get(pk=message.lead_id)
    assert lead.dnd is True
    assert lead.history.first().history_change_reason == "nurturing.lead.unsubscribed"
    assert set(lead.enrolments.values_list("state", "stop_reason")) == {(EnrolmentState.STOPPED,
                                                                         StopReason.UNSUBSCRIBED)}  # fmt: skip
    assert lead.activities.filter(event="nurturing.unsubscribed").count() == 1
    client.post(urls["u"], {"List-Unsubscribe": "One-Click"})
    assert lead.activities.filter(event="nurturing.unsubscribed").count() == 1
    assert other.pk in lead.enrolments.values_list("pk", flat=True)
    assert sending.send_due().claimed == 0
