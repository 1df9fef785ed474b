"""The nurturing pages: the sequence list and builder, per-step statistics and chart, preview and
test send, manual and bulk enrolment. Each page: the happy path, 403 by role, 404 for another
company's objects, bad input as a field error with nothing changed; an N+1 test for the list."""

import html
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.models import Activity
from crm.permissions import permissions_for
from leads.models import BulkJob
from leads.testing.factories import make_lead
from nurturing import services
from nurturing.models import EmailSequence, Enrolment, EnrolmentState, LeadEmailActivity, MessageState, StopReason
from nurturing.preview import TEST_HEADER
from nurturing.testing.factories import STEP_ONE, STEP_TWO, make_consenting_lead, make_enrolment, make_sequence

pytestmark = pytest.mark.django_db


def url(name, tenant, **kwargs):
    return reverse(f"nurturing:{name}", kwargs={"company_slug": tenant.company.slug, **kwargs})


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())).strip())


def field_errors(response) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    pattern = r'<small class="field-error" role="alert" data-field="(\w+)">(.*?)</small>'
    for name, message in re.findall(pattern, response.content.decode()):
        found.setdefault(name, []).append(html.unescape(message))
    return found


def messages_of(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


# --- permissions by role -------------------------------------------------------------------------


def _pages(tenant):
    sequence = make_sequence(tenant.company)
    step = sequence.steps.first()
    ids = {"sequence_id": sequence.pk}
    return [
        ("sequence_list", {}, "nurturing.view"),
        ("sequence_create", {}, "nurturing.manage"),
        ("sequence_detail", ids, "nurturing.view"),
        ("sequence_edit", ids, "nurturing.manage"),
        ("step_create", ids, "nurturing.manage"),
        ("step_edit", {**ids, "step_id": step.pk}, "nurturing.manage"),
        ("step_preview", {**ids, "step_id": step.pk}, "nurturing.view"),
    ]


@pytest.mark.parametrize("role", ["admin", "manager", "sdr1"])
def test_each_page_answers_by_permission(cast, client_for, role):
    member = cast.a.member(role)
    client = client_for(member)
    for name, kwargs, permission in _pages(cast.a):
        response = client.get(url(name, cast.a, **kwargs))
        assert (name, response.status_code) == (name, 200 if permission in permissions_for(member.role) else 403)


@pytest.mark.parametrize(
    ("name", "extra"),
    [("sequence_activation", {}), ("sequence_edit", {}), ("step_create", {}), ("step_move", {"step": True}),
     ("step_activation", {"step": True}), ("step_test_send", {"step": True})],
)  # fmt: skip
def test_an_sdr_cannot_change_a_sequence(cast, client_for, name, extra):
    sequence = make_sequence(cast.a.company)
    step = sequence.steps.first()
    kwargs = {"sequence_id": sequence.pk, **({"step_id": step.pk} if extra else {})}
    data = {"is_active": "0", "direction": "down", "name": "Renamed", "subject": "x", "body": "y"}
    response = client_for(cast.a.sdr1).post(url(name, cast.a, **kwargs), data)
    assert response.status_code == 403
    sequence.refresh_from_db()
    assert (sequence.name, sequence.is_active, sequence.steps.count()) == (sequence.name, True, 2)
    assert list(sequence.steps.values_list("step_number", "is_active")) == [(1, True), (2, True)]


def test_another_companys_sequence_step_and_lead_are_404_inside_your_own(cast, client_for):
    theirs = make_sequence(cast.b.company, name="Bravo secret")
    step = theirs.steps.first()
    mine = make_sequence(cast.a.company)
    their_lead = make_consenting_lead(cast.b.company, first_name="Brunhilde")
    client = client_for(cast.a.admin)
    assert client.get(url("sequence_detail", cast.a, sequence_id=theirs.pk)).status_code == 404
    assert client.get(url("step_edit", cast.a, sequence_id=theirs.pk, step_id=step.pk)).status_code == 404
    # A step of another sequence is not reachable through one of yours.
    assert client.get(url("step_preview", cast.a, sequence_id=mine.pk, step_id=step.pk)).status_code == 404
    assert client.post(url("lead_enrol", cast.a, lead_id=their_lead.pk), {"sequence": mine.pk}).status_code == 404
    assert client.post(url("lead_enrol", cast.b, lead_id=their_lead.pk), {"sequence": theirs.pk}).status_code == 404
    assert Enrolment.objects.count() == 0


# --- the sequence list ---------------------------------------------------------------------------


def test_the_list_shows_the_companys_sequences_with_their_counts(cast, client_for):
    sequence = make_sequence(cast.a.company, name="Welcome")
    make_enrolment(cast.a.company, sequence=sequence)
    stopped = make_enrolment(cast.a.company, sequence=sequence)
    services.enrolment_stop(actor=None, enrolment=stopped)
    make_sequence(cast.a.company, name="Draft", steps=[], active=False)
    make_sequence(cast.b.company, name="Bravo only")
    response = client_for(cast.a.sdr1).get(url("sequence_list", cast.a))
    rows = [(s.name, s.step_count, s.running_count, s.sent_count, s.is_active) for s in response.context["sequences"]]
    assert rows == [("Draft", 0, 0, 0, False), ("Welcome", 2, 1, 0, True)]
    assert "Bravo only" not in text(response)
    assert "New sequence" not in text(response)  # an SDR reads, does not build


def test_the_list_runs_a_fixed_number_of_queries(cast, client_for, django_assert_num_queries):
    client = client_for(cast.a.manager)
    make_enrolment(cast.a.company)
    client.get(url("sequence_list", cast.a))  # warm the session
    with django_assert_num_queries(6) as one:
        client.get(url("sequence_list", cast.a))
    for _ in range(2):
        make_enrolment(cast.a.company, sequence=make_sequence(cast.a.company, trigger="status_changed",
                                                              trigger_status=cast.a.company.lead_statuses.first()))  # fmt: skip
    with django_assert_num_queries(len(one.captured_queries)):
        response = client.get(url("sequence_list", cast.a))
    assert len(response.context["sequences"]) == 3


def test_the_nav_links_to_the_sequences(cast, client_for):
    response = client_for(cast.a.sdr1).get(url("sequence_list", cast.a))
    assert f'href="{url("sequence_list", cast.a)}" data-testid="nav-sequences"' in response.content.decode()


# --- building a sequence -------------------------------------------------------------------------


def test_a_manager_creates_a_sequence_through_the_service(cast, client_for):
    response = client_for(cast.a.manager).post(url("sequence_create", cast.a), {
        "name": "Onboarding", "trigger": "score_threshold", "trigger_score": "60", "sender_name": "Ann"})  # fmt: skip
    sequence = EmailSequence.objects.get(company=cast.a.company)
    assert response.status_code == 302
    assert response["Location"] == url("sequence_detail", cast.a, sequence_id=sequence.pk)
    assert (sequence.name, sequence.trigger_score, sequence.is_active, sequence.created_by) == (
        "Onboarding", 60, False, cast.a.manager)  # fmt: skip
    assert sequence.history.get().history_change_reason == "nurturing.sequence.created"


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"name": "Taken", "trigger": "manual"}, {"name": ["A sequence with this name already exists."]}),
        ({"name": "New", "trigger": "score_threshold"}, {"trigger_score": ["Give the score that enrols a lead."]}),
        ({"name": "New", "trigger": "status_changed"}, {"trigger_status": ["Choose the status that enrols a lead."]}),
        ({"name": "New", "trigger": "score_threshold", "trigger_score": "101"},
         {"trigger_score": ["Ensure this value is less than or equal to 100."]}),
        ({"name": "", "trigger": "manual"}, {"name": ["This field is required."]}),
    ],
)  # fmt: skip
def test_bad_sequence_input_is_a_field_error_and_creates_nothing(cast, client_for, data, errors):
    make_sequence(cast.a.company, name="Taken")
    response = client_for(cast.a.admin).post(url("sequence_create", cast.a), data)
    assert (response.status_code, field_errors(response)) == (200, errors)
    assert list(EmailSequence.objects.values_list("name", flat=True)) == ["Taken"]


def test_a_status_of_another_company_is_not_a_choice(cast, client_for):
    foreign = cast.b.company.lead_statuses.first()
    response = client_for(cast.a.admin).post(url("sequence_create", cast.a), {
        "name": "New", "trigger": "status_changed", "trigger_status": foreign.pk})  # fmt: skip
    assert list(field_errors(response)) == ["trigger_status"]
    assert EmailSequence.objects.count() == 0


def test_editing_a_sequence_keeps_it_when_the_input_is_bad(cast, client_for):
    sequence = make_sequence(cast.a.company, name="Welcome")
    client = client_for(cast.a.manager)
    bad = client.post(
        url("sequence_edit", cast.a, sequence_id=sequence.pk), {"name": "Welcome", "trigger": "score_threshold"}
    )
    assert field_errors(bad) == {"trigger_score": ["Give the score that enrols a lead."]}
    good = client.post(url("sequence_edit", cast.a, sequence_id=sequence.pk), {"name": "Hello", "trigger": "manual"})
    sequence.refresh_from_db()
    assert (good.status_code, sequence.name, sequence.trigger) == (302, "Hello", "manual")
    form = client.get(url("sequence_edit", cast.a, sequence_id=sequence.pk)).context["form"]
    assert (form["name"].value(), form["trigger"].value()) == ("Hello", "manual")


def test_a_sequence_is_activated_only_once_it_has_a_step(cast, client_for):
    sequence = make_sequence(cast.a.company, steps=[], active=False)
    client = client_for(cast.a.manager)
    refused = client.post(url("sequence_activation", cast.a, sequence_id=sequence.pk), {"is_active": "1"})
    sequence.refresh_from_db()
    assert (sequence.is_active, messages_of(refused)) == (
        False,
        ["Is active: Add an active step before activating the sequence."],
    )
    added = client.post(url("step_create", cast.a, sequence_id=sequence.pk), STEP_ONE)
    assert added.status_code == 302
    client.post(url("sequence_activation", cast.a, sequence_id=sequence.pk), {"is_active": "1"})
    sequence.refresh_from_db()
    assert sequence.is_active is True
    client.post(url("sequence_activation", cast.a, sequence_id=sequence.pk), {"is_active": "0"})
    sequence.refresh_from_db()
    assert sequence.is_active is False


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        ({"delay_days": "-1"}, {"delay_days": ["A delay cannot be negative."]}),
        ({"delay_hours": "24"}, {"delay_hours": ["Ensure this value is less than or equal to 23."]}),
        ({"subject": "Hi {{ lead.owner.user.password }}"}, {"subject": [
            "Unknown merge field “lead.owner.user.password”. Use one of: first_name, last_name, full_name, email, "
            "job_title, company_name, owner_name, owner_email, owner_signature, our_company, unsubscribe_url."]}),
        ({"body": "{% load static %}"}, {"body": [
            "Template tag “{% load %}” is not allowed. Use merge fields and {% if field %}…{% else %}…{% endif %} only."]}),
        ({"subject": ""}, {"subject": ["This field is required."]}),
    ],
)  # fmt: skip
def test_bad_step_input_is_a_field_error_and_changes_nothing(cast, client_for, change, errors):
    sequence = make_sequence(cast.a.company, steps=[STEP_ONE])
    step = sequence.steps.get()
    client = client_for(cast.a.manager)
    created = client.post(url("step_create", cast.a, sequence_id=sequence.pk), {**STEP_TWO, **change})
    edited = client.post(url("step_edit", cast.a, sequence_id=sequence.pk, step_id=step.pk), {**STEP_ONE, **change})
    assert (field_errors(created), field_errors(edited)) == (errors, errors)
    assert list(sequence.steps.values_list("subject", "body", "delay_days")) == [
        (STEP_ONE["subject"], STEP_ONE["body"], 0)
    ]


def test_steps_are_added_in_order_edited_and_reordered(cast, client_for):
    sequence = make_sequence(cast.a.company, steps=[STEP_ONE], active=False)
    client = client_for(cast.a.admin)
    client.post(url("step_create", cast.a, sequence_id=sequence.pk), {**STEP_TWO, "delay_days": "3", "delay_hours": ""})
    first, second = sequence.steps.order_by("step_number")
    assert (second.step_number, second.delay_days, second.delay_hours) == (2, 3, 0)
    client.post(url("step_edit", cast.a, sequence_id=sequence.pk, step_id=second.pk),
                {**STEP_TWO, "subject": "Any news, {{ first_name }}?", "delay_days": "4"})  # fmt: skip
    moved = client.post(url("step_move", cast.a, sequence_id=sequence.pk, step_id=second.pk), {"direction": "up"})
    assert moved.status_code == 302
    assert list(sequence.steps.order_by("step_number").values_list("subject", "delay_days")) == [
        ("Any news, {{ first_name }}?", 4), (STEP_ONE["subject"], 0)]  # fmt: skip
    assert second.history.first().history_change_reason == "nurturing.step.moved"
    edge = client.post(url("step_move", cast.a, sequence_id=sequence.pk, step_id=second.pk), {"direction": "up"})
    assert messages_of(edge)[-1] == "This step is already the first."


def test_a_step_that_went_out_keeps_its_place(cast, client_for, smtp_sink):
    from nurturing import sending

    enrolment = make_enrolment(cast.a.company)
    sending.send_due()
    first, second = enrolment.sequence.steps.order_by("step_number")
    response = client_for(cast.a.admin).post(
        url("step_move", cast.a, sequence_id=enrolment.sequence_id, step_id=second.pk), {"direction": "up"}
    )
    assert messages_of(response) == [services.SENT_STEP_STAYS]
    assert list(enrolment.sequence.steps.order_by("step_number").values_list("pk", flat=True)) == [first.pk, second.pk]


def test_steps_are_deactivated_but_not_the_last_of_an_active_sequence(cast, client_for):
    sequence = make_sequence(cast.a.company)
    first, second = sequence.steps.order_by("step_number")
    client = client_for(cast.a.manager)
    client.post(url("step_activation", cast.a, sequence_id=sequence.pk, step_id=second.pk), {"is_active": "0"})
    refused = client.post(url("step_activation", cast.a, sequence_id=sequence.pk, step_id=first.pk), {"is_active": "0"})
    assert messages_of(refused)[-1] == (
        "Is active: This is the active sequence's last active step: deactivate the sequence first."
    )
    assert list(sequence.steps.order_by("step_number").values_list("is_active", flat=True)) == [True, False]


# --- statistics ----------------------------------------------------------------------------------


def _message(enrolment, step, state=MessageState.SENT, **marks):
    now = timezone.now()
    return LeadEmailActivity.objects.create(
        company_id=enrolment.company_id, enrolment=enrolment, lead_id=enrolment.lead_id,
        sequence_id=enrolment.sequence_id, step=step, uid=f"u{enrolment.pk}-{step.pk}", message_id="<x@y>",
        to_email="x@example.com", subject=step.subject, state=state, claim_token="t",
        sent_at=now if state == MessageState.SENT else None, **{f"{m}_at": now for m in marks},
    )  # fmt: skip


def test_per_step_statistics_with_rates_and_a_chart(cast, client_for):
    sequence = make_sequence(cast.a.company)
    first, second = sequence.steps.order_by("step_number")
    enrolments = [make_enrolment(cast.a.company, sequence=sequence) for _ in range(4)]
    _message(enrolments[0], first, opened=1, clicked=1)
    _message(enrolments[1], first, opened=1)
    _message(enrolments[2], first, opened=1, unsubscribed=1)
    _message(enrolments[3], first, state=MessageState.BOUNCED)
    _message(enrolments[0], second)
    make_enrolment(cast.b.company)  # leakable data elsewhere
    response = client_for(cast.a.sdr1).get(url("sequence_detail", cast.a, sequence_id=sequence.pk))
    rows = [item.rows for item in response.context["stats"]]
    assert rows == [
        [("Sent", 3, None), ("Opened", 3, 100.0), ("Clicked", 1, 33.3), ("Unsubscribed", 1, 33.3), ("Bounced", 1, 25.0)],
        [("Sent", 1, None), ("Opened", 0, 0.0), ("Clicked", 0, 0.0), ("Unsubscribed", 0, 0.0), ("Bounced", 0, 0.0)],
    ]  # fmt: skip
    page = response.content.decode()
    bars = re.findall(r'<rect class="bar bar-(\w+)"[^>]*height="([\d.]+)" data-metric="\w+" data-value="(\d+)"', page)
    assert [(metric, value) for metric, _h, value in bars] == [
        ("sent", "3"), ("opened", "3"), ("clicked", "1"), ("unsubscribed", "1"), ("bounced", "1"),
        ("sent", "1"), ("opened", "0"), ("clicked", "0"), ("unsubscribed", "0"), ("bounced", "0"),
    ]  # fmt: skip
    assert float(bars[0][1]) == 3 * float(bars[2][1]) > 0  # one scale for every bar
    assert "style=" not in page
    assert "<script>" not in page
    assert "Leads: 4 active · 0 paused · 0 completed · 0 stopped" in text(response)


def test_interrupted_emails_are_listed_for_review_to_those_who_see_the_lead(cast, client_for):
    sequence = make_sequence(cast.a.company)
    step = sequence.steps.first()
    mine = make_enrolment(cast.a.company, sequence=sequence, lead=make_consenting_lead(cast.a.company,
                          first_name="Mina", owner=cast.a.sdr1))  # fmt: skip
    theirs = make_enrolment(cast.a.company, sequence=sequence, lead=make_consenting_lead(cast.a.company,
                            first_name="Theo", owner=cast.a.sdr2))  # fmt: skip
    _message(mine, step, state=MessageState.UNKNOWN)
    _message(theirs, step, state=MessageState.UNKNOWN)
    sdr = text(client_for(cast.a.sdr1).get(url("sequence_detail", cast.a, sequence_id=sequence.pk)))
    assert "Mina" in sdr
    assert "Theo" not in sdr
    admin = client_for(cast.a.admin).get(url("sequence_detail", cast.a, sequence_id=sequence.pk))
    assert [m.lead.first_name for m in admin.context["review"]] == ["Theo", "Mina"]


# --- preview and test send -----------------------------------------------------------------------


def test_a_step_is_previewed_against_a_lead_you_can_see(cast, client_for):
    sequence = make_sequence(cast.a.company)
    step = sequence.steps.first()
    lead = make_consenting_lead(cast.a.company, first_name="Ann", owner=cast.a.sdr1)
    response = client_for(cast.a.sdr1).get(url("step_preview", cast.a, sequence_id=sequence.pk, step_id=step.pk),
                                           {"lead": lead.pk})  # fmt: skip
    rendered = response.context["rendered"]
    assert (rendered.subject, response.context["lead"]) == ("Hello Ann", lead)
    assert rendered.text == "Hi Ann, read our guide (https://example.com/guide?a=1&b=2).\n\nAlpha SDR One\nAlpha"
    assert 'href="https://example.com/guide?a=1&amp;b=2"' in response.content.decode()
    assert LeadEmailActivity.objects.count() == 0


def test_without_a_lead_the_preview_shows_the_merge_field_names(cast, client_for):
    sequence = make_sequence(cast.a.company)
    response = client_for(cast.a.sdr1).get(
        url("step_preview", cast.a, sequence_id=sequence.pk, step_id=sequence.steps.first().pk)
    )
    assert response.context["rendered"].subject == "Hello [first_name]"


@pytest.mark.parametrize("whose", ["other_sdr", "other_company", "missing"])
def test_previewing_against_a_lead_you_cannot_see_is_a_field_error_revealing_nothing(cast, client_for, whose):
    sequence = make_sequence(cast.a.company)
    owner = {"other_sdr": cast.a.sdr2, "other_company": None, "missing": cast.a.sdr2}[whose]
    company = cast.b.company if whose == "other_company" else cast.a.company
    hidden = make_consenting_lead(company, first_name="Hidalgo", owner=owner)
    lead_id = hidden.pk + 1000 if whose == "missing" else hidden.pk
    response = client_for(cast.a.sdr1).get(
        url("step_preview", cast.a, sequence_id=sequence.pk, step_id=sequence.steps.first().pk), {"lead": lead_id}
    )
    assert (response.status_code, field_errors(response)) == (200, {"lead": ["Choose a lead you can see."]})
    assert "Hidalgo" not in text(response)


def test_a_test_send_goes_to_yourself_only_and_is_not_recorded(cast, client_for, mailoutbox):
    sequence = make_sequence(cast.a.company, sender_name="Alpha Team", sender_email="team@alpha.test")
    step = sequence.steps.first()
    lead = make_consenting_lead(cast.a.company, first_name="Ann", email="ann@example.com", owner=cast.a.sdr1)
    activities = Activity.objects.count()
    response = client_for(cast.a.manager).post(
        url("step_test_send", cast.a, sequence_id=sequence.pk, step_id=step.pk), {"lead": lead.pk}
    )
    assert (
        response["Location"]
        == url("step_preview", cast.a, sequence_id=sequence.pk, step_id=step.pk) + f"?lead={lead.pk}"
    )
    [email] = mailoutbox
    assert (email.to, email.subject, email.from_email) == (
        [cast.a.manager.user.email], "[Test] Hello Ann", "Alpha Team <team@alpha.test>")  # fmt: skip
    assert email.extra_headers[TEST_HEADER] == "yes"
    assert email.body.startswith("This is a test of a sequence email: it was sent to you only")
    assert email.alternatives[0][1] == "text/html"
    assert (LeadEmailActivity.objects.count(), Activity.objects.count()) == (0, activities)
    assert messages_of(response) == [f"Test email sent to {cast.a.manager.user.email}."]


def test_a_test_send_against_a_lead_you_cannot_see_sends_nothing(cast, client_for, mailoutbox):
    sequence = make_sequence(cast.a.company)
    hidden = make_consenting_lead(cast.b.company)
    response = client_for(cast.a.manager).post(
        url("step_test_send", cast.a, sequence_id=sequence.pk, step_id=sequence.steps.first().pk), {"lead": hidden.pk}
    )
    assert (response.status_code, field_errors(response), mailoutbox) == (
        200, {"lead": ["Choose a lead you can see."]}, [])  # fmt: skip


# --- enrolment from the lead page ----------------------------------------------------------------


def lead_url(tenant, lead):
    return reverse("leads:detail", kwargs={"company_slug": tenant.company.slug, "lead_id": lead.pk})


def test_the_lead_page_offers_the_active_sequences_and_unenrol(cast, client_for):
    active = make_sequence(cast.a.company, name="Welcome")
    make_sequence(cast.a.company, name="Dormant", active=False)
    make_sequence(cast.b.company, name="Bravo only")
    lead = make_consenting_lead(cast.a.company, owner=cast.a.sdr1)
    enrolment = make_enrolment(cast.a.company, sequence=active, lead=lead)
    page = client_for(cast.a.sdr1).get(lead_url(cast.a, lead)).content.decode()
    assert re.findall(r'<option value="(\d+)">([^<]+)</option>', page.split('data-testid="enrol-sequence"')[1].split("</select>")[0]) == [
        (str(active.pk), "Welcome")]  # fmt: skip
    assert url("enrolment_stop", cast.a, enrolment_id=enrolment.pk) in page
    assert 'name="csrfmiddlewaretoken"' in page.split('data-testid="nurturing-panel"')[1]


def test_an_sdr_enrols_and_unenrols_a_lead_from_its_page(cast, client_for):
    sequence = make_sequence(cast.a.company, name="Welcome")
    lead = make_consenting_lead(cast.a.company, owner=cast.a.sdr1)
    client = client_for(cast.a.sdr1)
    enrolled = client.post(url("lead_enrol", cast.a, lead_id=lead.pk), {"sequence": sequence.pk})
    enrolment = Enrolment.objects.get()
    assert (enrolled["Location"], messages_of(enrolled)) == (lead_url(cast.a, lead), ["Enrolled in “Welcome”."])
    assert (enrolment.lead, enrolment.enrolled_by, enrolment.state) == (lead, cast.a.sdr1, EnrolmentState.ACTIVE)
    stopped = client.post(url("enrolment_stop", cast.a, enrolment_id=enrolment.pk))
    enrolment.refresh_from_db()
    assert (stopped["Location"], enrolment.state, enrolment.stop_reason) == (
        lead_url(cast.a, lead), EnrolmentState.STOPPED, StopReason.MANUAL)  # fmt: skip


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("dnd", "Lead: This lead is marked do-not-disturb."),
        ("no_consent", "Lead: This lead has not given consent (the company requires it)."),
        ("inactive", "Sequence: This sequence is inactive: activate it first."),
        ("foreign_sequence", "Sequence: Choose a sequence of this company."),
        ("garbage", "Sequence: Choose a sequence of this company."),
    ],
)
def test_enrolling_from_the_lead_page_refuses_with_a_message_and_changes_nothing(cast, client_for, case, message):
    lead = make_lead(cast.a.company, owner=cast.a.sdr1, gdpr_consent=case != "no_consent", dnd=case == "dnd")
    sequence = {
        "inactive": make_sequence(cast.a.company, active=False),
        "foreign_sequence": make_sequence(cast.b.company),
    }.get(case) or make_sequence(cast.a.company)
    value = "x1" if case == "garbage" else sequence.pk
    response = client_for(cast.a.sdr1).post(url("lead_enrol", cast.a, lead_id=lead.pk), {"sequence": value})
    assert (response.status_code, messages_of(response)) == (302, [message])
    assert Enrolment.objects.count() == 0


def test_a_lead_or_enrolment_you_cannot_see_is_404(cast, client_for):
    sequence = make_sequence(cast.a.company)
    hidden = make_consenting_lead(cast.a.company, owner=cast.a.sdr2)
    enrolment = make_enrolment(cast.a.company, sequence=sequence, lead=hidden)
    client = client_for(cast.a.sdr1)
    assert client.post(url("lead_enrol", cast.a, lead_id=hidden.pk), {"sequence": sequence.pk}).status_code == 404
    assert client.post(url("enrolment_stop", cast.a, enrolment_id=enrolment.pk)).status_code == 404
    enrolment.refresh_from_db()
    assert enrolment.state == EnrolmentState.ACTIVE


# --- bulk enrolment ------------------------------------------------------------------------------


def test_bulk_enrolment_of_selected_leads_is_one_job(cast, client_for):
    sequence = make_sequence(cast.a.company, name="Welcome")
    leads = [make_consenting_lead(cast.a.company, owner=cast.a.sdr1) for _ in range(3)]
    ids = ", ".join(str(lead.pk) for lead in leads)
    response = client_for(cast.a.sdr1).post(url("sequence_enrol_bulk", cast.a, sequence_id=sequence.pk), {"ids": ids})
    job = BulkJob.objects.get()
    assert response["Location"] == url("bulk_job", cast.a, sequence_id=sequence.pk, bulk_job_id=job.pk)
    assert (job.operation, job.status, job.result) == ("enrol", "succeeded", {"changed": 3, "operation": "enrol"})
    assert sorted(Enrolment.objects.values_list("lead_id", flat=True)) == sorted(lead.pk for lead in leads)
    assert set(Enrolment.objects.values_list("enrolled_by", "reason")) == {
        (cast.a.sdr1.pk, f"Bulk enrolment #{job.pk}")
    }
    assert Activity.objects.filter(event="nurturing.enrolment.started").count() == 3
    page = client_for(cast.a.sdr1).get(response["Location"])
    assert "Done: 3 leads changed." in text(page)


def test_one_lead_failing_a_gate_fails_the_job_naming_it_and_enrols_nobody(cast, client_for):
    sequence = make_sequence(cast.a.company)
    good = make_consenting_lead(cast.a.company, owner=cast.a.sdr1)
    dnd = make_consenting_lead(cast.a.company, owner=cast.a.sdr1, first_name="Dora", last_name="Quiet", dnd=True)
    enrolled = make_consenting_lead(cast.a.company, owner=cast.a.sdr1, first_name="Eve", last_name="Again")
    make_enrolment(cast.a.company, sequence=sequence, lead=enrolled)
    response = client_for(cast.a.sdr1).post(
        url("sequence_enrol_bulk", cast.a, sequence_id=sequence.pk), {"ids": f"{good.pk},{dnd.pk},{enrolled.pk}"}
    )
    job = BulkJob.objects.get()
    assert job.status == "failed"
    assert job.error == (f"2 lead(s) cannot make this change: #{dnd.pk} Dora Quiet (do not disturb); "
                         f"#{enrolled.pk} Eve Again (already in this sequence: active). Nothing was changed.")  # fmt: skip
    assert list(Enrolment.objects.values_list("lead_id", flat=True)) == [enrolled.pk]
    assert job.error in text(client_for(cast.a.sdr1).get(response["Location"]))


def test_bulk_enrolment_takes_a_view_or_a_filter_within_what_you_see(cast, client_for):
    sequence = make_sequence(cast.a.company)
    mine = [make_consenting_lead(cast.a.company, owner=cast.a.sdr1, country="GB") for _ in range(2)]
    make_consenting_lead(cast.a.company, owner=cast.a.sdr2, country="GB")  # not visible to sdr1
    client = client_for(cast.a.sdr1)
    client.post(url("sequence_enrol_bulk", cast.a, sequence_id=sequence.pk), {"view": "builtin:mine"})
    assert sorted(Enrolment.objects.values_list("lead_id", flat=True)) == [lead.pk for lead in mine]
    other = make_sequence(cast.a.company)
    client.post(url("sequence_enrol_bulk", cast.a, sequence_id=other.pk), {"filter": "country=GB"})
    assert sorted(other.enrolments.values_list("lead_id", flat=True)) == [lead.pk for lead in mine]


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({}, {"view": ["Choose one: a view, a filter or lead numbers."]}),
        ({"view": "builtin:mine", "ids": "1"}, {"view": ["Choose one: a view, a filter or lead numbers."]}),
        ({"ids": "12, x"}, {"ids": ["Give lead numbers separated by commas, such as 12, 15, 18."]}),
        ({"filter": "sort=score"}, {"filter": ["This filter names no lead-list filter (for example status=3&owner=me)."]}),
        ({"view": "saved:999"}, {"view": ["Select a valid choice. saved:999 is not one of the available choices."]}),
        ({"filter": "view=saved:999"}, {"view": ["This saved view no longer exists or is not shared with you."]}),
    ],
)  # fmt: skip
def test_bad_bulk_input_is_a_field_error_and_enrols_nobody(cast, client_for, data, errors):
    sequence = make_sequence(cast.a.company)
    make_consenting_lead(cast.a.company, owner=cast.a.sdr1)
    response = client_for(cast.a.sdr1).post(url("sequence_enrol_bulk", cast.a, sequence_id=sequence.pk), data)
    assert (response.status_code, field_errors(response)) == (200, errors)
    assert (BulkJob.objects.count(), Enrolment.objects.count()) == (0, 0)


def test_bulk_ids_you_cannot_see_and_a_bad_filter_value_are_named(cast, client_for):
    sequence = make_sequence(cast.a.company)
    hidden = make_consenting_lead(cast.a.company, owner=cast.a.sdr2)
    client = client_for(cast.a.sdr1)
    response = client.post(url("sequence_enrol_bulk", cast.a, sequence_id=sequence.pk), {"ids": str(hidden.pk)})
    assert field_errors(response) == {
        "ids": [f"1 lead(s) are not available to you: #{hidden.pk}. Nothing was changed."]
    }
    bad = client.post(url("sequence_enrol_bulk", cast.a, sequence_id=sequence.pk), {"filter": "score_min=lots"})
    assert list(field_errors(bad)) == ["filter"]
    assert field_errors(bad)["filter"][0].startswith("score_min: ")
    assert Enrolment.objects.count() == 0


def test_an_inactive_sequence_takes_no_bulk_enrolment(cast, client_for):
    sequence = make_sequence(cast.a.company, active=False)
    lead = make_consenting_lead(cast.a.company, owner=cast.a.sdr1)
    response = client_for(cast.a.sdr1).post(url("sequence_enrol_bulk", cast.a, sequence_id=sequence.pk),
                                            {"ids": str(lead.pk)})  # fmt: skip
    assert "This sequence is inactive: activate it first." in text(response)
    assert (BulkJob.objects.count(), Enrolment.objects.count()) == (0, 0)


def test_a_large_bulk_enrolment_runs_in_the_worker(cast, client_for, settings):
    settings.CRM_BULK_INLINE_LIMIT = 1  # django-q2 runs "sync" in tests: the queued task runs here
    sequence = make_sequence(cast.a.company)
    leads = [make_consenting_lead(cast.a.company, owner=cast.a.sdr1) for _ in range(2)]
    client_for(cast.a.sdr1).post(url("sequence_enrol_bulk", cast.a, sequence_id=sequence.pk),
                                 {"ids": f"{leads[0].pk},{leads[1].pk}"})  # fmt: skip
    assert (BulkJob.objects.get().status, sequence.enrolments.count()) == ("succeeded", 2)


def test_a_bulk_job_page_is_its_creators_or_an_admins(cast, client_for):
    sequence = make_sequence(cast.a.company)
    lead = make_consenting_lead(cast.a.company, owner=cast.a.sdr1)
    client_for(cast.a.sdr1).post(url("sequence_enrol_bulk", cast.a, sequence_id=sequence.pk), {"ids": str(lead.pk)})
    job_url = url("bulk_job", cast.a, sequence_id=sequence.pk, bulk_job_id=BulkJob.objects.get().pk)
    other = make_sequence(cast.a.company)
    wrong_sequence = url("bulk_job", cast.a, sequence_id=other.pk, bulk_job_id=BulkJob.objects.get().pk)
    assert client_for(cast.a.sdr2).get(job_url).status_code == 404
    assert client_for(cast.a.admin).get(job_url).status_code == 200
    assert client_for(cast.a.admin).get(wrong_sequence).status_code == 404


def test_bulk_enrolment_through_the_api(cast, client_for):
    sequence = make_sequence(cast.a.company)
    good = make_consenting_lead(cast.a.company, owner=cast.a.sdr1)
    dnd = make_consenting_lead(cast.a.company, owner=cast.a.sdr1, dnd=True)
    client = client_for(cast.a.sdr1)
    base = f"/api/companies/{cast.a.company.pk}/sequences/{sequence.pk}/enrol-bulk"
    failed = client.post(base, {"ids": [good.pk, dnd.pk]}, content_type="application/json")
    assert (failed.status_code, failed.json()["status"], Enrolment.objects.count()) == (200, "failed", 0)
    assert f"#{dnd.pk} " in failed.json()["error"]
    none = client.post(base, {}, content_type="application/json")
    assert (none.status_code, none.json()) == (400, {"ids": ["Give one of ids, filter or view."]})
    done = client.post(base, {"ids": [good.pk]}, content_type="application/json")
    assert (done.status_code, done.json()["status"], done.json()["total"]) == (200, "succeeded", 1)
    assert list(Enrolment.objects.values_list("lead_id", flat=True)) == [good.pk]
    foreign = f"/api/companies/{cast.a.company.pk}/sequences/{make_sequence(cast.b.company).pk}/enrol-bulk"
    assert client.post(foreign, {"ids": [good.pk]}, content_type="application/json").status_code == 404
