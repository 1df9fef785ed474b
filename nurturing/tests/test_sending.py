"""Sending through a real SMTP server (aiosmtpd on 127.0.0.1): the message, its headers, exactly
once per (enrolment, step), the gates at send time, the rate limit and the sending window."""

import datetime as dt

import pytest
from django.utils import timezone

from leads import services as lead_services
from leads.models import Lead
from leads.testing.factories import status
from nurturing import sending
from nurturing.models import EnrolmentState, LeadEmailActivity, MessageState, StopReason
from nurturing.services import nurturing_settings_update
from nurturing.testing.factories import make_consenting_lead, make_enrolment, make_sequence

pytestmark = pytest.mark.django_db


def test_the_first_step_arrives_as_a_real_multipart_message_with_unsubscribe_headers(cast, smtp_sink):
    lead = make_consenting_lead(cast.a.company, first_name="Ann", email="ann@example.com", owner=cast.a.sdr1)
    enrolment = make_enrolment(cast.a.company, lead=lead)
    result = sending.send_due()
    assert (result.claimed, result.sent) == (1, 1)
    [message] = smtp_sink.messages
    row = LeadEmailActivity.objects.get()
    assert (message["Subject"], message["To"], message["Message-ID"]) == (
        "Hello Ann",
        "ann@example.com",
        row.message_id,
    )
    assert message["From"] == "Alpha <crm@localhost>"
    assert message["List-Unsubscribe"].strip().startswith("<http://testserver/n/u/")  # folded: long
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_content_type() == "multipart/alternative"
    text, html = (part.get_content().replace("\r\n", "\n") for part in message.iter_parts())
    assert text.startswith("Hi Ann, read our guide (http://testserver/n/c/")
    assert "Alpha SDR One\nAlpha" in text
    assert "Unsubscribe: http://testserver/n/u/" in text
    assert 'href="http://testserver/n/c/' in html
    assert 'src="http://testserver/n/o/' in html
    assert "https://example.com/guide" not in html  # every link goes through the click tracker
    assert (row.state, row.links, row.to_email) == (MessageState.SENT, ["https://example.com/guide?a=1&b=2"],
                                                    "ann@example.com")  # fmt: skip
    enrolment.refresh_from_db()
    assert (enrolment.last_step_number, enrolment.next_send_at) == (1, row.claimed_at + dt.timedelta(days=2))
    assert list(Lead.objects.get(pk=lead.pk).activities.values_list("event", flat=True)[:1]) == ["nurturing.email.sent"]


def test_a_task_run_twice_sends_each_step_once_and_the_next_step_when_due(cast, smtp_sink):
    enrolment = make_enrolment(cast.a.company)
    sending.send_due()
    second = sending.send_due()
    assert (second.claimed, smtp_sink.count()) == (0, 1)
    later = timezone.now() + dt.timedelta(days=2, minutes=1)
    sending.send_due(now=later)
    sending.send_due(now=later)
    assert [m["Subject"] for m in smtp_sink.messages] == ["Hello Lena", "Still there, Lena?"]
    enrolment.refresh_from_db()
    assert (enrolment.state, enrolment.last_step_number, enrolment.next_send_at) == ("completed", 2, None)
    assert LeadEmailActivity.objects.filter(state=MessageState.SENT).count() == 2


def _stop(lead, cast, **data):
    lead_services.lead_update(actor=cast.a.admin, lead=lead, data=data)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda lead, cast: _stop(lead, cast, dnd=True), StopReason.DND),
        (lambda lead, cast: _stop(lead, cast, gdpr_consent=False), StopReason.NO_CONSENT),
        (lambda lead, cast: lead_services.lead_delete(actor=cast.a.admin, lead=lead), StopReason.DELETED),
        (lambda lead, cast: Lead.objects.filter(pk=lead.pk).update(converted_at=timezone.now()), StopReason.CONVERTED),
        (
            lambda lead, cast: Lead.objects.filter(pk=lead.pk).update(status=status(cast.a.company, "disqualified")),
            StopReason.DISQUALIFIED,
        ),
    ],
)
def test_the_gates_are_checked_at_send_time(cast, smtp_sink, change, reason):
    enrolment = make_enrolment(cast.a.company)
    change(enrolment.lead, cast)
    result = sending.send_due()
    enrolment.refresh_from_db()
    assert (result.sent, result.stopped, smtp_sink.count()) == (0, 1, 0)
    assert (enrolment.state, enrolment.stop_reason) == (EnrolmentState.STOPPED, reason)
    assert not LeadEmailActivity.objects.exists()


def test_a_refused_recipient_is_a_bounce_that_stops_every_sequence_of_the_lead(cast, smtp_sink):
    lead = make_consenting_lead(cast.a.company, email="gone@example.com")
    first = make_enrolment(cast.a.company, lead=lead)
    other = make_sequence(cast.a.company, steps=[{"subject": "Later", "body": "<p>x</p>", "delay_days": 5}])
    make_enrolment(cast.a.company, sequence=other, lead=lead)
    smtp_sink.refuse.add("gone@example.com")
    result = sending.send_due()
    assert (result.bounced, result.sent, smtp_sink.count()) == (1, 0, 0)
    row = LeadEmailActivity.objects.get()
    assert row.state == MessageState.BOUNCED
    assert row.error.startswith("SMTPRecipientsRefused")
    states = set(lead.enrolments.values_list("state", "stop_reason"))
    assert states == {(EnrolmentState.STOPPED, StopReason.BOUNCED)}
    assert first.sequence_id != other.pk


def test_the_rate_limit_caps_emails_per_minute_across_runs(cast, smtp_sink):
    nurturing_settings_update(actor=None, company=cast.a.company, data={"rate_per_minute": 2})
    sequence = make_sequence(cast.a.company)
    for _ in range(3):
        make_enrolment(cast.a.company, sequence=sequence)
    assert sending.send_due().sent == 2
    assert sending.send_due().sent == 0
    assert sending.send_due(now=timezone.now() + dt.timedelta(minutes=1, seconds=1)).sent == 1
    assert smtp_sink.count() == 3


def test_nothing_is_sent_outside_the_sending_window(cast, smtp_sink):
    nurturing_settings_update(actor=None, company=cast.a.company,
                              data={"window_start": dt.time(9), "window_end": dt.time(17)})  # fmt: skip
    make_enrolment(cast.a.company)
    today = timezone.now().astimezone(dt.UTC).replace(hour=20, minute=0)
    assert sending.send_due(now=today + dt.timedelta(days=1)).sent == 0
    assert sending.send_due(now=today + dt.timedelta(days=1, hours=-10)).sent == 1
    assert smtp_sink.count() == 1


def test_an_inactive_sequence_sends_nothing_until_reactivated(cast, smtp_sink):
    enrolment = make_enrolment(cast.a.company)
    enrolment.sequence.is_active = False
    enrolment.sequence.save()
    assert (sending.send_due().sent, smtp_sink.count()) == (0, 0)
    enrolment.refresh_from_db()
    assert enrolment.state == EnrolmentState.ACTIVE
