import csv
import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Account, LeadConversion, Opportunity
from accounts.testing.factories import make_account, make_contact, make_opportunity, stage
from leads.testing.factories import make_lead


def page(company, name: str, **kwargs) -> str:
    return reverse(f"accounts:{name}", kwargs={"company_slug": company.slug, **kwargs})


def _fill(cast, n: int):
    for i in range(n):
        account = make_account(cast.a.company, owner=cast.a.sdr1, name=f"Acc {i}")
        make_contact(account, owner=cast.a.sdr1)
        make_opportunity(account, owner=cast.a.sdr1)


@pytest.mark.parametrize("name", ["account_list", "contact_list", "opportunity_list", "pipeline"])
def test_list_views_run_a_fixed_number_of_queries(cast, client_for, django_assert_num_queries, name):
    client = client_for(cast.a.manager)
    _fill(cast, 1)
    client.get(page(cast.a.company, name))  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as one:
        client.get(page(cast.a.company, name))
    _fill(cast, 3)
    with django_assert_num_queries(len(one.captured_queries)):
        response = client.get(page(cast.a.company, name))
    assert response.status_code == 200


def test_the_account_list_shows_visible_accounts_filtered_and_sorted(cast, client_for):
    make_account(cast.a.company, owner=cast.a.sdr1, name="Beta", account_type="customer")
    make_account(cast.a.company, owner=cast.a.sdr1, name="Alpha Co", account_type="customer")
    make_account(cast.a.company, owner=cast.a.sdr2, name="Hidden")
    make_account(cast.b.company, name="Foreign")
    response = client_for(cast.a.sdr1).get(page(cast.a.company, "account_list"), {"account_type": "customer",
                                                                                    "sort": "-name"})  # fmt: skip
    assert [a.name for a in response.context["page"].rows] == ["Beta", "Alpha Co"]
    bad = client_for(cast.a.sdr1).get(page(cast.a.company, "account_list"), {"health_score": "blue"})
    assert bad.context["page"] is None
    assert "health_score" in bad.context["errors"]


def test_create_an_account_through_the_form_with_field_errors(cast, client_for):
    client = client_for(cast.a.sdr1)
    bad = client.post(page(cast.a.company, "account_create"), {"name": "Acme", "gstin": "123", "account_type": "prospect",
                                                               "health_score": "green", "lifecycle_stage": "mqa"})  # fmt: skip
    assert bad.status_code == 200
    assert bad.context["form"].errors["gstin"] == [
        "Enter a 15-character GSTIN such as 27AAPFU0939F1ZV (state, PAN, entity, Z, check)."
    ]
    assert Account.objects.count() == 0
    good = client.post(page(cast.a.company, "account_create"), {"name": "Acme", "account_type": "prospect",
                                                                "health_score": "green", "lifecycle_stage": "mqa"})  # fmt: skip
    account = Account.objects.get()
    assert good["Location"] == page(cast.a.company, "account_detail", account_id=account.pk)
    assert account.owner == cast.a.sdr1


def test_the_account_page_lists_contacts_deals_converted_leads_and_one_timeline(cast, client_for):
    account = make_account(cast.a.company, owner=cast.a.sdr1, name="Acme")
    contact = make_contact(account, first_name="Jo", last_name="Ng", owner=cast.a.sdr1)
    deal = make_opportunity(account, owner=cast.a.sdr1, name="Pilot")
    lead = make_lead(cast.a.company, first_name="Lee", last_name="Converted")
    LeadConversion.objects.create(company=cast.a.company, lead=lead, account=account, contact=contact)
    client = client_for(cast.a.sdr1)
    client.post(page(cast.a.company, "contact_log", contact_id=contact.pk),
                {"kind": "call", "subject": "Intro call", "outcome": "positive"})  # fmt: skip
    response = client.get(page(cast.a.company, "account_detail", account_id=account.pk))
    assert [c.pk for c in response.context["contacts"]] == [contact.pk]
    assert [o.pk for o in response.context["opportunities"]] == [deal.pk]
    assert [c.lead_id for c in response.context["conversions"]] == [lead.pk]
    sources = {item.source for item in response.context["timeline"]}
    assert sources == {"", "Contact Jo Ng", "Opportunity Pilot", "Lead Lee Converted"}
    call = next(i for i in response.context["timeline"] if i.entry.kind == "interaction")
    assert (call.source, call.entry.title, call.entry.note) == (
        "Contact Jo Ng",
        "logged a call: Intro call",
        "Positive",
    )


def test_moving_a_card_without_javascript_and_with_htmx(cast, client_for):
    deal = make_opportunity(make_account(cast.a.company), owner=cast.a.sdr1)
    client = client_for(cast.a.sdr1)
    board_url = page(cast.a.company, "pipeline")
    moved = client.post(page(cast.a.company, "opportunity_move", opportunity_id=deal.pk),
                        {"stage": stage(cast.a.company, "Qualified").pk, "next": board_url})  # fmt: skip
    assert moved["Location"] == board_url
    assert Opportunity.objects.get(pk=deal.pk).stage.name == "Qualified"
    refused = client.post(page(cast.a.company, "opportunity_move", opportunity_id=deal.pk),
                          {"stage": stage(cast.a.company, "Closed lost").pk}, HTTP_HX_REQUEST="true")  # fmt: skip
    assert refused.context["move_error"] == f"{deal.name}: Lost reason: Say why the opportunity was lost."
    swapped = client.post(page(cast.a.company, "opportunity_move", opportunity_id=deal.pk),
                          {"stage": stage(cast.a.company, "Negotiation").pk}, HTTP_HX_REQUEST="true")  # fmt: skip
    columns = {c.stage.name: c.count for c in swapped.context["columns"]}
    assert (columns["Negotiation"], columns["Qualified"]) == (1, 0)
    assert [t.name for t in swapped.templates][0] == "accounts/partials/board.html"
    # The swapped board's forms come back to the board, never to the POST-only move address.
    assert swapped.content.decode().count(f'name="next" value="{board_url}"') == 1


def test_the_forecast_page_and_its_drill_down(cast, client_for):
    make_opportunity(make_account(cast.a.company), owner=cast.a.sdr1, amount="1200", currency="GBP",
                     close_date="2026-02-01", forecast_category="commit")  # fmt: skip
    response = client_for(cast.a.manager).get(page(cast.a.company, "forecast"),
                                              {"period": "quarter", "from": "2026-01-01", "periods": 2})  # fmt: skip
    result = response.context["result"]
    assert (result.currency, result.periods[0].by_category["commit"].amount) == ("GBP", 1200)
    assert b'data-testid="forecast-chart"' in response.content
    drill = page(cast.a.company, "opportunity_list") + "?close_period=2026-Q1&amp;forecast_category=commit"
    assert drill.encode() in response.content
    listed = client_for(cast.a.manager).get(page(cast.a.company, "opportunity_list"),
                                            {"close_period": "2026-Q1", "forecast_category": "commit", "currency": "GBP"})  # fmt: skip
    assert len(listed.context["page"].rows) == 1
    bad = client_for(cast.a.manager).get(page(cast.a.company, "forecast"), {"period": "week"})
    assert bad.context["errors"] == {"period": ["Choose month or quarter."]}


def test_exports_reuse_the_lead_machinery_with_formula_neutralisation(cast, client_for):
    make_account(cast.a.company, name="=HYPERLINK(1)", owner=cast.a.sdr1)
    make_opportunity(make_account(cast.a.company, owner=cast.a.manager), owner=cast.a.manager, amount="99.50",
                     name="+Deal")  # fmt: skip
    client = client_for(cast.a.manager)
    response = client.get(page(cast.a.company, "export"), {"list": "opportunities", "format": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:5] == ["ID", "Name", "Account", "Stage", "Amount"]
    assert rows[1][1:5] == ["'+Deal", rows[1][2], "Prospect", "99.50"]
    accounts = client.get(page(cast.a.company, "export"), {"list": "accounts", "format": "json"})
    names = [row["Name"] for row in json.loads(b"".join(accounts.streaming_content))]
    assert "=HYPERLINK(1)" in names
    xlsx = client.get(page(cast.a.company, "export"), {"list": "contacts", "format": "xlsx"})
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    assert client_for(cast.a.sdr1).get(page(cast.a.company, "export")).status_code == 403
