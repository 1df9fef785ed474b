"""CSV exports written by the database (PostgreSQL's ``COPY … TO STDOUT``): the same bytes as
csv.writer writes from the same cells, on a real file, whatever the cells hold. On SQLite the
same tests run through csv.writer alone (``copy_select`` is not used there)."""

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.http import QueryDict

from leads import vendor
from leads.models import Lead
from leads.testing.factories import make_custom_field, make_export_template, make_lead
from leads.transfer.cells import FIXED_COLUMNS, RowReader, columns_of
from leads.transfer.exports import export_queryset
from leads.transfer.writers import Counter, csv_chunks, lead_csv_chunks, write_file

DOCUMENT_KEYS = ["custom:note", "custom:size", "custom:ratio", "custom:flag", "custom:off", "custom:tags",
                 "custom:meta", "custom:missing", "profile:headline"]  # fmt: skip


@pytest.fixture
def awkward(cast):
    """Leads whose cells hold everything CSV quoting and neutralisation care about."""
    company = cast.a.company
    for key in ("note", "size", "ratio", "flag", "off", "tags", "meta"):
        make_custom_field(company, key)
    odd = make_lead(company, cast.a.admin, email="odd@example.com", owner=cast.a.sdr1, phone="+44 20 7946 0958")
    Lead.objects.filter(pk=odd.pk).update(
        first_name="Zoë Ñandú 東京",
        last_name='Quote "me", twice\nplease',
        company_name="Acme, Inc.",
        job_title="=1+1",
        need="line one\r\nline two\rthree",
        medium="@SUM(A1)",
        term="-12",
        interest_product="\\.",
        budget_range=" ",
        timeline="'quoted",
        opt_in_date=dt.datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=dt.UTC),
        custom_fields={
            "note": "=cmd|' /C calc'!A0",
            "size": 42,
            "ratio": 2.5,
            "flag": True,
            "off": False,
            "tags": ["a", "b, c"],
            "meta": {"k": "v, w", "n": 1},
        },  # fmt: skip
        profile_data={"headline": 'CTO, "Acme"'},
    )
    plain = make_lead(company, email="plain@example.com", phone="")
    Lead.objects.filter(pk=plain.pk).update(first_name="", last_name="", custom_fields={"note": ""}, profile_data=[])
    keys = [*FIXED_COLUMNS, *DOCUMENT_KEYS]
    template = make_export_template(company, "Everything", [{"field": key, "label": key} for key in keys])
    return odd, plain, template


def python_csv(reader: RowReader, queryset) -> bytes:
    return b"".join(csv_chunks(reader.headers, reader.text_batches(queryset), Counter()))


def test_the_exported_file_has_the_bytes_csv_writer_writes(cast, awkward, tmp_path):
    odd, plain, template = awkward
    reader = RowReader(columns_of(template, cast.a.company))
    queryset = export_queryset(cast.a.admin, QueryDict("sort=created"))
    path = tmp_path / "leads.csv"
    assert write_file("csv", reader, queryset, str(path)) == 2
    content = path.read_bytes()
    assert content == python_csv(reader, queryset)
    assert reader.copy_select(queryset) is not None  # on PostgreSQL the file came through COPY
    lines = content.split(b"\r\n")
    assert lines[1].startswith(f'{odd.pk},Zoë Ñandú 東京,"Quote ""me"", twice\nplease",odd@example.com,'.encode())
    assert lines[-1] == b""
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    cells = dict(zip(rows[0], rows[1], strict=True))
    odd.refresh_from_db()
    assert {key: cells[key] for key in ("phone", "company_name", "job_title", "need", "medium", "term",
                                        "interest_product", "budget_range", "timeline", "owner", "stage",
                                        "gdpr_consent", "opt_in_date")} == {  # fmt: skip
        "phone": "+44 20 7946 0958", "company_name": "Acme, Inc.", "job_title": "'=1+1",
        "need": "line one\r\nline two\rthree", "medium": "'@SUM(A1)", "term": "'-12", "interest_product": "\\.",
        "budget_range": " ", "timeline": "''quoted", "owner": "Alpha SDR One", "stage": "Awareness",
        "gdpr_consent": "no", "opt_in_date": "2026-03-04 05:06:07",
    }  # fmt: skip
    assert [cells[key] for key in DOCUMENT_KEYS] == [
        "'=cmd|' /C calc'!A0", "42", "2.5", "yes", "no", '["a", "b, c"]', '{"k": "v, w", "n": 1}', "", 'CTO, "Acme"',
    ]  # fmt: skip
    empty = dict(zip(rows[0], rows[2], strict=True))
    assert [empty[key] for key in ("first_name", "last_name", "phone", "assigned_at", *DOCUMENT_KEYS)] == [""] * 13


def test_the_default_columns_stream_the_same_bytes_and_count_every_row(cast, awkward):
    odd, _, _ = awkward
    Lead.objects.filter(pk=odd.pk).update(need="x, " * 30_000)  # one row over the 64 KB chunk size
    for _ in range(3):
        make_lead(cast.a.company, email=f"more{_}@example.com")
    reader = RowReader(columns_of(None, cast.a.company))
    queryset = export_queryset(cast.a.admin, QueryDict("sort=-created"))
    counter = Counter()
    chunks = list(lead_csv_chunks(reader, queryset, counter))
    assert (len(chunks), counter.count) == (2, 5)  # the header, then the rows up to the long one
    assert b"".join(chunks) == python_csv(reader, queryset)


def test_a_lone_column_is_written_by_csv_writer_so_an_empty_cell_stays_quoted(cast, awkward, tmp_path):
    template = make_export_template(cast.a.company, "Names", [{"field": "first_name", "label": "Name"}])
    reader = RowReader(columns_of(template, cast.a.company))
    queryset = export_queryset(cast.a.admin, QueryDict("sort=created"))
    path = tmp_path / "names.csv"
    assert write_file("csv", reader, queryset, str(path)) == 2
    assert reader.copy_select(queryset) is None
    assert path.read_bytes() == '\ufeffName\r\nZoë Ñandú 東京\r\n""\r\n'.encode()


def test_an_abandoned_export_leaves_the_connection_usable(cast, awkward):
    for n in range(3):
        make_lead(cast.a.company, email=f"left{n}@example.com", need="y" * 40_000)
    reader = RowReader(columns_of(None, cast.a.company))
    queryset = export_queryset(cast.a.admin, QueryDict("sort=-created"))
    chunks = lead_csv_chunks(reader, queryset, Counter())
    header, first = next(chunks), next(chunks)  # the export is still reading the third long row
    chunks.close()
    # COPY hands rows over one by one (a chunk holds two long rows); csv.writer gets 2,000 at a time
    expected = (2, 2) if vendor.copy_supported() else (3, 6)
    assert header.startswith("\ufeffID,First name,".encode())
    assert (first.count(b"left"), first.count(b"\r\n")) == expected
    assert Lead.objects.filter(company=cast.a.company).count() == 5


def test_copy_is_what_postgresql_offers():
    assert vendor.copy_supported() == (connection.vendor == "postgresql")


@pytest.mark.skipif(not vendor.copy_supported(), reason="PostgreSQL's JIT setting; SQLite has no COPY")
def test_the_copy_runs_without_jit_and_leaves_the_setting_as_it_was(cast, awkward):
    def jit() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW jit")
            return cursor.fetchone()[0]

    before = jit()
    during = list(vendor.copy_csv_rows("SELECT current_setting(%s)", ["jit"]))
    reader = RowReader(columns_of(None, cast.a.company))
    rows = list(vendor.copy_csv_rows(*reader.copy_select(export_queryset(cast.a.admin, QueryDict("")))))
    assert (before, during, jit()) == ("on", [b"off\n"], "on")
    assert len(rows) == Lead.objects.filter(company=cast.a.company).count()
