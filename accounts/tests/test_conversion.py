"""Account-first conversion: matching (domain, free mail, legal suffix, fuzzy name), eligibility and the
manager's override, fill-only-empty, contact reuse, the optional opportunity, once only, bad input."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.conversion import (
    AlreadyConverted,
    account_matches,
    conversion_eligibility,
    lead_convert,
)
from accounts.models import Account, Contact, LeadConversion, Opportunity
from accounts.qualification import lead_qualify, qualification_settings_update
from accounts.testing.factories import make_account, make_contact
from accounts.timeline import record_timeline
from crm.models import Activity
from leads import dedup
from leads import services as lead_services
from leads.models import DuplicateCandidate, Lead, StatusChange
from leads.testing.factories import make_comment, make_lead, status

FULL_BANT = {"budget": "50k", "authority": "CFO", "need": "Pipeline visibility", "timeline": "Q3"}


def contacted(cast, actor=None, **data):
    actor = actor or cast.a.sdr1
    data.setdefault("owner", actor)
    lead = make_lead(cast.a.company, actor, **data)
    return lead_services.lead_transition(actor=actor, lead=lead, to_status=status(cast.a.company, "contacted"))


def qualified(cast, actor=None, **data):
    actor = actor or cast.a.sdr1
    lead = contacted(cast, actor, **data)
    return lead_qualify(actor=actor, lead=lead, bant=FULL_BANT).lead


def counts():
    return (Account.objects.count(), Contact.objects.count(), Opportunity.objects.count(),
            LeadConversion.objects.count())  # fmt: skip


def errors_of(func, **kwargs):
    with pytest.raises(ValidationError) as error:
        func(**kwargs)
    return error.value.message_dict


def matched(lead, membership=None):
    return [(m.account.name, m.score, m.reasons) for m in account_matches(lead, membership=membership)]


# --- matching ---------------------------------------------------------------------------------------------


def test_accounts_match_by_corporate_email_domain(cast):
    make_account(cast.a.company, name="Umbrella Holdings", domain="umbrella.example")
    make_account(cast.b.company, name="Umbrella", domain="umbrella.example")  # another company: never
    lead = make_lead(cast.a.company, email="ada@umbrella.example", company_name="Umbrella Research")
    assert matched(lead) == [("Umbrella Holdings", 100, ("same email domain umbrella.example",))]


def test_free_mail_never_matches_by_domain(cast):
    make_account(cast.a.company, name="Mailbox Co", domain="gmail.com")
    lead = make_lead(cast.a.company, email="ada@gmail.com", company_name="Lovelace Analytics")
    assert matched(lead) == []


def test_accounts_match_by_name_without_case_punctuation_or_legal_suffix(cast):
    make_account(cast.a.company, name="ACME, Inc.")
    lead = make_lead(cast.a.company, email="wile@coyote.example", company_name="Acme Ltd")
    assert matched(lead) == [("ACME, Inc.", 100, ("same name",))]


def test_domain_and_name_together_come_first(cast):
    make_account(cast.a.company, name="Acme")
    make_account(cast.a.company, name="Acme Labs", domain="acme.example")
    make_account(cast.a.company, name="ACME GmbH", domain="acme.example")
    lead = make_lead(cast.a.company, email="wile@acme.example", company_name="Acme")
    assert matched(lead) == [
        ("ACME GmbH", 100, ("same email domain acme.example", "same name")),
        ("Acme", 100, ("same name",)),
        ("Acme Labs", 100, ("same email domain acme.example",)),
    ]


def test_similar_names_match_with_their_score_and_others_do_not(cast):
    make_account(cast.a.company, name="Initech Systems")
    make_account(cast.a.company, name="Initrode")
    make_account(cast.a.company, name="Systems Initech")  # another first word: outside the block
    lead = make_lead(cast.a.company, email="peter@initech-mail.example", company_name="Initech Sytems Ltd")
    assert matched(lead) == [("Initech Systems", 97, ("similar name (97 %)",))]


def test_matches_say_which_accounts_the_member_can_see(cast):
    mine = make_account(cast.a.company, cast.a.sdr1, name="Hooli")
    make_account(cast.a.company, cast.a.sdr2, name="Hooli Inc")
    lead = make_lead(cast.a.company, email="gavin@hooli.example", company_name="Hooli")
    seen = [(m.account.pk == mine.pk, m.visible) for m in account_matches(lead, membership=cast.a.sdr1)]
    assert seen == [(True, True), (False, False)]


# --- eligibility ------------------------------------------------------------------------------------------


def test_a_qualified_lead_with_a_qualified_scorecard_is_eligible(cast):
    eligibility = conversion_eligibility(qualified(cast))
    assert (eligibility.eligible, eligibility.problems, eligibility.legacy) == (True, {}, False)


def test_eligibility_says_exactly_why_not(cast):
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1)
    assert conversion_eligibility(lead).problems == {
        "status": "The lead is New; only a qualified lead can be converted.",
        "qualification": "The lead has no qualification yet: fill in its scorecard.",
    }
    lead = contacted(cast)
    lead_qualify(actor=cast.a.sdr1, lead=lead, bant={"budget": "x", "need": "y"})
    lead = lead_services.lead_transition(actor=cast.a.sdr1, lead=lead, to_status=status(cast.a.company, "qualified"))
    qualification_settings_update(actor=cast.a.admin, company=cast.a.company, data={"min_lead_score": 90})
    eligibility = conversion_eligibility(Lead.objects.get(pk=lead.pk))
    assert eligibility.problems == {
        "qualification": "Its latest qualification scored 50 (nurture more); 75 qualifies.",
        "score": f"Its lead score is {lead.score}; the company converts leads from 90.",
    }
    assert eligibility.overridable is True


def test_an_ineligible_lead_is_refused_with_the_reasons_and_nothing_changes(cast):
    lead = contacted(cast)
    before = counts()
    assert errors_of(lead_convert, actor=cast.a.sdr1, lead=lead) == {
        "status": ["The lead is Contacted; only a qualified lead can be converted."],
        "qualification": ["The lead has no qualification yet: fill in its scorecard."],
    }
    assert counts() == before
    assert Lead.objects.get(pk=lead.pk).status.key == "contacted"


def test_a_manager_overrides_the_qualification_and_score_with_a_note(cast):
    lead = contacted(cast, cast.a.manager)
    lead_qualify(actor=cast.a.manager, lead=lead, bant={"budget": "x", "need": "y"})
    lead = lead_services.lead_transition(actor=cast.a.manager, lead=lead, to_status=status(cast.a.company, "qualified"))
    with pytest.raises(PermissionDenied):
        lead_convert(actor=cast.a.sdr1, lead=lead, override_note="I think it is fine")
    result = lead_convert(actor=cast.a.manager, lead=lead, override_note="Signed the pilot already")
    assert Lead.objects.get(pk=lead.pk).status.key == "converted"
    change = StatusChange.objects.filter(lead=lead).latest("id")
    assert (change.to_status.key, change.note) == ("converted", "Signed the pilot already")
    assert "override: Signed the pilot already" in result.conversion.account.activities.get().notes


def test_the_status_is_not_overridable(cast):
    lead = contacted(cast, cast.a.manager)
    lead_qualify(actor=cast.a.manager, lead=lead, bant=FULL_BANT)  # moves it to qualified …
    lead = lead_services.lead_transition(actor=cast.a.manager, lead=lead, to_status=status(cast.a.company,
                                         "recycled"))  # fmt: skip
    errors = errors_of(lead_convert, actor=cast.a.manager, lead=lead, override_note="Please")
    assert errors == {"status": ["The lead is Recycled; only a qualified lead can be converted."]}


# --- the conversion ---------------------------------------------------------------------------------------


def test_a_conversion_creates_account_contact_opportunity_and_converts_the_lead(cast):
    lead = qualified(cast, first_name="Ada", last_name="Byron", email="ada@analytical.example",
                     company_name="Analytical Engines Ltd", phone="020 7946 0123", job_title="CTO",
                     authority_level="decision_maker", lead_source="Webinar", interest_product="Looms")  # fmt: skip
    result = lead_convert(actor=cast.a.sdr1, lead=lead, opportunity={"amount": "1200.50"})
    conversion = result.conversion
    account, contact, deal = conversion.account, conversion.contact, conversion.opportunity
    assert (result.account_created, result.contact_created, result.matched_by) == (True, True, ())
    assert (account.name, account.domain, account.owner, account.lifecycle_stage, account.country) == (
        "Analytical Engines Ltd", "analytical.example", cast.a.sdr1, "sqa", "GB"
    )  # fmt: skip
    assert (contact.display_name, contact.email, contact.phone, contact.job_title, contact.role, contact.is_primary,
            contact.account) == ("Ada Byron", "ada@analytical.example", "+442079460123", "CTO", "decision_maker",
                                 True, account)  # fmt: skip
    assert (deal.name, deal.amount, deal.stage.name, deal.probability, deal.source, deal.lead_id,
            deal.primary_contact, deal.close_date) == (
        "Analytical Engines Ltd: Looms", Decimal("1200.50"), "Prospect", 10, "Webinar", lead.pk, contact,
        timezone.localdate() + dt.timedelta(days=90),
    )  # fmt: skip
    lead.refresh_from_db()
    assert (lead.status.key, lead.stage, lead.converted_at == conversion.converted_at) == ("converted", "converted",
                                                                                           True)  # fmt: skip
    assert (conversion.lead, conversion.converted_by) == (lead, cast.a.sdr1)
    activity = Activity.objects.get(account=account)
    assert (activity.kind, activity.subject, activity.owner) == ("system", "Lead converted", cast.a.sdr1)
    assert Activity.objects.get(lead=lead, event="accounts.lead.converted").subject == (
        "Converted into account Analytical Engines Ltd"
    )


def test_a_lead_known_by_email_only_becomes_a_contact_named_by_it(cast):
    lead = qualified(cast, first_name="", last_name="", email="anon@nameless.example", company_name="")
    conversion = lead_convert(actor=cast.a.sdr1, lead=lead).conversion
    assert (conversion.contact.last_name, conversion.account.name, conversion.account.domain) == (
        "anon@nameless.example", "nameless.example", "nameless.example"
    )  # fmt: skip


def test_without_an_opportunity_none_is_created(cast):
    result = lead_convert(actor=cast.a.sdr1, lead=qualified(cast))
    assert (result.conversion.opportunity, Opportunity.objects.count()) == (None, 0)


def test_an_existing_account_and_contact_only_get_their_empty_fields_filled(cast):
    account = make_account(cast.a.company, cast.a.manager, name="Globex", industry="Energy")
    primary = make_contact(account, first_name="Hank", last_name="Scorpio", email="hank@globex.example",
                           is_primary=True)  # fmt: skip
    known = make_contact(account, first_name="Homer", last_name="", email="HOMER@globex.example",
                         phone="+442079460999")  # fmt: skip
    lead = qualified(cast, first_name="Homer", last_name="Simpson", email="homer@globex.example",
                     phone="020 7946 0123", job_title="Safety inspector", company_name="Globex Corporation")  # fmt: skip
    result = lead_convert(actor=cast.a.sdr1, lead=lead, account=account.pk)
    assert (result.account_created, result.contact_created, result.matched_by) == (False, False, ("chosen",))
    assert result.filled == {"account": ["domain"], "contact": ["job_title", "last_name"]}
    account.refresh_from_db()
    assert (account.name, account.industry, account.domain, account.owner) == (
        "Globex", "Energy", "globex.example", cast.a.manager
    )  # fmt: skip
    known.refresh_from_db()
    assert (result.conversion.contact, known.last_name, known.job_title, known.phone, known.is_primary) == (
        known, "Simpson", "Safety inspector", "+442079460999", False
    )  # fmt: skip
    primary.refresh_from_db()
    assert primary.is_primary is True
    assert known.history.latest().history_change_reason == "accounts.contact.changed"


def test_a_new_contact_on_an_account_with_a_primary_one_is_not_primary(cast):
    account = make_account(cast.a.company, name="Soylent")
    make_contact(account, is_primary=True)
    result = lead_convert(actor=cast.a.sdr1, lead=qualified(cast, company_name="Soylent"), account=account)
    assert (result.contact_created, result.conversion.contact.is_primary) == (True, False)


def test_without_an_account_the_visible_exact_match_is_taken(cast):
    account = make_account(cast.a.company, cast.a.sdr1, name="Vandelay Industries", domain="vandelay.example")
    lead = qualified(cast, email="art@vandelay.example", company_name="Vandelay Import Export")
    result = lead_convert(actor=cast.a.sdr1, lead=lead)
    assert (result.conversion.account, result.account_created, result.matched_by) == (
        account, False, ("same email domain vandelay.example",)
    )  # fmt: skip


def test_new_account_creates_one_despite_a_match(cast):
    make_account(cast.a.company, cast.a.sdr1, name="Vandelay")
    result = lead_convert(actor=cast.a.sdr1, lead=qualified(cast, company_name="Vandelay"), new_account=True)
    assert (result.account_created, Account.objects.filter(name="Vandelay").count()) == (True, 2)


def test_an_exact_match_the_member_cannot_see_stops_a_duplicate_account(cast):
    make_account(cast.a.company, cast.a.sdr2, name="Pied Piper")
    lead = qualified(cast, company_name="Pied Piper Inc.")
    before = counts()
    assert errors_of(lead_convert, actor=cast.a.sdr1, lead=lead, new_account=True) == {"account_id": [
        "An account you cannot see matches this lead (same name): ask a manager to convert it, or to give you "
        "that account."]}  # fmt: skip
    assert counts() == before
    result = lead_convert(actor=cast.a.admin, lead=lead)
    assert (result.account_created, result.conversion.account.owner) == (False, cast.a.sdr2)


def test_a_second_conversion_is_refused_with_the_first_result(cast):
    lead = qualified(cast)
    first = lead_convert(actor=cast.a.sdr1, lead=lead).conversion
    before = counts()
    with pytest.raises(AlreadyConverted) as refused:
        lead_convert(actor=cast.a.sdr1, lead=lead, new_account=True)
    assert refused.value.conversion == first
    at = timezone.localtime(first.converted_at)
    assert str(refused.value) == f"This lead was already converted on {at:%Y-%m-%d %H:%M} into {first.account.name}."
    assert counts() == before


def test_a_lead_converted_before_accounts_existed_is_linked_by_a_manager_and_keeps_its_status(cast):
    lead = qualified(cast)
    lead = lead_services.lead_transition(actor=cast.a.admin, lead=lead, to_status=status(cast.a.company,
                                         "converted"), conversion=True)  # the old plain status change  # fmt: skip
    converted_at = lead.converted_at
    eligibility = conversion_eligibility(lead)
    assert (eligibility.legacy, eligibility.eligible) == (True, True)
    with pytest.raises(PermissionDenied):
        lead_convert(actor=cast.a.sdr1, lead=lead)
    result = lead_convert(actor=cast.a.manager, lead=lead)
    lead.refresh_from_db()
    assert (lead.status.key, lead.converted_at, result.conversion.converted_at) == ("converted", converted_at,
                                                                                   converted_at)  # fmt: skip
    assert StatusChange.objects.filter(lead=lead, to_status__key="converted").count() == 1


def test_the_account_timeline_shows_the_leads_history(cast):
    lead = qualified(cast, first_name="Grace", last_name="Hopper")
    make_comment(lead, cast.a.sdr1, body="Loves COBOL.")
    account = lead_convert(actor=cast.a.sdr1, lead=lead).conversion.account
    items = record_timeline(account)
    from_lead = [item for item in items if item.source == "Lead Grace Hopper"]
    assert {item.entry.kind for item in from_lead} >= {"comment", "status", "system"}
    assert any("Loves COBOL." in (item.entry.body or "") for item in from_lead)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"account": "OTHER_COMPANY"}, {"account_id": ["Choose a valid account of this company."]}),
        ({"account": "x"}, {"account_id": ["Choose a valid account of this company."]}),
        ({"account": "OWN", "contact": "OTHER_ACCOUNT"},
         {"contact_id": ["Choose a contact of the account the lead is converted into."]}),
        ({"contact": "OTHER_ACCOUNT"}, {"contact_id": ["Choose a contact of the account the lead is converted into."]}),
        ({"account": "OWN", "new_account": True}, {"new_account": ["Pick an account or create a new one, not both."]}),
        ({"opportunity": {"amount": "-5"}}, {"opportunity.amount": ["The amount cannot be negative."]}),
        ({"opportunity": {"close_date": "next week"}}, {"opportunity.close_date": ["Enter a date as YYYY-MM-DD."]}),
        ({"opportunity": {"stage": "Won"}}, {"opportunity.stage": ["Unknown field."]}),
        ({"opportunity": "big"}, {"opportunity": ["Give the opportunity as an object with name, amount and close_date."]}),
    ],
)  # fmt: skip
def test_bad_input_names_the_field_and_changes_nothing(cast, kwargs, expected):
    own = make_account(cast.a.company, cast.a.sdr1, name="Own")
    other_account = make_account(cast.a.company, cast.a.sdr1, name="Elsewhere")
    placeholders = {
        "OTHER_COMPANY": lambda: make_account(cast.b.company).pk,
        "OWN": lambda: own.pk,
        "OTHER_ACCOUNT": lambda: make_contact(other_account).pk,
    }
    kwargs = {k: placeholders[v]() if isinstance(v, str) and v in placeholders else v for k, v in kwargs.items()}
    lead = qualified(cast, company_name="Brand New Co")
    before = counts()
    assert errors_of(lead_convert, actor=cast.a.sdr1, lead=lead, **kwargs) == expected
    assert counts() == before
    assert (Lead.objects.get(pk=lead.pk).status.key, Lead.objects.get(pk=lead.pk).converted_at) == ("qualified", None)


def test_another_companys_member_cannot_convert(cast):
    lead = qualified(cast)
    with pytest.raises(PermissionDenied):
        lead_convert(actor=cast.b.admin, lead=lead)
    assert LeadConversion.objects.count() == 0


def test_a_converted_lead_no_longer_blocks_a_new_one_but_shows_as_converted_before(cast):
    old = qualified(cast, email="again@returning.example")
    open_lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1, email="open@returning.example")
    lead_convert(actor=cast.a.sdr1, lead=old)
    returning = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1, email="again@returning.example")
    matches = dedup.matches_of(returning, cast.a.sdr1)
    assert [(m.lead_id, m.exact, m.reason_text) for m in matches] == [(old.pk, False, "same email · converted before")]
    candidate = DuplicateCandidate.objects.get()
    assert ({candidate.lead_a_id, candidate.lead_b_id}, candidate.source) == ({old.pk, returning.pk}, "saved")
    with pytest.raises(ValidationError) as error:  # an open lead still blocks
        make_lead(cast.a.company, cast.a.sdr1, email="open@returning.example")
    assert error.value.message_dict == {"email": [f"Same email as {open_lead.display_name} (#{open_lead.pk})."]}
