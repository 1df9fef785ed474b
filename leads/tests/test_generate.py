import csv
import random
import re
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from rapidfuzz import fuzz

from crm.models import Membership
from leads import normalize, services
from leads.generate import FIELDS, PHONE_PLANS, LeadFaker, _PhoneRange, phone_display
from leads.models import Campaign, Lead, LeadStatus, StatusChange
from leads.search import search_leads
from leads.testing.factories import make_lead


def generate(company, **options) -> list[str]:
    out = StringIO()
    call_command("generate_leads", company=company.slug, stdout=out, **options)
    return out.getvalue().splitlines()


def read_truth(path) -> list[tuple[int, int]]:
    with open(path, encoding="utf-8") as source:
        rows = list(csv.reader(source))
    assert rows[0] == ["original_id", "duplicate_id"]
    return [(int(original), int(duplicate)) for original, duplicate in rows[1:]]


def snapshot(company) -> list[tuple]:
    return sorted(Lead.objects.filter(company=company).values_list("id", "email", "updated_at", "status_id"))


def assert_near_copies(pairs: list[tuple[int, int]]) -> None:
    """Each planted duplicate is a near-copy of its original, and came in later."""
    leads = Lead.objects.in_bulk([pk for pair in pairs for pk in pair])
    for original_id, duplicate_id in pairs:
        original, duplicate = leads[original_id], leads[duplicate_id]
        assert fuzz.ratio(original.name_key, duplicate.name_key) >= 80, (original.name_key, duplicate.name_key)
        assert original.company_key.split()[0] == duplicate.company_key.split()[0]
        assert original.country == duplicate.country
        assert duplicate.created_at > original.created_at


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
    originals, duplicates = [o for o, _ in pairs], [d for _, d in pairs]
    assert len(pairs) == 30
    assert set(originals) | set(duplicates) <= ids
    assert len(set(originals)) == 30
    assert len(set(duplicates)) == 30
    assert not set(originals) & set(duplicates)
    assert all(duplicate > original for original, duplicate in pairs)
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
        assert (status.category, status.is_terminal, status.is_active) == ("open", False, True)
        assert lead.campaign_id in campaigns
        assert lead.lead_source
        assert 0 <= lead.score <= 100
        assert lead.priority == ("hot" if lead.score >= 70 else "warm" if lead.score >= 40 else "cold")
        assert now - timedelta(days=366) < lead.created_at <= lead.updated_at <= now
        assert (lead.custom_fields, lead.is_deleted, lead.merged_into_id) == ({}, False, None)
        assert lead.profile_data["name"]
        assert lead.profile_data["country"] == lead.country
    assert len(campaigns) == 8
    assert {lead.owner_id for lead in leads} == members | {None}
    assert {statuses[lead.status_id].key for lead in leads} == {"new", "contacted", "qualified", "recycled"}
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
    original = faker.original(0)[1]
    rows = [dict(zip(FIELDS, faker.original(n)[0], strict=True)) for n in range(1, 40)]
    rows.append(dict(zip(FIELDS, faker.duplicate(original), strict=True)))
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
        numbers = _PhoneRange(plan, prefix, digits, offset=random.Random(country).randrange(10**digits))
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
