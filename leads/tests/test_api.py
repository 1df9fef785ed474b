import json

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from playwright.sync_api import expect
from rest_framework.test import APIClient

from crm.models import Activity, Notification
from crm.testing.auth import api_key_for
from crm.testing.factories import TEST_PASSWORD
from leads.api import LeadInputSerializer
from leads.models import Lead, LeadComment, StatusChange
from leads.services import EDITABLE_FIELDS, lead_delete
from leads.testing.factories import make_campaign, make_comment, make_custom_field, make_lead, status

NOT_FOUND = {"detail": "Not found."}
NO_CONTACT = {"non_field_errors": ["Give at least one way to reach the lead: email, phone or profile URL."]}
FORM = "application/x-www-form-urlencoded"
FORBIDDEN = {"detail": "You do not have permission to perform this action."}


def api_for(membership) -> APIClient:
    client = APIClient()
    client.force_authenticate(membership.user)
    return client


def url(company, path: str = "leads") -> str:
    return f"/api/companies/{company.pk}/{path}"


def iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def new_lead_data(company, **extra) -> dict:
    return {
        "first_name": "Ana",
        "last_name": "Souza",
        "email": "Ana@Acme.example",
        "lead_source": "Partner",
        "campaign": make_campaign(company).pk,
        **extra,
    }


# --- create, read, update, delete ----------------------------------------------------------------


def test_an_sdr_creates_a_lead_that_goes_through_the_service(cast):
    response = api_for(cast.a.sdr1).post(url(cast.a.company), new_lead_data(cast.a.company), format="json")

    assert response.status_code == 201
    lead = Lead.objects.get()
    body = response.json()
    assert {key: body[key] for key in ("id", "email", "country", "status_name", "owner", "campaign_name")} == {
        "id": lead.pk,
        "email": "ana@acme.example",
        "country": "GB",
        "status_name": "New",
        "owner": None,
        "campaign_name": "Test campaign",
    }
    assert (lead.company, lead.created_by, lead.email_key) == (cast.a.company, cast.a.sdr1, "ana@acme.example")
    assert lead.history.get().history_change_reason == "leads.lead.created"


def test_a_lead_created_in_a_later_status_answers_with_that_status(cast):
    data = new_lead_data(cast.a.company, status=status(cast.a.company, "contacted").pk)

    response = api_for(cast.a.sdr1).post(url(cast.a.company), data, format="json")

    assert response.status_code == 201
    assert response.json()["status_name"] == "Contacted"
    assert Lead.objects.get().status.key == "contacted"


def test_reading_a_lead_gives_every_documented_field(cast):
    lead = make_lead(
        cast.a.company,
        cast.a.manager,
        first_name="Ana",
        last_name="Souza",
        email="ana@acme.example",
        phone="+44 20 7946 0000",
        job_title="Head of Growth",
        owner=cast.a.sdr1,
        custom_fields={},
    )
    lead.refresh_from_db()

    response = api_for(cast.a.sdr1).get(url(cast.a.company, f"leads/{lead.pk}"))

    assert response.status_code == 200
    assert response.json() == {
        "id": lead.pk,
        "first_name": "Ana",
        "last_name": "Souza",
        "email": "ana@acme.example",
        "phone": "+44 20 7946 0000",
        "country": "GB",
        "job_title": "Head of Growth",
        "company_name": "",
        "profile_url": "",
        "profile_data": {},
        "lead_source": "Website",
        "campaign": lead.campaign_id,
        "campaign_name": "Test campaign",
        "medium": "",
        "term": "",
        "owner": cast.a.sdr1.pk,
        "owner_name": "Alpha SDR One",
        "status": lead.status_id,
        "status_name": "New",
        "stage": "awareness",
        "score": 10,  # the seed's default scoring rules: website source
        "priority": "cold",
        "interest_product": "",
        "budget_range": "",
        "authority_level": "",
        "need": "",
        "timeline": "",
        "gdpr_consent": False,
        "dnd": False,
        "opt_in_date": None,
        "spam_score": 40,  # acme.example is a reserved, undeliverable domain
        "validation_status": "invalid",
        "custom_fields": {},
        "created_at": iso(lead.created_at),
        "updated_at": iso(lead.updated_at),
        "assigned_at": iso(lead.assigned_at),
        "status_changed_at": iso(lead.status_changed_at),
        "first_response_at": None,
        "last_activity_at": None,
        "converted_at": None,
    }


def test_patch_changes_only_the_fields_it_is_given(cast):
    lead = make_lead(cast.a.company, job_title="CTO", phone="+44 20 7946 0000")

    response = api_for(cast.a.sdr1).patch(url(cast.a.company, f"leads/{lead.pk}"), {"job_title": "CEO"}, format="json")

    assert response.status_code == 200
    lead.refresh_from_db()
    assert (response.json()["job_title"], lead.job_title, lead.phone) == ("CEO", "CEO", "+44 20 7946 0000")
    assert lead.history.first().history_change_reason == "leads.lead.changed"
    assert lead.history.first().history_user == cast.a.sdr1.user


def test_put_needs_the_required_fields(cast):
    lead = make_lead(cast.a.company)

    response = api_for(cast.a.sdr1).put(url(cast.a.company, f"leads/{lead.pk}"), {"job_title": "CEO"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"lead_source": ["This field is required."], "campaign": ["This field is required."]}
    lead.refresh_from_db()
    assert lead.job_title == ""


def test_put_accepts_a_lead_as_it_was_read(cast):
    lead = make_lead(cast.a.company)
    client = api_for(cast.a.sdr1)
    representation = client.get(url(cast.a.company, f"leads/{lead.pk}")).json()

    response = client.put(
        url(cast.a.company, f"leads/{lead.pk}"), {**representation, "lead_source": "Referral"}, format="json"
    )

    assert response.status_code == 200
    lead.refresh_from_db()
    assert (response.json()["lead_source"], lead.lead_source) == ("Referral", "Referral")


def test_delete_is_a_soft_delete_that_a_manager_restores(cast):
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1)
    sdr, manager = api_for(cast.a.sdr1), api_for(cast.a.manager)

    deleted = sdr.delete(url(cast.a.company, f"leads/{lead.pk}"))
    after_delete = sdr.get(url(cast.a.company, f"leads/{lead.pk}"))
    refused = sdr.post(url(cast.a.company, f"leads/{lead.pk}/restore"))
    restored = manager.post(url(cast.a.company, f"leads/{lead.pk}/restore"))
    again = manager.post(url(cast.a.company, f"leads/{lead.pk}/restore"))

    assert (deleted.status_code, deleted.content) == (204, b"")
    assert (after_delete.status_code, after_delete.json()) == (404, NOT_FOUND)
    assert (refused.status_code, refused.json()) == (403, FORBIDDEN)
    assert (restored.status_code, restored.json()["id"]) == (200, lead.pk)
    assert (again.status_code, again.json()) == (400, {"non_field_errors": ["This lead is not deleted."]})
    reasons = list(lead.history.order_by("history_date").values_list("history_change_reason", flat=True))
    assert reasons == ["leads.lead.created", "leads.lead.deleted", "leads.lead.restored"]


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        ({"email": "ana@"}, {"email": ["Enter a valid email address."]}),
        ({"phone": "12"}, {"phone": ["Enter a valid phone number for GB or in +country format."]}),
        ({"campaign": None}, {"campaign": ["This field may not be null."]}),
        ({"campaign": "abc"}, {"campaign": ["Choose a valid campaign of this company."]}),
        ({"lead_source": ""}, {"lead_source": ["Lead source is required."]}),
        ({"custom_fields": {"budget": 10}}, {"custom_fields.budget": ["Unknown custom field 'budget'."]}),
        ({"custom_fields": ["budget"]}, {"custom_fields.__all__": ["Custom fields must be an object of key: value."]}),
        ({"profile_data": "ana"}, {"profile_data": ["Profile data must be a JSON object."]}),
        ({"email": ""}, NO_CONTACT),
        ({"first_name": "x" * 101}, {"first_name": ["Ensure this value has at most 100 characters (it has 101)."]}),
        ({"favourite_colour": "teal"}, {"favourite_colour": ["Unknown field."]}),
        ({"status": "contacted"}, {"status": ["Choose a valid status of this company."]}),
        ({"stage": "won"}, {"stage": ["Choose one of awareness, consideration, decision, converted."]}),
        ({"gdpr_consent": "maybe"}, {"gdpr_consent": ["Must be a valid boolean."]}),
    ],
)
def test_bad_lead_input_is_a_400_naming_the_field(change, errors, cast):
    response = api_for(cast.a.sdr1).post(
        url(cast.a.company), {**new_lead_data(cast.a.company), **change}, format="json"
    )

    assert (response.status_code, response.json()) == (400, errors)
    assert Lead.objects.count() == 0


def test_missing_campaign_and_lead_source_are_named(cast):
    response = api_for(cast.a.sdr1).post(url(cast.a.company), {"email": "ana@acme.example"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"lead_source": ["This field is required."], "campaign": ["This field is required."]}


def test_a_campaign_or_status_of_another_company_is_refused(cast):
    data = new_lead_data(cast.a.company, campaign=make_campaign(cast.b.company).pk)
    other_status = status(cast.b.company, "contacted").pk

    wrong_campaign = api_for(cast.a.sdr1).post(url(cast.a.company), data, format="json")
    wrong_status = api_for(cast.a.sdr1).post(
        url(cast.a.company), new_lead_data(cast.a.company, status=other_status), format="json"
    )

    assert wrong_campaign.json() == {"campaign": ["Choose a valid campaign of this company."]}
    assert wrong_status.json() == {"status": ["Choose a valid status of this company."]}
    assert (wrong_campaign.status_code, wrong_status.status_code, Lead.objects.count()) == (400, 400, 0)


def test_an_sdr_cannot_hand_a_lead_to_someone_else(cast):
    lead = make_lead(cast.a.company, owner=cast.a.sdr1)

    response = api_for(cast.a.sdr1).patch(
        url(cast.a.company, f"leads/{lead.pk}"), {"owner": cast.a.sdr2.pk}, format="json"
    )

    assert (response.status_code, response.json()) == (400, {"owner": ["Only managers and admins assign leads."]})
    lead.refresh_from_db()
    assert lead.owner == cast.a.sdr1


JSON_ERROR = "JSON parse error - Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"


def test_malformed_json_is_a_400(cast):
    response = api_for(cast.a.sdr1).post(url(cast.a.company), "{not json", content_type="application/json")

    assert (response.status_code, response.json()) == (400, {"detail": JSON_ERROR})


def test_a_json_body_that_is_not_an_object_is_a_400(cast):
    response = api_for(cast.a.sdr1).post(url(cast.a.company), [1, 2], format="json")

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}


def test_only_json_bodies_are_accepted(cast):
    response = api_for(cast.a.sdr1).post(url(cast.a.company), "email=ana%40acme.example", content_type=FORM)

    assert response.status_code == 415
    assert response.json() == {"detail": f'Unsupported media type "{FORM}" in request.'}
    assert Lead.objects.count() == 0


def test_the_input_serializer_takes_exactly_the_services_editable_fields():
    assert set(LeadInputSerializer().fields) == {*EDITABLE_FIELDS, "status", "status_note", "allow_duplicates"}


# --- status workflow -----------------------------------------------------------------------------


def test_an_allowed_transition_moves_the_lead_and_records_it(cast):
    lead = make_lead(cast.a.company, owner=cast.a.sdr1)
    contacted = status(cast.a.company, "contacted")

    response = api_for(cast.a.sdr1).post(
        url(cast.a.company, f"leads/{lead.pk}/transition"),
        {"status": contacted.pk, "note": "Spoke to her"},
        format="json",
    )

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["status_name"]) == (contacted.pk, "Contacted")
    change = StatusChange.objects.filter(lead=lead).last()
    assert (change.from_status.key, change.to_status, change.changed_by, change.note) == (
        "new",
        contacted,
        cast.a.sdr1,
        "Spoke to her",
    )


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"status": "converted"}, {"status": ["A lead cannot move from New to Converted."]}),
        ({"status": "unqualified"}, {"note": ["A note is required to move from New to Unqualified."]}),
        ({"status": "new"}, {"status": ["The lead is already New."]}),
        ({"status": "abc"}, {"status": ["Choose a valid status of this company."]}),
        ({}, {"status": ["This field is required."]}),
        ({"status": "contacted", "reason": "x"}, {"reason": ["Unknown field."]}),
    ],
)
def test_a_refused_transition_is_a_400_and_changes_nothing(body, errors, cast):
    lead = make_lead(cast.a.company)
    if body.get("status") in {"converted", "unqualified", "new", "contacted"}:
        body = {**body, "status": status(cast.a.company, body["status"]).pk}

    response = api_for(cast.a.sdr1).post(url(cast.a.company, f"leads/{lead.pk}/transition"), body, format="json")

    assert (response.status_code, response.json()) == (400, errors)
    lead.refresh_from_db()
    assert lead.status.key == "new"
    assert StatusChange.objects.filter(lead=lead).count() == 1  # the creation only
    assert lead.history.count() == 1


def test_a_transition_reserved_for_managers_names_the_sdrs_role(cast):
    lead = make_lead(cast.a.company)
    api_for(cast.a.sdr1).post(
        url(cast.a.company, f"leads/{lead.pk}/transition"),
        {"status": status(cast.a.company, "unqualified").pk, "note": "No budget"},
        format="json",
    )

    response = api_for(cast.a.sdr1).post(
        url(cast.a.company, f"leads/{lead.pk}/transition"),
        {"status": status(cast.a.company, "disqualified").pk, "note": "Spam"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"status": ["Your role (SDR) may not move a lead from Unqualified to Disqualified."]}


def test_a_status_of_another_company_cannot_be_a_transition_target(cast):
    lead = make_lead(cast.a.company)

    response = api_for(cast.a.admin).post(
        url(cast.a.company, f"leads/{lead.pk}/transition"),
        {"status": status(cast.b.company, "contacted").pk},
        format="json",
    )

    assert (response.status_code, response.json()) == (400, {"status": ["Choose a valid status of this company."]})


# --- visibility and tenancy ----------------------------------------------------------------------


def test_the_list_shows_what_the_caller_may_see_newest_first(cast):
    pool = make_lead(cast.a.company)
    mine = make_lead(cast.a.company, owner=cast.a.sdr1)
    make_lead(cast.a.company, owner=cast.a.sdr2)
    make_lead(cast.b.company)

    response = api_for(cast.a.sdr1).get(url(cast.a.company))

    assert response.status_code == 200
    assert [lead["id"] for lead in response.json()["results"]] == [mine.pk, pool.pk]
    assert (response.json()["next"], response.json()["previous"]) == (None, None)


def test_the_list_pages_with_a_cursor(cast):
    leads = [make_lead(cast.a.company) for _ in range(3)]
    client = api_for(cast.a.admin)

    first = client.get(url(cast.a.company), {"page_size": 2}).json()
    second = client.get(first["next"]).json()

    assert [lead["id"] for lead in first["results"]] == [leads[2].pk, leads[1].pk]
    assert [lead["id"] for lead in second["results"]] == [leads[0].pk]
    assert second["next"] is None


@pytest.mark.parametrize(
    "path",
    ["leads/{id}", "leads/{id}/history", "leads/{id}/comments", "leads/{id}/activities"],
)
def test_an_sdr_cannot_see_another_sdrs_lead(path, cast):
    theirs = make_lead(cast.a.company, owner=cast.a.sdr2, first_name="Hidden")
    make_comment(theirs, cast.a.sdr2, "Secret plan")

    owner_view = api_for(cast.a.sdr2).get(url(cast.a.company, path.format(id=theirs.pk)))
    other_view = api_for(cast.a.sdr1).get(url(cast.a.company, path.format(id=theirs.pk)))

    assert owner_view.status_code == 200
    assert (other_view.status_code, other_view.json()) == (404, NOT_FOUND)


def test_an_sdr_cannot_change_another_sdrs_lead(cast):
    theirs = make_lead(cast.a.company, owner=cast.a.sdr2)
    client = api_for(cast.a.sdr1)

    responses = [
        client.patch(url(cast.a.company, f"leads/{theirs.pk}"), {"job_title": "CEO"}, format="json"),
        client.delete(url(cast.a.company, f"leads/{theirs.pk}")),
        client.post(url(cast.a.company, f"leads/{theirs.pk}/comments"), {"body": "Mine now"}, format="json"),
    ]

    assert [(r.status_code, r.json()) for r in responses] == [(404, NOT_FOUND)] * 3
    theirs.refresh_from_db()
    assert (theirs.job_title, theirs.is_deleted, theirs.comments.count()) == ("", False, 0)


def test_another_companys_lead_through_your_company_url_is_404(cast):
    theirs = make_lead(cast.b.company)

    response = api_for(cast.a.admin).get(url(cast.a.company, f"leads/{theirs.pk}"))

    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_a_company_you_do_not_belong_to_looks_like_a_missing_one(cast):
    make_lead(cast.b.company)
    client = api_for(cast.a.admin)

    foreign = client.get(url(cast.b.company))
    missing = client.get("/api/companies/999999/leads")

    assert (foreign.status_code, foreign.json()) == (404, NOT_FOUND)
    assert (missing.status_code, missing.json()) == (404, NOT_FOUND)


def test_anonymous_callers_get_401_not_a_login_redirect(cast):
    make_lead(cast.a.company)

    response = APIClient().get(url(cast.a.company))

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_a_token_authenticates_a_partner_system(cast):
    key = api_key_for(cast.a.sdr1.user)
    lead = make_lead(cast.a.company)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    listed = client.get(url(cast.a.company))
    created = client.post(url(cast.a.company), new_lead_data(cast.a.company), format="json")
    bad = APIClient().get(url(cast.a.company), HTTP_AUTHORIZATION="Token not-a-token")

    assert [item["id"] for item in listed.json()["results"]] == [lead.pk]
    assert created.status_code == 201
    assert Lead.objects.get(pk=created.json()["id"]).created_by == cast.a.sdr1
    assert (bad.status_code, bad.json()) == (401, {"detail": "Invalid token."})


# --- comments ------------------------------------------------------------------------------------


def test_a_comment_is_sanitised_and_listed(cast):
    lead = make_lead(cast.a.company)
    client = api_for(cast.a.sdr1)

    created = client.post(
        url(cast.a.company, f"leads/{lead.pk}/comments"),
        {"body": "<p>Call @sdr2 <script>alert(1)</script><b>today</b></p>"},
        format="json",
    )
    listed = client.get(url(cast.a.company, f"leads/{lead.pk}/comments"))

    comment = LeadComment.objects.get()
    assert created.status_code == 201
    assert created.json() == {
        "id": comment.pk,
        "parent": None,
        "author": cast.a.sdr1.pk,
        "author_name": "Alpha SDR One",
        "body": "<p>Call @sdr2 alert(1)<b>today</b></p>",
        "created_at": iso(comment.created_at),
        "edited_at": None,
        "is_deleted": False,
    }
    assert listed.json() == {"next": None, "previous": None, "results": [created.json()]}
    assert list(Notification.objects.values_list("recipient", "verb", "url")) == [
        (cast.a.sdr2.pk, "leads.comment.mentioned", f"/c/alpha/leads/{lead.pk}/")
    ]


def test_a_reply_goes_under_a_comment_of_the_same_lead_only(cast):
    lead, other_lead = make_lead(cast.a.company), make_lead(cast.a.company)
    here, elsewhere = make_comment(lead, cast.a.sdr2), make_comment(other_lead, cast.a.sdr2)
    client = api_for(cast.a.sdr1)

    refused = client.post(
        url(cast.a.company, f"leads/{lead.pk}/comments"), {"body": "Agreed", "parent": elsewhere.pk}, format="json"
    )
    reply = client.post(
        url(cast.a.company, f"leads/{lead.pk}/comments"), {"body": "Agreed", "parent": here.pk}, format="json"
    )

    assert (refused.status_code, refused.json()) == (400, {"parent": ["You can only reply to a comment on this lead."]})
    assert (reply.status_code, reply.json()["parent"]) == (201, here.pk)
    assert list(lead.comments.values_list("parent", flat=True)) == [None, here.pk]


def test_only_the_author_edits_or_deletes_a_comment(cast):
    lead = make_lead(cast.a.company)
    comment = make_comment(lead, cast.a.sdr1, "First draft")
    comment_url = url(cast.a.company, f"leads/{lead.pk}/comments/{comment.pk}")

    by_admin = api_for(cast.a.admin).patch(comment_url, {"body": "Hijacked"}, format="json")
    delete_by_admin = api_for(cast.a.admin).delete(comment_url)
    by_author = api_for(cast.a.sdr1).patch(comment_url, {"body": "<i>Final</i><img src=x>"}, format="json")

    assert [(r.status_code, r.json()) for r in (by_admin, delete_by_admin)] == [(403, FORBIDDEN)] * 2
    assert (by_author.status_code, by_author.json()["body"]) == (200, "<i>Final</i>")
    comment.refresh_from_db()
    assert (comment.body, comment.is_deleted) == ("<i>Final</i>", False)


def test_a_deleted_comment_keeps_its_place_without_its_text(cast):
    lead = make_lead(cast.a.company)
    comment = make_comment(lead, cast.a.sdr1, "Oops")
    client = api_for(cast.a.sdr1)

    deleted = client.delete(url(cast.a.company, f"leads/{lead.pk}/comments/{comment.pk}"))
    listed = client.get(url(cast.a.company, f"leads/{lead.pk}/comments")).json()["results"]

    assert deleted.status_code == 204
    assert [(c["id"], c["body"], c["is_deleted"]) for c in listed] == [(comment.pk, "", True)]


def test_a_comment_of_another_lead_is_404_under_this_one(cast):
    lead, other_lead = make_lead(cast.a.company), make_lead(cast.a.company)
    comment = make_comment(other_lead, cast.a.sdr1)

    response = api_for(cast.a.sdr1).patch(
        url(cast.a.company, f"leads/{lead.pk}/comments/{comment.pk}"), {"body": "Moved"}, format="json"
    )

    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_an_empty_comment_is_refused(cast):
    lead = make_lead(cast.a.company)

    response = api_for(cast.a.sdr1).post(
        url(cast.a.company, f"leads/{lead.pk}/comments"), {"body": "<p> <br></p>"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"body": ["Write something before posting."]}


# --- activities and history ----------------------------------------------------------------------


def test_activities_are_logged_and_listed_latest_first(cast):
    lead = make_lead(cast.a.company, owner=cast.a.sdr1)
    client = api_for(cast.a.sdr1)

    call = client.post(
        url(cast.a.company, f"leads/{lead.pk}/activities"),
        {"kind": "call", "subject": "Intro call", "outcome": "positive", "occurred_at": "2025-01-05T10:00:00Z"},
        format="json",
    )
    note = client.post(
        url(cast.a.company, f"leads/{lead.pk}/activities"), {"kind": "note", "notes": "Prefers email"}, format="json"
    )
    listed = client.get(url(cast.a.company, f"leads/{lead.pk}/activities"))

    activity = Activity.objects.get(subject="Intro call")
    assert call.status_code == 201
    assert call.json() == {
        "id": activity.pk,
        "kind": "call",
        "event": "",
        "subject": "Intro call",
        "notes": "",
        "outcome": "positive",
        "owner": cast.a.sdr1.pk,
        "owner_name": "Alpha SDR One",
        "occurred_at": "2025-01-05T10:00:00Z",
        "data": {},
    }
    assert [a["id"] for a in listed.json()["results"]] == [note.json()["id"], activity.pk]
    lead.refresh_from_db()
    assert lead.first_response_at == activity.occurred_at


def test_a_bad_activity_names_its_fields(cast):
    lead = make_lead(cast.a.company)

    response = api_for(cast.a.sdr1).post(
        url(cast.a.company, f"leads/{lead.pk}/activities"),
        {"kind": "fax", "subject": "", "outcome": "Interested"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "kind": ["Choose one of call, email, meeting, note, whatsapp."],
        "subject": ["Give a subject or notes."],
        "outcome": ["Choose one of positive, negative, neutral, follow_up_required."],
    }
    assert Activity.objects.count() == 0


def test_history_lists_each_change_with_its_reason_newest_first(cast):
    client = api_for(cast.a.sdr1)
    lead_id = client.post(url(cast.a.company), new_lead_data(cast.a.company, job_title="CTO"), format="json").json()[
        "id"
    ]
    client.patch(url(cast.a.company, f"leads/{lead_id}"), {"job_title": "CEO"}, format="json")
    client.post(
        url(cast.a.company, f"leads/{lead_id}/transition"),
        {"status": status(cast.a.company, "contacted").pk},
        format="json",
    )

    response = client.get(url(cast.a.company, f"leads/{lead_id}/history"))

    body = response.json()
    assert [(e["change_reason"], e["user"], e["type"], [c["field"] for c in e["changes"]]) for e in body] == [
        (
            "leads.lead.status_changed",
            "sdr1@alpha.test",
            "changed",
            ["last_activity_at", "status", "status_changed_at"],
        ),
        ("leads.lead.changed", "sdr1@alpha.test", "changed", ["job_title"]),
        ("leads.lead.created", "sdr1@alpha.test", "created", []),
    ]
    assert body[1]["changes"] == [{"field": "job_title", "old": "CTO", "new": "CEO"}]
    assert body[0]["changes"][1] == {
        "field": "status",
        "old": status(cast.a.company, "new").pk,
        "new": status(cast.a.company, "contacted").pk,
    }
    assert body[2]["date"] == iso(Lead.history.filter(id=lead_id).earliest("history_date").history_date)


# --- scraped profiles ----------------------------------------------------------------------------

PROFILE = {
    "name": "Ana Souza",
    "headline": "Head of Growth at Acme",
    "company": {"name": "Acme Ltd", "size": "51-200"},
    "profile_url": "https://www.linkedin.com/in/ana-souza/",
    "skills": ["SaaS", "Growth"],
    "experience": [{"title": "Head of Growth", "company": "Acme", "from": "2021-01", "to": None}],
    "source": "linkedin",
}


def test_a_scraped_profile_becomes_a_lead_that_keeps_the_whole_profile(cast):
    campaign = make_campaign(cast.a.company)

    response = api_for(cast.a.sdr1).post(
        url(cast.a.company, "leads/from-profile"), {"profile": PROFILE, "campaign": campaign.pk}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert {key: body[key] for key in ("first_name", "last_name", "job_title", "company_name", "lead_source")} == {
        "first_name": "Ana",
        "last_name": "Souza",
        "job_title": "Head of Growth",
        "company_name": "Acme Ltd",
        "lead_source": "linkedin",
    }
    assert body["profile_data"] == PROFILE
    lead = Lead.objects.get()
    assert lead.profile_data == PROFILE
    assert lead.history.get().history_change_reason == "leads.lead.created_from_profile"


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"profile": ["Ana"]}, {"profile": ["A scraped profile must be a JSON object."]}),
        ({"profile": {"name": "Ana"}}, NO_CONTACT),
        ({"profile": PROFILE, "campaign": None}, {"campaign": ["This field may not be null."]}),
        ({"profile": PROFILE, "campaign": "other"}, {"campaign": ["Choose a valid campaign of this company."]}),
        ({"campaign": "own"}, {"profile": ["This field is required."]}),
    ],
)  # fmt: skip
def test_a_bad_profile_is_a_400(body, errors, cast):
    campaigns = {"own": make_campaign(cast.a.company).pk, "other": make_campaign(cast.b.company).pk}
    body = {"campaign": "own", **body}
    body["campaign"] = campaigns.get(body["campaign"], body["campaign"])

    response = api_for(cast.a.sdr1).post(url(cast.a.company, "leads/from-profile"), body, format="json")

    assert (response.status_code, response.json()) == (400, errors)
    assert Lead.objects.count() == 0


# --- setup lists ---------------------------------------------------------------------------------


def test_statuses_transitions_and_campaigns_are_the_companys_own(cast):
    make_campaign(cast.a.company, "Alpha fair")
    make_campaign(cast.b.company, "Bravo fair")
    client = api_for(cast.a.sdr1)

    statuses = client.get(url(cast.a.company, "statuses")).json()
    transitions = client.get(url(cast.a.company, "transitions")).json()
    campaigns = client.get(url(cast.a.company, "campaigns")).json()

    assert [s["key"] for s in statuses] == [
        "new", "contacted", "qualified", "unqualified", "converted", "recycled", "disqualified",
    ]  # fmt: skip
    assert statuses[0] == {
        "id": status(cast.a.company, "new").pk,
        "key": "new",
        "name": "New",
        "description": "Not contacted yet.",
        "order": 0,
        "color": "#1e88e5",
        "category": "open",
        "is_initial": True,
        "is_terminal": False,
        "is_active": True,
    }
    assert len(transitions) == 14
    assert {t["from_status"] for t in transitions} <= {s["id"] for s in statuses}
    assert [c["name"] for c in campaigns] == ["Alpha fair"]


# --- performance ---------------------------------------------------------------------------------


@pytest.mark.parametrize("item_count", [1, 3])
def test_the_list_costs_the_same_number_of_queries_whatever_its_length(item_count, cast, django_assert_num_queries):
    owners = [cast.a.sdr1, cast.a.manager, None]
    for n in range(item_count):
        lead = make_lead(cast.a.company, owner=owners[n])
        make_comment(lead, cast.a.sdr1)
    client = api_for(cast.a.manager)

    # membership, team ids, the filter's owner and custom-field choices, the capped count (whether
    # the page walks the sort's index or sorts the few matches), one page of leads with campaign,
    # status and owner joined
    with django_assert_num_queries(6):
        response = client.get(url(cast.a.company))

    assert len(response.json()["results"]) == item_count


def test_history_costs_the_same_number_of_queries_whatever_its_length(cast):
    short, long = make_lead(cast.a.company), make_lead(cast.a.company)
    for title in ("A", "B", "C"):
        api_for(cast.a.admin).patch(url(cast.a.company, f"leads/{long.pk}"), {"job_title": title}, format="json")
    counts = []
    for lead in (short, long):
        with CaptureQueriesContext(connection) as queries:
            api_for(cast.a.admin).get(url(cast.a.company, f"leads/{lead.pk}/history"))
        counts.append(len(queries))

    assert counts[0] == counts[1]


# --- schema and docs -----------------------------------------------------------------------------


def test_the_schema_documents_the_lead_api_for_logged_in_users(cast, client_for):
    response = client_for(cast.a.sdr1).get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    assert "/api/companies/{company_id}/leads" in paths
    assert set(paths["/api/companies/{company_id}/leads/{lead_id}"]) == {"get", "put", "patch", "delete"}


def test_the_schema_is_valid_and_complete_without_warnings(tmp_path, db):
    # Warnings mean a view the generator had to guess about: the docs would be wrong there.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))

    assert "/api/companies/{company_id}/leads/from-profile:" in (tmp_path / "schema.yaml").read_text()


def test_the_schema_is_not_public(db):
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 401
    assert json.loads(response.content) == {"detail": "Authentication credentials were not provided."}


def test_the_docs_page_uses_the_vendored_swagger_ui(cast, client_for):
    response = client_for(cast.a.sdr1).get("/api/docs/")

    assert response.status_code == 200
    page = response.content.decode()
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png"):
        assert f'"/static/vendor/swagger-ui/{asset}"' in page
        assert finders.find(f"vendor/swagger-ui/{asset}") is not None
    assert "cdn" not in page.lower()


def test_the_docs_page_sends_anonymous_visitors_to_log_in(client):
    response = client.get("/api/docs/")

    assert (response.status_code, response["Location"]) == (302, "/accounts/login/?next=/api/docs/")


# --- permissions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "expected"),
    [("admin", 200), ("manager", 200), ("sdr1", 403), ("sdr2", 403)],
)
def test_only_managers_and_admins_restore(role, expected, cast):
    lead = make_lead(cast.a.company)
    lead_delete(actor=cast.a.admin, lead=lead)

    response = api_for(cast.a.member(role)).post(url(cast.a.company, f"leads/{lead.pk}/restore"))

    assert response.status_code == expected
    lead.refresh_from_db()
    assert lead.is_deleted is (expected != 200)


def test_custom_fields_are_validated_by_the_companys_definitions(cast):
    make_custom_field(cast.a.company, "budget", "number")
    data = new_lead_data(cast.a.company, custom_fields={"budget": "12.5k"})

    refused = api_for(cast.a.sdr1).post(url(cast.a.company), data, format="json")
    accepted = api_for(cast.a.sdr1).post(
        url(cast.a.company), {**data, "custom_fields": {"budget": "12500"}}, format="json"
    )

    assert (refused.status_code, refused.json()) == (400, {"custom_fields.budget": ["Budget: enter a number."]})
    assert (accepted.status_code, accepted.json()["custom_fields"]) == (201, {"budget": 12500})


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_docs_page_renders_the_api_with_no_network(page, live_server, cast):
    outside = []

    def local_only(route):
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", local_only)
    page.goto(f"{live_server.url}/accounts/login/?next=/api/docs/")
    page.get_by_label("Email").fill("sdr1@alpha.test")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_test_id("login-submit").click()

    expect(page.locator(".swagger-ui .title")).to_contain_text("CRM API")
    expect(page.get_by_text("/api/companies/{company_id}/leads/from-profile")).to_be_visible()
    assert outside == []


def test_create_anyway_is_for_managers_over_the_api(cast):
    make_lead(cast.a.company, email="dup@example.com")
    body = {"first_name": "Dee", "email": "dup@example.com", "lead_source": "Web",
            "campaign": make_campaign(cast.a.company).pk}  # fmt: skip
    refused = api_for(cast.a.manager).post(url(cast.a.company), body, format="json")
    assert refused.status_code == 400
    assert list(refused.json()) == ["email"]
    created = api_for(cast.a.manager).post(url(cast.a.company), {**body, "allow_duplicates": True}, format="json")
    assert created.status_code == 201
    assert Lead.objects.filter(company=cast.a.company, email_key="dup@example.com").count() == 2
