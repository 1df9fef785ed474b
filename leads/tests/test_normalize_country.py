"""Country names and common variants become ISO 3166-1 alpha-2 codes (leads.normalize.country_code),
on every door that goes through the lead services."""

import csv

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from leads import normalize
from leads.models import ImportStatus, Lead
from leads.services import lead_create
from leads.testing.factories import make_campaign
from leads.transfer.jobs import import_job_create, import_job_start
from leads.transfer.mapping import ImportOptions


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ("Australia", "AU"),
        ("United States", "US"),
        ("USA", "US"),
        ("U.S.A.", "US"),
        ("united states of america", "US"),
        ("Deutschland", "DE"),
        ("UK", "GB"),
        ("Great Britain", "GB"),
        ("England", "GB"),
        ("  españa ", "ES"),
        ("Espana", "ES"),
        ("ÖSTERREICH", "AT"),
        ("Schweiz", "CH"),
        ("Holland", "NL"),
        ("The Netherlands", "NL"),
        ("UAE", "AE"),
        ("Russia", "RU"),
        ("South Korea", "KR"),
        ("Korea, Republic of", "KR"),
        ("North Korea", "KP"),
        ("Czechia", "CZ"),
        ("Czech Republic", "CZ"),
        ("Côte d'Ivoire", "CI"),
        ("Antigua & Barbuda", "AG"),
        ("Antigua and Barbuda", "AG"),
        ("DEU", "DE"),
        ("AND", "AD"),
        ("gb", "GB"),
        ("de", "DE"),
    ],
)
def test_names_variants_and_codes_become_the_iso_code(given, code):
    assert normalize.country_code(given) == code


@pytest.mark.parametrize(("given", "kept"), [("Narnia", "NARNIA"), (" zz ", "ZZ"), ("", ""), (None, "")])
def test_anything_else_comes_back_upper_cased_as_before(given, kept):
    assert normalize.country_code(given) == kept


def test_every_name_in_the_table_means_its_own_country():
    with normalize.COUNTRIES_CSV.open(encoding="utf-8", newline="") as file:
        rows = list(csv.reader(line for line in file if not line.startswith("#")))
    wrong = [(name, code) for code, names in rows for name in names.split("|") if normalize.country_code(name) != code]
    assert wrong == []
    assert len(rows) == 249  # every ISO 3166-1 country


def data(campaign, **extra) -> dict:
    return {"first_name": "Ana", "email": "ana@acme.example", "lead_source": "Web", "campaign": campaign.pk, **extra}


def test_the_service_stores_the_code_of_a_country_name(cast):
    campaign = make_campaign(cast.a.company)

    lead = lead_create(company=cast.a.company, actor=cast.a.sdr1, data=data(campaign, country="Deutschland"))

    assert Lead.objects.get(pk=lead.pk).country == "DE"


def test_an_unknown_country_keeps_the_error_it_always_had(cast):
    campaign = make_campaign(cast.a.company)

    with pytest.raises(ValidationError) as refused:
        lead_create(company=cast.a.company, actor=cast.a.sdr1, data=data(campaign, country="Narnia"))

    assert refused.value.message_dict == {"country": ["Ensure this value has at most 2 characters (it has 6)."]}


def test_the_api_takes_a_country_name(cast):
    client = APIClient()
    client.force_authenticate(cast.a.sdr1.user)
    campaign = make_campaign(cast.a.company)

    response = client.post(
        f"/api/companies/{cast.a.company.pk}/leads", data(campaign, country="United States"), format="json"
    )

    assert (response.status_code, response.json()["country"]) == (201, "US")


def test_an_import_takes_country_names(cast):
    campaign = make_campaign(cast.a.company, "Imports")
    content = "Email,Country\nana@acme.example,Australia\nbo@acme.example,U.S.A.\ncy@acme.example,\n"
    upload = SimpleUploadedFile("countries.csv", content.encode())
    job = import_job_create(
        company=cast.a.company, actor=cast.a.manager, upload=upload, options=ImportOptions(campaign_id=campaign.pk)
    )

    job = import_job_start(job=job, actor=cast.a.manager, mapping=["email", "country"])

    assert (job.status, job.errors) == (ImportStatus.SUCCEEDED, [])
    assert sorted(Lead.objects.values_list("email", "country")) == [
        ("ana@acme.example", "AU"),
        ("bo@acme.example", "US"),
        ("cy@acme.example", "GB"),  # empty: the company's default
    ]
