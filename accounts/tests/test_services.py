import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts import services
from accounts.models import Account, Contact, ForecastCategory, Opportunity, OpportunityStageChange, Stage
from accounts.queries import accounts_matching
from accounts.testing.factories import make_account, make_contact, make_opportunity, stage
from crm import services as crm_services


def errors_of(call, **kwargs):
    with pytest.raises(ValidationError) as error:
        call(**kwargs)
    return error.value.message_dict


# --- accounts -----------------------------------------------------------------------------------------


def test_a_new_account_is_normalised_and_recorded(cast):
    account = make_account(
        cast.a.company, cast.a.sdr1, name="  ACME, Inc. ", website="https://www.Acme.example.com/about",
        gstin="27aapfu0939f1zv", annual_revenue="1,250,000.50",
    )  # fmt: skip
    account.refresh_from_db()
    assert (account.name, account.domain, account.domain_key, account.company_key) == (
        "ACME, Inc.", "acme.example.com", "acme.example.com", "acme",
    )  # fmt: skip
    assert (account.gstin, account.annual_revenue, account.country) == ("27AAPFU0939F1ZV", Decimal("1250000.50"), "GB")
    assert account.owner == cast.a.sdr1
    history = account.history.get()
    assert (history.history_change_reason, history.history_user) == ("accounts.account.created", cast.a.sdr1.user)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"name": " "}, {"name": ["Give the account a name."]}),
        ({"website": "javascript:alert(1)"}, {"website": ["Enter a valid http(s) URL."]}),
        ({"domain": "not a domain"}, {"domain": ["Enter a domain such as example.com."]}),
        ({"gstin": "12345"}, {"gstin": ["Enter a 15-character GSTIN such as 27AAPFU0939F1ZV (state, PAN, entity, Z, check)."]}),
        ({"gstin": "27AAPFU0939F1ZX"}, {"gstin": ["This GSTIN's last character does not match its check digit; look for a typo."]}),
        ({"annual_revenue": "-5"}, {"annual_revenue": ["The amount cannot be negative."]}),
        ({"annual_revenue": "lots"}, {"annual_revenue": ["Enter a number, e.g. 1250.50."]}),
        ({"account_type": "vendor"}, {"account_type": ["Choose one of customer, prospect, partner."]}),
        ({"health_score": "blue"}, {"health_score": ["Choose one of green, yellow, red, black."]}),
        ({"lifecycle_stage": "lead"}, {"lifecycle_stage": ["Choose one of mqa, sqa, customer, churned."]}),
        ({"country": "India"}, {"country": ["Use a two-letter ISO 3166 country code such as IN or GB."]}),
        ({"is_active": "maybe"}, {"is_active": ["Choose yes or no."]}),
        ({"nickname": "x"}, {"nickname": ["Unknown field."]}),
    ],
)  # fmt: skip
def test_bad_account_input_names_the_field_and_creates_nothing(cast, data, expected):
    assert errors_of(services.account_create, actor=cast.a.admin, company=cast.a.company,
                     data={"name": "Acme", **data}) == expected  # fmt: skip
    assert Account.objects.count() == 0


def test_foreign_keys_of_another_company_are_refused(cast):
    foreign_parent = make_account(cast.b.company)
    errors = errors_of(services.account_create, actor=cast.a.admin, company=cast.a.company,
                       data={"name": "Acme", "owner": cast.b.sdr1.pk, "parent": foreign_parent.pk})  # fmt: skip
    assert errors == {
        "owner": ["Choose a valid owner of this company."],
        "parent": ["Choose a valid parent account of this company."],
    }
    assert Account.objects.filter(company=cast.a.company).count() == 0


def test_an_account_cannot_become_its_own_ancestor(cast):
    top = make_account(cast.a.company, name="Top")
    child = make_account(cast.a.company, name="Child", parent=top)
    errors = errors_of(services.account_update, actor=cast.a.admin, account=top, data={"parent": child})
    assert errors == {"parent": ["This would make the account its own parent."]}
    top.refresh_from_db()
    assert top.parent is None


def test_an_sdr_keeps_the_records_they_create(cast):
    errors = errors_of(services.account_create, actor=cast.a.sdr1, company=cast.a.company,
                       data={"name": "Acme", "owner": cast.a.sdr2})  # fmt: skip
    assert errors == {"owner": ["Only managers and admins give records to someone else."]}
    account = make_account(cast.a.company, cast.a.manager, owner=cast.a.sdr2)
    assert account.owner == cast.a.sdr2


def test_an_account_is_found_again_by_domain_email_or_near_identical_name(cast):
    acme = make_account(cast.a.company, name="Acme Ltd", domain="acme.com")
    make_account(cast.a.company, name="Other", domain="other.com")
    make_account(cast.b.company, name="Acme Ltd", domain="acme.com")
    assert list(accounts_matching(cast.a.company, domain="https://www.ACME.com/x")) == [acme]
    assert list(accounts_matching(cast.a.company, domain="jo@acme.com")) == [acme]
    assert list(accounts_matching(cast.a.company, name="ACME, Limited")) == [acme]
    assert list(accounts_matching(cast.a.company, name="Acme Logistics")) == []
    assert list(accounts_matching(cast.a.company, name="acme ltd.")) == [acme]
    assert list(accounts_matching(cast.a.company)) == []


def test_an_account_with_opportunities_is_not_deleted(cast):
    account = make_account(cast.a.company)
    make_contact(account)
    make_opportunity(account)
    assert errors_of(services.account_delete, actor=cast.a.admin, account=account) == {
        "__all__": ["This account has 1 opportunities: delete or move them first."]
    }
    Opportunity.objects.all().delete()
    services.account_delete(actor=cast.a.admin, account=account)
    assert (Account.objects.count(), Contact.objects.count()) == (0, 0)
    assert Account.history.filter(history_type="-").get().history_change_reason == "accounts.account.deleted"


# --- contacts -----------------------------------------------------------------------------------------


def test_a_contact_phone_is_stored_in_e164_in_the_accounts_country(cast):
    account = make_account(cast.a.company, country="IN")
    contact = make_contact(account, cast.a.sdr1, phone="098765 43210", email=" Raj@Example.COM ",
                           preferred_channel="whatsapp")  # fmt: skip
    assert (contact.phone, contact.email, contact.email_key) == ("+919876543210", "raj@example.com", "raj@example.com")
    assert contact.history.get().history_change_reason == "accounts.contact.created"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"first_name": "", "last_name": ""}, {"last_name": ["Give the contact a name."]}),
        ({"email": "nope"}, {"email": ["Enter a valid email address."]}),
        ({"phone": "12"}, {"phone": ["Enter a valid phone number for GB or in +country format."]}),
        ({"preferred_channel": "whatsapp"}, {"preferred_channel": ["Add a phone number to reach this contact by WhatsApp."]}),
        ({"preferred_channel": "fax"}, {"preferred_channel": ["Choose one of email, whatsapp, phone."]}),
        ({"role": "boss"}, {"role": ["Choose one of decision_maker, influencer, user, gatekeeper, champion, economic_buyer."]}),
        ({"influence": "huge"}, {"influence": ["Choose one of high, medium, low."]}),
        ({"account": None}, {"account": ["Choose the contact's account."]}),
        ({"account": 999999}, {"account": ["Choose a valid account of this company."]}),
    ],
)  # fmt: skip
def test_bad_contact_input_names_the_field_and_creates_nothing(cast, data, expected):
    account = make_account(cast.a.company)
    assert errors_of(services.contact_create, actor=cast.a.admin, company=cast.a.company,
                     data={"account": account, "last_name": "Ng", **data}) == expected  # fmt: skip
    assert Contact.objects.count() == 0


def test_a_contact_cannot_join_another_companys_account(cast):
    foreign = make_account(cast.b.company)
    errors = errors_of(services.contact_create, actor=cast.a.admin, company=cast.a.company,
                       data={"account": foreign.pk, "last_name": "Ng"})  # fmt: skip
    assert errors == {"account": ["Choose a valid account of this company."]}


def test_an_account_has_at_most_one_primary_contact(cast):
    account = make_account(cast.a.company)
    first = make_contact(account, is_primary=True)
    errors = errors_of(services.contact_create, actor=cast.a.admin, company=cast.a.company,
                       data={"account": account, "last_name": "Second", "is_primary": True})  # fmt: skip
    assert errors == {"is_primary": [f"{first.display_name} is already this account's primary contact."]}
    second = make_contact(account)
    errors = errors_of(services.contact_update, actor=cast.a.admin, contact=second, data={"is_primary": True})
    assert errors == {"is_primary": [f"{first.display_name} is already this account's primary contact."]}
    services.contact_make_primary(actor=cast.a.admin, contact=second)
    assert list(account.contacts.filter(is_primary=True)) == [second]
    other_account = make_account(cast.a.company)
    assert make_contact(other_account, is_primary=True).is_primary


def test_a_contact_moving_account_leaves_its_deals_there_without_a_primary_contact(cast):
    old, new = make_account(cast.a.company), make_account(cast.a.company)
    contact = make_contact(old)
    deal = make_opportunity(old, primary_contact=contact)
    services.contact_update(actor=cast.a.admin, contact=contact, data={"account": new.pk})
    deal.refresh_from_db()
    assert deal.primary_contact is None
    assert deal.history.first().history_change_reason == "accounts.opportunity.primary_contact_left"


# --- opportunities --------------------------------------------------------------------------------------


def test_a_new_opportunity_takes_its_probability_from_the_first_open_stage(cast):
    account = make_account(cast.a.company)
    deal = make_opportunity(account, cast.a.sdr1, amount="12500.5", currency="inr", close_date="2026-06-30")
    deal.refresh_from_db()
    assert (deal.stage.name, deal.probability, deal.amount, deal.currency, deal.close_date) == (
        "Prospect", 10, Decimal("12500.50"), "INR", dt.date(2026, 6, 30),
    )  # fmt: skip
    assert (deal.owner, deal.forecast_category, deal.weighted_amount) == (
        cast.a.sdr1, ForecastCategory.MOST_LIKELY, Decimal("1250.05"),
    )  # fmt: skip
    row = OpportunityStageChange.objects.get(opportunity=deal)
    assert (row.from_stage, row.to_stage.name, row.probability, row.changed_by) == (None, "Prospect", 10, cast.a.sdr1)
    assert deal.history.get().history_change_reason == "accounts.opportunity.created"


def test_the_currency_defaults_from_the_companys_country(cast):
    account = make_account(cast.a.company)
    deal = services.opportunity_create(actor=None, company=cast.a.company,
                                       data={"account": account, "name": "D", "close_date": "2026-01-01"})  # fmt: skip
    assert (deal.currency, deal.amount) == ("GBP", Decimal("0.00"))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"amount": "-1"}, {"amount": ["The amount cannot be negative."]}),
        ({"amount": "ten"}, {"amount": ["Enter a number, e.g. 1250.50."]}),
        ({"amount": "NaN"}, {"amount": ["Enter a number, e.g. 1250.50."]}),
        ({"amount": 10.5}, {"amount": ['Send amounts as text or integers (e.g. "1250.50"), not floats.']}),
        ({"amount": "1.005"}, {"amount": ["Use at most two decimal places."]}),
        ({"currency": "XYZ"}, {"currency": ["Enter an ISO 4217 currency code such as USD, EUR or INR."]}),
        ({"close_date": "next week"}, {"close_date": ["Enter a date as YYYY-MM-DD."]}),
        ({"close_date": ""}, {"close_date": ["Give the expected close date."]}),
        ({"name": ""}, {"name": ["Give the opportunity a name."]}),
        ({"forecast_category": "maybe"}, {"forecast_category": ["Choose one of commit, best_case, most_likely, worst_case, omitted."]}),
        ({"forecast_category": "omitted"}, {"forecast_category": ["Omitted is for closed-lost opportunities only."]}),
        ({"probability": 101}, {"probability": ["Enter a whole number from 0 to 100."]}),
        ({"probability": "-1"}, {"probability": ["Enter a whole number from 0 to 100."]}),
        ({"probability": "fifty"}, {"probability": ["Enter a whole number from 0 to 100."]}),
        ({"stage": "Closed lost"}, {"lost_reason": ["Say why the opportunity was lost."]}),
        ({"probability": 40}, {"note": ["Say why the probability differs from the stage's."]}),
        ({"account": None}, {"account": ["Choose the opportunity's account."]}),
        ({"colour": "red"}, {"colour": ["Unknown field."]}),
    ],
)  # fmt: skip
def test_bad_opportunity_input_names_the_field_and_creates_nothing(cast, data, expected):
    account = make_account(cast.a.company)
    if data.get("stage"):
        data["stage"] = stage(cast.a.company, data["stage"])
    valid = {"account": account, "name": "Deal", "amount": "100", "currency": "USD", "close_date": "2026-01-31"}
    assert errors_of(services.opportunity_create, actor=cast.a.manager, company=cast.a.company,
                     data={**valid, **data}) == expected  # fmt: skip
    assert (Opportunity.objects.count(), Opportunity.history.count(), OpportunityStageChange.objects.count()) == (
        0,
        0,
        0,
    )


def test_every_foreign_key_of_another_company_or_account_is_refused(cast):
    account, other_account = make_account(cast.a.company), make_account(cast.a.company)
    foreign_account = make_account(cast.b.company)
    data = {"account": account, "name": "Deal", "close_date": "2026-01-31",
            "primary_contact": make_contact(foreign_account).pk, "owner": cast.b.admin.pk,
            "stage": stage(cast.b.company, "Qualified").pk}  # fmt: skip
    assert errors_of(services.opportunity_create, actor=cast.a.admin, company=cast.a.company, data=data) == {
        "primary_contact": ["Choose a valid contact of this company."],
        "owner": ["Choose a valid owner of this company."],
        "stage": ["Choose a valid stage of this company."],
    }
    data = {"account": foreign_account.pk, "name": "Deal", "close_date": "2026-01-31"}
    assert errors_of(services.opportunity_create, actor=cast.a.admin, company=cast.a.company, data=data) == {
        "account": ["Choose a valid account of this company."],
    }
    data = {
        "account": account,
        "name": "Deal",
        "close_date": "2026-01-31",
        "primary_contact": make_contact(other_account),
    }
    assert errors_of(services.opportunity_create, actor=cast.a.admin, company=cast.a.company, data=data) == {
        "primary_contact": ["Choose a contact of this opportunity's account."],
    }
    assert Opportunity.objects.count() == 0


def test_a_bad_update_changes_nothing(cast):
    deal = make_opportunity(make_account(cast.a.company))
    before = (deal.amount, deal.name, deal.history.count())
    errors = errors_of(services.opportunity_update, actor=cast.a.admin, opportunity=deal,
                       data={"name": "New name", "amount": "-3"})  # fmt: skip
    assert errors == {"amount": ["The amount cannot be negative."]}
    deal.refresh_from_db()
    assert (deal.amount, deal.name, deal.history.count()) == before


# --- the stage change ------------------------------------------------------------------------------------


def test_a_stage_change_sets_the_stages_probability_and_writes_history_and_a_row(cast):
    deal = make_opportunity(make_account(cast.a.company), cast.a.sdr1)
    moved = services.opportunity_change_stage(actor=cast.a.sdr1, opportunity=deal,
                                              stage=stage(cast.a.company, "Proposal sent"))  # fmt: skip
    assert (moved.stage.name, moved.probability) == ("Proposal sent", 50)
    row = OpportunityStageChange.objects.filter(opportunity=deal).last()
    assert (row.from_stage.name, row.to_stage.name, row.probability, row.changed_by) == (
        "Prospect", "Proposal sent", 50, cast.a.sdr1,
    )  # fmt: skip
    history = moved.history.first()
    assert (history.history_change_reason, history.history_user, history.probability) == (
        "accounts.opportunity.stage_changed", cast.a.sdr1.user, 50,
    )  # fmt: skip


def test_only_a_manager_overrides_the_probability_and_only_with_a_note(cast):
    deal = make_opportunity(make_account(cast.a.company), cast.a.sdr1)
    qualified = stage(cast.a.company, "Qualified")
    with pytest.raises(PermissionDenied):
        services.opportunity_change_stage(
            actor=cast.a.sdr1, opportunity=deal, stage=qualified, probability=40, note="x"
        )
    assert errors_of(services.opportunity_change_stage, actor=cast.a.manager, opportunity=deal, stage=qualified,
                     probability=40) == {"note": ["Say why the probability differs from the stage's."]}  # fmt: skip
    deal.refresh_from_db()
    assert (deal.stage.name, deal.probability) == ("Prospect", 10)
    moved = services.opportunity_change_stage(actor=cast.a.manager, opportunity=deal, stage=qualified, probability=40,
                                              note="Budget signed off")  # fmt: skip
    assert (moved.stage.name, moved.probability) == ("Qualified", 40)
    assert OpportunityStageChange.objects.filter(opportunity=deal).last().note == "Budget signed off"


def test_a_probability_outside_0_to_100_is_refused(cast):
    deal = make_opportunity(make_account(cast.a.company))
    assert errors_of(services.opportunity_change_stage, actor=cast.a.admin, opportunity=deal,
                     stage=deal.stage, probability=150, note="x") == {
        "probability": ["Enter a whole number from 0 to 100."]
    }  # fmt: skip


def test_closed_lost_needs_a_reason_and_is_omitted_from_the_forecast(cast):
    deal = make_opportunity(make_account(cast.a.company), cast.a.sdr1, forecast_category="best_case")
    lost = stage(cast.a.company, "Closed lost")
    assert errors_of(services.opportunity_change_stage, actor=cast.a.sdr1, opportunity=deal, stage=lost) == {
        "lost_reason": ["Say why the opportunity was lost."]
    }
    closed = services.opportunity_change_stage(actor=cast.a.sdr1, opportunity=deal, stage=lost, lost_reason="Price")
    assert (closed.probability, closed.forecast_category, closed.lost_reason) == (0, "omitted", "Price")
    assert closed.closed_at is not None


def test_closed_is_terminal_except_a_managers_reopen_with_a_note(cast):
    deal = make_opportunity(make_account(cast.a.company), cast.a.sdr1)
    deal = services.opportunity_change_stage(actor=cast.a.sdr1, opportunity=deal,
                                             stage=stage(cast.a.company, "Closed won"))  # fmt: skip
    assert (deal.probability, deal.forecast_category) == (100, "commit")
    negotiation = stage(cast.a.company, "Negotiation")
    with pytest.raises(PermissionDenied):
        services.opportunity_change_stage(actor=cast.a.sdr1, opportunity=deal, stage=negotiation, note="oops")
    assert errors_of(services.opportunity_change_stage, actor=cast.a.manager, opportunity=deal,
                     stage=negotiation) == {"note": ["Say why this closed opportunity is reopened."]}  # fmt: skip
    reopened = services.opportunity_change_stage(actor=cast.a.manager, opportunity=deal, stage=negotiation,
                                                 note="Customer withdrew the PO")  # fmt: skip
    assert (reopened.stage.name, reopened.probability, reopened.forecast_category, reopened.closed_at) == (
        "Negotiation", 75, "most_likely", None,
    )  # fmt: skip


def test_dropping_a_card_on_its_own_column_changes_nothing(cast):
    deal = make_opportunity(make_account(cast.a.company))
    services.opportunity_change_stage(actor=cast.a.admin, opportunity=deal, stage=deal.stage)
    assert (deal.history.count(), deal.stage_changes.count()) == (1, 1)


def test_an_update_hands_a_new_stage_to_the_stage_change(cast):
    deal = make_opportunity(make_account(cast.a.company), cast.a.sdr1)
    updated = services.opportunity_update(actor=cast.a.sdr1, opportunity=deal,
                                          data={"next_step": "Send proposal", "stage": stage(cast.a.company, "Qualified").pk,
                                                "probability": deal.probability})  # fmt: skip
    assert (updated.stage.name, updated.probability, updated.next_step) == ("Qualified", 25, "Send proposal")
    reasons = list(updated.history.values_list("history_change_reason", flat=True))
    assert reasons == [
        "accounts.opportunity.stage_changed",
        "accounts.opportunity.changed",
        "accounts.opportunity.created",
    ]


# --- stages --------------------------------------------------------------------------------------------


def test_every_new_company_gets_the_guides_stages(cast):
    company = crm_services.company_create(name="Charlie", slug="charlie")
    assert list(Stage.objects.filter(company=company).values_list("name", "probability", "is_won", "is_lost")) == [
        ("Prospect", 10, False, False), ("Qualified", 25, False, False), ("Proposal sent", 50, False, False),
        ("Negotiation", 75, False, False), ("Closed won", 100, True, False), ("Closed lost", 0, False, True),
    ]  # fmt: skip


def test_admins_edit_stages_and_the_pipeline_keeps_a_won_and_a_lost_stage(cast):
    won = stage(cast.a.company, "Closed won")
    with pytest.raises(PermissionDenied):
        services.stage_update(actor=cast.a.manager, stage=won, data={"probability": 90})
    assert errors_of(services.stage_update, actor=cast.a.admin, stage=won, data={"is_active": False}) == {
        "__all__": ["The pipeline needs at least one active won stage."]
    }
    assert errors_of(services.stage_create, actor=cast.a.admin, company=cast.a.company,
                     data={"name": "qualified", "probability": 300}) == {
        "name": ["Another stage already has this name."], "probability": ["Enter a whole number from 0 to 100."],
    }  # fmt: skip
    demo = services.stage_create(actor=cast.a.admin, company=cast.a.company, data={"name": "Demo", "probability": 35})
    assert (demo.order, demo.probability) == (70, 35)
    services.stage_delete(actor=cast.a.admin, stage=demo)
    assert not Stage.objects.filter(pk=demo.pk).exists()


def test_a_stage_with_history_is_retired_not_deleted(cast):
    deal = make_opportunity(make_account(cast.a.company))
    prospect = stage(cast.a.company, "Prospect")
    assert errors_of(services.stage_delete, actor=cast.a.admin, stage=prospect) == {
        "__all__": ["Move this stage's opportunities to another stage first."]
    }
    services.opportunity_change_stage(actor=cast.a.admin, opportunity=deal, stage=stage(cast.a.company, "Qualified"))
    services.stage_delete(actor=cast.a.admin, stage=prospect)
    prospect.refresh_from_db()
    assert prospect.is_active is False
