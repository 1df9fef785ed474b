import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts.models import Account, Contact, Opportunity, OpportunityStageChange
from accounts.testing.factories import make_account, make_contact, make_opportunity, stage

NOT_FOUND = {"detail": "Not found."}
FORBIDDEN = {"detail": "You do not have permission to perform this action."}


def api_for(membership) -> APIClient:
    client = APIClient()
    client.force_authenticate(membership.user)
    return client


def url(company, path: str) -> str:
    return f"/api/companies/{company.pk}/{path}"


def test_an_sdr_creates_an_account_a_contact_and_an_opportunity(cast):
    api = api_for(cast.a.sdr1)
    account = api.post(url(cast.a.company, "accounts"), {"name": "Acme Ltd", "website": "https://acme.example"},
                       format="json")  # fmt: skip
    assert account.status_code == 201
    assert {k: account.json()[k] for k in ("name", "domain", "owner", "owner_name", "country")} == {
        "name": "Acme Ltd", "domain": "acme.example", "owner": cast.a.sdr1.pk, "owner_name": "Alpha SDR One",
        "country": "GB",
    }  # fmt: skip
    account_id = account.json()["id"]
    contact = api.post(url(cast.a.company, "contacts"), {"account": account_id, "first_name": "Jo", "last_name": "Ng",
                       "phone": "020 7946 0123", "is_primary": True}, format="json")  # fmt: skip
    assert (contact.status_code, contact.json()["phone"], contact.json()["account_name"]) == (201, "+442079460123",
                                                                                             "Acme Ltd")  # fmt: skip
    deal = api.post(url(cast.a.company, "opportunities"), {"account": account_id, "name": "Pilot", "amount": "2500.50",
                    "close_date": "2026-05-31", "primary_contact": contact.json()["id"]}, format="json")  # fmt: skip
    assert deal.status_code == 201
    assert {k: deal.json()[k] for k in ("amount", "currency", "stage_name", "probability", "weighted_amount")} == {
        "amount": "2500.50", "currency": "GBP", "stage_name": "Prospect", "probability": 10,
        "weighted_amount": "250.05",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"amount": "-1"}, {"amount": ["The amount cannot be negative."]}),
        ({"amount": "ten"}, {"amount": ["A valid number is required."]}),
        ({"currency": "XYZ"}, {"currency": ["Enter an ISO 4217 currency code such as USD, EUR or INR."]}),
        ({"close_date": "soon"}, {"close_date": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]}),
        ({"probability": 120, "stage_note": "x"}, {"probability": ["Enter a whole number from 0 to 100."]}),
        ({"stage": "CLOSED_LOST"}, {"lost_reason": ["Say why the opportunity was lost."]}),
        ({"owner": "OTHER_OWNER"}, {"owner": ["Choose a valid owner of this company."]}),
        ({"stage": "OTHER_STAGE"}, {"stage": ["Choose a valid stage of this company."]}),
        ({"account": "OTHER_ACCOUNT"}, {"account": ["Choose a valid account of this company."]}),
        ({"primary_contact": "OTHER_CONTACT"}, {"primary_contact": ["Choose a valid contact of this company."]}),
        ({"primary_contact": "SIBLING_CONTACT"}, {"primary_contact": ["Choose a contact of this opportunity's account."]}),
        ({"account": 2**70}, {"account": ["Choose a valid account of this company."]}),
        ({"colour": "red"}, {"colour": ["Unknown field."]}),
    ],
)  # fmt: skip
def test_bad_opportunity_input_is_a_400_naming_the_field_and_changes_nothing(cast, data, expected):
    account = make_account(cast.a.company)
    placeholders = {
        "CLOSED_LOST": lambda: stage(cast.a.company, "Closed lost").pk,
        "OTHER_OWNER": lambda: cast.b.sdr1.pk,
        "OTHER_STAGE": lambda: stage(cast.b.company, "Prospect").pk,
        "OTHER_ACCOUNT": lambda: make_account(cast.b.company).pk,
        "OTHER_CONTACT": lambda: make_contact(make_account(cast.b.company)).pk,
        "SIBLING_CONTACT": lambda: make_contact(make_account(cast.a.company)).pk,
    }
    data = {k: placeholders[v]() if isinstance(v, str) and v in placeholders else v for k, v in data.items()}
    body = {"account": account.pk, "name": "Deal", "amount": "10", "close_date": "2026-01-31", **data}
    response = api_for(cast.a.manager).post(url(cast.a.company, "opportunities"), body, format="json")
    assert (response.status_code, response.json()) == (400, expected)
    assert Opportunity.objects.count() == 0


def test_a_second_primary_contact_is_a_400(cast):
    account = make_account(cast.a.company)
    make_contact(account, first_name="Ann", last_name="First", is_primary=True)
    response = api_for(cast.a.admin).post(url(cast.a.company, "contacts"),
                                          {"account": account.pk, "last_name": "Second", "is_primary": True},
                                          format="json")  # fmt: skip
    assert (response.status_code, response.json()) == (
        400, {"is_primary": ["Ann First is already this account's primary contact."]},
    )  # fmt: skip
    assert Contact.objects.count() == 1


def test_the_stage_endpoint_moves_and_refuses_an_sdrs_override(cast):
    deal = make_opportunity(make_account(cast.a.company), cast.a.sdr1)
    api = api_for(cast.a.sdr1)
    moved = api.post(url(cast.a.company, f"opportunities/{deal.pk}/stage"),
                     {"stage": stage(cast.a.company, "Negotiation").pk}, format="json")  # fmt: skip
    assert (moved.status_code, moved.json()["stage_name"], moved.json()["probability"]) == (200, "Negotiation", 75)
    refused = api.post(url(cast.a.company, f"opportunities/{deal.pk}/stage"),
                       {"stage": stage(cast.a.company, "Negotiation").pk, "probability": 90, "note": "sure"},
                       format="json")  # fmt: skip
    assert (refused.status_code, refused.json()) == (
        403, {"detail": "Only managers and admins set a probability other than the stage's."},
    )  # fmt: skip
    lost = api.post(url(cast.a.company, f"opportunities/{deal.pk}/stage"),
                    {"stage": stage(cast.a.company, "Closed lost").pk}, format="json")  # fmt: skip
    assert (lost.status_code, lost.json()) == (400, {"lost_reason": ["Say why the opportunity was lost."]})
    assert OpportunityStageChange.objects.filter(opportunity=deal).count() == 2


def test_lists_filter_sort_and_page_like_the_pages(cast):
    account = make_account(cast.a.company, name="Acme")
    for amount in ("300", "100", "200"):
        make_opportunity(account, cast.a.sdr1, amount=amount, name=f"Deal {amount}")
    make_opportunity(account, cast.a.sdr2, amount="999", name="Other owner")
    api = api_for(cast.a.admin)
    first = api.get(url(cast.a.company, "opportunities"), {"owner": cast.a.sdr1.pk, "sort": "-amount", "per_page": 2})
    assert [row["name"] for row in first.json()["results"]] == ["Deal 300", "Deal 200"]
    second = APIClient()
    second.force_authenticate(cast.a.admin.user)
    following = second.get(first.json()["next"])
    assert [row["name"] for row in following.json()["results"]] == ["Deal 100"]
    assert following.json()["next"] is None
    bad = api.get(url(cast.a.company, "opportunities"), {"sort": "colour", "close_period": "soon"})
    assert bad.status_code == 400
    assert bad.json() == {"sort": ["Unknown sort key 'colour'. Use one of: name, account, amount, close, stage, "
                                   "probability, owner, created."]}  # fmt: skip


def test_an_sdr_sees_only_their_records_and_another_companys_are_404(cast):
    own = make_opportunity(make_account(cast.a.company), cast.a.sdr1)
    theirs = make_opportunity(make_account(cast.a.company), cast.a.sdr2)
    foreign = make_opportunity(make_account(cast.b.company))
    api = api_for(cast.a.sdr1)
    listed = api.get(url(cast.a.company, "opportunities")).json()["results"]
    assert [row["id"] for row in listed] == [own.pk]
    for other in (theirs, foreign):
        assert api.get(url(cast.a.company, f"opportunities/{other.pk}")).json() == NOT_FOUND
    assert api.get(url(cast.b.company, "opportunities")).status_code == 404


def test_only_managers_delete(cast):
    account = make_account(cast.a.company, cast.a.sdr1)
    assert api_for(cast.a.sdr1).delete(url(cast.a.company, f"accounts/{account.pk}")).json() == FORBIDDEN
    assert api_for(cast.a.admin).delete(url(cast.a.company, f"accounts/{account.pk}")).status_code == 204
    assert Account.objects.count() == 0


def test_an_update_goes_through_the_service(cast):
    deal = make_opportunity(make_account(cast.a.company), cast.a.sdr1)
    response = api_for(cast.a.sdr1).patch(url(cast.a.company, f"opportunities/{deal.pk}"),
                                          {"next_step": "Demo", "stage": stage(cast.a.company, "Qualified").pk},
                                          format="json")  # fmt: skip
    assert (response.status_code, response.json()["next_step"], response.json()["probability"]) == (200, "Demo", 25)


def test_the_pipeline_and_forecast_endpoints(cast):
    account = make_account(cast.a.company)
    make_opportunity(account, cast.a.sdr1, amount="1000", currency="GBP", close_date="2026-02-10")
    deal = make_opportunity(account, cast.a.sdr1, amount="500", currency="GBP", close_date="2026-05-10")
    deal = Opportunity.objects.get(pk=deal.pk)
    api = api_for(cast.a.sdr1)
    pipeline = api.get(url(cast.a.company, "pipeline"), {"close_period": "2026-Q1"})
    prospect = pipeline.json()["stages"][0]
    assert (prospect["name"], prospect["count"], prospect["amounts"], prospect["weighted"]) == (
        "Prospect", 1, {"GBP": "1000.00"}, {"GBP": "100.00"},
    )  # fmt: skip
    result = api.get(url(cast.a.company, "forecast"), {"period": "quarter", "from": "2026-01-01", "periods": 2})
    body = result.json()
    assert (body["currency"], [p["key"] for p in body["periods"]], body["total"]) == (
        "GBP", ["2026-Q1", "2026-Q2"], {"count": 2, "amount": "1500.00", "weighted": "150.00"},
    )  # fmt: skip
    assert body["periods"][1]["categories"]["most_likely"] == {"count": 1, "amount": "500.00", "weighted": "50.00"}
    bad = api.get(url(cast.a.company, "forecast"), {"period": "week", "periods": 40})
    assert (bad.status_code, sorted(bad.json())) == (400, ["period", "periods"])


def test_the_schema_documents_the_accounts_api(tmp_path, db):
    call_command("spectacular", "--validate", "--file", str(tmp_path / "schema.yaml"))
    schema = (tmp_path / "schema.yaml").read_text()
    for path in ("accounts", "contacts/{contact_id}", "opportunities/{opportunity_id}/stage", "pipeline", "forecast"):
        assert f"/api/companies/{{company_id}}/{path}:" in schema
