import csv
import random
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone
from rapidfuzz import fuzz

from crm.models import Membership
from leads import normalize, services
from leads.generate import (
    FIELDS,
    KINDS,
    NICKNAMES,
    PHONE_PLANS,
    LeadFaker,
    PhoneRange,
    leads_generate,
    phone_display,
    write_truth,
)
from leads.models import Campaign, Lead, LeadStatus, StatusChange
from leads.scoring import lead_rescore, scorer_for, scoring_rule_create
from leads.search import search_leads
from leads.testing.factories import make_lead


def generate(company, **options) -> list[str]:
    out = StringIO()
    call_command("generate_leads", company=company.slug, stdout=out, **options)
    return out.getvalue().splitlines()


def read_truth(path) -> list[tuple[int, int, str]]:
    with open(path, encoding="utf-8") as source:
        rows = list(csv.reader(source))
    assert rows[0] == ["original_id", "duplicate_id", "kind"]
    return [(int(original), int(duplicate), kind) for original, duplicate, kind in rows[1:]]


def snapshot(company) -> list[tuple]:
    return sorted(Lead.objects.filter(company=company).values_list("id", "email", "updated_at", "status_id"))


def assert_near_copies(pairs: list[tuple[int, int, str]]) -> None:
    """Each planted duplicate is a near-copy of its original with the variation its kind names,
    and came in later."""
    leads = Lead.objects.in_bulk([pk for original, duplicate, _ in pairs for pk in (original, duplicate)])
    for original_id, duplicate_id, kind in pairs:
        original, duplicate = leads[original_id], leads[duplicate_id]
        assert_variation(kind, original, duplicate)
        assert original.country == duplicate.country
        assert duplicate.created_at > original.created_at


def assert_variation(kind: str, original: Lead, duplicate: Lead) -> None:
    same_name = normalize.fold(original.first_name + original.last_name)
    names = (normalize.fold(duplicate.first_name), normalize.fold(duplicate.last_name))
    contacts = [value for value in (duplicate.email, duplicate.phone, duplicate.profile_url) if value]
    if kind == "typo":
        assert normalize.fold(duplicate.first_name + duplicate.last_name) != same_name
        assert fuzz.ratio(original.name_key, duplicate.name_key) >= 75, (original.name_key, duplicate.name_key)
    elif kind == "nickname":
        assert duplicate.first_name.lower() in {n.lower() for n in NICKNAMES[original.first_name]}
        assert names[1] == normalize.fold(original.last_name)
    elif kind == "swapped_names":
        assert names == (normalize.fold(original.last_name), normalize.fold(original.first_name))
    elif kind == "missing_fields":
        assert len(contacts) == 1, contacts
        assert "" in (duplicate.company_name, duplicate.job_title)
    elif kind == "other_contact":
        assert duplicate.email_key or duplicate.phone_key
        if original.email and duplicate.email:
            assert duplicate.email.split("@")[0] == original.email.split("@")[0]
            assert duplicate.email_key != original.email_key
        if original.phone:
            assert (duplicate.phone_key, duplicate.phone != original.phone) == (original.phone_key, True)
    else:
        assert kind == "company_suffix"
        assert duplicate.company_key.split()[0] == original.company_key.split()[0]
        assert duplicate.company_name != original.company_name
    if kind != "missing_fields" or duplicate.company_name:
        assert duplicate.company_key.split()[0] == original.company_key.split()[0]


def test_generate_leads_plants_duplicates_and_lists_them_in_the_truth_file(cast, tmp_path):
    other = make_lead(cast.b.company)
    before = snapshot(cast.b.company)
    truth = tmp_path / "truth.csv"

    lines = generate(cast.a.company, count=300, duplicates_ratio=0.1, truth=str(truth), seed=7, batch=64)

    assert re.fullmatch(r"created 300 leads in \d+\.\d s \([\d,]+ leads/s\)", lines[0]), lines[0]
    assert lines[1:] == [f"30 of them are planted duplicates, listed in {truth}", "seed 7"]
    ids = set(Lead.objects.filter(company=cast.a.company).values_list("pk", flat=True))
    assert len(ids) == 300
    pairs = read_truth(truth)
    originals, duplicates = [o for o, _, _ in pairs], [d for _, d, _ in pairs]
    assert len(pairs) == 30
    assert set(originals) | set(duplicates) <= ids
    assert len(set(originals)) == 30
    assert len(set(duplicates)) == 30
    assert not set(originals) & set(duplicates)
    assert all(duplicate > original for original, duplicate, _ in pairs)
    assert_near_copies(pairs)
    assert snapshot(cast.b.company) == before
    assert Lead.objects.get(pk=other.pk).company_id == cast.b.company.pk


def test_every_generated_lead_is_valid_and_keyed_as_the_services_key_it(cast):
    generate(cast.a.company, count=300, duplicates_ratio=0.1, seed=11)
    company = cast.a.company
    leads = list(Lead.objects.filter(company=company))
    members = set(Membership.objects.filter(company=company, is_active=True).values_list("pk", flat=True))
    statuses = {s.pk: s for s in LeadStatus.objects.filter(company=company)}
    campaigns = set(Campaign.objects.filter(company=company).values_list("pk", flat=True))
    now = timezone.now()
    assert len(leads) == 300
    for lead in leads:
        assert lead.email_key == normalize.email_key(lead.email)
        assert lead.phone_key == normalize.phone_key(lead.phone, lead.country)
        assert lead.profile_url_key == normalize.profile_url_key(lead.profile_url)
        assert lead.company_key == normalize.company_key(lead.company_name)
        assert lead.name_key == normalize.name_key(lead.first_name, lead.last_name)
        assert lead.email or lead.phone or lead.profile_url
        assert lead.email == lead.email.strip().lower()
        assert not lead.phone or normalize.parse_phone(lead.phone, lead.country) is not None
        assert lead.owner_id is None or lead.owner_id in members
        status = statuses[lead.status_id]
        assert (status.key != "converted", status.is_terminal, status.is_active) == (True, False, True)
        assert lead.campaign_id in campaigns
        assert lead.lead_source
        assert 0 <= lead.score <= 100
        assert lead.priority == ("hot" if lead.score >= 70 else "warm" if lead.score >= 40 else "cold")
        assert lead.spam_score < 60
        assert now - timedelta(days=366) < lead.created_at <= lead.updated_at <= now
        assert (lead.custom_fields, lead.is_deleted, lead.merged_into_id) == ({}, False, None)
        assert lead.profile_data["name"]
        assert lead.profile_data["country"] == lead.country
    assert len(campaigns) == 30
    assert {lead.owner_id for lead in leads} <= members | {None}
    assert {statuses[lead.status_id].key for lead in leads} == {
        "new", "contacted", "qualified", "recycled", "unqualified", "disqualified",
    }  # fmt: skip
    # Synthetic data: no history rows, no status changes (documented in the command's help).
    assert (Lead.history.filter(company_id=company.pk).count(), StatusChange.objects.count()) == (0, 0)


def test_the_same_seed_gives_the_same_leads(cast):
    generate(cast.a.company, count=80, duplicates_ratio=0.2, seed=3)
    generate(cast.b.company, count=80, duplicates_ratio=0.2, seed=3)

    def people(company):
        fields = ("first_name", "last_name", "email", "phone", "job_title", "company_name", "score", "profile_data")
        rows = Lead.objects.filter(company=company).order_by("pk").values_list(*fields)
        return [
            (*row[:-1], {k: v for k, v in row[-1].items() if k != "scraped_at"}) for row in rows
        ]  # times follow now

    assert people(cast.a.company) == people(cast.b.company)


def test_ids_stay_right_across_several_statements_in_one_batch(cast, tmp_path):
    # 1,300 rows of ~54 columns need three INSERT statements (SQLite: 32,766 parameters at most).
    truth = tmp_path / "truth.csv"
    generate(cast.a.company, count=1300, duplicates_ratio=0.5, truth=str(truth), seed=5, batch=1300)
    pairs = read_truth(truth)
    assert len(pairs) == 650
    assert_near_copies(pairs)


def test_generated_rows_pass_the_lead_service_and_keep_their_keys(cast):
    """The service accepts what the generator writes, and computes the very same keys."""
    company = cast.b.company
    campaign = Campaign.objects.create(company=company, name="Generated", source="Website")
    faker = LeadFaker(
        rng=random.Random(1), company_id=company.pk, home_country="GB", campaigns=[(campaign.pk, "Website", "", "")],
        statuses=[(0, "new", 1.0)], owners=[], now=timezone.now(), count=60,
    )  # fmt: skip
    rows = [dict(zip(FIELDS, faker.original(n)[0], strict=True)) for n in range(1, 40)]
    for position, kind in enumerate(KINDS, start=40):  # a duplicate of each kind, of originals not written
        rows.append(dict(zip(FIELDS, faker.duplicate(faker.original(position)[1], kind)[0], strict=True)))
    editable = ("first_name", "last_name", "email", "phone", "country", "job_title", "company_name", "profile_url")
    for row in rows:
        lead = services.lead_create(
            company=company,
            actor=None,
            data={**{key: row[key] for key in editable}, "lead_source": row["lead_source"], "campaign": campaign},
        )
        keys = ("email_key", "phone_key", "profile_url_key", "company_key", "name_key")
        assert {key: getattr(lead, key) for key in keys} == {key: row[key] for key in keys}


def test_generated_leads_are_searchable_and_later_leads_still_are(cast):
    generate(cast.a.company, count=120, seed=9)
    leads = Lead.objects.filter(company=cast.a.company)
    some = leads.order_by("pk")[57]
    later = make_lead(cast.a.company, first_name="Quirinus", last_name="Zwetschke")

    assert some in search_leads(leads, f"{some.first_name} {some.last_name}")
    assert list(search_leads(leads, "Zwetschke")) == [later]


@pytest.mark.parametrize("country", sorted(PHONE_PLANS))
def test_every_phone_range_holds_valid_numbers_in_every_written_form(country):
    plan = PHONE_PLANS[country]
    for prefix, digits in plan.ranges:
        numbers = PhoneRange(plan, prefix, digits, offset=random.Random(country).randrange(10**digits))
        for _ in range(300):
            nsn = numbers.take()
            for style in (0, 1, 2):
                written = phone_display(plan, nsn, style)
                assert normalize.phone_key(written, country) == f"+{plan.code}{nsn}", (written, style)


def test_a_home_country_without_a_plan_still_gets_valid_phones():
    faker = LeadFaker(
        rng=random.Random(2), company_id=1, home_country="KE", campaigns=[(1, "Website", "", "")],
        statuses=[(1, "new", 1.0)], owners=[], now=datetime.now(UTC), count=200,
    )  # fmt: skip
    rows = [dict(zip(FIELDS, faker.original(n)[0], strict=True)) for n in range(200)]
    kenyan = [row for row in rows if row["country"] == "KE" and row["phone"]]
    assert len(kenyan) > 100
    for row in rows:
        assert row["phone_key"] == normalize.phone_key(row["phone"], row["country"])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"company": "nope", "count": 5}, "No company with slug 'nope'."),
        ({"company": "alpha", "count": -1}, "--count cannot be negative."),
        ({"company": "alpha", "count": 5, "duplicates_ratio": 0.6}, "--duplicates-ratio must be between 0 and 0.5."),
        ({"company": "alpha", "count": 5, "batch": 0}, "--batch must be at least 1."),
        (
            {"company": "alpha", "count": 5, "truth": "/no/such/dir/truth.csv"},
            "Cannot write /no/such/dir/truth.csv: No such file or directory.",
        ),  # noqa: E501
    ],
)
def test_bad_options_stop_before_anything_is_written(cast, options, message):
    with pytest.raises(CommandError) as error:
        call_command("generate_leads", stdout=StringIO(), **options)
    assert str(error.value) == message
    assert Lead.objects.count() == 0


# --- what the data looks like -----------------------------------------------------------------------


@pytest.fixture
def generated(cast):
    """2,000 leads of company alpha (home country GB), 10 % of them planted duplicates."""
    return leads_generate(company=cast.a.company, count=2000, duplicates_ratio=0.1, seed=2026, batch_size=700)


def counts(company, field: str) -> list[tuple[object, int]]:
    found = Counter(Lead.objects.filter(company=company).values_list(field, flat=True))
    return sorted(found.items(), key=lambda item: (-item[1], str(item[0])))


def test_countries_campaigns_owners_and_statuses_are_skewed_as_documented(cast, generated):
    company, a = cast.a.company, cast.a
    countries = counts(company, "country")
    owners = dict(counts(company, "owner_id"))

    # Home 62 %, then the big markets; 25 countries in all, the rarest with a lead or two.
    assert countries[:6] == [("GB", 1235), ("US", 192), ("DE", 122), ("FR", 88), ("AU", 86), ("IN", 65)]
    assert (len(countries), countries[-1]) == (25, ("VN", 1))
    # The biggest campaign holds 37 %, the first four 66 %; all 30 have leads.
    assert counts(company, "campaign__name")[:4] == [
        ("Scraped profiles", 739), ("LinkedIn outreach", 292), ("Content: buyer's guide", 167),
        ("Google Ads – brand", 129),
    ]  # fmt: skip
    assert len(counts(company, "campaign")) == 30
    # 31 % unassigned; the first SDR holds 1.8 times the second's leads, managers and admins few.
    assert owners == {None: 627, a.sdr1.pk: 815, a.sdr2.pk: 446, a.manager.pk: 91, a.admin.pk: 21}
    assert dict(counts(company, "status__key")) == {
        "new": 955, "contacted": 608, "unqualified": 155, "recycled": 124, "qualified": 103, "disqualified": 55,
    }  # fmt: skip
    assert dict(counts(company, "priority")) == {"cold": 1859, "warm": 140, "hot": 1}


def test_leads_are_created_over_the_last_year_more_of_them_lately(cast, generated):
    now = timezone.now()
    ages = [(now - at).days for at in Lead.objects.filter(company=cast.a.company).values_list("created_at", flat=True)]
    by_quarter = Counter(min(age // 92, 3) for age in ages)  # 0: the last 92 days … 3: nine months ago and more

    assert max(ages) <= 365
    assert by_quarter[0] > by_quarter[1] > by_quarter[2] > by_quarter[3] > 0
    assert by_quarter[0] > 2 * by_quarter[3]


def test_scores_are_what_the_company_rules_give(cast):
    company = cast.a.company
    for name, field, operator, value, points in [
        ("Home market", "country", "eq", "GB", 7),
        ("Scraped", "campaign", "eq", "Scraped profiles", -3),
    ]:
        data = {"name": name, "field": field, "operator": operator, "value": value, "points": points}
        scoring_rule_create(actor=None, company=company, data=data)
    leads_generate(company=company, count=600, seed=4)
    scorer = scorer_for(company)
    sample = list(Lead.objects.filter(company=company).order_by("?")[:50])
    before = [(lead.pk, lead.score, lead.score_breakdown, lead.priority) for lead in sample]

    for lead in sample:
        lead_rescore(lead=lead)

    after = Lead.objects.in_bulk([lead.pk for lead in sample])
    assert [
        (pk, after[pk].score, after[pk].score_breakdown, scorer.band(after[pk].score)) for pk, *_ in before
    ] == before
    rules = Counter(entry["rule"] for _, _, breakdown, _ in before for entry in breakdown)
    assert rules["Home market"] > 20
    assert rules["Scraped"] > 5
    assert len({score for _, score, _, _ in before}) > 5


def test_planted_duplicates_carry_every_kind_of_variation(cast, generated, tmp_path):
    truth = tmp_path / "truth.csv"
    with truth.open("w", encoding="utf-8", newline="") as out:
        write_truth(generated.pairs, out)

    pairs = read_truth(truth)

    assert pairs == [tuple(pair) for pair in generated.pairs]
    assert Counter(kind for _, _, kind in pairs) == {
        "typo": 54, "nickname": 35, "missing_fields": 31, "company_suffix": 30, "other_contact": 29, "swapped_names": 21,
    }  # fmt: skip
    assert set(KINDS) == {kind for _, _, kind in pairs}
    assert_near_copies(pairs)


def test_the_planner_statistics_are_current_after_generating(cast, generated):
    rows = Lead.objects.count()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = 'leads_lead'")
            stats = cursor.fetchall()
            assert len(stats) > 10  # one row per index
            assert {int(stat.split()[0]) for (stat,) in stats} == {rows}
        else:
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'leads_lead'")
            assert cursor.fetchone() == (rows,)
