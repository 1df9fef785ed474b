"""The triggers: lead created, status changed to X, score crossing a threshold, the qualification's
"nurture more", the nightly sweep; and the events that stop a sequence (conversion, a logged reply).
Also the schedules, the tasks and the ``run_nurturing`` command."""

import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from leads import services as lead_services
from leads.models import LeadSettings
from leads.scoring.services import engagement_record, lead_settings_update
from leads.testing.factories import make_lead, status
from nurturing import services, tasks
from nurturing.models import Enrolment, EnrolmentState, StopReason
from nurturing.testing.factories import make_consenting_lead, make_enrolment, make_sequence

pytestmark = pytest.mark.django_db


def test_a_new_lead_is_enrolled_in_lead_created_sequences_after_commit(cast, django_capture_on_commit_callbacks):
    sequence = make_sequence(cast.a.company, trigger="lead_created")
    make_sequence(cast.b.company, trigger="lead_created")
    with django_capture_on_commit_callbacks(execute=True):
        lead = make_consenting_lead(cast.a.company)
        refused = make_lead(cast.a.company, gdpr_consent=False)  # no consent: skipped, not an error
    assert list(Enrolment.objects.values_list("lead_id", "sequence_id", "reason")) == [
        (lead.pk, sequence.pk, "Trigger: lead created")
    ]
    assert not refused.enrolments.exists()


def test_a_status_change_enrols_in_that_statuss_sequences(cast, django_capture_on_commit_callbacks):
    contacted = status(cast.a.company, "contacted")
    sequence = make_sequence(cast.a.company, trigger="status_changed", trigger_status=contacted)
    lead = make_consenting_lead(cast.a.company)
    with django_capture_on_commit_callbacks(execute=True):
        lead_services.lead_transition(actor=cast.a.admin, lead=lead, to_status=contacted)
    assert list(lead.enrolments.values_list("sequence_id", "reason")) == [(sequence.pk, "Trigger: status Contacted")]


def test_a_score_rising_through_the_threshold_enrols(cast, django_capture_on_commit_callbacks):
    lead = make_consenting_lead(cast.a.company)
    sequence = make_sequence(cast.a.company, trigger="score_threshold", trigger_score=lead.score + 10)
    with django_capture_on_commit_callbacks(execute=True):
        engagement_record(lead=lead, kind="email_open", key="a")  # +5: below
    assert not lead.enrolments.exists()
    with django_capture_on_commit_callbacks(execute=True):
        engagement_record(lead=lead, kind="email_click", key="b")  # +10: crosses
    assert list(lead.enrolments.values_list("sequence_id", flat=True)) == [sequence.pk]


def test_nurture_more_enrols_in_the_nurture_sequences(cast):
    sequence = make_sequence(cast.a.company, trigger="nurture_more")
    lead = make_consenting_lead(cast.a.company)
    [enrolment] = services.on_nurture_more(lead=lead)
    assert (enrolment.sequence, enrolment.reason) == (sequence, "Trigger: qualification recommends nurturing")


def test_conversion_stops_the_sequence(cast, django_capture_on_commit_callbacks):
    enrolment = make_enrolment(cast.a.company)
    lead = enrolment.lead
    with django_capture_on_commit_callbacks(execute=True):
        for key in ("contacted", "qualified", "converted"):
            lead = lead_services.lead_transition(
                actor=cast.a.admin, lead=lead, to_status=status(cast.a.company, key), conversion=key == "converted"
            )  # as accounts' lead_convert does
    enrolment.refresh_from_db()
    assert (enrolment.state, enrolment.stop_reason) == (EnrolmentState.STOPPED, StopReason.CONVERTED)


def test_a_logged_reply_stops_the_sequence_but_another_email_does_not(cast, django_capture_on_commit_callbacks):
    enrolment = make_enrolment(cast.a.company)
    with django_capture_on_commit_callbacks(execute=True):
        lead_services.activity_log(actor=cast.a.admin, lead=enrolment.lead, kind="email", subject="Sent pricing")
    enrolment.refresh_from_db()
    assert enrolment.state == EnrolmentState.ACTIVE
    with django_capture_on_commit_callbacks(execute=True):
        lead_services.activity_log(actor=cast.a.admin, lead=enrolment.lead, kind="email", subject="Re: pricing",
                                   outcome="positive")  # fmt: skip
    enrolment.refresh_from_db()
    assert (enrolment.state, enrolment.stop_reason) == (EnrolmentState.STOPPED, StopReason.REPLIED)


def test_the_nightly_sweep_enrols_new_and_contacted_leads_under_the_threshold(cast):
    sequence = make_sequence(cast.a.company, name="Default nurture")
    services.nurturing_settings_update(actor=cast.a.admin, settings=services.settings_for(cast.a.company),
                                       default_sequence=sequence, sweep_threshold=30)  # fmt: skip
    low = make_consenting_lead(cast.a.company)
    contacted = make_consenting_lead(cast.a.company)
    lead_services.lead_transition(actor=cast.a.admin, lead=contacted, to_status=status(cast.a.company, "contacted"))
    high = make_consenting_lead(cast.a.company, lead_source="Referral", authority_level="decision_maker")
    dnd = make_consenting_lead(cast.a.company, dnd=True)
    make_consenting_lead(cast.b.company)
    assert high.score >= 30 > low.score
    assert tasks.sweep_all_companies() == {cast.a.company.pk: 2}
    enrolled = set(Enrolment.objects.values_list("lead_id", flat=True))
    assert enrolled == {low.pk, contacted.pk}
    assert dnd.pk not in enrolled
    assert low.activities.filter(event="nurturing.enrolment.started").count() == 1
    assert tasks.sweep_all_companies() == {cast.a.company.pk: 0}  # never twice


def test_the_default_sweep_threshold_is_70(cast):
    assert services.settings_for(cast.a.company).sweep_threshold == 70


def test_decay_lowers_scores_when_nothing_happens(cast):
    lead = make_consenting_lead(cast.a.company)
    before = lead.score
    engagement_record(lead=lead, kind="email_click", occurred_at=timezone.now() - dt.timedelta(days=20), key="old")
    lead_settings_update(actor=None, company=cast.a.company, data={"engagement_half_life_days": 10})
    lead.refresh_from_db()
    assert lead.score == before + 10  # recorded before the half-life existed: full points
    assert tasks.decay_all_companies() == {cast.a.company.pk: 1}
    lead.refresh_from_db()
    assert lead.score == before + round(10 * 0.25)
    assert LeadSettings.objects.get(company=cast.a.company).engagement_half_life_days == 10


def test_the_schedules_are_installed_once(cast):
    from django_q.models import Schedule

    tasks.ensure_schedules()
    tasks.ensure_schedules()
    names = set(Schedule.objects.filter(name__startswith="nurturing.").values_list("name", "func"))
    assert names == {("nurturing.send-due", "nurturing.tasks.send_due"),
                     ("nurturing.nightly-sweep", "nurturing.tasks.sweep_all_companies"),
                     ("nurturing.nightly-decay", "nurturing.tasks.decay_all_companies")}  # fmt: skip


def test_run_nurturing_sends_for_one_company_and_refuses_an_unknown_one(cast, smtp_sink, capsys):
    make_enrolment(cast.a.company)
    make_enrolment(cast.b.company)
    call_command("run_nurturing", "--company", "alpha")
    assert capsys.readouterr().out.startswith("alpha: 1 sent, 0 bounced, 0 failed")
    assert [str(m["To"]).split("@")[0][:4] for m in smtp_sink.messages] == ["lena"]
    with pytest.raises(CommandError, match="No company with slug 'nope'"):
        call_command("run_nurturing", "--company", "nope")
