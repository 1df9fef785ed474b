"""Manual assignment, claim and release; notifications after commit only, batched per owner."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from crm.models import Notification
from crm.services import membership_create
from crm.testing.factories import UserFactory
from leads import assignment
from leads.models import AssignmentKind, Lead, LeadAssignment
from leads.testing.factories import make_assignment_rule, make_lead, status


def errors_of(call, **kwargs):
    with pytest.raises(ValidationError) as error:
        call(**kwargs)
    return error.value.message_dict


@pytest.fixture
def pool_lead(cast):
    return make_lead(cast.a.company, cast.a.manager)


def test_a_manager_assigns_within_the_team_and_the_owner_hears_after_commit(
    cast, pool_lead, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assignment.lead_assign(actor=cast.a.manager, lead=pool_lead, owner=cast.a.sdr1, reason="Speaks Polish")
        assert (Notification.objects.count(), len(mailoutbox)) == (0, 0)  # nothing before commit

    assert len(callbacks) == 1
    lead = Lead.objects.get(pk=pool_lead.pk)
    assert (lead.owner, lead.assigned_at is not None) == (cast.a.sdr1, True)
    assert lead.history.latest("history_id").history_change_reason == (
        "leads.lead.assigned: Assigned to Alpha SDR One by Alpha Manager: Speaks Polish"
    )
    notification = Notification.objects.get()
    assert (notification.recipient, notification.text, notification.url) == (
        cast.a.sdr1, f"Alpha Manager assigned you {lead.display_name}", f"/c/alpha/leads/{lead.pk}/",
    )  # fmt: skip
    assert [(m.to, m.subject) for m in mailoutbox] == [
        (["sdr1@alpha.test"], f"[Alpha] Alpha Manager assigned you {lead.display_name}")
    ]
    assert "Why: Assigned to Alpha SDR One by Alpha Manager: Speaks Polish" in mailoutbox[0].body


def test_a_rolled_back_assignment_sends_nothing(cast, pool_lead, django_capture_on_commit_callbacks, mailoutbox):
    def failing_operation():
        with transaction.atomic():
            assignment.lead_assign(actor=cast.a.manager, lead=pool_lead, owner=cast.a.sdr1)
            raise RuntimeError("the surrounding operation failed")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        failing_operation()

    assert (Lead.objects.get(pk=pool_lead.pk).owner, Notification.objects.count(), mailoutbox) == (None, 0, [])
    assert LeadAssignment.objects.count() == 0


def test_a_rolled_back_savepoint_drops_only_its_own_assignment(cast, django_capture_on_commit_callbacks, mailoutbox):
    kept, dropped = make_lead(cast.a.company, cast.a.manager), make_lead(cast.a.company, cast.a.manager)

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        assignment.lead_assign(actor=cast.a.admin, lead=kept, owner=cast.a.sdr1)
        try:
            with transaction.atomic():
                assignment.lead_assign(actor=cast.a.admin, lead=dropped, owner=cast.a.sdr2)
                raise RuntimeError
        except RuntimeError:
            pass

    assert [m.to for m in mailoutbox] == [["sdr1@alpha.test"]]
    assert list(Notification.objects.values_list("recipient", flat=True)) == [cast.a.sdr1.pk]


def test_many_assignments_in_one_transaction_make_one_email_per_owner(
    cast, django_capture_on_commit_callbacks, mailoutbox
):
    leads = [make_lead(cast.a.company, cast.a.manager) for _ in range(3)]

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        for lead in leads:  # a bulk operation calling lead_assign in a loop
            assignment.lead_assign(actor=cast.a.admin, lead=lead, owner=cast.a.sdr2)

    assert [(m.to, m.subject) for m in mailoutbox] == [
        (["sdr2@alpha.test"], "[Alpha] Alpha Admin assigned you 3 leads")
    ]
    assert list(Notification.objects.values_list("text", "url")) == [
        ("Alpha Admin assigned you 3 leads", "/c/alpha/leads/queue/")
    ]


def test_a_retried_notification_sends_nothing_twice(cast, pool_lead, mailoutbox):
    assignment.lead_assign(actor=cast.a.manager, lead=pool_lead, owner=cast.a.sdr1)
    ids = list(LeadAssignment.objects.values_list("pk", flat=True))

    first, retry = assignment.notify_assignments(ids), assignment.notify_assignments(ids)

    assert (first, retry, len(mailoutbox), Notification.objects.count()) == (1, 0, 1, 1)


def test_bulk_reassign_checks_once_and_sends_one_email(cast, django_capture_on_commit_callbacks, mailoutbox):
    leads = [make_lead(cast.a.company, cast.a.manager, owner=cast.a.sdr1) for _ in range(3)]

    with django_capture_on_commit_callbacks(execute=True):
        moved = assignment.leads_assign_many(actor=cast.a.admin, leads=leads, owner=cast.a.manager, reason="cover")

    assert moved == 3
    assert set(Lead.objects.values_list("owner", flat=True)) == {cast.a.manager.pk}
    assert LeadAssignment.objects.filter(kind=AssignmentKind.MANUAL, previous_owner=cast.a.sdr1).count() == 3
    assert [m.to for m in mailoutbox] == [["manager@alpha.test"]]
    assert leads[0].history.latest("history_id").history_change_reason == (
        "leads.lead.assigned: Reassigned from Alpha SDR One to Alpha Manager by Alpha Admin: cover"
    )


def test_bulk_reassign_refuses_to_exceed_capacity(cast):
    leads = [make_lead(cast.a.company, cast.a.manager) for _ in range(3)]
    cast.a.sdr1.capacity = 2
    cast.a.sdr1.save()

    assert errors_of(assignment.leads_assign_many, actor=cast.a.manager, leads=leads, owner=cast.a.sdr1) == {
        "owner": ["Alpha SDR One has 0 of 2 open leads: 3 more would exceed the capacity."]
    }


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("sdr2", "Alpha SDR Two is not in your team: managers assign leads within their team."),
        ("inactive", "Ina is no longer active in this company."),
        ("unavailable", "Una is unavailable (on leave) and receives no new leads."),
        ("full", "Fay is at capacity (0 of 0 open leads)."),
        ("other company", "Choose a member of this company."),
    ],
)
def test_a_manager_cannot_assign_outside_the_team_or_to_someone_who_cannot_take_it(cast, pool_lead, who, expected):
    def member(name, **extra):
        user = UserFactory(email=f"{name.lower()}@alpha.test", full_name=name)
        return membership_create(company=cast.a.company, user=user, manager=cast.a.manager, **extra)

    owner = {
        "sdr2": lambda: cast.a.sdr2,  # reports to the admin, not to the manager
        "inactive": lambda: member("Ina"),
        "unavailable": lambda: member("Una", is_available=False),
        "full": lambda: member("Fay", capacity=0),
        "other company": lambda: cast.b.sdr1,
    }[who]()
    if who == "inactive":
        owner.is_active = False
        owner.save()

    assert errors_of(assignment.lead_assign, actor=cast.a.manager, lead=pool_lead, owner=owner) == {"owner": [expected]}
    assert Lead.objects.get(pk=pool_lead.pk).owner is None


def test_an_admin_assigns_anyone_in_the_company(cast, pool_lead):
    assignment.lead_assign(actor=cast.a.admin, lead=pool_lead, owner=cast.a.sdr2)

    assert Lead.objects.get(pk=pool_lead.pk).owner == cast.a.sdr2


def test_sdrs_cannot_assign(cast, pool_lead):
    with pytest.raises(PermissionDenied):
        assignment.lead_assign(actor=cast.a.sdr1, lead=pool_lead, owner=cast.a.sdr1)


def test_a_manager_cannot_take_a_lead_from_outside_the_team(cast):
    lead = make_lead(cast.a.company, cast.a.admin, owner=cast.a.sdr2)

    with pytest.raises(PermissionDenied):
        assignment.lead_assign(actor=cast.a.manager, lead=lead, owner=cast.a.sdr1)


def test_reassigning_restarts_the_response_clock(cast):
    lead = make_lead(cast.a.company, cast.a.manager, owner=cast.a.sdr1)
    from leads import services

    services.comment_create(actor=cast.a.sdr1, lead=lead, body="Called")
    assert Lead.objects.get(pk=lead.pk).first_response_at is not None

    assignment.lead_assign(actor=cast.a.manager, lead=lead, owner=cast.a.manager)

    assert Lead.objects.get(pk=lead.pk).first_response_at is None


# --- claim and release --------------------------------------------------------------------------


def test_an_sdr_claims_a_pool_lead_without_notifying_themselves(cast, pool_lead, mailoutbox):
    assignment.lead_claim(actor=cast.a.sdr1, lead=pool_lead)

    lead = Lead.objects.get(pk=pool_lead.pk)
    assert lead.owner == cast.a.sdr1
    assert lead.history.latest("history_id").history_change_reason == "leads.lead.claimed"
    entry = LeadAssignment.objects.get()
    assert (entry.kind, entry.reason) == (AssignmentKind.CLAIM, "Claimed from the pool by Alpha SDR One.")
    assert (Notification.objects.count(), mailoutbox) == (0, [])


def test_a_claim_stops_at_capacity(cast, pool_lead):
    cast.a.sdr1.capacity = 1
    cast.a.sdr1.save()
    make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1)

    assert errors_of(assignment.lead_claim, actor=cast.a.sdr1, lead=pool_lead) == {
        "__all__": ["You are at capacity (1 of 1 open leads): close or release one first."]
    }


def test_a_lead_someone_else_took_cannot_be_claimed(cast, pool_lead):
    assignment.lead_claim(actor=cast.a.sdr2, lead=pool_lead)

    assert errors_of(assignment.lead_claim, actor=cast.a.sdr1, lead=pool_lead) == {
        "__all__": ["Someone else took this lead first: it is no longer in the pool."]
    }


def test_held_and_closed_leads_cannot_be_claimed(cast):
    spam = make_lead(cast.a.company, cast.a.manager, first_name="Test", last_name="Test", email="x@mailinator.com")
    closed = make_lead(cast.a.company, cast.a.manager)
    from leads import services

    services.lead_transition(actor=cast.a.manager, lead=closed, to_status=status(cast.a.company, "disqualified"),
                             note="fake")  # fmt: skip

    assert errors_of(assignment.lead_claim, actor=cast.a.sdr1, lead=spam) == {"__all__": [assignment.services.HELD]}
    assert errors_of(assignment.lead_claim, actor=cast.a.sdr1, lead=closed) == {
        "__all__": ["Only open leads can be claimed; this one is Disqualified."]
    }


def test_the_owner_releases_a_lead_to_the_pool(cast):
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1)

    assignment.lead_release(actor=cast.a.sdr1, lead=lead, reason="Wrong region")

    lead = Lead.objects.get(pk=lead.pk)
    assert (lead.owner, lead.assigned_at) == (None, None)
    assert lead.history.latest("history_id").history_change_reason == "leads.lead.released"
    assert LeadAssignment.objects.get().reason == "Released to the pool by Alpha SDR One: Wrong region"


def test_an_sdr_cannot_release_someone_elses_lead(cast):
    lead = make_lead(cast.a.company, cast.a.admin, owner=cast.a.sdr2)

    with pytest.raises(PermissionDenied):
        assignment.lead_release(actor=cast.a.sdr1, lead=lead)


def test_releasing_a_pool_lead_says_it_is_already_there(cast, pool_lead):
    assert errors_of(assignment.lead_release, actor=cast.a.admin, lead=pool_lead) == {
        "__all__": ["This lead is already in the pool."]
    }


# --- spam review and team settings --------------------------------------------------------------


def test_clearing_a_held_lead_scores_it_and_sends_it_through_the_rules(cast):
    make_assignment_rule(cast.a.company, "Inbound", members=[cast.a.sdr1])
    lead = make_lead(cast.a.company, cast.a.manager, first_name="Asdf", last_name="Qwerty",
                     email="sales@mailinator.com", lead_source="referral")  # fmt: skip
    assert (lead.priority, lead.owner) == ("cold", None)

    assignment.lead_clear_spam(actor=cast.a.manager, lead=lead)

    lead = Lead.objects.get(pk=lead.pk)
    assert lead.owner == cast.a.sdr1
    assert lead.score_breakdown[-1]["rule"] == "Reviewed: not spam (Alpha Manager)"
    assert [e["kind"] for e in lead.score_breakdown].count("hold") == 0


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"capacity": -1}, {"capacity": ["Capacity cannot be below zero."]}),
        ({"capacity": "many"}, {"capacity": ["Capacity must be a whole number."]}),
        ({"shoe_size": 42}, {"shoe_size": ["Unknown field."]}),
    ],
)
def test_bad_capacity_is_refused(cast, data, expected):
    assert errors_of(assignment.member_assignment_update, actor=cast.a.manager, member=cast.a.sdr1, data=data) == (
        expected
    )


def test_a_manager_sets_capacity_availability_territory_and_skills_of_the_team(cast):
    data = {"capacity": 30, "is_available": False, "territory": "DACH", "skills": ["de", " en "]}

    member = assignment.member_assignment_update(actor=cast.a.manager, member=cast.a.sdr1, data=data)

    member.refresh_from_db()
    assert (member.capacity, member.is_available, member.territory, member.skills) == (30, False, "DACH", ["de", "en"])
    with pytest.raises(PermissionDenied):
        assignment.member_assignment_update(actor=cast.a.manager, member=cast.a.sdr2, data={"capacity": 1})
