"""Sending through a real SMTP server (aiosmtpd on 127.0.0.1): the message, its headers, exactly
once per (enrolment, step), the gates at send time, the rate limit and the sending window."""

import datetime as dt
import re

import pytest
from django.utils import timezone

from leads import services as lead_services
from leads.models import Lead
from leads.testing.factories import status
from nurturing import sending, services
from nurturing.models import Enrolment, EnrolmentState, LeadEmailActivity, MessageState, StopReason
from nurturing.services import nurturing_settings_update, settings_for
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
        (
            lambda lead, cast: Lead.objects.filter(pk=lead.pk).update(merged_into=make_consenting_lead(cast.a.company)),
            StopReason.DELETED,
        ),
        (lambda lead, cast: _stop(lead, cast, email="", phone="+442071234567"), StopReason.NO_EMAIL),
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
    nurturing_settings_update(actor=None, settings=settings_for(cast.a.company), rate_per_minute=2)
    sequence = make_sequence(cast.a.company)
    for _ in range(3):
        make_enrolment(cast.a.company, sequence=sequence)
    assert sending.send_due().sent == 2
    assert sending.send_due().sent == 0
    assert sending.send_due(now=timezone.now() + dt.timedelta(minutes=1, seconds=1)).sent == 1
    assert smtp_sink.count() == 3


def test_nothing_is_sent_outside_the_sending_window(cast, smtp_sink):
    nurturing_settings_update(actor=None, settings=settings_for(cast.a.company), window_start=dt.time(9),
                              window_end=dt.time(17))  # fmt: skip
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


def test_sending_runs_the_same_queries_for_one_due_step_as_for_five(cast, smtp_sink, django_assert_num_queries):
    sequence = make_sequence(cast.a.company)
    make_enrolment(cast.a.company, sequence=sequence)
    sending.send_due()  # warms the content-type cache
    make_enrolment(cast.a.company, sequence=sequence)
    with django_assert_num_queries(17) as one:
        assert sending.send_due().sent == 1
    for _ in range(5):
        make_enrolment(cast.a.company, sequence=sequence)
    with django_assert_num_queries(len(one.captured_queries)):
        assert sending.send_due().sent == 5  # one enrolment UPDATE for the five, one recording chunk
    assert smtp_sink.count() == 7


def test_an_enrolment_moved_by_someone_else_after_the_read_loses_its_claim(cast):
    sequence = make_sequence(cast.a.company)
    kept, moved = (make_enrolment(cast.a.company, sequence=sequence) for _ in range(2))
    services.enrolment_stop(actor=cast.a.admin, enrolment=moved)  # after the sender read both as active
    now = timezone.now()
    advance = {"last_step_number": 1, "next_send_at": now + dt.timedelta(days=2)}
    claimed = [(enrolment, sending.Outgoing(uid=f"u{enrolment.pk}", email=None, row=None, advance=advance))
               for enrolment in (kept, moved)]  # fmt: skip
    assert sending._advance_all(claimed) == {moved.pk}
    kept.refresh_from_db()
    moved.refresh_from_db()
    assert (kept.last_step_number, kept.next_send_at) == (1, now + dt.timedelta(days=2))
    assert (moved.state, moved.last_step_number) == (EnrolmentState.STOPPED, 0)


def test_a_step_renders_the_same_for_every_lead_but_their_own_values(cast, smtp_sink):
    sequence = make_sequence(cast.a.company, steps=[{"subject": "Hi {{ first_name|upper }}", "body":
        '<p onclick="x()">Hello {{ first_name }} of {{ company_name }}</p><script>bad()</script>'
        '<p><a href="https://example.com/?who={{ email }}">Yours</a></p>', "delay_days": 0}])  # fmt: skip
    leads = [
        make_consenting_lead(cast.a.company, first_name="Ann", company_name="evil.example", email="a@x.test"),
        make_consenting_lead(cast.a.company, first_name="<b>Bo</b>", company_name="Co", email="b@x.test"),
    ]
    for lead in leads:
        make_enrolment(cast.a.company, sequence=sequence, lead=lead)
    assert sending.send_due().sent == 2
    bodies = {}
    for message in smtp_sink.messages:
        html = message.get_body(preferencelist=("html",)).get_content()
        bodies[str(message["Subject"])] = re.sub(r'href="[^"]+/n/c/[^"]+"', 'href="TRACKED"', html.split("<p style")[0])
    assert bodies == {
        "Hi ANN": '<p>Hello Ann of evil.example</p>bad()<p><a href="TRACKED" rel="nofollow noopener noreferrer">Yours</a>'
        "</p>",
        "Hi <B>BO</B>": '<p>Hello &lt;b&gt;Bo&lt;/b&gt; of Co</p>bad()<p><a href="TRACKED" '
        'rel="nofollow noopener noreferrer">Yours</a></p>',
    }  # a lead's "evil.example" stays text: lead data never becomes a link
    links = dict(LeadEmailActivity.objects.values_list("to_email", "links"))
    assert links == {
        "a@x.test": ["https://example.com/?who=a@x.test"],
        "b@x.test": ["https://example.com/?who=b@x.test"],
    }


@pytest.mark.django_db(transaction=True)
def test_the_senders_never_run_more_than_record_every_messages_ahead_of_the_recording(cast, smtp_sink, monkeypatch):
    from django.db import connection

    monkeypatch.setattr(sending, "RECORD_EVERY", 4)
    sequence = make_sequence(cast.a.company)
    for _ in range(20):
        make_enrolment(cast.a.company, sequence=sequence)
    ahead = []

    def count_unrecorded(message):  # runs in the SMTP server's thread, as each message arrives
        recorded = LeadEmailActivity.objects.exclude(state=MessageState.CLAIMED).count()
        ahead.append(smtp_sink.count() - recorded)  # the sink counts this message already (before on_message)
        connection.close()

    smtp_sink.on_message = count_unrecorded
    result = sending.send_due(connections=3)
    assert (result.sent, smtp_sink.count(), len(ahead)) == (20, 20, 20)
    assert 1 <= max(ahead) <= 4
    assert sorted(str(m["To"]) for m in smtp_sink.messages) == sorted(  # each lead once
        Enrolment.objects.values_list("lead__email", flat=True)
    )
