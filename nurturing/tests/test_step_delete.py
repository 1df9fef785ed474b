"""Deleting a step from the builder: a confirm page, POST only with CSRF, refused once an email went
out for the step; the later steps move up, and enrolments continue at the right step and time."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from nurturing import sending, services
from nurturing.models import EmailSequenceStep, Enrolment, EnrolmentState
from nurturing.testing.factories import make_enrolment, make_sequence
from nurturing.tests.test_views import messages_of, text

pytestmark = pytest.mark.django_db

STEPS = [
    {"subject": "First", "body": "<p>One</p>", "delay_days": 0},
    {"subject": "Second", "body": "<p>Two</p>", "delay_days": 2},
    {"subject": "Third", "body": "<p>Three</p>", "delay_days": 5},
]


def delete_url(step) -> str:
    return reverse("nurturing:step_delete", kwargs={"company_slug": step.sequence.company.slug,
                                                    "sequence_id": step.sequence_id, "step_id": step.pk})  # fmt: skip


def steps_of(sequence) -> list[tuple[int, str]]:
    return list(sequence.steps.order_by("step_number").values_list("step_number", "subject"))


# --- the page ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "expected"), [("admin", 200), ("manager", 200), ("sdr1", 403)])
def test_the_confirm_page_answers_by_role_and_deletes_nothing(cast, client_for, role, expected):
    sequence = make_sequence(cast.a.company, steps=STEPS)
    step = sequence.steps.get(step_number=2)
    response = client_for(cast.a.member(role)).get(delete_url(step))
    assert response.status_code == expected
    if expected == 200:
        assert "Delete step 2 “Second”? Welcome" in text(response)  # the heading, then the sequence
        assert 'data-testid="step-delete-form"' in response.content.decode()
    assert client_for(cast.a.sdr1).post(delete_url(step)).status_code == 403
    assert steps_of(sequence) == [(1, "First"), (2, "Second"), (3, "Third")]


def test_another_companys_step_is_404(cast, client_for):
    theirs = make_sequence(cast.b.company, steps=STEPS).steps.get(step_number=2)
    mine = make_sequence(cast.a.company)
    client = client_for(cast.a.admin)
    foreign = reverse("nurturing:step_delete", kwargs={"company_slug": "alpha", "sequence_id": mine.pk,
                                                       "step_id": theirs.pk})  # fmt: skip
    assert (client.get(foreign).status_code, client.post(foreign).status_code) == (404, 404)
    assert (client.get(delete_url(theirs)).status_code, client.post(delete_url(theirs)).status_code) == (404, 404)
    assert EmailSequenceStep.objects.filter(pk=theirs.pk).exists()


def test_the_builder_links_each_step_to_its_delete_page_for_builders_only(cast, client_for):
    sequence = make_sequence(cast.a.company)
    step = sequence.steps.first()
    detail = reverse("nurturing:sequence_detail", kwargs={"company_slug": "alpha", "sequence_id": sequence.pk})
    link = f'href="{delete_url(step)}" data-testid="step-delete"'
    assert link in client_for(cast.a.manager).get(detail).content.decode()
    assert link not in client_for(cast.a.sdr1).get(detail).content.decode()


def test_deleting_needs_a_post_with_a_csrf_token(cast, client_for):
    sequence = make_sequence(cast.a.company, steps=STEPS)
    step = sequence.steps.get(step_number=2)
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.a.manager.user)
    assert client.post(delete_url(step)).status_code == 403
    assert client_for(cast.a.manager).put(delete_url(step)).status_code == 405
    assert steps_of(sequence) == [(1, "First"), (2, "Second"), (3, "Third")]


def test_a_manager_deletes_a_step_and_the_later_ones_move_up(cast, client_for):
    sequence = make_sequence(cast.a.company, steps=STEPS)
    second, third = sequence.steps.get(step_number=2), sequence.steps.get(step_number=3)
    response = client_for(cast.a.manager).post(delete_url(second))
    assert response.status_code == 302
    assert response["Location"] == reverse("nurturing:sequence_detail", kwargs={"company_slug": "alpha",
                                                                                "sequence_id": sequence.pk})  # fmt: skip
    assert messages_of(response) == ["Step 2 deleted; the steps after it moved up."]
    assert steps_of(sequence) == [(1, "First"), (2, "Third")]
    assert list(third.history.values_list("history_change_reason", "step_number"))[:1] == [
        ("nurturing.step.renumbered", 2)
    ]
    assert second.history.first().history_change_reason == "nurturing.step.deleted"


def test_a_step_that_sent_an_email_is_not_deleted_the_message_says_deactivate(cast, client_for, smtp_sink):
    enrolment = make_enrolment(cast.a.company, sequence=make_sequence(cast.a.company, steps=STEPS))
    sending.send_due()
    first = enrolment.sequence.steps.get(step_number=1)
    client = client_for(cast.a.manager)
    page = client.get(delete_url(first))
    assert text(page).count(services.STEP_SENT_STAYS) == 1
    assert 'data-testid="step-delete-form"' not in page.content.decode()
    refused = client.post(delete_url(first))
    assert (refused.status_code, messages_of(refused)) == (302, [services.STEP_SENT_STAYS])
    assert services.STEP_SENT_STAYS == "This step has sent emails: deactivate it instead of deleting it."
    assert steps_of(enrolment.sequence) == [(1, "First"), (2, "Second"), (3, "Third")]


def test_deleting_the_last_active_step_deactivates_the_sequence(cast):
    sequence = make_sequence(cast.a.company, steps=STEPS[:1])
    services.step_delete(actor=cast.a.manager, step=sequence.steps.get())
    sequence.refresh_from_db()
    assert (sequence.is_active, steps_of(sequence)) == (False, [])


# --- enrolments continue -------------------------------------------------------------------------


def test_an_enrolment_waiting_for_the_deleted_step_gets_the_next_one_after_its_delay(cast, smtp_sink):
    sequence = make_sequence(cast.a.company, steps=STEPS)
    enrolment = make_enrolment(cast.a.company, sequence=sequence)
    assert sending.send_due().sent == 1  # "First"
    enrolment.refresh_from_db()
    first_sent = enrolment.messages.get().claimed_at
    assert (enrolment.last_step_number, enrolment.next_send_at) == (1, first_sent + dt.timedelta(days=2))
    services.step_delete(actor=cast.a.manager, step=sequence.steps.get(step_number=2))
    enrolment.refresh_from_db()
    assert (enrolment.last_step_number, enrolment.next_send_at) == (1, first_sent + dt.timedelta(days=5))
    assert sending.send_due(now=first_sent + dt.timedelta(days=2, minutes=1)).sent == 0
    assert sending.send_due(now=first_sent + dt.timedelta(days=5, minutes=1)).sent == 1
    enrolment.refresh_from_db()
    assert [m["Subject"] for m in smtp_sink.messages] == ["First", "Third"]
    assert (enrolment.state, enrolment.last_step_number) == (EnrolmentState.COMPLETED, 2)


def test_an_enrolment_past_the_deleted_step_keeps_its_place(cast, smtp_sink):
    steps = [*STEPS, {"subject": "Fourth", "body": "<p>Four</p>", "delay_days": 1}]
    sequence = make_sequence(cast.a.company, steps=steps)
    ahead = make_enrolment(cast.a.company, sequence=sequence)
    services.step_update(actor=cast.a.manager, step=sequence.steps.get(step_number=2), data={"is_active": False})
    start = timezone.now()
    sending.send_due(now=start)  # "First"; the inactive "Second" is skipped: "Third" is next
    sending.send_due(now=start + dt.timedelta(days=5, minutes=1))  # "Third"
    waiting = make_enrolment(cast.a.company, sequence=sequence)  # not started: "First" is next
    services.step_delete(actor=cast.a.manager, step=sequence.steps.get(subject="Second"))
    assert steps_of(sequence) == [(1, "First"), (2, "Third"), (3, "Fourth")]
    ahead.refresh_from_db()
    waiting.refresh_from_db()
    assert (ahead.last_step_number, waiting.last_step_number) == (2, 0)
    sending.send_due(now=start + dt.timedelta(days=6, minutes=2))  # "Fourth" for one, "First" for the other
    sending.send_due(now=start + dt.timedelta(days=20))  # and "Third", then "Fourth" for the other
    sending.send_due(now=start + dt.timedelta(days=40))
    by_lead = {}
    for message in smtp_sink.messages:
        by_lead.setdefault(str(message["To"]), []).append(str(message["Subject"]))
    assert by_lead == {ahead.lead.email: ["First", "Third", "Fourth"], waiting.lead.email: ["First", "Third", "Fourth"]}
    states = set(Enrolment.objects.values_list("state", "last_step_number"))
    assert states == {(EnrolmentState.COMPLETED, 3)}
