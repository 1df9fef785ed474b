import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from leads.models import Lead
from leads.testing.factories import make_campaign, make_lead

DATA = Path(__file__).parent / "data" / "profiles"
ANA = {
    "name": "Ana Souza",
    "headline": "Head of Growth at Acme",
    "company": "Acme Ltd",
    "profile_url": "https://www.linkedin.com/in/ana-souza/",
    "email": "Ana.Souza@Acme.example",
    "phone": "+44 20 7946 0000",
    "skills": ["SaaS", "Growth"],
    "source": "linkedin",
}
JONAS = {"first_name": "Jonas", "last_name": "Müller", "company": {"name": "Nordlicht GmbH"}, "country": "DE",
         "phone": "030 12345678"}  # fmt: skip


def write_lines(tmp_path, *lines: str) -> Path:
    path = tmp_path / "profiles.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(path, company="alpha", campaign="Spring webinar", **options) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_profiles", str(path), company=company, campaign=campaign, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def test_good_lines_become_leads_and_bad_lines_are_reported_with_their_number(cast, tmp_path):
    campaign = make_campaign(cast.a.company, "Spring webinar")
    bravo_campaign = make_campaign(cast.b.company, "Spring webinar")
    bravo_lead = make_lead(cast.b.company, campaign=bravo_campaign)
    path = write_lines(
        tmp_path,
        json.dumps(ANA),
        "",
        '{"name": "Broken",',
        '["not", "an", "object"]',
        json.dumps({"name": "Bad Mail", "email": "not-an-email"}),
        json.dumps(JONAS),
    )

    out, err = run(path)

    assert out == "created 2, skipped 1, failed 3\n"
    assert err.splitlines() == [
        "line 3: profile: Not valid JSON: Expecting property name enclosed in double quotes at column 19.",
        "line 4: profile: A scraped profile must be a JSON object.",
        "line 5: email: Enter a valid email address.",
    ]
    ana, jonas = Lead.objects.filter(company=cast.a.company).order_by("pk")
    assert (ana.profile_data, jonas.profile_data) == (ANA, JONAS)
    assert (ana.first_name, ana.last_name, ana.email, ana.phone_key, ana.job_title, ana.company_name) == (
        "Ana", "Souza", "ana.souza@acme.example", "+442079460000", "Head of Growth", "Acme Ltd",
    )  # fmt: skip
    assert (jonas.country, jonas.phone_key, jonas.company_name) == ("DE", "+493012345678", "Nordlicht GmbH")
    assert (ana.lead_source, jonas.lead_source) == ("linkedin", "Scraped profile")
    assert {ana.campaign_id, jonas.campaign_id} == {campaign.pk}
    assert [(h.history_change_reason, h.history_user) for h in ana.history.all()] == [
        ("leads.lead.created_from_profile", None)
    ]
    assert list(Lead.objects.filter(company=cast.b.company)) == [bravo_lead]


def test_source_option_is_the_lead_source_of_every_line(cast):
    make_campaign(cast.a.company, "Spring webinar")

    out, err = run(DATA / "scraped.jsonl", source="Trade show 2026")

    assert (out, err) == ("created 3, skipped 1, failed 0\n", "")
    assert set(Lead.objects.filter(company=cast.a.company).values_list("lead_source", flat=True)) == {"Trade show 2026"}


def test_atomic_import_with_one_bad_line_imports_nothing(cast, tmp_path):
    make_campaign(cast.a.company, "Spring webinar")
    path = write_lines(tmp_path, json.dumps(ANA), json.dumps({"name": "No way to reach"}), json.dumps(JONAS))
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError) as error:
        call_command("import_profiles", str(path), company="alpha", campaign="Spring webinar", atomic=True,
                     stdout=out, stderr=err)  # fmt: skip

    assert (str(error.value), error.value.returncode) == ("1 bad line(s): nothing was imported (--atomic).", 1)
    assert out.getvalue() == "created 0, skipped 0, failed 1\n"
    assert err.getvalue() == "line 2: profile: Give at least one way to reach the lead: email, phone or profile URL.\n"
    assert Lead.objects.count() == 0


def test_atomic_import_of_good_lines_creates_them_all(cast):
    make_campaign(cast.a.company, "Spring webinar")

    out, err = run(DATA / "scraped.jsonl", atomic=True)

    assert (out, err) == ("created 3, skipped 1, failed 0\n", "")
    assert sorted(Lead.objects.filter(company=cast.a.company).values_list("last_name", flat=True)) == [
        "Müller", "Patel", "Souza",
    ]  # fmt: skip


def test_a_line_that_is_not_utf8_is_reported(cast, tmp_path):
    make_campaign(cast.a.company, "Spring webinar")
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(json.dumps({"name": "Zoë", "email": "zoe@example.com"}, ensure_ascii=False).encode("latin-1"))

    out, err = run(path)

    assert (out, err) == ("created 0, skipped 0, failed 1\n", "line 1: profile: The line is not UTF-8 text.\n")


@pytest.mark.parametrize(
    ("company", "campaign", "message"),
    [
        ("nope", "Spring webinar", "No company with slug 'nope'."),
        ("alpha", "Autumn fair", "No campaign named 'Autumn fair' in Alpha."),
        ("alpha", "Bravo only", "No campaign named 'Bravo only' in Alpha."),
    ],
)
def test_unknown_company_or_campaign_is_a_one_line_error(cast, company, campaign, message):
    make_campaign(cast.a.company, "Spring webinar")
    make_campaign(cast.b.company, "Bravo only")

    with pytest.raises(CommandError) as error:
        run(DATA / "scraped.jsonl", company=company, campaign=campaign)

    assert (str(error.value), error.value.returncode) == (message, 1)
    assert Lead.objects.count() == 0


def test_a_missing_file_is_a_one_line_error(cast, tmp_path):
    make_campaign(cast.a.company, "Spring webinar")

    with pytest.raises(CommandError) as error:
        run(tmp_path / "missing.jsonl")

    assert str(error.value) == f"Cannot read {tmp_path / 'missing.jsonl'}: No such file or directory."
