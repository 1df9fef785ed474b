"""The qualify and convert API: the guide's answers, 409 on a second conversion, 400 naming the field
with nothing changed, 404 for leads the caller cannot see, 403 for what their role may not do."""

import pytest
from rest_framework.test import APIClient

from accounts.models import Account, Contact, LeadConversion, Opportunity, Qualification, QualificationSettings
from accounts.qualification import lead_qualify
from accounts.testing.factories import make_account, make_contact
from leads import services as lead_services
from leads.models import Lead
from leads.testing.factories import make_lead, status

NOT_FOUND = {"detail": "Not found."}
FORBIDDEN = {"detail": "You do not have permission to perform this action."}
FULL_BANT = {"budget": "50k", "authority": "CFO", "need": "Forecasting", "timeline": "Q3"}


def api_for(membership) -> APIClient:
    client = APIClient()
    client.force_authenticate(membership.user)
    return client


def url(company, path: str) -> str:
    return f"/api/companies/{company.pk}/{path}"


def contacted(cast, actor=None, **data):
    actor = actor or cast.a.sdr1
    lead = make_lead(cast.a.company, actor, owner=actor, **data)
    return lead_services.lead_transition(actor=actor, lead=lead, to_status=status(cast.a.company, "contacted"))


def qualified(cast, actor=None, **data):
    actor = actor or cast.a.sdr1
    return lead_qualify(actor=actor, lead=contacted(cast, actor, **data), bant=FULL_BANT).lead


def counts():
    return tuple(model.objects.count() for model in (Account, Contact, Opportunity, LeadConversion, Qualification))


# --- qualify ----------------------------------------------------------------------------------------------


def test_qualify_answers_the_guides_result_and_moves_the_status(cast):
    lead = contacted(cast)
    body = {"bant": {**FULL_BANT, "timeline": ""}, "meddicc": {"champion": "Head of ops", "metrics": "-20% churn"},
            "risk_score": "medium"}  # fmt: skip
    response = api_for(cast.a.sdr1).post(url(cast.a.company, f"leads/{lead.pk}/qualify"), body, format="json")
    assert response.status_code == 200
    data = response.json()
    assert {k: data[k] for k in ("success", "qualification_result", "lead_status", "status_changed",
                                 "status_error", "enrolments")} == {
        "success": True,
        "qualification_result": {"is_qualified": True, "qualification_score": 85, "missing_criteria": ["Timeline"],
                                 "recommendation": "qualified"},
        "lead_status": "qualified", "status_changed": True, "status_error": None, "enrolments": [],
    }  # fmt: skip
    assert (data["qualification"]["risk_score"], data["qualification"]["qualified_by_name"]) == ("medium",
                                                                                                 "Alpha SDR One")  # fmt: skip
    assert Lead.objects.get(pk=lead.pk).status.key == "qualified"


def test_a_refused_status_change_keeps_the_scorecard_and_says_why(cast):
    lead = contacted(cast)
    body = {"bant": {"budget": "none"}}
    response = api_for(cast.a.sdr1).post(url(cast.a.company, f"leads/{lead.pk}/qualify"), body, format="json")
    data = response.json()
    assert (response.status_code, data["lead_status"], data["status_changed"], data["status_error"]) == (
        200, "contacted", False, "A note is required to move from Contacted to Unqualified."
    )  # fmt: skip
    assert data["qualification_result"]["recommendation"] == "disqualify"
    assert Qualification.objects.get(lead=lead).score == 25


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"bant": {"budgett": "x"}}, {"bant": {"budgett": ["Unknown field."]}}),
        ({"meddicc": {"champion": 7}}, {"meddicc": {"champion": ["Give a string, not a number."]}}),
        ({"risk_score": "extreme"}, {"risk_score": ['"extreme" is not a valid choice.']}),
        ({"bant": "all of it"}, {"bant": {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}}),
        ({"score": 100}, {"score": ["Unknown field."]}),
    ],
)
def test_bad_qualify_input_is_a_400_naming_the_field_and_changes_nothing(cast, body, expected):
    lead = contacted(cast)
    before = counts()
    response = api_for(cast.a.sdr1).post(url(cast.a.company, f"leads/{lead.pk}/qualify"), body, format="json")
    assert (response.status_code, response.json()) == (400, expected)
    assert counts() == before
    assert Lead.objects.get(pk=lead.pk).status.key == "contacted"


def test_leads_the_caller_cannot_see_are_404(cast):
    others = {
        "other company": make_lead(cast.b.company, cast.b.sdr1, owner=cast.b.sdr1),
        "another sdr": make_lead(cast.a.company, cast.a.sdr2, owner=cast.a.sdr2),
    }
    api = api_for(cast.a.sdr1)
    for lead in others.values():
        for path, method in (("qualify", "post"), ("convert", "post"), ("qualification", "get"),
                             ("conversion", "get")):  # fmt: skip
            response = getattr(api, method)(url(cast.a.company, f"leads/{lead.pk}/{path}"), {}, format="json")
            assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert Qualification.objects.count() == 0


def test_the_scorecard_and_its_history(cast):
    lead = contacted(cast)
    lead_qualify(actor=cast.a.sdr1, lead=lead, bant={"budget": "x", "need": "y"})
    lead_qualify(actor=cast.a.sdr1, lead=lead, bant=FULL_BANT)
    data = api_for(cast.a.manager).get(url(cast.a.company, f"leads/{lead.pk}/qualification")).json()
    assert data["qualification"]["score"] == 100
    assert [(row["score"], row["recommendation"], row["by"]) for row in data["history"]] == [
        (100, "qualified", "Alpha SDR One"), (50, "nurture_more", "Alpha SDR One"),
    ]  # fmt: skip


# --- convert ----------------------------------------------------------------------------------------------


def test_convert_creates_the_records_and_a_second_call_is_a_409_with_the_first_result(cast):
    account = make_account(cast.a.company, cast.a.sdr1, name="Wayne Enterprises")
    lead = qualified(cast, first_name="Lucius", last_name="Fox", email="lucius@wayne.example",
                     company_name="Wayne Enterprises Ltd")  # fmt: skip
    api = api_for(cast.a.sdr1)
    body = {"account_id": account.pk, "opportunity": {"name": "Armour", "amount": "9000", "close_date": "2027-01-31"}}
    response = api.post(url(cast.a.company, f"leads/{lead.pk}/convert"), body, format="json")
    assert response.status_code == 201
    data = response.json()
    conversion = LeadConversion.objects.get()
    contact = conversion.contact
    assert data["conversion_result"] == {"account_id": account.pk, "contact_id": contact.pk,
                                         "opportunity_id": conversion.opportunity_id}  # fmt: skip
    assert data["account"] == {"id": account.pk, "name": "Wayne Enterprises", "created": False,
                               "matched_by": ["chosen"]}  # fmt: skip
    assert data["contact"] == {"id": contact.pk, "name": "Lucius Fox", "email": "lucius@wayne.example",
                               "is_primary": True, "created": True}  # fmt: skip
    assert data["opportunity"] == {"id": conversion.opportunity_id, "name": "Armour", "amount": "9000.00",
                                   "currency": "GBP", "close_date": "2027-01-31", "stage": "Prospect",
                                   "probability": 10}  # fmt: skip
    assert (data["filled"], data["lead_status"], data["success"]) == (
        {"account": ["domain"], "contact": []}, "converted", True
    )  # fmt: skip

    again = api.post(url(cast.a.company, f"leads/{lead.pk}/convert"), {"new_account": True}, format="json")
    assert again.status_code == 409
    repeat = again.json()
    assert repeat["detail"].startswith("This lead was already converted on ")
    assert repeat["conversion_result"] == data["conversion_result"]
    assert (Account.objects.count(), LeadConversion.objects.count()) == (1, 1)


def test_without_an_account_the_api_says_whether_it_matched_or_created(cast):
    make_account(cast.a.company, cast.a.sdr1, name="Stark Industries", domain="stark.example")
    matched = qualified(cast, email="pepper@stark.example", company_name="Stark")
    fresh = qualified(cast, email="happy@hogan.example", company_name="Hogan Logistics")
    api = api_for(cast.a.sdr1)
    first = api.post(url(cast.a.company, f"leads/{matched.pk}/convert"), {}, format="json").json()["account"]
    second = api.post(url(cast.a.company, f"leads/{fresh.pk}/convert"), {}, format="json").json()["account"]
    assert (first["name"], first["created"], first["matched_by"]) == (
        "Stark Industries", False, ["same email domain stark.example"]
    )  # fmt: skip
    assert (second["name"], second["created"], second["matched_by"]) == ("Hogan Logistics", True, [])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"account_id": "OTHER_COMPANY"}, {"account_id": ["Choose a valid account of this company."]}),
        ({"account_id": "OWN", "contact_id": "OTHER_ACCOUNT"},
         {"contact_id": ["Choose a contact of the account the lead is converted into."]}),
        ({"contact_id": "OTHER_COMPANY_CONTACT"}, {"contact_id": ["Choose a valid contact of this company."]}),
        ({"opportunity": {"amount": "-1"}}, {"opportunity.amount": ["The amount cannot be negative."]}),
        ({"opportunity": {"close_date": "soon"}},
         {"opportunity": {"close_date": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]}}),
        ({"opportunity": {"amount": "lots"}}, {"opportunity": {"amount": ["A valid number is required."]}}),
        ({"opportunity": {"stage": 3}}, {"opportunity": {"stage": ["Unknown field."]}}),
        ({"account": 3}, {"account": ["Unknown field."]}),
        ({"new_account": "maybe"}, {"new_account": ["Must be a valid boolean."]}),
    ],
)  # fmt: skip
def test_bad_convert_input_is_a_400_naming_the_field_and_changes_nothing(cast, body, expected):
    own = make_account(cast.a.company, cast.a.sdr1, name="Own")
    elsewhere = make_account(cast.a.company, cast.a.sdr1, name="Elsewhere")
    placeholders = {
        "OTHER_COMPANY": lambda: make_account(cast.b.company).pk,
        "OWN": lambda: own.pk,
        "OTHER_ACCOUNT": lambda: make_contact(elsewhere).pk,
        "OTHER_COMPANY_CONTACT": lambda: make_contact(make_account(cast.b.company)).pk,
    }
    body = {k: placeholders[v]() if isinstance(v, str) and v in placeholders else v for k, v in body.items()}
    lead = qualified(cast, company_name="Nobody Matches Me")
    before = counts()
    response = api_for(cast.a.sdr1).post(url(cast.a.company, f"leads/{lead.pk}/convert"), body, format="json")
    assert (response.status_code, response.json()) == (400, expected)
    assert counts() == before
    assert Lead.objects.get(pk=lead.pk).status.key == "qualified"


def test_an_ineligible_lead_is_a_400_saying_why(cast):
    lead = contacted(cast)
    response = api_for(cast.a.sdr1).post(url(cast.a.company, f"leads/{lead.pk}/convert"), {}, format="json")
    assert (response.status_code, response.json()) == (400, {
        "status": ["The lead is Contacted; only a qualified lead can be converted."],
        "qualification": ["The lead has no qualification yet: fill in its scorecard."],
    })  # fmt: skip
    assert LeadConversion.objects.count() == 0


def test_only_managers_override_the_eligibility(cast):
    lead = contacted(cast)
    lead_qualify(actor=cast.a.sdr1, lead=lead, bant={"budget": "x", "need": "y"})
    lead_services.lead_transition(actor=cast.a.sdr1, lead=lead, to_status=status(cast.a.company, "qualified"))
    body = {"override_note": "Board approved"}
    path = url(cast.a.company, f"leads/{lead.pk}/convert")
    refused = api_for(cast.a.sdr1).post(path, body, format="json")
    assert (refused.status_code, refused.json(), LeadConversion.objects.count()) == (
        403, {"detail": "Only managers and admins override the conversion eligibility."}, 0
    )  # fmt: skip
    response = api_for(cast.a.manager).post(path, body, format="json")
    assert (response.status_code, response.json()["lead_status"]) == (201, "converted")


def test_the_conversion_view_proposes_visible_accounts_and_counts_hidden_ones(cast):
    mine = make_account(cast.a.company, cast.a.sdr1, name="Cyberdyne Systems", domain="cyberdyne.example")
    make_account(cast.a.company, cast.a.sdr2, name="Cyberdyne")  # sdr2's: sdr1 cannot see it
    make_account(cast.b.company, cast.b.sdr1, name="Cyberdyne")  # another company: never
    lead = contacted(cast, email="miles@cyberdyne.example", company_name="Cyberdyne")
    data = api_for(cast.a.sdr1).get(url(cast.a.company, f"leads/{lead.pk}/conversion")).json()
    assert data == {
        "conversion": None,
        "eligibility": {"eligible": False, "overridable": False, "converted_without_account": False, "problems": {
            "status": "The lead is Contacted; only a qualified lead can be converted.",
            "qualification": "The lead has no qualification yet: fill in its scorecard."}},
        "proposals": [{"account_id": mine.pk, "name": "Cyberdyne Systems", "domain": "cyberdyne.example",
                       "score": 100, "reasons": ["same email domain cyberdyne.example"]}],
        "hidden_matches": 1,
    }  # fmt: skip


# --- settings ---------------------------------------------------------------------------------------------


def test_settings_are_read_by_members_and_edited_by_admins(cast):
    path = url(cast.a.company, "qualification-settings")
    assert api_for(cast.a.sdr1).get(path).json() == {
        "budget_weight": 25, "authority_weight": 25, "need_weight": 25, "timeline_weight": 25, "meddicc_weight": 5,
        "meddicc_cap": 20, "qualified_at": 75, "nurture_at": 50, "min_lead_score": None,
    }  # fmt: skip
    forbidden = api_for(cast.a.manager).patch(path, {"qualified_at": 60}, format="json")
    assert (forbidden.status_code, forbidden.json()) == (403, FORBIDDEN)
    bad = api_for(cast.a.admin).patch(path, {"nurture_at": 90}, format="json")
    assert (bad.status_code, bad.json()) == (400, {"nurture_at": ["Nurture more starts at or below the qualified "
                                                                  "score."]})  # fmt: skip
    out_of_range = api_for(cast.a.admin).patch(path, {"meddicc_cap": 101}, format="json")
    assert out_of_range.json() == {"meddicc_cap": ["Ensure this value is less than or equal to 100."]}
    assert QualificationSettings.objects.count() == 0
    saved = api_for(cast.a.admin).patch(path, {"qualified_at": 60, "min_lead_score": 40}, format="json")
    assert (saved.status_code, saved.json()["qualified_at"], saved.json()["min_lead_score"]) == (200, 60, 40)
    assert api_for(cast.b.admin).get(url(cast.b.company, "qualification-settings")).json()["qualified_at"] == 75


def test_managers_convert_in_bulk_through_the_api_all_or_nothing(cast):
    first = qualified(cast, company_name="One Bulk", email="x@one-bulk.example")
    second = qualified(cast, company_name="Two Bulk", email="y@two-bulk.example")
    ineligible = contacted(cast)
    path = url(cast.a.company, "leads/convert")
    forbidden = api_for(cast.a.sdr1).post(path, {"ids": [first.pk]}, format="json")
    assert (forbidden.status_code, forbidden.json()) == (403, FORBIDDEN)
    failed = api_for(cast.a.manager).post(path, {"ids": [first.pk, second.pk, ineligible.pk]}, format="json")
    assert (failed.status_code, failed.json()["status"], LeadConversion.objects.count()) == (200, "failed", 0)
    assert failed.json()["error"].startswith("1 lead(s) cannot make this change: ")
    bad = api_for(cast.a.manager).post(path, {"ids": ["x"]}, format="json")
    assert (bad.status_code, list(bad.json())) == (400, ["ids"])
    done = api_for(cast.a.manager).post(path, {"ids": [first.pk, second.pk]}, format="json")
    assert (done.status_code, done.json()["status"], done.json()["operation"]) == (200, "succeeded", "convert")
    assert sorted(LeadConversion.objects.values_list("account__name", flat=True)) == ["One Bulk", "Two Bulk"]


def test_the_guides_flow_create_qualify_convert_and_the_opportunity_is_on_the_board(
    cast, django_capture_on_commit_callbacks
):
    from leads.testing.factories import make_campaign
    from nurturing.models import Enrolment
    from nurturing.testing.factories import make_sequence

    welcome = make_sequence(cast.a.company, trigger="lead_created")
    api = api_for(cast.a.sdr1)
    with django_capture_on_commit_callbacks(execute=True):  # nurturing follows the lead after its commit
        created = api.post(url(cast.a.company, "leads"), {
            "first_name": "Dana", "last_name": "Scully", "email": "dana@fbi.example", "company_name": "FBI Labs",
            "lead_source": "Website", "campaign": make_campaign(cast.a.company).pk, "owner": cast.a.sdr1.pk,
            "gdpr_consent": True,
        }, format="json")  # fmt: skip
    assert created.status_code == 201
    lead_id = created.json()["id"]
    assert (Enrolment.objects.get(lead_id=lead_id).sequence, Enrolment.objects.get(lead_id=lead_id).state) == (
        welcome, "active"
    )  # fmt: skip
    contacted_status = status(cast.a.company, "contacted").pk
    moved = api.post(url(cast.a.company, f"leads/{lead_id}/transition"), {"status": contacted_status}, format="json")
    assert moved.status_code == 200
    qualified_response = api.post(url(cast.a.company, f"leads/{lead_id}/qualify"), {"bant": FULL_BANT}, format="json")
    assert qualified_response.json()["lead_status"] == "qualified"
    with django_capture_on_commit_callbacks(execute=True):
        converted = api.post(url(cast.a.company, f"leads/{lead_id}/convert"),
                             {"opportunity": {"name": "X-Files", "amount": "7000"}}, format="json")  # fmt: skip
    assert (converted.status_code, converted.json()["account"]["created"]) == (201, True)
    assert Enrolment.objects.get(lead_id=lead_id).state == "stopped"  # converted leads leave their sequences
    board = api.get(url(cast.a.company, "pipeline")).json()["stages"]
    prospect = next(column for column in board if column["name"] == "Prospect")
    assert (prospect["count"], prospect["amounts"]) == (1, {"GBP": "7000.00"})
