"""XLSX exports through XlsxWriter's constant-memory workbook: what each cell is when a spreadsheet
opens the file (text never a formula, numbers, real dates), read back with openpyxl. A control
character is written as Excel's ``_xHHHH_`` escape (Excel reads the character back; openpyxl shows
the escape)."""

import datetime as dt
import io
import random
import re
import zipfile

import pytest
import xlsxwriter
from django.http import QueryDict
from openpyxl import load_workbook

from leads.models import Lead
from leads.testing.factories import make_custom_field, make_export_template, make_lead
from leads.transfer.cells import RowReader, columns_of
from leads.transfer.exports import export_queryset
from leads.transfer.writers import write_file, write_xlsx, write_xlsx_cells


def test_every_kind_of_cell_is_written_as_what_it_is(tmp_path):
    path = tmp_path / "cells.xlsx"
    write_xlsx(
        ["Text", "Number", "When", "Day", "Empty", "Flag"],
        [
            ["=1+1", 42, dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC), dt.date(2026, 3, 4), "", True],
            ["http://example.com", 2.5, None, None, None, False],
            ["bell\x07 and tab\tkept", float("nan"), None, None, "0042", None],
        ],
        str(path),
    )
    sheet = load_workbook(path).active
    cells = [[(cell.value, cell.data_type) for cell in row] for row in sheet.iter_rows()]
    assert cells == [
        [("Text", "s"), ("Number", "s"), ("When", "s"), ("Day", "s"), ("Empty", "s"), ("Flag", "s")],
        [("'=1+1", "s"), (42, "n"), (dt.datetime(2026, 3, 4, 5, 6, 7), "d"), (dt.datetime(2026, 3, 4), "d"),
         (None, "n"), ("yes", "s")],
        [("http://example.com", "s"), (2.5, "n"), (None, "n"), (None, "n"), (None, "n"), ("no", "s")],
        [("bell_x0007_ and tab\tkept", "s"), ("nan", "s"), (None, "n"), (None, "n"), ("0042", "s"), (None, "n")],
    ]  # fmt: skip
    assert [sheet["C2"].number_format, sheet["D2"].number_format] == ["yyyy-mm-dd h:mm:ss", "yyyy-mm-dd"]
    assert ([cell.font.b for cell in sheet[1]], sheet.freeze_panes, sheet.title) == ([True] * 6, "A2", "Leads")


def test_an_export_file_holds_the_leads_with_labels_and_neutralised_text(cast, tmp_path):
    make_custom_field(cast.a.company, "note")
    lead = make_lead(cast.a.company, cast.a.admin, email="x@example.com", owner=cast.a.sdr1, phone="+44 20 7946 0958")
    Lead.objects.filter(pk=lead.pk).update(job_title="@SUM(A1)", gdpr_consent=True, custom_fields={"note": "=x"})
    keys = ["id", "job_title", "phone", "owner", "stage", "score", "gdpr_consent", "custom:note", "company_name",
            "created_at", "assigned_at"]  # fmt: skip
    template = make_export_template(cast.a.company, "Typed", [{"field": key, "label": key} for key in keys])
    queryset = export_queryset(cast.a.admin, QueryDict(""))
    path = tmp_path / "leads.xlsx"
    assert write_file("xlsx", RowReader(columns_of(template, cast.a.company)), queryset, str(path)) == 1
    lead.refresh_from_db()
    header, row = load_workbook(io.BytesIO(path.read_bytes())).active.values
    assert (header, row[:9]) == (
        tuple(keys),
        (lead.pk, "'@SUM(A1)", "+44 20 7946 0958", "Alpha SDR One", "Awareness", lead.score, "yes", "'=x", None),
    )  # fmt: skip
    # UTC, to the second (as the CSV writes them)
    assert row[9:] == tuple(
        value.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0) for value in (lead.created_at, lead.assigned_at)
    )


def test_lists_objects_and_subclasses_of_plain_types_are_written_like_their_base(tmp_path):
    class Label(str):
        pass

    path = tmp_path / "other.xlsx"
    write_xlsx(["A", "B", "C"], [[["x", "=y"], {"k": 1}, Label("=z")]], str(path))
    assert list(load_workbook(path).active.values)[1] == ('["x", "=y"]', '{"k": 1}', "'=z")


EDGE_DATETIMES = [
    dt.datetime(1, 1, 1), dt.datetime(1800, 6, 7, 8, 9, 10), dt.datetime(1899, 12, 30, 23, 59, 59),
    dt.datetime(1899, 12, 31), dt.datetime(1900, 1, 1), dt.datetime(1900, 1, 1, 12, 34, 56),
    dt.datetime(1900, 2, 28, 23, 59, 59, 999_999), dt.datetime(1900, 3, 1), dt.datetime(1970, 1, 1),
    dt.datetime(2026, 3, 4, 5, 6, 7), dt.datetime(2026, 3, 4, 5, 6, 7, 123_456), dt.datetime(9999, 12, 31, 23, 59, 59, 999_999),
]  # fmt: skip


def cell_numbers(path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return re.findall(r"<v>([^<]*)</v>", archive.read("xl/worksheets/sheet1.xml").decode())


@pytest.mark.filterwarnings("ignore:Cell A.* is marked as a date:UserWarning")  # openpyxl, on years 1 and 9999
def test_datetimes_are_the_numbers_xlsxwriters_write_datetime_writes(tmp_path):
    randomly = random.Random(17)
    stamps = EDGE_DATETIMES + [
        dt.datetime(1900, 1, 1) + dt.timedelta(seconds=randomly.randrange(200 * 366 * 86400)) for _ in range(2000)
    ]
    ours, reference = tmp_path / "ours.xlsx", tmp_path / "reference.xlsx"
    write_xlsx_cells(["When"], [[stamp] for stamp in stamps], str(ours))
    with xlsxwriter.Workbook(str(reference), {"constant_memory": True}) as workbook:
        sheet, stamp_format = workbook.add_worksheet(), workbook.add_format({"num_format": "yyyy-mm-dd h:mm:ss"})
        for row, stamp in enumerate(stamps):
            sheet.write_datetime(row, 0, stamp, stamp_format)
    assert cell_numbers(ours) == cell_numbers(reference)
    sheet = load_workbook(ours).active
    assert [sheet.cell(row, 1).number_format for row in (2, 11, 2013)] == ["yyyy-mm-dd h:mm:ss"] * 3
    assert [sheet.cell(row, 1).value for row in (10, 11)] == [dt.datetime(1970, 1, 1), dt.datetime(2026, 3, 4, 5, 6, 7)]
