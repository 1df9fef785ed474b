"""The rest of the API's CRUD (a sequence read and changed, its steps listed, read, changed and
deleted, bad input naming the field, another company's objects 404) and a lead's sent messages."""

import pytest

from nurturing import sending
from nurturing.testing.factories import STEP_TWO, make_enrolment, make_sequence

pytestmark = pytest.mark.django_db

JSON = "application/json"


def test_steps_are_listed_read_changed_and_deleted_through_the_api(cast, client_for):
    sequence = make_sequence(cast.a.company, name="Welcome")
    first, second = sequence.steps.order_by("step_number")
    client, base = client_for(cast.a.manager), f"/api/companies/{cast.a.company.pk}/sequences/{sequence.pk}"
    read = client.get(base).json()
    assert (read["name"], [s["subject"] for s in read["steps"]]) == ("Welcome", [first.subject, second.subject])
    listed = client.get(f"{base}/steps").json()
    assert [(s["id"], s["step_number"], s["delay_days"]) for s in listed] == [(first.pk, 1, 0), (second.pk, 2, 2)]
    assert client.get(f"{base}/steps/{second.pk}").json()["subject"] == STEP_TWO["subject"]
    changed = client.patch(f"{base}/steps/{second.pk}", {"delay_days": 3, "delay_hours": 6}, content_type=JSON)
    assert (changed.status_code, changed.json()["delay_days"], changed.json()["delay_hours"]) == (200, 3, 6)
    renamed = client.patch(base, {"name": "Welcome back", "trigger": "lead_created"}, content_type=JSON)
    assert (renamed.json()["name"], renamed.json()["trigger"]) == ("Welcome back", "lead_created")
    assert client.delete(f"{base}/steps/{second.pk}").status_code == 204
    assert list(sequence.steps.values_list("pk", flat=True)) == [first.pk]
    assert second.history.first().history_change_reason == "nurturing.step.deleted"


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        ({"delay_hours": -1}, {"delay_hours": ["A delay cannot be negative."]}),
        ({"subject": "Hi {{ lead.email }}"}, {"subject": [
            "Unknown merge field “lead.email”. Use one of: first_name, last_name, full_name, email, job_title, "
            "company_name, owner_name, owner_email, owner_signature, our_company, unsubscribe_url."]}),
        ({"body": "{% include 'base.html' %}"}, {"body": [
            "Template tag “{% include %}” is not allowed. Use merge fields and {% if field %}…{% else %}…{% endif %} "
            "only."]}),
        ({"colour": "red"}, {"colour": ["Unknown field."]}),
    ],
)  # fmt: skip
def test_a_bad_step_change_is_400_naming_the_field_and_changes_nothing(cast, client_for, change, errors):
    sequence = make_sequence(cast.a.company)
    step = sequence.steps.get(step_number=2)
    response = client_for(cast.a.admin).patch(
        f"/api/companies/{cast.a.company.pk}/sequences/{sequence.pk}/steps/{step.pk}", change, content_type=JSON
    )
    assert (response.status_code, response.json()) == (400, errors)
    step.refresh_from_db()
    assert (step.subject, step.body, step.delay_hours) == (STEP_TWO["subject"], STEP_TWO["body"], 0)


def test_another_companys_sequence_and_steps_are_404_and_untouched(cast, client_for):
    theirs = make_sequence(cast.b.company, name="Bravo secret")
    step = theirs.steps.first()
    mine = make_sequence(cast.a.company)
    client, base = client_for(cast.a.admin), f"/api/companies/{cast.a.company.pk}/sequences"
    answers = [
        client.get(f"{base}/{theirs.pk}").status_code,
        client.patch(f"{base}/{theirs.pk}", {"name": "Mine now"}, content_type=JSON).status_code,
        client.get(f"{base}/{theirs.pk}/steps").status_code,
        client.get(f"{base}/{mine.pk}/steps/{step.pk}").status_code,  # their step under my sequence
        client.delete(f"{base}/{mine.pk}/steps/{step.pk}").status_code,
        client.get(f"/api/companies/{cast.b.company.pk}/sequences").status_code,
    ]
    assert answers == [404] * 6
    theirs.refresh_from_db()
    assert (theirs.name, theirs.steps.count()) == ("Bravo secret", 2)


def test_a_leads_sent_messages_with_their_tracking_state(cast, client_for, smtp_sink):
    enrolment = make_enrolment(cast.a.company)
    sending.send_due()
    body = client_for(cast.a.admin).get(f"/api/companies/{cast.a.company.pk}/leads/{enrolment.lead_id}/email-messages")
    [message] = body.json()["messages"]
    assert (message["subject"], message["state"], message["to_email"], message["opened_at"]) == (
        "Hello Lena", "sent", enrolment.lead.email, None)  # fmt: skip
    assert message["message_id"] == str(smtp_sink.messages[0]["Message-ID"])
    assert [(e["id"], e["last_step_number"]) for e in body.json()["enrolments"]] == [(enrolment.pk, 1)]
