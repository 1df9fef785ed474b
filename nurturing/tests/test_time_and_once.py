"""Time and the exactly-once key: a score with a half-life falling night after night while nothing
happens, a sending window that runs past midnight, and the database refusing a second message row
for the same (enrolment, step) whatever the code above it does."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from leads.models import EngagementEvent, Lead
from leads.scoring.services import engagement_record, lead_settings_update
from nurturing import sending, tasks
from nurturing.models import LeadEmailActivity, MessageState
from nurturing.services import nurturing_settings_update, settings_for
from nurturing.testing.factories import make_consenting_lead, make_enrolment

pytestmark = pytest.mark.django_db


def test_the_nightly_decay_keeps_lowering_a_score_while_nothing_happens(cast):
    lead = make_consenting_lead(cast.a.company)
    quiet = make_consenting_lead(cast.b.company)  # no half-life in Bravo: never rescored by the decay
    base = lead.score
    lead_settings_update(actor=None, company=cast.a.company, data={"engagement_half_life_days": 10})
    engagement_record(lead=lead, kind="email_click", key="click")
    engagement_record(lead=quiet, kind="email_click", key="click")
    assert Lead.objects.get(pk=lead.pk).score == base + 10
    gained = []
    for days in (0, 10, 20, 40):  # the night when the click is this many days old
        EngagementEvent.objects.filter(lead=lead).update(occurred_at=timezone.now() - dt.timedelta(days=days))
        tasks.decay_all_companies()
        gained.append(Lead.objects.get(pk=lead.pk).score - base)
    assert gained == [10, 5, 2, 1]  # 10 points halving every 10 days, rounded
    assert Lead.objects.get(pk=quiet.pk).score == quiet.score + 10
    assert list(tasks.decay_all_companies()) == [cast.a.company.pk]


def test_a_sending_window_past_midnight_sends_at_night_only(cast, smtp_sink):
    nurturing_settings_update(actor=None, settings=settings_for(cast.a.company), window_start=dt.time(22),
                              window_end=dt.time(6))  # fmt: skip
    make_enrolment(cast.a.company)
    tomorrow = (timezone.now() + dt.timedelta(days=1)).astimezone(dt.UTC)
    at = {hour: tomorrow.replace(hour=hour, minute=30, second=0, microsecond=0) for hour in (12, 21, 5, 23)}
    assert [sending.in_window(settings_for(cast.a.company), at[hour]) for hour in (12, 21, 5, 23)] == [
        False, False, True, True]  # fmt: skip
    assert sending.send_due(now=at[12]).sent == 0
    assert sending.send_due(now=at[21]).sent == 0
    assert sending.send_due(now=at[23]).sent == 1
    assert smtp_sink.count() == 1


def test_the_database_refuses_a_second_message_for_the_same_step(cast, smtp_sink):
    enrolment = make_enrolment(cast.a.company)
    sending.send_due()
    sent = LeadEmailActivity.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        LeadEmailActivity.objects.create(
            company_id=sent.company_id, enrolment=enrolment, lead_id=sent.lead_id, sequence_id=sent.sequence_id,
            step_id=sent.step_id, uid="another-run", message_id="<another-run@localhost>", to_email=sent.to_email,
            subject=sent.subject, claim_token="another-run",
        )  # fmt: skip
    assert list(LeadEmailActivity.objects.values_list("uid", "state")) == [(sent.uid, MessageState.SENT)]
    assert smtp_sink.count() == 1
