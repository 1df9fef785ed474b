"""Duplicate detection: match keys, rules, the per-save check, the batch scan and the review queue."""

import pytest
from django.core.exceptions import ValidationError

from leads import dedup, services
from leads.models import CandidateSource, CandidateStatus, DuplicateCandidate, DuplicateRule, Lead
from leads.testing.factories import make_campaign, make_custom_field, make_lead


def reasons(pair):
    return (
        [r["label"] for r in pair.reasons] if isinstance(pair, DuplicateCandidate) else [r.label for r in pair.reasons]
    )


def scan_pairs(company):
    return {(p.a, p.b): [r.label for r in p.reasons] for p in dedup.find_candidates(company)}


# --- match keys -----------------------------------------------------------------------------------


def test_every_write_path_keeps_the_match_keys_current(cast):
    lead = make_lead(
        cast.a.company,
        cast.a.sdr1,
        first_name="Ana",
        last_name="Souza",
        email=" Ana.Souza@Acme.COM ",
        phone="020 7946 0018",
        profile_url="http://www.linkedin.com/in/ana-souza/?utm_source=x",
        company_name="ACME, Ltd.",
    )
    keys = Lead.objects.values("email_key", "phone_key", "profile_url_key", "company_key", "name_key").get(pk=lead.pk)
    assert keys == {
        "email_key": "ana.souza@acme.com",
        "phone_key": "+442079460018",
        "profile_url_key": "https://linkedin.com/in/ana-souza",
        "company_key": "acme",
        "name_key": "ana souza",
    }
    services.lead_update(actor=cast.a.sdr1, lead=lead, data={"company_name": "Globex GmbH", "last_name": "Sousa"})
    keys = Lead.objects.values("company_key", "name_key").get(pk=lead.pk)
    assert keys == {"company_key": "globex", "name_key": "ana sousa"}


def test_the_company_core_drops_dotted_suffixes_and_generic_words():
    assert [
        dedup.company_core(k) for k in ["acme l l c", "acme p l c", "acme group", "acme s a s", "a b c", "acme"]
    ] == ["acme", "acme", "acme", "acme", "abc", "acme"]


# --- rules ----------------------------------------------------------------------------------------


def test_a_company_without_a_saved_rule_gets_the_defaults(cast):
    rule = dedup.rule_for(cast.a.company)
    assert rule.pk is None
    assert (
        rule.match_email,
        rule.match_phone,
        rule.match_profile_url,
        rule.match_name_company,
        rule.match_company_domain,
        rule.name_threshold,
        rule.company_threshold,
    ) == (True, True, True, True, True, 88, 85)
    assert dedup.exact_key_fields(cast.a.company) == ["email_key", "phone_key", "profile_url_key"]


def test_exact_key_fields_follow_the_rule(cast):
    dedup.duplicate_rule_update(actor=cast.a.admin, data={"match_phone": False})
    assert dedup.exact_key_fields(cast.a.company) == ["email_key", "profile_url_key"]
    assert dedup.exact_key_fields(cast.b.company) == ["email_key", "phone_key", "profile_url_key"]


def test_only_admins_change_the_rule_and_bad_values_are_named(cast):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        dedup.duplicate_rule_update(actor=cast.a.manager, data={"match_phone": False})
    with pytest.raises(ValidationError) as error:
        dedup.duplicate_rule_update(
            actor=cast.a.admin,
            data={
                "name_threshold": 30,
                "custom_field_keys": ["vat"],
                "free_mail_domains": ["not a domain"],
                "colour": 1,
            },
        )
    assert error.value.message_dict == {
        "colour": ["Unknown field."],
        "name_threshold": ["Give a whole percentage between 50 and 100."],
        "custom_field_keys": ["No custom field with key vat in this company."],
        "free_mail_domains": ["Not a domain: not a domain (write it like mail.example.com)."],
    }
    assert not DuplicateRule.objects.exists()


# --- the per-save check ------------------------------------------------------------------------


def test_an_exact_match_blocks_creation_and_names_the_lead_beside_the_field(cast):
    ana = make_lead(
        cast.a.company,
        cast.a.sdr1,
        owner=cast.a.sdr1,
        first_name="Ana",
        last_name="Souza",
        email="ana@acme.example",
        phone="+44 20 7946 0018",
    )
    with pytest.raises(ValidationError) as error:
        make_lead(
            cast.a.company,
            cast.a.sdr1,
            first_name="A.",
            last_name="S.",
            email="ANA@acme.example ",
            phone="020 7946 0018",
        )
    assert error.value.message_dict == {
        "email": [f"Same email as Ana Souza (#{ana.pk})."],
        "phone": [f"Same phone as Ana Souza (#{ana.pk})."],
    }
    assert Lead.objects.filter(company=cast.a.company).count() == 1


def test_a_match_the_actor_cannot_see_is_named_neither_by_name_nor_by_owner(cast):
    hidden = make_lead(
        cast.a.company,
        cast.a.sdr2,
        owner=cast.a.sdr2,
        first_name="Secret",
        last_name="Person",
        email="secret@acme.example",
    )
    with pytest.raises(ValidationError) as error:
        make_lead(cast.a.company, cast.a.sdr1, email="secret@acme.example")
    assert error.value.message_dict == {"email": ["A lead you cannot see already has this email; ask your manager."]}
    assert hidden.pk  # the hidden lead exists: the message names neither it nor its owner


def test_another_companys_leads_never_match(cast):
    make_lead(cast.b.company, cast.b.admin, email="shared@acme.example", phone="+44 20 7946 0018")
    lead = make_lead(cast.a.company, cast.a.admin, email="shared@acme.example", phone="+44 20 7946 0018")
    assert lead.company == cast.a.company
    assert DuplicateCandidate.objects.count() == 0


def test_managers_may_create_anyway_which_flags_the_pair(cast):
    ana = make_lead(cast.a.company, cast.a.admin, first_name="Ana", last_name="Souza", email="ana@acme.example")
    copy = services.lead_create(
        company=cast.a.company,
        actor=cast.a.manager,
        allow_duplicates=True,
        data={
            "first_name": "Ana",
            "last_name": "Souza",
            "email": "ana@acme.example",
            "lead_source": "Web",
            "campaign": make_campaign(cast.a.company),
        },
    )
    pair = DuplicateCandidate.objects.get()
    assert (pair.lead_a_id, pair.lead_b_id, pair.status, pair.source, pair.score, pair.is_exact) == (
        ana.pk,
        copy.pk,
        CandidateStatus.PENDING,
        CandidateSource.CREATED_ANYWAY,
        100,
        True,
    )
    assert reasons(pair) == ["same email"]


def test_sdrs_cannot_create_anyway(cast):
    make_lead(cast.a.company, cast.a.admin, email="ana@acme.example")
    with pytest.raises(ValidationError) as error:
        services.lead_create(
            company=cast.a.company,
            actor=cast.a.sdr1,
            allow_duplicates=True,
            data={"email": "ana@acme.example", "lead_source": "Web", "campaign": make_campaign(cast.a.company)},
        )
    assert list(error.value.message_dict) == ["email"]
    assert Lead.objects.filter(company=cast.a.company).count() == 1


def test_fuzzy_matches_do_not_block_and_say_why(cast):
    original = make_lead(
        cast.a.company,
        cast.a.admin,
        first_name="Jonathan",
        last_name="Whitfield",
        company_name="Northwind Traders Ltd",
        email="jw@northwind.example",
    )
    lead = Lead(
        company=cast.a.company,
        first_name="Jonathon",
        last_name="Whitfield",
        company_name="NORTHWIND TRADERS",
        email_key="jonathon@gmail.com",
        company_key="northwind traders",
        name_key="jonathon whitfield",
    )
    matches = dedup.check_before_save(lead, actor=cast.a.admin, allow_duplicates=False)
    assert [(m.lead_id, m.reason_text, m.score, m.exact) for m in matches] == [
        (original.pk, "name 94% + same company", 97, False)
    ]


def test_an_edit_never_matches_the_lead_itself(cast):
    lead = make_lead(
        cast.a.company, cast.a.admin, first_name="Ana", last_name="Souza", email="ana@acme.example", company_name="Acme"
    )
    updated = services.lead_update(actor=cast.a.admin, lead=lead, data={"job_title": "CTO"})
    assert updated.job_title == "CTO"
    assert dedup.find_matches(updated) == []


def test_the_check_reads_indexed_keys_only_and_a_bounded_number_of_queries(cast, django_assert_max_num_queries):
    for n in range(3):
        make_lead(cast.a.company, cast.a.admin, first_name="Ana", last_name=f"Souza{n}", company_name="Acme")
    lead = Lead(
        company=cast.a.company,
        first_name="Ana",
        last_name="Souza",
        email_key="x@acme.example",
        company_key="acme",
        name_key="ana souza",
    )
    with django_assert_max_num_queries(5):
        matches = dedup.check_before_save(lead, actor=cast.a.admin, allow_duplicates=False)
    assert len(matches) == 3


# --- free-mail domains ------------------------------------------------------------------------------


def _keys(pk, email, company, name):
    free = dedup.free_mail_domains(DuplicateRule())
    return dedup.Keys.build(pk, email, "", "", company, name, free=free)


def test_a_free_mail_domain_never_counts_as_a_shared_company_domain():
    rule = DuplicateRule()
    nameless_corporate = dedup.evaluate(
        rule, _keys(1, "info@acme.example", "acme", ""), _keys(2, "sales@acme.example", "acme", "")
    )
    nameless_gmail = dedup.evaluate(rule, _keys(1, "a@gmail.com", "acme", ""), _keys(2, "b@gmail.com", "acme", ""))
    assert [r.label for r in nameless_corporate] == ["same company + same email domain acme.example"]
    assert nameless_gmail == []


def _person(pk, email="", phone="", url="", company="acme", name="ana souza"):
    return dedup.Keys.build(pk, email, phone, url, company, name, free=dedup.FREE_MAIL_DOMAINS)


def test_a_similar_name_is_not_enough_when_an_identifier_contradicts_it():
    rule = DuplicateRule()
    base = _person(1, email="ana@acme.example", phone="+442079460018", url="https://linkedin.com/in/ana")
    assert [r.label for r in dedup.evaluate(rule, base, _person(2))] == ["name 100% + same company"]
    contradicted = {
        "different emails at the same company": _person(2, email="a.souza@acme.example"),
        "different phones": _person(2, phone="+442079460099"),
        "different profile URLs": _person(2, url="https://linkedin.com/in/ana-souza-2"),
    }
    for why, other in contradicted.items():
        assert (dedup.contradiction(base, other), dedup.evaluate(rule, base, other)) == (why, [])
    # Two gmail addresses are just two mailboxes: no contradiction.
    gmail = dedup.evaluate(rule, _person(1, email="ana@gmail.com"), _person(2, email="souza.ana@gmail.com"))
    assert [r.label for r in gmail] == ["name 100% + same company"]


def test_the_rules_extra_free_mail_domains_count_as_free_mail(cast):
    dedup.duplicate_rule_update(actor=cast.a.admin, data={"free_mail_domains": ["Mail.Example"]})
    rule = dedup.rule_for(cast.a.company)
    free = dedup.free_mail_domains(rule)
    a = dedup.Keys.build(1, "info@mail.example", "", "", "acme", "", free=free)
    b = dedup.Keys.build(2, "sales@mail.example", "", "", "acme", "", free=free)
    assert dedup.evaluate(rule, a, b) == []


def test_the_scan_ignores_a_domain_that_many_companies_share(cast):
    for n in range(dedup.SHARED_DOMAIN_COMPANIES + 1):
        make_lead(
            cast.a.company,
            cast.a.admin,
            first_name="",
            last_name="",
            email=f"x{n}@isp.example",
            company_name=f"Company{n} Zeta{n}",
        )
    make_lead(
        cast.a.company, cast.a.admin, first_name="", last_name="", email="y@isp.example", company_name="Company0 Zeta0"
    )
    assert scan_pairs(cast.a.company) == {}


# --- the batch scan and the review queue ----------------------------------------------------------


@pytest.fixture
def lookalikes(cast):
    """Planted duplicates of four kinds, two unrelated leads, and company b's copy (never matched)."""
    a, make = cast.a, lambda **data: make_lead(cast.a.company, cast.a.admin, **data)
    leads = {
        "ana": make(first_name="Ana", last_name="Souza", email="ana@acme.example", company_name="Acme Ltd"),
        "ana_phone": make(
            first_name="Ana", last_name="Souza", email="ana.s@gmail.com", phone="+44 20 7946 0018", company_name="Acme"
        ),
        "ana_typo": make(
            first_name="Ana", last_name="Suoza", email="", phone="+44 20 7946 0099", company_name="ACME L.L.C."
        ),
        "bob": make(first_name="Robert", last_name="Jones", email="bob@initech.example", company_name="Initech"),
        "bob_url": make(
            first_name="Bob",
            last_name="Jones",
            email="",
            profile_url="https://linkedin.com/in/bobj",
            company_name="Other Co",
        ),
        "carol": make(first_name="Carol", last_name="Jones", email="carol@initech.example", company_name="Initech"),
        "dan": make(first_name="Dan", last_name="Brown", email="dan@hooli.example", company_name="Hooli"),
    }
    services.lead_update(
        actor=a.admin,
        lead=leads["bob"],
        data={"profile_url": "https://www.linkedin.com/in/BobJ/"},
        allow_duplicates=True,
    )
    make_lead(
        cast.b.company,
        cast.b.admin,
        first_name="Ana",
        last_name="Souza",
        email="ana@acme.example",
        company_name="Acme Ltd",
    )
    return {name: lead.pk for name, lead in leads.items()}


def pair(x, y):
    return (min(x, y), max(x, y))


def test_the_scan_finds_exact_and_fuzzy_pairs_with_their_reasons(cast, lookalikes):
    ids = lookalikes
    assert scan_pairs(cast.a.company) == {
        pair(ids["ana"], ids["ana_phone"]): ["name 100% + same company"],
        pair(ids["ana"], ids["ana_typo"]): ["name 89% + same company"],
        pair(ids["bob"], ids["bob_url"]): ["same profile URL"],
    }  # ana_phone and ana_typo have different phones: not the same person, however close the names


def test_the_scan_fills_the_queue_once_and_groups_connected_pairs(cast, lookalikes):
    # The three pairs were queued when saved (the per-save check reads "ACME L.L.C." by its core,
    # "acme", too); the scan finds the same pairs, with the same reasons, and changes nothing.
    first = dedup.duplicates_scan(company=cast.a.company)
    again = dedup.duplicates_scan(company=cast.a.company)
    assert (first.created, first.updated, again.created, again.updated, again.removed) == (0, 0, 0, 0, 0)
    queue = {(c.lead_a_id, c.lead_b_id): c.group_key for c in DuplicateCandidate.objects.filter(company=cast.a.company)}
    ids = lookalikes
    ana_group = min(ids["ana"], ids["ana_phone"], ids["ana_typo"])
    assert queue == {
        pair(ids["ana"], ids["ana_phone"]): ana_group,
        pair(ids["ana"], ids["ana_typo"]): ana_group,
        pair(ids["bob"], ids["bob_url"]): min(ids["bob"], ids["bob_url"]),
    }
    assert DuplicateCandidate.objects.filter(company=cast.b.company).count() == 0


def test_a_pair_marked_not_a_duplicate_is_never_proposed_again(cast, lookalikes):
    ids = lookalikes
    dedup.duplicates_scan(company=cast.a.company)
    candidate = DuplicateCandidate.objects.get(lead_a_id=min(ids["bob"], ids["bob_url"]))
    dedup.candidate_dismiss(actor=cast.a.manager, candidate=candidate)
    rescan = dedup.duplicates_scan(company=cast.a.company)
    assert pair(ids["bob"], ids["bob_url"]) not in {(p.a, p.b) for p in rescan.pairs}
    candidate.refresh_from_db()
    assert (candidate.status, candidate.reviewed_by) == (CandidateStatus.NOT_DUPLICATE, cast.a.manager)
    # Nor on save: editing one of them no longer reports the other.
    bob = Lead.objects.get(pk=ids["bob"])
    assert [pk for pk, _ in dedup.find_matches(bob)] == []
    services.lead_update(actor=cast.a.admin, lead=bob, data={"job_title": "CEO"})
    assert DuplicateCandidate.objects.get(pk=candidate.pk).status == CandidateStatus.NOT_DUPLICATE


def test_dismissing_splits_a_group(cast, lookalikes):
    ids = lookalikes
    dedup.duplicates_scan(company=cast.a.company)
    for candidate in DuplicateCandidate.objects.filter(lead_b_id=ids["ana_typo"]):
        dedup.candidate_dismiss(actor=cast.a.admin, candidate=candidate)
    pending = DuplicateCandidate.objects.filter(status=CandidateStatus.PENDING, company=cast.a.company)
    assert sorted(pending.values_list("lead_a_id", "lead_b_id", "group_key")) == [
        (ids["ana"], ids["ana_phone"], ids["ana"]),
        (*pair(ids["bob"], ids["bob_url"]), min(ids["bob"], ids["bob_url"])),
    ]


def test_a_reviewed_pair_cannot_be_dismissed_again(cast, lookalikes):
    dedup.duplicates_scan(company=cast.a.company)
    candidate = DuplicateCandidate.objects.filter(company=cast.a.company).first()
    dedup.candidate_dismiss(actor=cast.a.admin, candidate=candidate)
    with pytest.raises(ValidationError) as error:
        dedup.candidate_dismiss(actor=cast.a.admin, candidate=candidate)
    assert error.value.messages == ["This pair was already reviewed (Not a duplicate)."]


def test_pending_scan_pairs_that_no_longer_match_leave_the_queue(cast, lookalikes):
    ids = lookalikes
    dedup.duplicates_scan(company=cast.a.company)
    services.lead_update(
        actor=cast.a.admin,
        lead=Lead.objects.get(pk=ids["bob_url"]),
        data={"profile_url": "https://linkedin.com/in/someone-else"},
    )
    result = dedup.duplicates_scan(company=cast.a.company)
    assert result.removed == 1
    assert not DuplicateCandidate.objects.filter(lead_a_id=min(ids["bob"], ids["bob_url"])).exists()


def test_custom_field_equality_counts_when_the_rule_names_the_field(cast):
    make_custom_field(cast.a.company, "vat", label="VAT number")
    first = make_lead(cast.a.company, cast.a.admin, first_name="Zed", custom_fields={"vat": "GB123"})
    make_lead(cast.a.company, cast.a.admin, first_name="Yan", custom_fields={"vat": "GB123"})
    assert scan_pairs(cast.a.company) == {}
    dedup.duplicate_rule_update(actor=cast.a.admin, data={"custom_field_keys": ["vat"]})
    assert list(scan_pairs(cast.a.company).values()) == [["same VAT number"]]
    with pytest.raises(ValidationError) as error:
        make_lead(cast.a.company, cast.a.admin, custom_fields={"vat": "GB123"})
    assert error.value.message_dict == {
        "custom_fields.vat": [
            f"Same VAT number as Zed Lead{first.last_name[4:]} (#{first.pk}) and "
            f"{Lead.objects.exclude(pk=first.pk).get(company=cast.a.company).display_name} "
            f"(#{Lead.objects.exclude(pk=first.pk).get(company=cast.a.company).pk})."
        ]
    }


def test_rules_switch_criteria_off(cast, lookalikes):
    dedup.duplicate_rule_update(actor=cast.a.admin, data={"match_name_company": False, "match_profile_url": False})
    assert scan_pairs(cast.a.company) == {}


def test_tombstones_and_deleted_leads_are_not_scanned(cast, lookalikes):
    ids = lookalikes
    services.lead_delete(actor=cast.a.admin, lead=Lead.objects.get(pk=ids["bob_url"]))
    assert pair(ids["bob"], ids["bob_url"]) not in scan_pairs(cast.a.company)
