"""Awkward real-world files (leads/tests/data/transfer, written by make_fixtures.py): each one is
imported or refused exactly as specified."""

from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from leads.models import ImportStatus, Lead, LeadStatus
from leads.testing.factories import make_campaign
from leads.transfer.cells import unneutralise
from leads.transfer.jobs import import_job_create, import_job_start
from leads.transfer.mapping import ImportOptions, auto_mapping
from leads.transfer.reading import detect_format, parse_file

DATA = Path(__file__).parent / "data" / "transfer"


def parse(name: str):
    with open(DATA / name, "rb") as handle:
        return parse_file(handle, name)


def upload(cast, name: str, *, actor="manager", **options):
    campaign = make_campaign(cast.a.company, "Imports")
    member = cast.a.member(actor) if actor else None
    with open(DATA / name, "rb") as handle:
        return import_job_create(
            company=cast.a.company,
            actor=member,
            upload=handle,
            options=ImportOptions(campaign_id=campaign.pk, **options),
        )


def run(cast, name: str, *, mapping=None, actor="manager", **options):
    job = upload(cast, name, actor=actor, **options)
    return import_job_start(job=job, actor=cast.a.member(actor) if actor else None, mapping=mapping)


def leads_of(cast, *fields):
    return sorted(Lead.objects.filter(company=cast.a.company).values_list(*fields))


def refusal(name: str) -> str:
    with pytest.raises(ValidationError) as caught:
        parse(name)
    return caught.value.message_dict["file"][0]


# --- reading ------------------------------------------------------------------------------------------


def test_utf8_with_bom_is_read_with_trimmed_headers_and_accents():
    parsed = parse("utf8_bom.csv")
    assert (parsed.encoding, parsed.delimiter) == ("utf-8-sig", ",")
    assert parsed.headers == ["First Name", "LAST NAME", "E-Mail", "Phone", "Company"]
    assert parsed.rows[0] == (2, ["José", "Müller", "jose.muller@acme.example", "+44 20 7946 0001", "Acme Ltd"])


def test_utf16_is_detected_and_its_tabs_are_the_delimiter():
    parsed = parse("utf16_tab.txt")
    assert (parsed.encoding, parsed.delimiter) == ("utf-16", "\t")
    assert parsed.rows == [
        (2, ["Renée", "Lefèvre", "renee@lefevre.example", "Étoile SA"]),
        (3, ["Łukasz", "Wójcik", "lukasz@wojcik.example", "Kraków sp"]),
    ]


def test_windows_1252_with_semicolons_keeps_accents_quotes_and_the_euro_sign():
    parsed = parse("cp1252_semicolon.csv")
    assert (parsed.encoding, parsed.delimiter) == ("cp1252", ";")
    assert parsed.rows[0] == (2, ["Jürgen", "Weiß", "jurgen@weiss.example", "Bäckerei Weiß GmbH", "“Grüße” – 5 €"])


def test_a_byte_that_windows_1252_lacks_falls_back_to_latin_1():
    parsed = parse("latin1.csv")
    assert parsed.encoding == "latin-1"
    assert parsed.rows == [(2, ["François", "Dupré\x81", "francois@dupre.example"])]


def test_tab_separated_utf8_without_bom():
    parsed = parse("tab.tsv")
    assert (parsed.encoding, parsed.delimiter, parsed.headers) == (
        "utf-8",
        "\t",
        ["Email", "First name", "Last name", "Job title"],
    )


def test_quoted_newlines_stay_in_one_value_and_rows_count_as_a_spreadsheet_shows_them():
    parsed = parse("quoted_newlines.csv")
    assert parsed.rows == [
        (2, ["quinn@quote.example", "Quinn", "O'Quote", 'Line one\r\nline two, with a comma\r\nand "quotes"']),
        (3, ["rory@quote.example", "Rory", "Plain", "Nothing special"]),
    ]


def test_ragged_rows_are_reported_with_their_row_number_and_empty_trailing_cells_are_fine():
    parsed = parse("ragged.csv")
    assert [(i.row, i.column, i.value, i.message) for i in parsed.issues] == [
        (3, "column 4", "EXTRA", "This row has 4 values but the header has 3 columns."),
        (4, "", "", "This row has 2 values but the header has 3 columns."),
    ]
    assert [number for number, _ in parsed.rows] == [2, 3, 4, 5]


def test_duplicate_header_names_are_reported():
    assert parse("duplicate_headers.csv").header_notes == ["Columns 1 and 3 are all called “Email”."]


def test_empty_trailing_rows_are_ignored():
    assert [number for number, _ in parse("trailing_empty_rows.csv").rows] == [2, 3]


def test_xlsx_dates_numbers_and_booleans_are_converted_and_blank_rows_dropped():
    parsed = parse("dates_numbers.xlsx")
    assert parsed.headers == [
        "Email",
        "First name",
        "Last name",
        "Phone",
        "Opt-in date",
        "GDPR consent",
        "Budget range",
    ]
    assert parsed.rows == [
        (2, ["xl1@excel.example", "Xavier", "Lane", "7911123456", "2024-03-01", "true", "25000"]),
        (3, ["xl2@excel.example", "Yara", "Lane", "+44 7911 123457", "2024-03-02 14:30:00", "false", "1.5"]),
    ]


def test_an_xlsx_formula_is_an_error_naming_its_row_and_column():
    parsed = parse("formula.xlsx")
    assert [(i.row, i.column, i.value, i.message) for i in parsed.issues] == [
        (3, "Budget range", "=SUM(C2:C2)*2",
         "This cell holds a formula; formulas are not imported. Paste the values instead."),
    ]  # fmt: skip


def test_files_that_cannot_be_read_are_refused_with_the_reason():
    assert refusal("empty.csv") == "The file is empty."
    assert refusal("binary.csv") == (
        "This is not a text file (it contains binary data). Upload CSV, XLSX, JSON or JSONL."
    )
    assert refusal("not_a_list.json") == "The JSON must be a list of objects ([{…}, {…}]); this file holds an object."
    assert (
        refusal("zip_bomb.xlsx")
        == "The workbook is compressed 1,029 to 1, which only a zip bomb is; it was not opened."
    )


@override_settings(IMPORT_MAX_XLSX_UNPACKED_BYTES=10 * 1024 * 1024)
def test_a_workbook_that_would_unpack_beyond_the_limit_is_not_opened():
    assert (
        refusal("zip_bomb.xlsx")
        == "The workbook would unpack to 64 MB, more than the 10 MB allowed; it was not opened."
    )


@override_settings(IMPORT_MAX_BYTES=100)
def test_a_file_over_the_size_limit_is_refused_before_it_is_read():
    assert refusal("bad_last_row.csv") == "The file is larger than 0 MB; split it into smaller files."


@override_settings(IMPORT_MAX_ROWS=5)
def test_a_file_with_too_many_rows_is_refused():
    assert refusal("good.csv") == "The file has more than 5 rows; split it into smaller files."


def test_json_items_that_are_not_objects_are_row_errors():
    parsed = parse("list_of_objects.json")
    assert parsed.headers == ["email", "first_name", "last_name", "gdpr_consent", "score"]
    assert [(i.row, i.message) for i in parsed.issues] == [(3, "Item 3 is a text, not an object.")]


def test_json_lines_profiles_skip_blank_lines_and_report_bad_json():
    parsed = parse("profiles.jsonl")
    assert [number for number, _ in parsed.rows] == [1, 2, 4]
    assert [(i.row, i.message) for i in parsed.issues] == [
        (5, "Not valid JSON: Expecting property name enclosed in double quotes at column 2.")
    ]


def test_formats_are_detected_from_content_and_name():
    assert [detect_format("a.csv", b"PK\x03\x04"), detect_format("x", b' [{"a"'), detect_format("p.jsonl", b"{")] == [
        "xlsx", "json", "jsonl",
    ]  # fmt: skip


def test_the_apostrophe_of_a_neutralised_cell_is_removed_exactly_once():
    assert [unneutralise(v) for v in ("'+44 20", "'=1+1", "''=x", "'plain", "'")] == [
        "+44 20",
        "=1+1",
        "'=x",
        "'plain",
        "'",
    ]


# --- importing ----------------------------------------------------------------------------------------


def test_headers_are_matched_case_insensitively_and_whitespace_trimmed(cast):
    job = upload(cast, "utf8_bom.csv")
    assert job.mapping == ["first_name", "last_name", "email", "phone", "company_name"]
    assert auto_mapping(["  EMAIL ", "Surname", "Favourite colour", "Profile: headline"], cast.a.company) == [
        "email", "last_name", None, "profile:headline",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("utf8_bom.csv", [("jose.muller@acme.example", "José", "+442079460001"), ("zoe@acme.example", "Zoë", "+442079460002")]),
        ("utf16_tab.txt", [("lukasz@wojcik.example", "Łukasz", ""), ("renee@lefevre.example", "Renée", "")]),
        ("cp1252_semicolon.csv", [("ana@pena.example", "Ana", ""), ("jurgen@weiss.example", "Jürgen", "")]),
        ("tab.tsv", [("kim@tab.example", "Kim", ""), ("lee@tab.example", "Lee", "")]),
        ("quoted_newlines.csv", [("quinn@quote.example", "Quinn", ""), ("rory@quote.example", "Rory", "")]),
        ("trailing_empty_rows.csv", [("t1@trail.example", "Tia", ""), ("t2@trail.example", "Tom", "")]),
        ("dates_numbers.xlsx", [("xl1@excel.example", "Xavier", "+447911123456"), ("xl2@excel.example", "Yara", "+447911123457")]),
    ],
)  # fmt: skip
def test_good_awkward_files_import_every_row(cast, name, expected):
    job = run(cast, name)
    assert (job.status, job.created_count, job.invalid_count, job.errors) == (
        ImportStatus.SUCCEEDED,
        len(expected),
        0,
        [],
    )
    assert leads_of(cast, "email", "first_name", "phone_key") == expected


def test_quoted_newlines_arrive_in_the_lead_unchanged(cast):
    run(cast, "quoted_newlines.csv")
    assert Lead.objects.get(email="quinn@quote.example").need == 'Line one\r\nline two, with a comma\r\nand "quotes"'


def test_xlsx_values_are_typed_on_the_lead(cast):
    run(cast, "dates_numbers.xlsx")
    lead = Lead.objects.get(email="xl2@excel.example")
    assert (lead.opt_in_date.isoformat(), lead.gdpr_consent, lead.budget_range) == (
        "2024-03-02T14:30:00+00:00",
        False,
        "1.5",
    )


def test_ragged_rows_import_nothing_and_are_reported(cast):
    job = run(cast, "ragged.csv")
    assert (job.status, job.invalid_count, Lead.objects.count()) == (ImportStatus.FAILED, 2, 0)
    assert [(e["row"], e["column"], e["value"]) for e in job.errors] == [(3, "column 4", "EXTRA"), (4, "", "")]
    assert job.error == "2 rows with errors: nothing was imported. Fix them (or skip invalid rows) and import again."


def test_duplicate_headers_leave_the_second_column_unmapped_until_a_person_decides(cast):
    job = upload(cast, "duplicate_headers.csv")
    assert job.mapping == ["email", "first_name", None]
    with pytest.raises(ValidationError) as caught:
        import_job_start(job=job, actor=cast.a.manager)
    assert caught.value.message_dict["mapping"] == [
        "Column 3 “email” matches no lead field: choose a field or ignore it."
    ]
    with pytest.raises(ValidationError) as caught:
        import_job_start(job=job, actor=cast.a.manager, mapping=["email", "first_name", "email"])
    assert caught.value.message_dict["mapping"] == [
        "Email is filled from two columns: 1 “Email” and 3 “email”; ignore one of them."
    ]
    job = import_job_start(job=job, actor=cast.a.manager, mapping=["email", "first_name", ""])
    assert leads_of(cast, "email", "first_name") == [("d1@dup.example", "Dana")]


def test_a_header_with_no_mapping_imports_nothing_and_names_the_column(cast):
    job = upload(cast, "unknown_header.csv")
    with pytest.raises(ValidationError) as caught:
        import_job_start(job=job, actor=cast.a.manager)
    assert caught.value.message_dict == {
        "mapping": ["Column 3 “Favourite colour” matches no lead field: choose a field or ignore it."]
    }
    assert Lead.objects.count() == 0


def test_a_formula_in_a_workbook_imports_nothing(cast):
    job = run(cast, "formula.xlsx")
    assert (job.status, Lead.objects.count()) == (ImportStatus.FAILED, 0)
    assert job.errors == [
        {"row": 3, "column": "Budget range", "value": "=SUM(C2:C2)*2",
         "message": "This cell holds a formula; formulas are not imported. Paste the values instead."},
    ]  # fmt: skip


def test_a_status_of_another_company_is_an_error_naming_the_row_and_column(cast):
    LeadStatus.objects.create(company=cast.b.company, key="negotiation", name="Negotiation", order=99)
    job = run(cast, "status_other_company.csv")
    assert (job.status, Lead.objects.count()) == (ImportStatus.FAILED, 0)
    assert job.errors == [
        {
            "row": 3,
            "column": "status",
            "value": "Negotiation",
            "message": "“Negotiation” is not a status of this company.",
        }
    ]


def test_json_list_of_objects_reports_the_item_that_is_not_an_object(cast):
    job = run(cast, "list_of_objects.json", mapping=["email", "first_name", "last_name", "gdpr_consent", ""])
    assert (job.status, job.errors) == (
        ImportStatus.FAILED,
        [{"row": 3, "column": "", "value": "not an object", "message": "Item 3 is a text, not an object."}],
    )
    job = run(cast, "list_of_objects.json", mapping=["email", "first_name", "last_name", "gdpr_consent", ""],
              skip_invalid=True)  # fmt: skip
    assert leads_of(cast, "email", "gdpr_consent") == [("j1@json.example", True), ("j2@json.example", False)]


def test_scraped_profiles_are_mapped_by_the_profile_rules_and_bad_lines_reported(cast):
    job = run(cast, "profiles.jsonl", skip_invalid=True)
    assert (job.status, job.created_count, job.invalid_count) == (ImportStatus.SUCCEEDED, 2, 2)
    assert [(e["row"], e["column"], e["message"]) for e in job.errors] == [
        (4, "", "Give at least one way to reach the lead: email, phone or profile URL."),
        (5, "", "Not valid JSON: Expecting property name enclosed in double quotes at column 2."),
    ]
    ana = Lead.objects.get(first_name="Ana")
    assert (ana.job_title, ana.company_name, ana.lead_source, ana.profile_data["skills"]) == (
        "Head of Growth", "Acme Ltd", "linkedin", ["SaaS"],
    )  # fmt: skip
    assert Lead.objects.get(first_name="Bo").company_name == "Berg AB"
    with job.errors_file.open("rb") as handle:
        assert handle.read().decode().splitlines() == ['{"name": "No Contact", "headline": "Ghost"}', "{not json"]


def test_files_that_cannot_be_read_store_no_job(cast):
    with pytest.raises(ValidationError) as caught:
        upload(cast, "zip_bomb.xlsx")
    assert caught.value.message_dict["file"] == [
        "The workbook is compressed 1,029 to 1, which only a zip bomb is; it was not opened."
    ]
    from leads.models import ImportJob

    assert ImportJob.objects.count() == 0
