"""Export cells in real CSV, XLSX and JSON files: phone numbers are written as they are while
anything a spreadsheet could run stays neutralised, and stage, priority and owner are written as the
lead list shows them (labels, display names), read back by the import."""

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from crm import services as crm_services
from crm.testing.factories import UserFactory
from leads.models import Lead
from leads.testing.factories import make_campaign, make_export_template, make_lead
from leads.transfer.cells import is_plain_number, neutralise, unneutralise
from leads.transfer.jobs import import_job_create, import_job_start
from leads.transfer.mapping import ImportOptions, OwnerIndex
from leads.transfer.reading import parse_file

PHONES = ["+44 20 7946 0958", "+1-202-555-0143", "(020) 7946 0958", "+49 (0)30 1234.5678", "-0143 555 0199"]
FORMULAS = [
    "=1+2",
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1)",
    '+44 20 =HYPERLINK("http://evil")',
    "+12345",  # five digits: not a phone number
    "++44 20 7946 0958",
    "+44 20 7946 0958\n=1+2",
    "+44 20 7946 0958\n",
    "\t+44 20 7946 0958",
    "+44 20 7946 0958 ext",
    "'+44 20 7946 0958",  # a leading apostrophe is always doubled, so the import's undo is exact
]


def export(cast, file_format: str, tmp_path, columns: list[str]):
    """The company's leads exported by ``manage.py export_leads`` with these columns, read back."""
    make_export_template(cast.a.company, "Cells", [{"field": key, "label": key} for key in columns])
    target = tmp_path / f"out.{file_format}"
    call_command("export_leads", "--company", "alpha", "--format", file_format, "--template", "Cells",
                 "--filter", "sort=created", "-o", str(target), stdout=io.StringIO())  # fmt: skip
    if file_format == "csv":
        return list(csv.reader(io.StringIO(target.read_text(encoding="utf-8-sig"), newline="")))[1:]
    if file_format == "xlsx":
        sheet = load_workbook(target).active
        return [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)], sheet
    return [list(item.values()) for item in json.loads(target.read_text(encoding="utf-8"))]


def test_only_text_that_can_only_be_a_number_is_left_alone():
    assert [is_plain_number(v) for v in PHONES] == [True] * len(PHONES)
    assert [is_plain_number(v) for v in FORMULAS] == [False] * len(FORMULAS)
    assert [neutralise(v) for v in PHONES] == PHONES
    assert [neutralise(v) for v in FORMULAS] == ["'" + v for v in FORMULAS]


def test_every_value_survives_neutralise_then_unneutralise():
    values = [*PHONES, *FORMULAS, "''=x", "'plain", "'", "plain", "", "'-0143 555 0199"]
    assert [unneutralise(neutralise(v)) for v in values] == values


@pytest.fixture
def awkward(cast):
    """One lead per value, the value in the company name (stored as is, past the services' rules)."""
    for number, value in enumerate([*PHONES, *FORMULAS]):
        lead = make_lead(cast.a.company, email=f"cell{number:02}@example.com")
        Lead.objects.filter(pk=lead.pk).update(company_name=value)
    return [*PHONES, *FORMULAS]


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_spreadsheet_files_write_phone_numbers_as_they_are_and_neutralise_formulas(
    cast, awkward, file_format, tmp_path
):
    expected = [*PHONES, *("'" + v for v in FORMULAS)]
    if file_format == "csv":
        assert [row[1] for row in export(cast, "csv", tmp_path, ["email", "company_name"])] == expected
    else:
        rows, sheet = export(cast, "xlsx", tmp_path, ["email", "company_name"])
        assert [row[1] for row in rows] == expected
        assert {cell.data_type for (cell,) in sheet.iter_rows(min_row=2, min_col=2, max_col=2)} == {"s"}


def test_json_writes_every_value_unchanged(cast, awkward, tmp_path):
    assert [row[1] for row in export(cast, "json", tmp_path, ["email", "company_name"])] == awkward


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_our_own_spreadsheet_export_reads_back_to_the_original_values(cast, awkward, file_format, tmp_path):
    export(cast, file_format, tmp_path, ["email", "company_name"])
    with open(tmp_path / f"out.{file_format}", "rb") as handle:
        parsed = parse_file(handle, f"out.{file_format}")
    assert [cells[1] for _, cells in parsed.rows] == awkward


def test_a_real_phone_number_is_written_as_is_and_imports_back(cast, client_for):
    lead = make_lead(cast.a.company, email="ph@example.com", phone="+1-202-555-0143", stage="decision")
    content = b"".join(
        client_for(cast.a.admin).get(f"/c/{cast.a.company.slug}/leads/export/?format=csv").streaming_content
    )
    header, row = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert (row[header.index("Phone")], row[header.index("Stage")]) == ("+1-202-555-0143", "Decision")
    lead.delete()
    job = import_job_create(company=cast.a.company, actor=cast.a.admin, upload=SimpleUploadedFile("back.csv", content),
                            options=ImportOptions(campaign_id=make_campaign(cast.a.company).pk))  # fmt: skip
    job = import_job_start(job=job, actor=cast.a.admin)
    back = Lead.objects.get(email="ph@example.com")
    assert (job.status, back.phone, back.phone_key, back.stage) == (
        "succeeded",
        "+1-202-555-0143",
        "+12025550143",
        "decision",
    )


# --- labels ------------------------------------------------------------------------------------------------


@pytest.fixture
def labelled(cast):
    """Leads whose stage, priority and owner exercise every label: an owner with a full name, one
    without (the list shows the email), one whose name starts like a formula, and the pool."""
    a = cast.a
    no_name = UserFactory(email="noname@alpha.test", full_name="")
    formula = UserFactory(email="formula@alpha.test", full_name="=Boss")
    quiet = crm_services.membership_create(company=a.company, user=no_name, role="sdr", manager=a.manager)
    boss = crm_services.membership_create(company=a.company, user=formula, role="sdr", manager=a.manager)
    leads = [
        ("l1@example.com", a.sdr1, "decision", "hot"),
        ("l2@example.com", quiet, "consideration", "warm"),
        ("l3@example.com", boss, "converted", "cold"),
        ("l4@example.com", None, "awareness", "cold"),
    ]
    for email, owner, stage, priority in leads:
        lead = make_lead(a.company, a.admin, email=email, owner=owner)
        Lead.objects.filter(pk=lead.pk).update(stage=stage, priority=priority)


COLUMNS = ["email", "stage", "priority", "owner", "owner_email"]


def test_csv_writes_labels_and_display_names(cast, labelled, tmp_path):
    assert export(cast, "csv", tmp_path, COLUMNS) == [
        ["l1@example.com", "Decision", "Hot", "Alpha SDR One", "sdr1@alpha.test"],
        ["l2@example.com", "Consideration", "Warm", "noname@alpha.test", "noname@alpha.test"],
        ["l3@example.com", "Converted", "Cold", "'=Boss", "formula@alpha.test"],
        ["l4@example.com", "Awareness", "Cold", "", ""],
    ]


def test_xlsx_writes_labels_and_display_names(cast, labelled, tmp_path):
    rows, _ = export(cast, "xlsx", tmp_path, COLUMNS)
    assert rows == [
        ["l1@example.com", "Decision", "Hot", "Alpha SDR One", "sdr1@alpha.test"],
        ["l2@example.com", "Consideration", "Warm", "noname@alpha.test", "noname@alpha.test"],
        ["l3@example.com", "Converted", "Cold", "'=Boss", "formula@alpha.test"],
        ["l4@example.com", "Awareness", "Cold", None, None],
    ]


def test_json_writes_labels_and_display_names(cast, labelled, tmp_path):
    assert export(cast, "json", tmp_path, COLUMNS) == [
        ["l1@example.com", "Decision", "Hot", "Alpha SDR One", "sdr1@alpha.test"],
        ["l2@example.com", "Consideration", "Warm", "noname@alpha.test", "noname@alpha.test"],
        ["l3@example.com", "Converted", "Cold", "=Boss", "formula@alpha.test"],
        ["l4@example.com", "Awareness", "Cold", None, None],
    ]


@pytest.mark.parametrize("file_format", ["csv", "xlsx", "json"])
def test_owner_names_cost_one_query_however_many_owners(cast, file_format, tmp_path):
    columns = ["email", "owner", "stage", "priority"]
    export(cast, file_format, tmp_path, columns)  # the template exists from here on

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            export(cast, file_format, tmp_path, columns)
        return len(captured)

    make_lead(cast.a.company, cast.a.admin, email="o1@example.com", owner=cast.a.sdr1)
    one = queries()
    make_lead(cast.a.company, cast.a.admin, email="o2@example.com", owner=cast.a.sdr2)
    make_lead(cast.a.company, cast.a.admin, email="o3@example.com", owner=cast.a.manager)
    assert queries() == one


def test_the_owner_column_is_read_back_by_email_or_display_name(cast):
    a = cast.a
    twin = UserFactory(email="twin@alpha.test", full_name="Alpha SDR Two")
    crm_services.membership_create(company=a.company, user=twin, role="sdr", manager=a.manager)
    owners = OwnerIndex(a.company)
    assert owners.find("sdr1@alpha.test") == (a.sdr1, "")
    assert owners.find(" alpha sdr one ") == (a.sdr1, "")
    assert owners.find("Alpha SDR Two") == (
        None,
        "2 members are called “Alpha SDR Two”: give the owner's email instead.",
    )
    assert owners.find("sdr2@alpha.test") == (a.sdr2, "")
    assert owners.find("Bravo SDR One") == (
        None,
        "No active member of this company has the email or name “Bravo SDR One”.",
    )
    assert owners.find("manager@bravo.test") == (
        None,
        "No active member of this company has the email “manager@bravo.test”.",
    )


def test_our_default_export_of_owned_leads_imports_back_with_their_owners(cast, client_for):
    """The Owner column holds display names (the lead list's): the import finds the member by it."""
    owners = {"own1@northwind.co.uk": cast.a.sdr1, "own2@northwind.co.uk": cast.a.sdr2}
    for email, owner in owners.items():
        make_lead(cast.a.company, cast.a.admin, email=email, owner=owner)
    content = b"".join(
        client_for(cast.a.admin).get(f"/c/{cast.a.company.slug}/leads/export/?format=csv").streaming_content
    )
    header, *rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert sorted(row[header.index("Owner")] for row in rows) == ["Alpha SDR One", "Alpha SDR Two"]
    Lead.objects.all().delete()
    job = import_job_create(company=cast.a.company, actor=cast.a.admin, upload=SimpleUploadedFile("back.csv", content),
                            options=ImportOptions(campaign_id=make_campaign(cast.a.company).pk))  # fmt: skip
    job = import_job_start(job=job, actor=cast.a.admin)
    assert (job.status, job.errors) == ("succeeded", [])
    assert dict(Lead.objects.values_list("email", "owner_id")) == {e: m.pk for e, m in owners.items()}
