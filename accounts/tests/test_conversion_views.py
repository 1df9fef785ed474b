"""Pages: the scorecard panel on the lead page, the qualify form, the conversion page, the managers'
bulk conversion and the qualification settings. Each: happy path, other company 404, forbidden 403,
bad input → the field's error and nothing changed."""

import pytest
from django.urls import reverse

from accounts.conversion import lead_convert
from accounts.models import Account, LeadConversion, Qualification, QualificationSettings
from accounts.qualification import lead_qualify
from accounts.testing.factories import make_account
from leads import services as lead_services
from leads.models import BulkJob, Lead
from leads.testing.factories import make_lead, status

FULL_BANT = {"budget": "50k", "authority": "CFO", "need": "Forecasting", "timeline": "Q3"}


def contacted(cast, actor=None, **data):
    actor = actor or cast.a.sdr1
    lead = make_lead(cast.a.company, actor, owner=actor, **data)
    return lead_services.lead_transition(actor=actor, lead=lead, to_status=status(cast.a.company, "contacted"))


def qualified(cast, actor=None, **data):
    actor = actor or cast.a.sdr1
    return lead_qualify(actor=actor, lead=contacted(cast, actor, **data), bant=FULL_BANT).lead


def lead_url(lead, name="leads:detail"):
    return reverse(name, kwargs={"company_slug": lead.company.slug, "lead_id": lead.pk})


def qualify_post(**answers):
    data = {f"bant_{key}": value for key, value in FULL_BANT.items()}
    data.update({"risk_score": "low", "note": ""})
    data.update(answers)
    return data


def page_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- the lead page's panel --------------------------------------------------------------------------------


def test_the_lead_page_shows_the_scorecard_panel_prefilled_from_the_lead(cast, client_for):
    lead = contacted(cast, budget_range="10-50k", timeline="This quarter")
    page = client_for(cast.a.sdr1).get(lead_url(lead))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="qualification-panel"' in html
    assert "not scored yet" in html
    assert 'name="bant_budget" value="10-50k"' in html
    assert 'name="bant_timeline" value="This quarter"' in html
    assert "The lead has no qualification yet: fill in its scorecard." in html
    assert 'data-testid="convert-link"' in html


def test_qualifying_from_the_panel_scores_moves_the_status_and_returns_to_the_lead(cast, client_for):
    lead = contacted(cast)
    client = client_for(cast.a.sdr1)
    response = client.post(lead_url(lead, "accounts:lead_qualify"), qualify_post(bant_timeline=""), follow=True)
    assert response.redirect_chain == [(lead_url(lead), 302)]
    assert page_messages(response) == ["Scored 75: Qualified. Status: Qualified."]
    html = response.content.decode()
    assert 'data-testid="qualification-score">75<' in html
    assert "Missing: Timeline" in html
    assert "Ready to convert." in html
    assert Lead.objects.get(pk=lead.pk).status.key == "qualified"


def test_a_refused_status_change_is_said_on_the_lead_page(cast, client_for):
    lead = contacted(cast)
    response = client_for(cast.a.sdr1).post(lead_url(lead, "accounts:lead_qualify"),
                                            qualify_post(bant_authority="", bant_need="", bant_timeline=""),
                                            follow=True)  # fmt: skip
    assert page_messages(response) == [
        "Scored 25: Disqualify. The status stays Contacted: A note is required to move from Contacted to Unqualified."
    ]
    assert Qualification.objects.get(lead=lead).recommendation == "disqualify"


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        ({"risk_score": "extreme"}, "risk_score", "Select a valid choice. extreme is not one of the available choices."),
        ({"meddicc_champion": "x" * 1001}, "meddicc_champion",
         "Ensure this value has at most 1000 characters (it has 1001)."),
    ],
)  # fmt: skip
def test_bad_answers_show_the_fields_error_and_change_nothing(cast, client_for, answers, field, message):
    lead = contacted(cast)
    response = client_for(cast.a.sdr1).post(lead_url(lead, "accounts:lead_qualify"), qualify_post(**answers))
    assert response.status_code == 400
    assert response.context["form"].errors == {field: [message]}
    assert f'data-field="{field}">{message}' in response.content.decode().replace("&#x27;", "'")
    assert (Qualification.objects.count(), Lead.objects.get(pk=lead.pk).status.key) == (0, "contacted")


def test_leads_of_another_company_or_team_are_404(cast, client_for):
    foreign = make_lead(cast.b.company, cast.b.sdr1, owner=cast.b.sdr1)
    teammate = make_lead(cast.a.company, cast.a.sdr2, owner=cast.a.sdr2)
    client = client_for(cast.a.sdr1)
    for lead in (foreign, teammate):
        for name in ("accounts:lead_qualify", "accounts:lead_convert"):
            url = reverse(name, kwargs={"company_slug": "alpha", "lead_id": lead.pk})
            assert client.get(url).status_code == 404
            assert client.post(url, qualify_post()).status_code == 404
    assert (Qualification.objects.count(), LeadConversion.objects.count()) == (0, 0)


# --- the conversion page ----------------------------------------------------------------------------------


def test_the_conversion_page_proposes_accounts_with_scores_and_converts_into_the_chosen_one(cast, client_for):
    chosen = make_account(cast.a.company, cast.a.sdr1, name="Oscorp", domain="oscorp.example")
    make_account(cast.a.company, cast.a.sdr1, name="Oscorp Industrys")
    lead = qualified(cast, first_name="Norman", last_name="Osborn", email="norman@oscorp.example",
                     company_name="Oscorp Industries")  # fmt: skip
    client = client_for(cast.a.sdr1)
    page = client.get(lead_url(lead, "accounts:lead_convert"))
    choices = [str(label) for _, label in page.context["form"].fields["account"].widget.choices]
    assert choices == [
        "Oscorp — score 100: same email domain oscorp.example",
        "Oscorp Industrys — score 91: similar name (91 %)",
        "Create a new account",
    ]
    assert page.context["form"].initial["account"] == str(chosen.pk)
    response = client.post(lead_url(lead, "accounts:lead_convert"), {"account": chosen.pk}, follow=True)
    account_url = reverse("accounts:account_detail", kwargs={"company_slug": "alpha", "account_id": chosen.pk})
    assert response.redirect_chain == [(account_url, 302)]
    assert page_messages(response) == ["Norman Osborn converted into the existing account Oscorp."]
    html = response.content.decode()
    assert 'data-testid="account-leads"' in html
    assert "Norman Osborn" in html
    assert "Lead Norman Osborn" in html  # the lead's history on the account's timeline
    assert LeadConversion.objects.get().account == chosen


def test_a_new_account_and_an_opportunity_from_the_page(cast, client_for):
    lead = qualified(cast, company_name="Massive Dynamic", email="nina@massive.example")
    data = {"account": "new", "opportunity": "on", "opportunity_amount": "500", "opportunity_close_date": "2027-02-01"}
    response = client_for(cast.a.sdr1).post(lead_url(lead, "accounts:lead_convert"), data)
    conversion = LeadConversion.objects.get()
    assert response.status_code == 302
    assert (conversion.account.name, str(conversion.opportunity.amount), str(conversion.opportunity.close_date)) == (
        "Massive Dynamic", "500.00", "2027-02-01"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"opportunity": "on", "opportunity_amount": "-3"}, "opportunity_amount", "The amount cannot be negative."),
        ({"opportunity": "on", "opportunity_close_date": "31/02/2027"}, "opportunity_close_date",
         "Enter a date as YYYY-MM-DD."),
        ({"account": "OTHER_COMPANY"}, "account", "Choose a valid account of this company."),
        ({"account": "abc"}, "account", "Choose a proposed account or create a new one."),
    ],
)  # fmt: skip
def test_bad_conversion_input_shows_the_fields_error_and_changes_nothing(cast, client_for, data, field, message):
    if data.get("account") == "OTHER_COMPANY":
        data = {**data, "account": make_account(cast.b.company).pk}
    lead = qualified(cast, company_name="Nobody Like Us")
    before = Account.objects.count()
    response = client_for(cast.a.sdr1).post(lead_url(lead, "accounts:lead_convert"), {"account": "new", **data})
    assert response.status_code == 400
    assert response.context["form"].errors == {field: [message]}
    assert (Account.objects.count(), LeadConversion.objects.count()) == (before, 0)
    assert Lead.objects.get(pk=lead.pk).status.key == "qualified"


def test_an_ineligible_lead_page_says_why_and_converting_fails_with_the_reasons(cast, client_for):
    lead = contacted(cast)
    client = client_for(cast.a.sdr1)
    page = client.get(lead_url(lead, "accounts:lead_convert")).content.decode()
    assert "The lead is Contacted; only a qualified lead can be converted." in page
    response = client.post(lead_url(lead, "accounts:lead_convert"), {"account": "new"})
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        "Status: The lead is Contacted; only a qualified lead can be converted.",
        "Qualification: The lead has no qualification yet: fill in its scorecard.",
    ]
    assert LeadConversion.objects.count() == 0


def test_a_converted_lead_goes_to_its_account(cast, client_for):
    lead = qualified(cast)
    conversion = lead_convert(actor=cast.a.sdr1, lead=lead).conversion
    response = client_for(cast.a.sdr1).get(lead_url(lead, "accounts:lead_convert"), follow=True)
    assert response.redirect_chain[0][0] == reverse("accounts:account_detail", kwargs={
        "company_slug": "alpha", "account_id": conversion.account_id})  # fmt: skip
    lead_page = client_for(cast.a.sdr1).get(lead_url(lead)).content.decode()
    assert 'data-testid="conversion-done"' in lead_page
    assert 'data-testid="convert-link"' not in lead_page


def test_old_converted_leads_say_converted_without_an_account_and_only_managers_convert_them(cast, client_for):
    lead = qualified(cast)
    lead_services.lead_transition(actor=cast.a.sdr1, lead=lead, to_status=status(cast.a.company, "converted"),
                                  conversion=True)  # as the plain status change did before  # fmt: skip
    sdr = client_for(cast.a.sdr1)
    sdr_page = sdr.get(lead_url(lead)).content.decode()
    assert "Converted without an account" in sdr_page
    assert 'data-testid="link-account"' not in sdr_page
    assert sdr.post(lead_url(lead, "accounts:lead_convert"), {"account": "new"}).status_code == 403
    manager = client_for(cast.a.manager)  # the same test client, now logged in as the manager
    assert 'data-testid="link-account"' in manager.get(lead_url(lead)).content.decode()
    response = manager.post(lead_url(lead, "accounts:lead_convert"), {"account": "new"})
    assert (response.status_code, LeadConversion.objects.get().lead_id) == (302, lead.pk)
    assert Lead.objects.get(pk=lead.pk).status.key == "converted"


# --- bulk conversion --------------------------------------------------------------------------------------


def test_a_manager_converts_leads_in_bulk_all_or_nothing(cast, client_for):
    first = qualified(cast, company_name="Bulk One", email="a@one.example")
    second = qualified(cast, company_name="Bulk Two", email="b@two.example")
    ineligible = contacted(cast)
    client = client_for(cast.a.manager)
    url = reverse("accounts:bulk_convert", kwargs={"company_slug": "alpha"})
    failed = client.post(url, {"ids": f"#{first.pk}, {second.pk} {ineligible.pk}"})
    job = BulkJob.objects.get()
    assert (failed.status_code, job.operation, job.status) == (302, "convert", "failed")
    assert f"#{ineligible.pk} {ineligible.display_name} (The lead is Contacted" in job.error
    assert LeadConversion.objects.count() == 0
    done = client.post(url, {"ids": f"{first.pk} {second.pk}"}, follow=True)
    job = BulkJob.objects.latest("id")
    assert (job.status, job.total) == ("succeeded", 2)
    assert "Convert · 2 leads" in done.content.decode()
    assert sorted(LeadConversion.objects.values_list("account__name", flat=True)) == ["Bulk One", "Bulk Two"]


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        ("twelve", "Give lead ids: whole numbers separated by commas or spaces."),
        ("FOREIGN", "1 lead(s) are not available to you: #{pk}. Nothing was changed."),
    ],
)
def test_bad_bulk_input_shows_the_error_and_changes_nothing(cast, client_for, ids, message):
    foreign = make_lead(cast.b.company, cast.b.sdr1)
    ids = str(foreign.pk) if ids == "FOREIGN" else ids
    response = client_for(cast.a.manager).post(reverse("accounts:bulk_convert", kwargs={"company_slug": "alpha"}),
                                               {"ids": ids})  # fmt: skip
    assert response.status_code == 400
    assert response.context["form"].errors == {"ids": [message.format(pk=foreign.pk)]}
    assert (BulkJob.objects.count(), LeadConversion.objects.count()) == (0, 0)


def test_bulk_conversion_is_for_managers(cast, client_for):
    url = reverse("accounts:bulk_convert", kwargs={"company_slug": "alpha"})
    assert client_for(cast.a.sdr1).get(url).status_code == 403
    assert client_for(cast.a.manager).get(url).status_code == 200
    assert client_for(cast.b.manager).get(url).status_code == 404


# --- settings ---------------------------------------------------------------------------------------------


def test_admins_edit_the_qualification_settings(cast, client_for):
    url = reverse("accounts:qualification_settings", kwargs={"company_slug": "alpha"})
    assert client_for(cast.a.manager).get(url).status_code == 403
    assert client_for(cast.b.admin).get(url).status_code == 404
    client = client_for(cast.a.admin)
    form = {"budget_weight": 25, "authority_weight": 25, "need_weight": 25, "timeline_weight": 25,
            "meddicc_weight": 5, "meddicc_cap": 20, "qualified_at": 70, "nurture_at": 80, "min_lead_score": ""}  # fmt: skip
    bad = client.post(url, form)
    assert (bad.status_code, bad.context["form"].errors) == (
        400, {"nurture_at": ["Nurture more starts at or below the qualified score."]}
    )  # fmt: skip
    assert QualificationSettings.objects.count() == 0
    saved = client.post(url, {**form, "nurture_at": 40}, follow=True)
    assert page_messages(saved) == ["Qualification settings saved: new scorecards use them."]
    settings = QualificationSettings.objects.get(company=cast.a.company)
    assert (settings.qualified_at, settings.nurture_at, settings.min_lead_score) == (70, 40, None)
