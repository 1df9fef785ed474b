"""The gates that the parametrised send-time test in test_sending does not reach: unsubscribed and
bounced leads (at enrolment and at send time, even once do-not-disturb is cleared or an enrolment
raced the stop) and the legitimate-interest policy.
And the bad input "enrolling a lead that unsubscribed": a message naming the field, nothing changed."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from leads import services as lead_services
from leads.models import Lead
from nurturing import sending, services, tracking
from nurturing.models import Enrolment, EnrolmentState, LeadEmailActivity, MessageState, StopReason
from nurturing.testing.factories import legitimate_interest, make_consenting_lead, make_enrolment, make_sequence
from nurturing.tests.test_views import messages_of

pytestmark = pytest.mark.django_db

LATER = [{"subject": "Later", "body": "<p>Later.</p>", "delay_days": 5}]


def raced(enrolment: Enrolment) -> Enrolment:
    """The enrolment as a writer that read the lead just before a stop committed leaves it: active
    and due now. The sender must still refuse to email the lead."""
    Enrolment.objects.filter(pk=enrolment.pk).update(state=EnrolmentState.ACTIVE, stop_reason="",
                                                     finished_at=None, next_send_at=timezone.now())  # fmt: skip
    return Enrolment.objects.get(pk=enrolment.pk)


def unsubscribed_lead(cast, smtp_sink) -> tuple[Lead, Enrolment]:
    """A lead that got the first email and unsubscribed through it; then a person cleared its DND."""
    enrolment = make_enrolment(cast.a.company, lead=make_consenting_lead(cast.a.company, owner=cast.a.sdr1))
    sending.send_due()
    tracking.lead_unsubscribe(lead=enrolment.lead, message=LeadEmailActivity.objects.get())
    lead = lead_services.lead_update(actor=cast.a.admin, lead=Lead.objects.get(pk=enrolment.lead_id),
                                     data={"dnd": False})  # fmt: skip
    assert (lead.dnd, smtp_sink.count()) == (False, 1)
    return lead, enrolment


def test_an_unsubscribed_lead_gets_nothing_even_after_its_dnd_is_cleared(cast, smtp_sink):
    lead, enrolment = unsubscribed_lead(cast, smtp_sink)
    later = make_sequence(cast.a.company, steps=LATER)
    with pytest.raises(ValidationError) as refused:
        services.enrolment_create(actor=cast.a.admin, lead=lead, sequence=later, reason="again")
    assert refused.value.message_dict == {"lead": ["This lead unsubscribed: it receives no more emails."]}
    enrolment = raced(enrolment)
    result = sending.send_due(now=timezone.now() + timezone.timedelta(days=3))
    enrolment.refresh_from_db()
    assert (result.sent, result.stopped, smtp_sink.count()) == (0, 1, 1)
    assert (enrolment.state, enrolment.stop_reason) == (EnrolmentState.STOPPED, StopReason.UNSUBSCRIBED)
    assert LeadEmailActivity.objects.count() == 1


def test_enrolling_an_unsubscribed_lead_from_its_page_or_the_api_names_the_lead_and_changes_nothing(
    cast, smtp_sink, client_for
):
    lead, _ = unsubscribed_lead(cast, smtp_sink)
    later = make_sequence(cast.a.company, steps=LATER)
    page = client_for(cast.a.sdr1).post(
        reverse("nurturing:lead_enrol", kwargs={"company_slug": cast.a.company.slug, "lead_id": lead.pk}),
        {"sequence": later.pk},
    )
    assert messages_of(page) == ["Lead: This lead unsubscribed: it receives no more emails."]
    api = client_for(cast.a.sdr1).post(f"/api/companies/{cast.a.company.pk}/sequences/{later.pk}/enrolments",
                                       {"lead": lead.pk}, content_type="application/json")  # fmt: skip
    assert (api.status_code, api.json()) == (400, {"lead": ["This lead unsubscribed: it receives no more emails."]})
    assert not later.enrolments.exists()
    assert sending.send_due(now=timezone.now() + timezone.timedelta(days=6)).claimed == 0
    assert smtp_sink.count() == 1


def test_a_bounced_address_is_never_emailed_again_but_a_corrected_one_is(cast, smtp_sink):
    lead = make_consenting_lead(cast.a.company, email="gone@example.com")
    make_enrolment(cast.a.company, lead=lead)
    waiting = make_enrolment(cast.a.company, sequence=make_sequence(cast.a.company, steps=LATER), lead=lead)
    smtp_sink.refuse.add("gone@example.com")
    assert sending.send_due().bounced == 1
    fresh = make_sequence(cast.a.company, steps=LATER)
    with pytest.raises(ValidationError) as refused:
        services.enrolment_create(actor=cast.a.admin, lead=lead, sequence=fresh, reason="")
    assert refused.value.message_dict == {"lead": ["Email to this lead bounced."]}
    waiting = raced(waiting)
    result = sending.send_due()
    waiting.refresh_from_db()
    assert (result.claimed, result.stopped, waiting.stop_reason) == (0, 1, StopReason.BOUNCED)

    lead_services.lead_update(actor=cast.a.admin, lead=lead, data={"email": "found@example.com"})
    services.enrolment_create(actor=cast.a.admin, lead=lead, sequence=fresh, reason="address corrected")
    assert sending.send_due(now=timezone.now() + timezone.timedelta(days=5, minutes=1)).sent == 1
    assert [str(m["To"]) for m in smtp_sink.messages] == ["found@example.com"]
    assert list(LeadEmailActivity.objects.order_by("pk").values_list("to_email", "state")) == [
        ("gone@example.com", MessageState.BOUNCED), ("found@example.com", MessageState.SENT)]  # fmt: skip


def test_under_legitimate_interest_a_lead_without_consent_is_emailed_until_it_opts_out(cast, smtp_sink):
    legitimate_interest(cast.a.company)
    lead = make_consenting_lead(cast.a.company, gdpr_consent=False)
    enrolment = make_enrolment(cast.a.company, lead=lead)
    assert sending.send_due().sent == 1
    lead_services.lead_update(actor=cast.a.admin, lead=Lead.objects.get(pk=lead.pk), data={"dnd": True})
    later = sending.send_due(now=timezone.now() + timezone.timedelta(days=2, minutes=1))
    enrolment.refresh_from_db()
    assert (later.sent, later.stopped, smtp_sink.count()) == (0, 1, 1)
    assert (enrolment.state, enrolment.stop_reason) == (EnrolmentState.STOPPED, StopReason.DND)
