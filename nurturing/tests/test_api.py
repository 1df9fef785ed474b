"""The nurturing API: sequences and steps CRUD, enrol / unenrol, a lead's messages; field-named 400s,
403 by role, 404 across companies and for leads out of sight."""

import pytest

from nurturing.models import EmailSequence, Enrolment
from nurturing.testing.factories import STEP_ONE, make_consenting_lead, make_enrolment, make_sequence

pytestmark = pytest.mark.django_db


def api(client_for, member):
    client = client_for(member)
    base = f"/api/companies/{member.company_id}"
    return client, base


def test_a_manager_builds_and_activates_a_sequence_through_the_api(cast, client_for):
    client, base = api(client_for, cast.a.manager)
    created = client.post(f"{base}/sequences", {"name": "Welcome"}, content_type="application/json")
    assert (created.status_code, created.json()["is_active"], created.json()["steps"]) == (201, False, [])
    sequence_id = created.json()["id"]
    step = client.post(f"{base}/sequences/{sequence_id}/steps", STEP_ONE, content_type="application/json")
    assert (step.status_code, step.json()["step_number"]) == (201, 1)
    active = client.patch(f"{base}/sequences/{sequence_id}", {"is_active": True}, content_type="application/json")
    assert (active.status_code, active.json()["is_active"], len(active.json()["steps"])) == (200, True, 1)


def test_bad_steps_are_400_naming_the_field_and_change_nothing(cast, client_for):
    client, base = api(client_for, cast.a.admin)
    sequence = make_sequence(cast.a.company, steps=[], active=False)
    url = f"{base}/sequences/{sequence.pk}/steps"
    negative = client.post(url, {**STEP_ONE, "delay_days": -2}, content_type="application/json")
    assert (negative.status_code, negative.json()) == (400, {"delay_days": ["A delay cannot be negative."]})
    tag = client.post(url, {**STEP_ONE, "body": "{% load static %}"}, content_type="application/json")
    assert tag.status_code == 400
    assert list(tag.json()) == ["body"]
    assert sequence.steps.count() == 0


def test_sdrs_read_and_enrol_but_do_not_build(cast, client_for):
    client, base = api(client_for, cast.a.sdr1)
    assert client.get(f"{base}/sequences").status_code == 200
    assert client.post(f"{base}/sequences", {"name": "x"}, content_type="application/json").status_code == 403
    sequence = make_sequence(cast.a.company)
    lead = make_consenting_lead(cast.a.company, owner=cast.a.sdr1)
    enrolled = client.post(f"{base}/sequences/{sequence.pk}/enrolments", {"lead": lead.pk},
                           content_type="application/json")  # fmt: skip
    assert (enrolled.status_code, enrolled.json()["state"]) == (201, "active")
    stopped = client.post(f"{base}/enrolments/{enrolled.json()['id']}/stop")
    assert (stopped.status_code, stopped.json()["stop_reason"]) == (200, "manual")


def test_enrolling_a_lead_you_cannot_see_or_of_another_company_is_refused(cast, client_for):
    client, base = api(client_for, cast.a.sdr1)
    sequence = make_sequence(cast.a.company)
    hidden = make_consenting_lead(cast.a.company, owner=cast.a.sdr2)
    foreign = make_consenting_lead(cast.b.company)
    url = f"{base}/sequences/{sequence.pk}/enrolments"
    response = client.post(url, {"lead": hidden.pk}, content_type="application/json")
    assert (response.status_code, response.json()) == (400, {"lead": ["Choose a lead you can see."]})
    response = client.post(url, {"lead": foreign.pk}, content_type="application/json")
    assert (response.status_code, response.json()) == (400, {"lead": ["Choose a valid lead of this company."]})
    foreign_sequence = make_sequence(cast.b.company)
    other = client.post(f"{base}/sequences/{foreign_sequence.pk}/enrolments", {"lead": hidden.pk},
                        content_type="application/json")  # fmt: skip
    assert other.status_code == 404
    assert not Enrolment.objects.exists()


def test_a_leads_messages_and_enrolments(cast, client_for):
    enrolment = make_enrolment(cast.a.company)
    client, base = api(client_for, cast.a.admin)
    body = client.get(f"{base}/leads/{enrolment.lead_id}/email-messages").json()
    assert [e["id"] for e in body["enrolments"]] == [enrolment.pk]
    assert body["messages"] == []


def test_a_sequence_that_sent_cannot_be_deleted_but_a_fresh_one_can(cast, client_for):
    client, base = api(client_for, cast.a.admin)
    sequence = make_sequence(cast.a.company)
    assert client.delete(f"{base}/sequences/{sequence.pk}").status_code == 204
    assert not EmailSequence.objects.exists()


def test_the_lead_page_shows_its_enrolments_and_sequence_emails(cast, client_for, smtp_sink):
    from nurturing import sending

    enrolment = make_enrolment(cast.a.company)
    sending.send_due()
    page = client_for(cast.a.admin).get(f"/c/{cast.a.company.slug}/leads/{enrolment.lead_id}/")
    content = page.content.decode()
    assert page.status_code == 200
    assert f"{enrolment.sequence.name}: Active" in content
    assert "<td>Hello Lena</td><td>Sent</td>" in content
