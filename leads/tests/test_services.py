from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from crm.models import Notification
from leads import services
from leads.models import Lead, LeadComment, StatusChange
from leads.profiles import lead_create_from_profile
from leads.testing.factories import make_campaign, make_comment, make_custom_field, make_lead, status
from leads.timeline import time_in_status


def errors_of(call, **kwargs):
    with pytest.raises(ValidationError) as error:
        call(**kwargs)
    return error.value.message_dict


def test_a_new_lead_is_normalised_and_starts_in_the_initial_status(cast):
    lead = make_lead(
        cast.a.company, cast.a.sdr1, first_name="  José ", last_name="Ñúñez", email=" Jose.Nunez@Example.COM ",
        phone="020 7946 0123", company_name="ACME, Ltd.", profile_url="http://www.LinkedIn.com/in/Jose-Nunez/?utm_source=x",
        lead_source="  Website  ",
    )  # fmt: skip
    lead.refresh_from_db()
    assert (lead.first_name, lead.email, lead.lead_source, lead.country) == (
        "José",
        "jose.nunez@example.com",
        "Website",
        "GB",
    )
    assert lead.email_key == "jose.nunez@example.com"
    assert lead.phone_key == "+442079460123"
    assert lead.company_key == "acme"
    assert lead.name_key == "jose nunez"
    assert lead.profile_url_key == "https://linkedin.com/in/jose-nunez"
    assert lead.status.key == "new"
    assert list(StatusChange.objects.filter(lead=lead).values_list("from_status", "to_status__key")) == [(None, "new")]
    history = lead.history.get()
    assert (history.history_change_reason, history.history_user) == ("leads.lead.created", cast.a.sdr1.user)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"email": "not-an-email"}, {"email": ["Enter a valid email address."]}),
        ({"phone": "12"}, {"phone": ["Enter a valid phone number for GB or in +country format."]}),
        ({"lead_source": "  "}, {"lead_source": ["Lead source is required."]}),
        ({"campaign": None}, {"campaign": ["Campaign is required."]}),
        (
            {"email": "", "phone": "", "profile_url": ""},
            {"__all__": ["Give at least one way to reach the lead: email, phone or profile URL."]},
        ),
        ({"custom_fields": {"shoe_size": 42}}, {"custom_fields.shoe_size": ["Unknown custom field 'shoe_size'."]}),
        ({"profile_url": "javascript:alert(1)"}, {"profile_url": ["Enter a valid http(s) URL."]}),
        ({"nickname": "Al"}, {"nickname": ["Unknown field."]}),
    ],
)
def test_bad_input_names_the_field_and_creates_nothing(cast, data, expected):
    valid = {
        "first_name": "Al",
        "email": "al@example.com",
        "lead_source": "Web",
        "campaign": make_campaign(cast.a.company),
    }
    errors = errors_of(services.lead_create, company=cast.a.company, actor=cast.a.sdr1, data={**valid, **data})
    assert errors == expected
    assert Lead.objects.count() == 0


def test_a_campaign_or_owner_of_another_company_is_refused(cast):
    other_campaign = make_campaign(cast.b.company, "Bravo campaign")
    data = {"email": "x@example.com", "lead_source": "Web", "campaign": other_campaign.pk, "owner": cast.b.sdr1.pk}
    errors = errors_of(services.lead_create, company=cast.a.company, actor=cast.a.admin, data=data)
    assert errors == {
        "campaign": ["Choose a valid campaign of this company."],
        "owner": ["Choose a valid owner of this company."],
    }


def test_custom_fields_are_validated_against_their_definitions(cast):
    company = cast.a.company
    make_custom_field(company, "seats", "number", required=True)
    make_custom_field(company, "renewal", "date")
    make_custom_field(company, "tier", "choice", choices=["gold", "silver"])
    make_custom_field(company, "churned", "bool")
    data = {"email": "c@example.com", "lead_source": "Web", "campaign": make_campaign(company)}
    errors = errors_of(services.lead_create, company=company, actor=cast.a.sdr1,
                       data={**data, "custom_fields": {"seats": "many", "renewal": "31/12/2026", "tier": "bronze", "churned": "perhaps"}})  # fmt: skip
    assert errors == {
        "custom_fields.seats": ["Seats: enter a number."],
        "custom_fields.renewal": ["Renewal: enter a date as YYYY-MM-DD."],
        "custom_fields.tier": ["Tier: choose one of gold, silver."],
        "custom_fields.churned": ["Churned: enter yes or no."],
    }
    missing = errors_of(services.lead_create, company=company, actor=cast.a.sdr1, data={**data, "custom_fields": {}})
    assert missing == {"custom_fields.seats": ["Seats is required."]}
    lead = services.lead_create(company=company, actor=cast.a.sdr1, data={**data, "custom_fields": {
        "seats": "50", "renewal": "2026-12-31", "tier": "gold", "churned": "no"}})  # fmt: skip
    assert lead.custom_fields == {"seats": 50, "renewal": "2026-12-31", "tier": "gold", "churned": False}


def test_allowed_transitions_move_the_lead_and_record_time_in_status(cast):
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1)
    lead = services.lead_transition(actor=cast.a.sdr1, lead=lead, to_status=status(cast.a.company, "contacted"))
    assert lead.status.key == "contacted"
    assert lead.first_response_at is not None
    assert lead.history.first().history_change_reason == "leads.lead.status_changed"
    assert [s.key for s, _seconds in time_in_status(lead)] == ["new", "contacted"]


def test_a_forbidden_transition_changes_nothing(cast):
    lead = make_lead(cast.a.company, cast.a.sdr1)
    before = (StatusChange.objects.count(), lead.history.count())
    errors = errors_of(
        services.lead_transition, actor=cast.a.sdr1, lead=lead, to_status=status(cast.a.company, "converted")
    )
    assert errors == {"status": ["A lead cannot move from New to Converted."]}
    lead.refresh_from_db()
    assert lead.status.key == "new"
    assert (StatusChange.objects.count(), lead.history.count()) == before


def test_a_transition_limited_to_managers_refuses_an_sdr(cast):
    lead = make_lead(cast.a.company, cast.a.sdr1)
    lead = services.lead_transition(
        actor=cast.a.sdr1, lead=lead, to_status=status(cast.a.company, "unqualified"), note="No budget"
    )
    errors = errors_of(services.lead_transition, actor=cast.a.sdr1, lead=lead,
                       to_status=status(cast.a.company, "disqualified"), note="spam")  # fmt: skip
    assert errors == {"status": ["Your role (SDR) may not move a lead from Unqualified to Disqualified."]}
    services.lead_transition(
        actor=cast.a.manager, lead=lead, to_status=status(cast.a.company, "disqualified"), note="spam"
    )
    assert Lead.objects.get(pk=lead.pk).status.key == "disqualified"


def test_a_required_note_is_enforced(cast):
    lead = make_lead(cast.a.company, cast.a.sdr1)
    errors = errors_of(
        services.lead_transition, actor=cast.a.sdr1, lead=lead, to_status=status(cast.a.company, "unqualified")
    )
    assert errors == {"note": ["A note is required to move from New to Unqualified."]}


def test_converted_is_final_and_irreversible(cast):
    lead = make_lead(cast.a.company, cast.a.admin)
    for key in ("contacted", "qualified", "converted"):  # the conversion service makes the last move
        lead = services.lead_transition(actor=cast.a.admin, lead=lead, to_status=status(cast.a.company, key),
                                        conversion=key == "converted")  # fmt: skip
    assert (lead.stage, lead.converted_at is not None) == ("converted", True)
    errors = errors_of(
        services.lead_transition, actor=cast.a.admin, lead=lead, to_status=status(cast.a.company, "recycled")
    )
    assert errors == {"status": ["Converted is final: the lead cannot change status any more."]}


def test_a_status_of_another_company_is_refused(cast):
    lead = make_lead(cast.a.company, cast.a.admin)
    errors = errors_of(
        services.lead_transition, actor=cast.a.admin, lead=lead, to_status=status(cast.b.company, "contacted")
    )
    assert errors == {"status": ["Choose a status of this company."]}


def test_update_through_status_uses_the_workflow(cast):
    lead = make_lead(cast.a.company, cast.a.admin)
    errors = errors_of(services.lead_update, actor=cast.a.admin, lead=lead,
                       data={"job_title": "CEO", "status": status(cast.a.company, "qualified").pk})  # fmt: skip
    assert errors == {"status": ["A lead cannot move from New to Qualified."]}
    lead.refresh_from_db()
    assert (lead.job_title, lead.status.key) == ("", "new")


def test_sdrs_cannot_reassign(cast):
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1)
    errors = errors_of(services.lead_update, actor=cast.a.sdr1, lead=lead, data={"owner": cast.a.manager})
    assert errors == {"owner": ["Only managers and admins assign leads."]}


def test_soft_delete_and_restore_by_a_manager(cast):
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1)
    services.lead_delete(actor=cast.a.sdr1, lead=lead)
    assert Lead.objects.get(pk=lead.pk).is_deleted is True
    with pytest.raises(PermissionDenied):
        services.lead_restore(actor=cast.a.sdr1, lead=lead)
    services.lead_restore(actor=cast.a.manager, lead=lead)
    restored = Lead.objects.get(pk=lead.pk)
    assert (restored.is_deleted, restored.history.first().history_change_reason) == (False, "leads.lead.restored")


def test_comments_are_sanitised_threaded_and_mentions_notify(cast):
    lead = make_lead(cast.a.company, cast.a.sdr1)
    comment = make_comment(
        lead, cast.a.sdr1, "<b>Hot</b> <script>alert(1)</script><img src=x onerror=alert(2)> cc @manager"
    )
    assert comment.body == "<b>Hot</b> alert(1) cc @manager"
    reply = make_comment(lead, cast.a.manager, "<i>On it</i>", parent=comment)
    assert reply.parent == comment
    notes = list(Notification.objects.values_list("recipient", "verb"))
    assert notes == [(cast.a.manager.pk, "leads.comment.mentioned")]


def test_a_reply_to_a_comment_of_another_lead_is_refused(cast):
    first, second = make_lead(cast.a.company, cast.a.sdr1), make_lead(cast.a.company, cast.a.sdr1)
    comment = make_comment(first, cast.a.sdr1)
    errors = errors_of(services.comment_create, actor=cast.a.sdr1, lead=second, body="hi", parent=comment.pk)
    assert errors == {"parent": ["You can only reply to a comment on this lead."]}
    assert LeadComment.objects.filter(lead=second).count() == 0


def test_an_empty_comment_is_refused(cast):
    lead = make_lead(cast.a.company, cast.a.sdr1)
    errors = errors_of(services.comment_create, actor=cast.a.sdr1, lead=lead, body="<script></script>  ")
    assert errors == {"body": ["Write something before posting."]}


def test_only_the_author_edits_or_deletes_a_comment(cast):
    lead = make_lead(cast.a.company, cast.a.sdr1)
    comment = make_comment(lead, cast.a.sdr1)
    with pytest.raises(PermissionDenied):
        services.comment_edit(actor=cast.a.manager, comment=comment, body="changed")
    edited = services.comment_edit(actor=cast.a.sdr1, comment=comment, body="<u>changed</u>")
    assert (edited.body, edited.edited_at is not None) == ("<u>changed</u>", True)
    with pytest.raises(PermissionDenied):
        services.comment_delete(actor=cast.a.admin, comment=comment)
    assert services.comment_delete(actor=cast.a.sdr1, comment=comment).is_deleted is True


def test_an_interaction_updates_last_activity(cast):
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1)
    activity = services.activity_log(actor=cast.a.sdr1, lead=lead, kind="call", subject="Intro", outcome="positive")
    lead.refresh_from_db()
    assert (activity.kind, activity.owner, lead.last_activity_at) == ("call", cast.a.sdr1, activity.occurred_at)
    assert activity.outcome == "positive"
    errors = errors_of(services.activity_log, actor=cast.a.sdr1, lead=lead, kind="system", subject="x")
    assert errors == {"kind": ["Choose one of call, email, meeting, note, whatsapp."]}


def test_an_interaction_with_an_unknown_outcome_is_refused_and_nothing_is_logged(cast):
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1)
    errors = errors_of(services.activity_log, actor=cast.a.sdr1, lead=lead, kind="call", subject="Intro",
                       outcome="connected")  # fmt: skip
    assert errors == {"outcome": ["Choose one of positive, negative, neutral, follow_up_required."]}
    assert lead.activities.count() == 0


def test_a_scraped_profile_becomes_a_lead_and_is_kept_whole(cast):
    profile = {
        "name": "Ana Maria Souza", "headline": "Head of Growth at Acme", "company": {"name": "Acme Ltd"},
        "location": "London", "profile_url": "https://www.linkedin.com/in/ana/", "skills": ["SaaS"],
        "experience": [{"title": "Growth", "company": "Acme"}], "scraped_at": "2026-11-20T10:00:00Z", "source": "linkedin",
    }  # fmt: skip
    lead = lead_create_from_profile(company=cast.a.company, actor=cast.a.sdr1, profile=profile,
                                    campaign=make_campaign(cast.a.company))  # fmt: skip
    lead.refresh_from_db()
    assert (lead.first_name, lead.last_name, lead.job_title, lead.company_name, lead.lead_source) == (
        "Ana",
        "Maria Souza",
        "Head of Growth",
        "Acme Ltd",
        "linkedin",
    )
    assert lead.profile_data == profile
    assert lead.history.get().history_change_reason == "leads.lead.created_from_profile"


def test_new_companies_get_the_seven_statuses(cast):
    keys = list(cast.a.company.lead_statuses.values_list("key", flat=True))
    assert keys == ["new", "contacted", "qualified", "unqualified", "converted", "recycled", "disqualified"]
    assert list(cast.a.company.lead_statuses.filter(is_terminal=True).values_list("key", flat=True)) == ["converted"]


def test_creating_in_a_later_status_goes_through_the_workflow(cast):
    base = {"email": "w@example.com", "lead_source": "Import", "campaign": make_campaign(cast.a.company)}
    errors = errors_of(services.lead_create, company=cast.a.company, actor=cast.a.sdr1,
                       data={**base, "status": status(cast.a.company, "qualified").pk})  # fmt: skip
    assert errors == {"status": ["A lead cannot move from New to Qualified."]}
    assert Lead.objects.count() == 0
    lead = services.lead_create(company=cast.a.company, actor=cast.a.sdr1,
                                data={**base, "status": status(cast.a.company, "contacted")})  # fmt: skip
    assert [c.to_status.key for c in lead.status_changes.order_by("id")] == ["new", "contacted"]


def test_an_sdr_may_own_a_new_lead_but_not_give_it_to_someone_else(cast):
    base = {"email": "o@example.com", "lead_source": "Web", "campaign": make_campaign(cast.a.company)}
    errors = errors_of(
        services.lead_create, company=cast.a.company, actor=cast.a.sdr1, data={**base, "owner": cast.a.sdr2}
    )
    assert errors == {"owner": ["Only managers and admins assign leads to someone else."]}
    lead = services.lead_create(company=cast.a.company, actor=cast.a.sdr1, data={**base, "owner": cast.a.sdr1})
    assert lead.owner == cast.a.sdr1


def test_a_lead_without_status_rows_has_been_in_its_status_since_it_was_made(cast, client_for):
    """Generated leads (``generate_leads``) have no StatusChange rows: the page still opens."""
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1)
    StatusChange.objects.filter(lead=lead).delete()
    made = timezone.now() - timedelta(hours=3)
    Lead.objects.filter(pk=lead.pk).update(status_changed_at=made)
    lead.refresh_from_db()
    assert [(s.key, round(seconds)) for s, seconds in time_in_status(lead, now=made + timedelta(hours=3))] == [
        ("new", 3 * 3600)
    ]
    page = client_for(cast.a.sdr1).get(f"/c/{cast.a.company.slug}/leads/{lead.pk}/")
    assert page.status_code == 200
