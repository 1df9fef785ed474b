"""Pausing and resuming an enrolment (the "paused" state of issue 15's model): nothing goes out while
paused, the gates are checked again on resume, a sender that read the enrolment before the pause
loses its claim; from the lead page and the API, within what the member sees."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from leads import services as lead_services
from nurturing import sending, services
from nurturing.models import EnrolmentState, LeadEmailActivity
from nurturing.testing.factories import make_consenting_lead, make_enrolment
from nurturing.tests.test_views import messages_of

pytestmark = pytest.mark.django_db


def test_nothing_is_sent_while_paused_and_the_next_step_goes_once_resumed(cast, smtp_sink):
    enrolment = make_enrolment(cast.a.company)
    sending.send_due()
    due = enrolment.sequence.steps.get(step_number=2)
    paused = services.enrolment_pause(actor=cast.a.admin, enrolment=enrolment)
    later = timezone.now() + dt.timedelta(days=3)
    assert (paused.state, sending.send_due(now=later).claimed, smtp_sink.count()) == (EnrolmentState.PAUSED, 0, 1)
    resumed = services.enrolment_resume(actor=cast.a.admin, enrolment=paused)
    assert resumed.state == EnrolmentState.ACTIVE
    assert resumed.next_send_at >= paused.next_send_at  # its time passed during the pause: the next run
    assert sending.send_due(now=later).sent == 1
    assert [str(m["Subject"]) for m in smtp_sink.messages] == ["Hello Lena", "Still there, Lena?"]
    assert LeadEmailActivity.objects.filter(step=due).count() == 1
    events = list(enrolment.lead.activities.filter(event__startswith="nurturing.enrolment.")
                  .order_by("pk").values_list("event", flat=True))  # fmt: skip
    assert events == ["nurturing.enrolment.started", "nurturing.enrolment.paused", "nurturing.enrolment.resumed"]
    assert resumed.history.first().history_change_reason == "nurturing.enrolment.resumed"


def test_a_sender_that_read_the_enrolment_before_the_pause_sends_nothing(cast, smtp_sink):
    enrolment = make_enrolment(cast.a.company)
    read_before = [(enrolment, sending.Outgoing(uid="u1", email=None, row=None,
                                                advance={"last_step_number": 1, "next_send_at": None}))]  # fmt: skip
    services.enrolment_pause(actor=cast.a.admin, enrolment=enrolment)
    assert sending._advance_all(read_before) == {enrolment.pk}  # its claim is dropped, the email never leaves


def test_resuming_checks_the_gates_again_and_only_running_enrolments_change(cast):
    enrolment = make_enrolment(cast.a.company)
    services.enrolment_pause(actor=cast.a.admin, enrolment=enrolment)
    lead_services.lead_update(actor=cast.a.admin, lead=enrolment.lead, data={"dnd": True})
    with pytest.raises(ValidationError) as refused:
        services.enrolment_resume(actor=cast.a.admin, enrolment=enrolment)
    assert refused.value.message_dict == {"lead": ["This lead is marked do-not-disturb."]}
    enrolment.refresh_from_db()
    assert enrolment.state == EnrolmentState.PAUSED
    with pytest.raises(ValidationError) as twice:
        services.enrolment_pause(actor=cast.a.admin, enrolment=enrolment)
    assert twice.value.message_dict == {"__all__": ["Only an active enrolment can be paused: this one is paused."]}
    stopped = services.enrolment_stop(actor=cast.a.admin, enrolment=enrolment)  # a paused one can be unenrolled
    with pytest.raises(ValidationError) as ended:
        services.enrolment_resume(actor=cast.a.admin, enrolment=stopped)
    assert ended.value.message_dict == {"__all__": ["Only a paused enrolment can be resumed: this one is stopped."]}


def lead_page_post(client, tenant, name, enrolment):
    return client.post(reverse(f"nurturing:{name}", kwargs={"company_slug": tenant.company.slug,
                                                             "enrolment_id": enrolment.pk}))  # fmt: skip


def test_an_sdr_pauses_and_resumes_from_the_lead_page_but_not_a_lead_out_of_sight(cast, client_for):
    mine = make_enrolment(cast.a.company, lead=make_consenting_lead(cast.a.company, owner=cast.a.sdr1))
    hidden = make_enrolment(cast.a.company, lead=make_consenting_lead(cast.a.company, owner=cast.a.sdr2))
    client = client_for(cast.a.sdr1)
    lead_url = reverse("leads:detail", kwargs={"company_slug": cast.a.company.slug, "lead_id": mine.lead_id})
    assert 'data-testid="pause"' in client.get(lead_url).content.decode()
    paused = lead_page_post(client, cast.a, "enrolment_pause", mine)
    assert (paused["Location"], messages_of(paused)) == (lead_url, ["Paused: no email of this sequence until it is "
                                                                    "resumed."])  # fmt: skip
    page = client.get(lead_url).content.decode()
    assert ("Welcome" in page, 'data-testid="resume"' in page, 'data-testid="pause"' in page) == (True, True, False)
    lead_page_post(client, cast.a, "enrolment_resume", mine)
    mine.refresh_from_db()
    assert mine.state == EnrolmentState.ACTIVE
    assert lead_page_post(client, cast.a, "enrolment_pause", hidden).status_code == 404
    assert lead_page_post(client_for(cast.b.admin), cast.b, "enrolment_pause", mine).status_code == 404
    hidden.refresh_from_db()
    assert hidden.state == EnrolmentState.ACTIVE


def test_pause_and_resume_through_the_api(cast, client_for):
    enrolment = make_enrolment(cast.a.company, lead=make_consenting_lead(cast.a.company, owner=cast.a.sdr1))
    client, base = client_for(cast.a.sdr1), f"/api/companies/{cast.a.company.pk}/enrolments/{enrolment.pk}"
    paused = client.post(f"{base}/pause")
    assert (paused.status_code, paused.json()["state"]) == (200, "paused")
    again = client.post(f"{base}/pause")
    assert (again.status_code, again.json()) == (
        400, {"non_field_errors": ["Only an active enrolment can be paused: this one is paused."]})  # fmt: skip
    resumed = client.post(f"{base}/resume")
    assert (resumed.status_code, resumed.json()["state"]) == (200, "active")
    assert client_for(cast.a.sdr2).post(f"{base}/pause").status_code == 404
