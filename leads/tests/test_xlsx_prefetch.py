"""XLSX exports read their rows through ``vendor.fetched_ahead`` (on PostgreSQL a thread fetches
them while the caller writes): the cells are exactly those of Django's own iterator, rows are read in
the caller's transaction, errors reach the caller, and the thread stops when the reader stops. The
thread's own tests force it (``threaded=True``) on either database."""

import datetime as dt
import threading
import zipfile
from contextlib import closing

import pytest
from django.db import DatabaseError, Error, connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from leads import vendor
from leads.models import Lead
from leads.testing.factories import make_custom_field, make_lead
from leads.transfer import cells
from leads.transfer.cells import Column, RowReader, column_choices, xlsx_cell
from leads.transfer.exports import export_queryset
from leads.transfer.writers import Counter, write_file, write_xlsx_cells

STAMP = dt.datetime(2026, 3, 4, 5, 6, 7, 999_999, tzinfo=dt.UTC)
AWKWARD = [
    {"first_name": "Zoë", "last_name": "Ñúñez 李", "phone": "+44 20 7946 0958", "job_title": '=HYPERLINK("x")',
     "company_name": "'quoted", "medium": "", "term": "line\nbreak", "need": "@SUM(A1)", "timeline": "\tlater",
     "budget_range": "bell\x07", "interest_product": " padded ", "gdpr_consent": True, "score": 97,
     "opt_in_date": STAMP, "assigned_at": dt.datetime(1901, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
     "custom_fields": {"note": "=cmd", "size": 3.5, "flag": True, "tags": ["a", "=b"], "big": 10**20},
     "profile_data": {"headline": "-1+1", "followers": 1200}},
    {"first_name": "", "last_name": "-", "phone": "+12345", "job_title": "+cmd|' /C calc'!A0", "need": "",
     "dnd": True, "score": 0, "assigned_at": None, "custom_fields": {"note": None, "size": -0.25},
     "profile_data": ["not", "an object"]},
    {"first_name": "Plain", "last_name": "Person", "custom_fields": {}, "assigned_at": None,
     "last_activity_at": STAMP.replace(microsecond=0), "converted_at": dt.datetime(2026, 12, 31, 23, 59, 59, tzinfo=dt.UTC)},
]  # fmt: skip


@pytest.fixture
def awkward_leads(cast):
    for key in ("note", "size", "flag", "tags", "big", "absent"):
        make_custom_field(cast.a.company, key)
    leads = []
    for values in AWKWARD:
        lead = make_lead(cast.a.company, cast.a.admin, owner=cast.a.sdr1)
        Lead.objects.filter(pk=lead.pk).update(**values, created_at=STAMP + dt.timedelta(days=len(leads)))
        leads.append(lead)
    make_lead(cast.b.company, cast.b.admin, first_name="Other company")  # never exported
    return leads


def every_column(company) -> list[Column]:
    keys = [key for key, _ in column_choices(company)] + ["profile:headline", "profile:followers"]
    return [Column(key, key) for key in keys]


def orm_cells(reader: RowReader, queryset) -> list[list]:
    """The cells by Django's own iterator and ``xlsx_cell``, datetimes to the second (as the export
    writes them): what ``xlsx_rows`` must give."""

    def cell(value):
        value = xlsx_cell(value)
        return value.replace(microsecond=0) if isinstance(value, dt.datetime) else value

    return [[cell(value) for value in row] for row in reader.rows(queryset)]


def sheet_xml(path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read("xl/worksheets/sheet1.xml")


def reader_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "fetched-ahead"]


@pytest.mark.parametrize("chunk", [cells.CHUNK, 2])
def test_the_cells_and_file_bytes_are_those_of_djangos_iterator(awkward_leads, cast, tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(cells, "CHUNK", chunk)  # 2: the three leads come in two lists from the thread
    reader = RowReader(every_column(cast.a.company))
    queryset = export_queryset(cast.a.admin, QueryDict("sort=created"))
    expected = orm_cells(reader, queryset)

    assert [list(row) for row in reader.xlsx_rows(queryset)] == expected
    ours, reference = tmp_path / "ours.xlsx", tmp_path / "reference.xlsx"
    assert write_file("xlsx", reader, queryset, str(ours)) == 3
    write_xlsx_cells(reader.headers, expected, str(reference))
    assert sheet_xml(ours) == sheet_xml(reference)
    assert not reader_threads()


def test_awkward_values_read_back_as_what_they_are(awkward_leads, cast, tmp_path):
    keys = ["first_name", "last_name", "phone", "job_title", "company_name", "medium", "term", "need", "timeline",
            "budget_range", "interest_product", "gdpr_consent", "dnd", "score", "owner", "stage", "opt_in_date",
            "assigned_at", "last_activity_at", "converted_at", "custom:note", "custom:size", "custom:flag",
            "custom:tags", "custom:big", "custom:absent", "profile:headline", "profile:followers"]  # fmt: skip
    path = tmp_path / "leads.xlsx"
    queryset = export_queryset(cast.a.admin, QueryDict("sort=created"))
    write_file("xlsx", RowReader([Column(key, key) for key in keys]), queryset, str(path))
    header, *rows = load_workbook(path).active.values
    assert header == tuple(keys)
    assert rows == [
        ("Zoë", "Ñúñez 李", "+44 20 7946 0958", "'=HYPERLINK(\"x\")", "''quoted", None, "line\nbreak", "'@SUM(A1)",
         "'\tlater", "bell_x0007_", " padded ", "yes", "no", 97, "Alpha SDR One", "Awareness",
         dt.datetime(2026, 3, 4, 5, 6, 7), dt.datetime(1901, 1, 2, 3, 4, 5), None, None, "'=cmd", 3.5, "yes",
         '["a", "=b"]', 100000000000000000000, None, "'-1+1", 1200),
        (None, "'-", "'+12345", "'+cmd|' /C calc'!A0", None, None, None, None, None, None, None, "no", "yes", 0,
         "Alpha SDR One", "Awareness", None, None, None, None, None, -0.25, None, None, None, None, None, None),
        ("Plain", "Person", None, None, None, None, None, None, None, None, None, "no", "no", awkward_leads[2].score,
         "Alpha SDR One", "Awareness", None, None, dt.datetime(2026, 3, 4, 5, 6, 7), dt.datetime(2026, 12, 31, 23, 59, 59),
         None, None, None, None, None, None, None, None),
    ]  # fmt: skip


def test_rows_not_yet_committed_in_the_callers_transaction_are_read(cast):
    reader = RowReader([Column("first_name", "First name")])
    with transaction.atomic():
        for n in range(5):
            make_lead(cast.a.company, cast.a.admin, first_name=f"Uncommitted {n}")
        queryset = Lead.objects.filter(company=cast.a.company).order_by("first_name")
        rows = [row[0] for row in reader.xlsx_rows(queryset)]
    assert rows == [f"Uncommitted {n}" for n in range(5)]


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_rows_are_read_too(tmp_path):
    # autocommit: on PostgreSQL Django's server-side cursor is declared WITH HOLD
    from crm.testing.cast import build_cast

    cast = build_cast()
    for n in range(3):
        make_lead(cast.a.company, cast.a.admin, first_name=f"Committed {n}")
    queryset = Lead.objects.filter(company=cast.a.company).order_by("first_name")
    assert list(RowReader([Column("first_name", "F")]).xlsx_rows(queryset)) == [(f"Committed {n}",) for n in range(3)]
    assert not reader_threads()


def test_the_export_costs_the_queries_it_cost_before(awkward_leads, cast, django_assert_num_queries):
    reader = RowReader(every_column(cast.a.company))
    queryset = export_queryset(cast.a.admin, QueryDict("sort=created"))
    with CaptureQueriesContext(connection) as iterator_queries:
        list(reader.text_batches(queryset))  # the same statements, read by Django's iterator
    with django_assert_num_queries(len(iterator_queries)):
        assert len(list(reader.xlsx_rows(queryset))) == 3


def test_a_query_that_cannot_match_is_not_run_and_the_file_holds_the_header_alone(cast, tmp_path):
    reader = RowReader([Column("first_name", "First name"), Column("score", "Score")])
    path = tmp_path / "none.xlsx"
    with CaptureQueriesContext(connection) as queries:
        assert list(reader.xlsx_rows(Lead.objects.none())) == []
    assert [query["sql"] for query in queries if "leads_lead" in query["sql"]] == []
    assert write_file("xlsx", reader, Lead.objects.filter(pk__in=[]), str(path)) == 0
    assert list(load_workbook(path).active.values) == [("First name", "Score")]


def test_a_distinct_query_gives_the_values_without_its_ordering_columns(awkward_leads, cast):
    reader = RowReader([Column("last_name", "Last name")])
    queryset = Lead.objects.filter(company=cast.a.company).order_by("created_at").distinct()
    assert list(reader.xlsx_rows(queryset)) == [("Ñúñez 李",), ("'-",), ("Person",)]


def test_stopping_early_stops_the_thread_and_leaves_the_connection_usable(cast, monkeypatch):
    monkeypatch.setattr(cells, "CHUNK", 2)
    for n in range(9):
        make_lead(cast.a.company, cast.a.admin, first_name=f"Lead {n}")
    rows = RowReader([Column("first_name", "F")]).xlsx_rows(
        Lead.objects.filter(company=cast.a.company).order_by("first_name")
    )
    assert next(rows) == ("Lead 0",)
    assert len(reader_threads()) <= 1  # PostgreSQL's thread, fetching ahead
    rows.close()
    assert not reader_threads()
    assert Lead.objects.filter(company=cast.a.company).count() == 9


def test_a_writer_that_fails_stops_the_thread_before_the_error_goes_on(cast, tmp_path, monkeypatch):
    monkeypatch.setattr(cells, "CHUNK", 2)
    for n in range(9):
        make_lead(cast.a.company, cast.a.admin, first_name=f"Lead {n}")
    reader = RowReader([Column("first_name", "F")])

    class Unwritable:
        def __str__(self):
            raise ValueError("no text")

    leads = reader.xlsx_rows(Lead.objects.filter(company=cast.a.company).order_by("first_name"))

    def rows_then_a_bad_cell():
        with closing(leads):
            yield next(leads)
            yield [Unwritable()]
            yield from leads

    counter = Counter(rows_then_a_bad_cell())
    # ``raised`` keeps the failed frames (and so the reader) alive, as a caller handling the error does
    with pytest.raises(ValueError, match="no text") as raised:
        write_xlsx_cells(reader.headers, counter, str(tmp_path / "broken.xlsx"))
    assert (leads.gi_frame, reader_threads()) == (None, [])  # the reader was closed
    assert (counter.count, raised.traceback[-1].name) == (2, "__str__")


class DriverCursor:
    """A DB-API cursor of numbered rows that fails after ``fail_after`` rows (None: never ends),
    recording its fetches: the driver's side of ``vendor.fetched_ahead``."""

    def __init__(self, rows: int | None, fail_after: int | None = None):
        self.rows, self.fail_after, self.fetched, self.fetches = rows, fail_after, 0, 0

    def fetchmany(self, size):
        self.fetches += 1
        if self.fail_after is not None and self.fetched >= self.fail_after:
            raise DatabaseError("the server went away")
        end = self.fetched + size if self.rows is None else min(self.fetched + size, self.rows)
        batch = [(n,) for n in range(self.fetched, end)]
        self.fetched = end
        return batch


def test_rows_come_in_lists_of_the_size_asked_in_order():
    batches = list(vendor.fetched_ahead(DriverCursor(7), 3, threaded=True))
    assert batches == [[(0,), (1,), (2,)], [(3,), (4,), (5,)], [(6,)]]
    assert not reader_threads()


def test_an_error_in_the_thread_is_raised_in_the_caller_after_the_rows_before_it():
    batches = vendor.fetched_ahead(DriverCursor(None, fail_after=4), 2, threaded=True)
    assert next(batches) == [(0,), (1,)]
    assert next(batches) == [(2,), (3,)]
    with pytest.raises(DatabaseError, match="the server went away"):
        next(batches)
    assert not reader_threads()


def test_the_thread_reads_at_most_depth_lists_ahead_and_stops_when_closed():
    cursor = DriverCursor(None)  # endless
    batches = vendor.fetched_ahead(cursor, 10, depth=2, threaded=True)
    assert next(batches) == [(n,) for n in range(10)]
    for _ in range(200):  # let the thread fill the queue and block
        if cursor.fetches >= 4:
            break
        threading.Event().wait(0.005)
    # one list taken, two waiting, one more fetched and waiting for room: memory stays flat
    assert cursor.fetches == 4
    batches.close()
    assert not reader_threads()
    assert cursor.fetches == 4


def test_a_real_cursor_read_ahead_gives_what_fetchall_gives(cast):
    # the leads are not committed (the test's transaction): the thread reads them on our connection
    for n in range(5):
        make_lead(cast.a.company, cast.a.admin, first_name=f"Row {n}")
    queryset = (
        Lead.objects.filter(company=cast.a.company)
        .order_by("id")
        .annotate(label=Concat(F("first_name"), Value("!")))
        .values_list("id", "label")
    )
    compiler = queryset.query.get_compiler(using=queryset.db)
    sql, params = compiler.as_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        expected = [tuple(row) for row in cursor.fetchall()]
    for threaded in (True, False, None):  # None: as the database does it
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            batches = list(vendor.fetched_ahead(cursor, 2, threaded=threaded))
        assert [tuple(row) for batch in batches for row in batch] == expected
        assert [len(batch) for batch in batches] == [2, 2, 1]


def test_an_error_in_the_thread_reaches_the_caller_from_a_real_cursor(cast):
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM leads_lead WHERE id IN (%s, %s)", [1, 2])
        batches = vendor.fetched_ahead(cursor, 2, threaded=True)
        cursor.close()  # the thread's fetch fails
        with pytest.raises(Error, match="closed"):
            next(batches)
    assert not reader_threads()
