"""Sequences, steps and enrolment: validation with field-named errors, company checks, gates at
enrolment, history rows."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from leads.testing.factories import make_lead, status
from nurturing import services
from nurturing.models import EmailSequence, EmailSequenceStep, Enrolment, EnrolmentState, StopReason
from nurturing.testing.factories import STEP_ONE, legitimate_interest, make_consenting_lead, make_sequence

pytestmark = pytest.mark.django_db


def errors_of(call) -> dict:
    with pytest.raises(ValidationError) as error:
        call()
    return error.value.message_dict


def test_a_sequence_with_two_steps_is_built_in_order_and_activated(cast):
    sequence = make_sequence(cast.a.company, name="Welcome")
    steps = list(sequence.steps.values_list("step_number", "delay_days"))
    assert (sequence.is_active, steps) == (True, [(1, 0), (2, 2)])
    assert sequence.history.first().history_change_reason == "nurturing.sequence.changed"


def test_a_negative_delay_is_refused_naming_the_field_and_nothing_is_saved(cast):
    sequence = make_sequence(cast.a.company, steps=[], active=False)
    errors = errors_of(lambda: services.step_create(actor=cast.a.admin, sequence=sequence,
                                                    data={**STEP_ONE, "delay_days": -1, "delay_hours": -3}))  # fmt: skip
    assert errors == {"delay_days": ["A delay cannot be negative."], "delay_hours": ["A delay cannot be negative."]}
    assert EmailSequenceStep.objects.count() == 0


def test_an_unknown_merge_field_is_refused_at_save_time(cast):
    sequence = make_sequence(cast.a.company, steps=[], active=False)
    errors = errors_of(lambda: services.step_create(actor=cast.a.admin, sequence=sequence,
                                                    data={**STEP_ONE, "subject": "Hi {{ password }}"}))  # fmt: skip
    assert list(errors) == ["subject"]
    assert errors["subject"][0].startswith("Unknown merge field “password”")
    assert EmailSequenceStep.objects.count() == 0


def test_a_sequence_cannot_be_activated_without_an_active_step(cast):
    sequence = make_sequence(cast.a.company, steps=[], active=False)
    errors = errors_of(
        lambda: services.sequence_update(actor=cast.a.admin, sequence=sequence, data={"is_active": True})
    )
    assert errors == {"is_active": ["Add an active step before activating the sequence."]}


def test_a_status_trigger_needs_a_status_of_the_same_company(cast):
    foreign = status(cast.b.company, "contacted")
    errors = errors_of(lambda: services.sequence_create(actor=cast.a.admin, company=cast.a.company, data={
        "name": "On contact", "trigger": "status_changed", "trigger_status": foreign}))  # fmt: skip
    assert errors == {"trigger_status": ["Choose a status of this company."]}
    assert not EmailSequence.objects.exists()


def test_sdrs_may_enrol_but_not_build_sequences(cast):
    with pytest.raises(PermissionDenied):
        services.sequence_create(actor=cast.a.sdr1, company=cast.a.company, data={"name": "Mine"})
    with pytest.raises(PermissionDenied):
        services.sequence_create(actor=cast.b.admin, company=cast.a.company, data={"name": "Theirs"})


def test_enrolment_schedules_the_first_step_and_appears_on_the_timeline(cast):
    sequence = make_sequence(cast.a.company)
    lead = make_consenting_lead(cast.a.company, owner=cast.a.sdr1)
    enrolment = services.enrolment_create(actor=cast.a.sdr1, lead=lead, sequence=sequence, reason="Manual")
    assert (enrolment.state, enrolment.last_step_number, enrolment.enrolled_by) == ("active", 0, cast.a.sdr1)
    assert enrolment.next_send_at == enrolment.enrolled_at
    assert list(lead.activities.values_list("event", flat=True)) == ["nurturing.enrolment.started"]


@pytest.mark.parametrize(
    ("lead_data", "message"),
    [
        ({"dnd": True}, "This lead is marked do-not-disturb."),
        ({"gdpr_consent": False}, "This lead has not given consent (the company requires it)."),
        ({"email": "", "phone": "+442071234567"}, "This lead has no email address."),
    ],
)
def test_a_lead_that_may_not_be_emailed_cannot_be_enrolled(cast, lead_data, message):
    sequence = make_sequence(cast.a.company)
    lead = make_lead(cast.a.company, **{"gdpr_consent": True, **lead_data})
    errors = errors_of(lambda: services.enrolment_create(actor=cast.a.admin, lead=lead, sequence=sequence, reason=""))
    assert errors == {"lead": [message]}
    assert not Enrolment.objects.exists()


def test_legitimate_interest_enrols_leads_without_consent(cast):
    legitimate_interest(cast.a.company)
    lead = make_lead(cast.a.company, gdpr_consent=False)
    enrolment = services.enrolment_create(actor=cast.a.admin, lead=lead, sequence=make_sequence(cast.a.company),
                                          reason="")  # fmt: skip
    assert enrolment.state == EnrolmentState.ACTIVE


def test_another_companys_sequence_or_an_invisible_lead_is_refused(cast):
    foreign = make_sequence(cast.b.company)
    lead = make_consenting_lead(cast.a.company, owner=cast.a.sdr2)
    errors = errors_of(lambda: services.enrolment_create(actor=cast.a.admin, lead=lead, sequence=foreign, reason=""))
    assert errors == {"sequence": ["Choose a sequence of this company."]}
    own = make_sequence(cast.a.company)
    errors = errors_of(lambda: services.enrolment_create(actor=cast.a.sdr1, lead=lead, sequence=own, reason=""))
    assert errors == {"lead": ["Choose a lead you can see."]}
    assert not Enrolment.objects.exists()


def test_enrolling_twice_is_refused_but_a_person_may_re_enrol_after_unenrolling(cast):
    sequence = make_sequence(cast.a.company)
    lead = make_consenting_lead(cast.a.company)
    enrolment = services.enrolment_create(actor=cast.a.admin, lead=lead, sequence=sequence, reason="")
    errors = errors_of(lambda: services.enrolment_create(actor=cast.a.admin, lead=lead, sequence=sequence, reason=""))
    assert errors == {"lead": ["Already enrolled in this sequence (active)."]}
    stopped = services.enrolment_stop(actor=cast.a.admin, enrolment=enrolment)
    assert (stopped.state, stopped.stop_reason) == ("stopped", StopReason.MANUAL)
    again = services.enrolment_create(actor=cast.a.admin, lead=lead, sequence=sequence, reason="again")
    assert (again.pk, again.state) == (enrolment.pk, "active")


def test_a_step_that_went_out_cannot_be_renumbered(cast):
    from nurturing.models import LeadEmailActivity

    sequence = make_sequence(cast.a.company)
    first, second = sequence.steps.order_by("step_number")
    enrolment = services.enrolment_create(actor=None, lead=make_consenting_lead(cast.a.company), sequence=sequence,
                                          reason="test")  # fmt: skip
    LeadEmailActivity.objects.create(company=cast.a.company, enrolment=enrolment, lead=enrolment.lead,
                                     sequence=sequence, step=first, uid="u1", message_id="<u1@x>",
                                     to_email="x@example.com", subject="s", claim_token="run")  # fmt: skip
    errors = errors_of(lambda: services.step_update(actor=cast.a.admin, step=first, data={"step_number": 5}))
    assert errors == {"step_number": [services.SENT_STEP_STAYS]}
    services.step_update(actor=cast.a.admin, step=second, data={"step_number": 5})  # not sent: it may move
    assert list(sequence.steps.order_by("step_number").values_list("step_number", flat=True)) == [1, 5]


def test_bulk_enrolment_enrols_all_or_returns_the_offenders_and_writes_nothing(cast):
    sequence = make_sequence(cast.a.company)
    leads = [make_consenting_lead(cast.a.company, owner=cast.a.sdr1) for _ in range(2)]
    unenrolled = services.enrolment_create(actor=cast.a.sdr1, lead=leads[0], sequence=sequence, reason="first")
    services.enrolment_stop(actor=cast.a.sdr1, enrolment=unenrolled)
    refused = make_lead(cast.a.company, owner=cast.a.sdr1, first_name="Nora", last_name="Noconsent")
    with_status = list(
        type(refused).objects.select_related("status").filter(pk__in=[leads[0].pk, leads[1].pk, refused.pk])
    )
    assert services.enrolments_create_many(actor=cast.a.sdr1, sequence=sequence, leads=with_status,
                                           reason="bulk") == [f"#{refused.pk} Nora Noconsent (no consent)"]  # fmt: skip
    assert list(Enrolment.objects.values_list("lead_id", "state")) == [(leads[0].pk, EnrolmentState.STOPPED)]
    ok = [lead for lead in with_status if lead.pk != refused.pk]
    assert services.enrolments_create_many(actor=cast.a.sdr1, sequence=sequence, leads=ok, reason="bulk") == []
    assert sorted(Enrolment.objects.values_list("lead_id", "state", "reason")) == [
        (leads[0].pk, EnrolmentState.ACTIVE, "bulk"), (leads[1].pk, EnrolmentState.ACTIVE, "bulk")]  # fmt: skip
    hidden = list(type(refused).objects.select_related("status").filter(pk=make_consenting_lead(
        cast.a.company, owner=cast.a.sdr2).pk))  # fmt: skip
    assert errors_of(lambda: services.enrolments_create_many(actor=cast.a.sdr1, sequence=sequence, leads=hidden,
                                                             reason="bulk")) == {"ids": ["Choose leads you can see."]}  # fmt: skip
