"""Import and export benchmarks (DESIGN §7, issue 6): ``import_csv``, ``export_csv``, ``export_xlsx``.

On a company holding ``size`` generated leads (1,000,000 by default):

* ``import_csv``: import ``size / 10`` new leads (100,000) from one CSV through ours
  (``leads.transfer.jobs``: parse, validation and normalisation of every row, exact duplicate
  checks against the indexed keys, scoring, assignment, history and status-change rows, one
  transaction). Baseline: django-import-export's default ``ModelResource`` import of the same rows
  (timed on a sample and scaled); floor: the cheapest raw insert of the same rows into leads_lead
  (no checks, no history): ``sqlite3.executemany`` on SQLite, psycopg's ``COPY … FROM STDIN`` on
  PostgreSQL; ``share_of_floor`` is ours / floor. Every write is undone afterwards (the SQLite file
  put back; on PostgreSQL a rolled-back transaction), so the data set is unchanged.
* ``export_csv``: every lead of the company to CSV by ``manage.py export_leads`` in a process of its
  own (``leads.transfer.exports``: the lead list's visibility and filter, cells formatted by the database
  and written in batches), with that process's peak resident memory. Baseline: django-import-export's
  export of the same rows (a sample, scaled, in the harness's process), which builds the whole
  dataset in memory; floor: the same rows and columns unformatted, through the raw ``sqlite3`` cursor
  into ``csv.writer.writerows`` on SQLite, a raw ``COPY (SELECT …) TO STDOUT`` on PostgreSQL (ours
  is COPY there too, of the formatted cells).
* ``export_xlsx``: ``size / 10`` leads (100,000) to XLSX with XlsxWriter's constant-memory
  workbook, against django-import-export's XLSX export of the same rows (a sample, scaled);
  floor: the faster of openpyxl's write-only workbook and XlsxWriter's constant-memory workbook,
  each alone writing the same rows already in memory, timed side by side in the same run.

Through the harness: ``python bench/run.py import_csv [--size N] [--json]``. On its own (before
the integration's migrations exist) ``python bench/bench_transfer.py NAME [--size N] [--json]``
builds ``bench/data/transfer_<size>.sqlite3`` from the models and generates its data once.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import random
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_SIZE = 1_000_000
IMPORT_SHARE = 10  # import and XLSX export size / 10 rows
BASELINE_IMPORT_SAMPLE = 2_000
BASELINE_EXPORT_SAMPLE = 20_000
DUPLICATE_SHARE = 0.02  # rows of the import file that repeat an existing lead's email


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class PeakRSS:
    """Samples the process's resident memory every 20 ms; ``peak_mb`` while in the block."""

    def __init__(self):
        self.peak = self.start = self._rss()
        self._stop = threading.Event()

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._rss())

    def __enter__(self):
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def peak_mb(self) -> float:
        return round(self.peak / 2**20, 1)

    @property
    def start_mb(self) -> float:
        return round(self.start / 2**20, 1)


def ensure_tables() -> None:
    """Create the tables of models that have no migration yet (this area's and others'), so the
    harness's migrated database can run the import."""
    from django.apps import apps
    from django.db import connection

    existing = set(connection.introspection.table_names())
    missing = [m for m in apps.get_models() if m._meta.db_table not in existing and m._meta.managed]
    if missing:
        with connection.schema_editor() as editor:
            for model in missing:
                editor.create_model(model)
        log(f"created tables without migrations: {', '.join(m._meta.db_table for m in missing)}")


def _admin(company):
    from crm.models import Membership, Role

    return Membership.objects.filter(company=company, role=Role.ADMIN, is_active=True).select_related("user").first()


@contextlib.contextmanager
def restored_database():
    """Run a writing measurement for real (committed, as a worker runs it: no outer transaction,
    whose savepoint journal would hold a copy of every page touched) and put the database file
    back afterwards, so the data set stays as it was."""
    import shutil

    from django.db import connection

    path = Path(connection.settings_dict["NAME"])
    connection.close()
    backup = path.with_name(path.name + ".before")
    shutil.copyfile(path, backup)
    try:
        yield
    finally:
        connection.close()
        for extra in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            extra.unlink(missing_ok=True)
        os.replace(backup, path)


# --- import ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def import_restored():
    """A writing measurement that leaves the data set as it was: on SQLite run for real and the file
    put back (``restored_database``); on PostgreSQL inside a transaction rolled back afterwards (its
    savepoints cost nothing like SQLite's journal, and the import's ``COPY`` and ``INSERT … SELECT``
    run as they would committed; only the final commit is not timed)."""
    from django.db import connection, transaction

    if connection.vendor == "sqlite":
        with restored_database():
            yield
        return
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


HEADERS = ["First name", "Last name", "Email", "Phone", "Country", "Job title", "Company", "Profile URL",
           "Lead source", "Campaign"]  # fmt: skip


def import_file(company, rows: int) -> tuple[bytes, list[dict]]:
    """A CSV of ``rows`` new, realistic leads (2 % repeat an existing lead's email) and the same
    rows as dicts of model values (for the baselines)."""
    from django.utils import timezone

    from leads.generate import FIELDS, LeadFaker, _statuses, campaigns_ensure
    from leads.models import Campaign, Lead

    campaigns = campaigns_ensure(company)
    names = dict(Campaign.objects.filter(company=company).values_list("id", "name"))
    faker = LeadFaker(
        rng=random.Random(2026), company_id=company.pk, home_country=company.default_country or "GB",
        campaigns=campaigns, statuses=_statuses(company)[:1], owners=[], now=timezone.now(), count=rows,
    )  # fmt: skip
    faker.serial += 5_000_000  # other addresses than the data set's
    index = {name: i for i, name in enumerate(FIELDS)}
    existing = list(
        Lead.objects.filter(company=company).exclude(email="").order_by().values_list("email", flat=True)[:rows]
    )
    rng = random.Random(7)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADERS)
    records = []
    for position in range(rows):
        row, _ = faker.original(position)
        email = row[index["email"]]
        if existing and rng.random() < DUPLICATE_SHARE:
            email = existing[rng.randrange(len(existing))]
        values = [row[index["first_name"]], row[index["last_name"]], email, row[index["phone"]],
                  row[index["country"]], row[index["job_title"]], row[index["company_name"]],
                  row[index["profile_url"]], row[index["lead_source"]], names[row[index["campaign_id"]]]]  # fmt: skip
        writer.writerow(values)
        records.append({"first_name": values[0], "last_name": values[1], "email": values[2], "phone": values[3],
                        "country": values[4], "job_title": values[5], "company_name": values[6],
                        "profile_url": values[7], "lead_source": values[8], "campaign_id": row[index["campaign_id"]]})  # fmt: skip
    return out.getvalue().encode(), records


def _ours_import(company, data: bytes) -> tuple[float, object]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from leads.transfer.jobs import import_job_create, import_job_start
    from leads.transfer.mapping import ImportOptions

    admin = _admin(company)
    with import_restored(), PeakRSS() as memory:
        started = time.perf_counter()
        job = import_job_create(
            company=company, actor=admin, upload=SimpleUploadedFile("bench.csv", data), options=ImportOptions()
        )
        job = import_job_start(job=job, actor=admin, inline=True)
        seconds = time.perf_counter() - started
        job.peak_rss_mb, job.rss_before_mb = memory.peak_mb, memory.start_mb
        log(f"ours: {job.status}, created {job.created_count:,}, skipped {job.skipped_count:,}, "
            f"invalid {job.invalid_count:,} in {seconds:.1f} s, peak RSS {memory.peak_mb} MB")  # fmt: skip
    return seconds, job


def _baseline_import_export(company, records: list[dict]) -> float:
    """Seconds per row of django-import-export's default ModelResource import (save() per row,
    simple-history per row), on a sample."""
    import tablib
    from import_export import resources

    from leads.models import Lead, LeadStatus

    status = LeadStatus.objects.get(company=company, is_initial=True)
    sample = records[:BASELINE_IMPORT_SAMPLE]
    columns = ["id", *sample[0].keys(), "company", "status"]
    dataset = tablib.Dataset(headers=[c.removesuffix("_id") if c == "campaign_id" else c for c in columns])
    for record in sample:
        dataset.append(["", *record.values(), company.pk, status.pk])
    resource = resources.modelresource_factory(Lead)()
    with import_restored():
        started = time.perf_counter()
        result = resource.import_data(dataset, dry_run=False, raise_errors=True, use_transactions=False)
        seconds = time.perf_counter() - started
    log(f"baseline: django-import-export imported {result.totals['new']:,} rows in {seconds:.1f} s")
    return seconds / len(sample)


def _floor_rows(company, records: list[dict]) -> tuple[list, list[tuple]]:
    """The columns of leads_lead and the rows as the floors write them: the records over the
    fields' defaults, prepared for this database."""
    from django.db import connection
    from django.utils import timezone

    from leads.models import Lead, LeadStatus

    status = LeadStatus.objects.get(company=company, is_initial=True)
    fields = [f for f in Lead._meta.concrete_fields if not f.primary_key]
    now = timezone.now()
    base = {f.attname: f.get_db_prep_save(f.get_default(), connection) for f in fields}
    if connection.vendor == "sqlite":
        now = now.isoformat(sep=" ")
    base.update(company_id=company.pk, status_id=status.pk, created_at=now, updated_at=now)
    return fields, [tuple({**base, **record}[f.attname] for f in fields) for record in records]


def _floor_insert(company, records: list[dict]) -> tuple[float, str]:
    """Seconds per row of the cheapest raw insert of the same rows into leads_lead (no checks, no
    history, no status changes), and how: ``sqlite3.executemany`` on SQLite; psycopg 3's ``COPY …
    FROM STDIN`` (``write_row``) on PostgreSQL."""
    from django.db import connection

    fields, rows = _floor_rows(company, records)
    columns = ", ".join(f.column for f in fields)
    with import_restored():
        connection.ensure_connection()
        raw = connection.connection
        if connection.vendor == "sqlite":
            how = "sqlite3.executemany"
            sql = f"INSERT INTO leads_lead ({columns}) VALUES ({', '.join('?' * len(fields))})"
            started = time.perf_counter()
            raw.execute("BEGIN IMMEDIATE")
            raw.executemany(sql, rows)
            raw.execute("COMMIT")
        else:
            how = "COPY FROM STDIN"
            started = time.perf_counter()
            with raw.cursor() as cursor, cursor.copy(f"COPY leads_lead ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        seconds = time.perf_counter() - started
    log(f"floor: {how} of {len(rows):,} rows in {seconds:.1f} s")
    return seconds / len(rows), how


def import_csv(company, size: int) -> dict:
    """Import size/10 leads from CSV into a company of size leads vs django-import-export (and executemany)."""
    ensure_tables()
    rows = max(1, size // IMPORT_SHARE)
    data, records = import_file(company, rows)
    log(f"import file: {rows:,} rows, {len(data) / 2**20:.1f} MB")
    seconds, job = _ours_import(company, data)
    baseline = _baseline_import_export(company, records)
    floor, floor_method = _floor_insert(company, records)
    return {
        "name": "import_csv", "size": size, "ours": round(rows / seconds), "baseline": round(1 / baseline),
        "unit": "rows/s", "rows": rows, "seconds": round(seconds, 1), "created": job.created_count,
        "skipped": job.skipped_count, "invalid": job.invalid_count, "peak_rss_mb": job.peak_rss_mb,
        "rss_before_mb": job.rss_before_mb, "floor": round(1 / floor), "floor_method": floor_method,
        "share_of_floor": round(floor * rows / seconds, 2), "baseline_sample": BASELINE_IMPORT_SAMPLE,
    }  # fmt: skip


# --- export -----------------------------------------------------------------------------------------


class _Sink(io.RawIOBase):
    """Counts the bytes of a download without keeping them."""

    size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.size += len(data)
        return len(data)


def _ours_export(company, file_format: str, limit: int | None) -> tuple[float, int, PeakRSS]:
    import tempfile

    from django.http import QueryDict

    from leads.transfer.cells import RowReader
    from leads.transfer.exports import export_run_start, stream_export
    from leads.transfer.writers import write_file

    admin = _admin(company)
    run, queryset, columns = export_run_start(
        membership=admin, params=QueryDict("sort=-created"), file_format=file_format, streamed=True
    )
    if limit is not None:
        queryset = queryset[:limit]
    started = time.perf_counter()
    with PeakRSS() as memory:
        if file_format == "csv":
            sink = _Sink()
            for chunk in stream_export(run, queryset, columns):
                sink.write(chunk)
            rows = run.row_count
        else:
            with tempfile.TemporaryDirectory() as folder:
                path = os.path.join(folder, "bench.xlsx")
                rows = write_file("xlsx", RowReader(columns), queryset, path)
    seconds = time.perf_counter() - started
    log(f"ours: {rows:,} rows to {file_format} in {seconds:.1f} s, peak RSS {memory.peak_mb} MB "
        f"(from {memory.start_mb} MB)")  # fmt: skip
    return seconds, rows, memory


def _baseline_export(company, file_format: str, sample: int) -> tuple[float, PeakRSS]:
    """Seconds per row of django-import-export's default ModelResource export (whole dataset built
    in memory, then rendered), on a sample."""
    from import_export import resources

    from leads.models import Lead

    resource = resources.modelresource_factory(Lead)()
    queryset = Lead.objects.filter(company=company).order_by("-created_at", "-id")[:sample]
    started = time.perf_counter()
    with PeakRSS() as memory:
        dataset = resource.export(queryset)
        content = dataset.export(file_format)
    seconds = time.perf_counter() - started
    log(f"baseline: django-import-export exported {len(dataset):,} rows to {file_format} ({len(content):,} bytes) "
        f"in {seconds:.1f} s, peak RSS {memory.peak_mb} MB")  # fmt: skip
    return seconds / max(len(dataset), 1), memory


# The peak is the process's own VmHWM: getrusage's ru_maxrss would report the harness's size, which
# Linux carries over from the forking parent across exec.
_EXPORT_CHILD = """
import json, re, sys, time
import django
django.setup()
from django.core.management import call_command
started = time.perf_counter()
call_command("export_leads", company=sys.argv[1], format=sys.argv[2], output=sys.argv[3], stdout=sys.stderr)
seconds = time.perf_counter() - started
peak_kib = int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_kib / 1024}))
"""


def _command_export(company, file_format: str) -> dict:
    """``manage.py export_leads`` in a process of its own, as ops run it: the command's seconds, the
    process's peak resident memory (Django and all), the rows written."""
    import subprocess
    import tempfile

    from django.db import connection

    from leads.models import ExportRun

    env = {**os.environ, "DATABASE_URL": _url_of(connection.settings_dict), "DEBUG": "false"}
    env.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings.dev")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"bench.{file_format}")
        done = subprocess.run(  # noqa: S603 — our interpreter, our script, our arguments
            [sys.executable, "-c", _EXPORT_CHILD, company.slug, file_format, path],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        measured = json.loads(done.stdout.strip().splitlines()[-1])
        measured["bytes"] = os.path.getsize(path)
    measured["rows"] = ExportRun.objects.filter(company=company, format=file_format).latest("pk").row_count
    log(f"ours: manage.py export_leads wrote {measured['rows']:,} rows ({measured['bytes'] / 2**20:.0f} MB) in "
        f"{measured['seconds']:.1f} s, process peak RSS {measured['peak_rss_mb']:.0f} MB")  # fmt: skip
    return measured


def _floor_csv(company) -> float:
    """Rows/s of the least a CSV export of the same rows can cost here: the same leads and columns
    (the joined names included), unformatted and not neutralised. On SQLite, read through the raw
    ``sqlite3`` cursor and written by ``csv.writer.writerows`` into memory; on PostgreSQL, a raw
    ``COPY (SELECT …) TO STDOUT WITH (FORMAT csv)`` whose rows are read and dropped."""
    from django.db import connection
    from django.http import QueryDict

    from leads.transfer.cells import RowReader, default_columns
    from leads.transfer.exports import export_queryset

    queryset = export_queryset(_admin(company), QueryDict("sort=-created"))
    paths = RowReader(default_columns(company)).paths
    sql, params = queryset.values_list(*paths).query.sql_with_params()
    connection.ensure_connection()
    if connection.vendor == "postgresql":
        rows, seconds = _copy_rows(connection.connection, sql, params)
        log(f"floor: raw COPY … TO STDOUT, {rows:,} rows in {seconds:.1f} s")
        return rows / seconds
    cursor = connection.connection.cursor()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    rows = 0
    started = time.perf_counter()
    cursor.execute(sql.replace("%s", "?"), params)
    while batch := cursor.fetchmany(2000):
        writer.writerows(batch)
        rows += len(batch)
        buffer.seek(0)
        buffer.truncate()
    seconds = time.perf_counter() - started
    cursor.close()
    log(f"floor: raw cursor + csv.writer, {rows:,} rows in {seconds:.1f} s")
    return rows / seconds


def _copy_rows(raw, sql: str, params) -> tuple[int, float]:
    """Rows and seconds of a raw psycopg ``COPY (sql) TO STDOUT WITH (FORMAT csv)``."""
    from psycopg import ClientCursor

    rows = 0
    with ClientCursor(raw) as cursor:
        select = cursor.mogrify(sql, tuple(params))
        started = time.perf_counter()
        with cursor.copy(f"COPY ({select}) TO STDOUT WITH (FORMAT csv)") as copy:
            for _ in copy:
                rows += 1
        return rows, time.perf_counter() - started


def _openpyxl_write_only(rows: list[list], path: str) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Leads")
    for row in rows:
        sheet.append(row)
    workbook.save(path)


def _xlsxwriter_constant_memory(rows: list[list], path: str) -> None:
    import datetime as dt

    import xlsxwriter

    with xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_formulas": False}) as workbook:
        sheet = workbook.add_worksheet("Leads")
        stamp = workbook.add_format({"num_format": "yyyy-mm-dd h:mm:ss"})
        write = {str: sheet.write_string, int: sheet.write_number, float: sheet.write_number,
                 dt.datetime: lambda y, x, value: sheet.write_datetime(y, x, value, stamp)}  # fmt: skip
        for y, row in enumerate(rows):
            for x, value in enumerate(row):
                if value is not None:
                    write[type(value)](y, x, value)


XLSX_WRITERS = {"openpyxl_write_only": _openpyxl_write_only, "xlsxwriter_constant_memory": _xlsxwriter_constant_memory}


def _floor_xlsx(company, limit: int) -> dict[str, float]:
    """Rows/s of each maintained XLSX writer alone, side by side in the same run: the same rows,
    already read and converted (``xlsx_cell``), written and saved; no database. The fastest is the
    floor."""
    import tempfile

    from django.http import QueryDict

    from leads.transfer.cells import RowReader, default_columns, xlsx_cell
    from leads.transfer.exports import export_queryset

    queryset = export_queryset(_admin(company), QueryDict("sort=-created"))[:limit]
    reader = RowReader(default_columns(company))
    rows = [[xlsx_cell(value) for value in row] for row in reader.rows(queryset)]
    rates = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, write in XLSX_WRITERS.items():
            started = time.perf_counter()
            write(rows, os.path.join(folder, f"{name}.xlsx"))
            seconds = time.perf_counter() - started
            rates[name] = len(rows) / seconds
            log(f"floor candidate: {name}, {len(rows):,} rows in {seconds:.1f} s ({rates[name]:,.0f} rows/s)")
    fastest = max(rates, key=rates.get)
    log(f"floor: {fastest} (the fastest)")
    return rates


def export_csv(company, size: int) -> dict:
    """Every lead to CSV by ``manage.py export_leads`` (rate and the process's peak RSS) vs
    django-import-export's export, and the raw floor (COPY on PostgreSQL)."""
    ensure_tables()
    ours = _command_export(company, "csv")
    rows, seconds = ours["rows"], ours["seconds"]
    sample = min(rows, BASELINE_EXPORT_SAMPLE)
    baseline, baseline_memory = _baseline_export(company, "csv", sample)
    floor = _floor_csv(company)
    return {
        "name": "export_csv", "size": size, "ours": round(rows / seconds), "baseline": round(1 / baseline),
        "unit": "rows/s", "rows": rows, "seconds": round(seconds, 1), "peak_rss_mb": round(ours["peak_rss_mb"], 1),
        "baseline_sample": sample, "baseline_peak_rss_mb": baseline_memory.peak_mb,
        "floor": round(floor), "floor_kind": _csv_floor_kind(), "share_of_floor": round(rows / seconds / floor, 2),
    }  # fmt: skip


def _csv_floor_kind() -> str:
    from django.db import connection

    return "raw_copy_to_stdout" if connection.vendor == "postgresql" else "raw_cursor_csv_writer"


def export_xlsx(company, size: int) -> dict:
    """Write size/10 leads to XLSX (XlsxWriter, constant memory) vs django-import-export's export,
    and both maintained writers alone (the faster is the floor)."""
    ensure_tables()
    limit = max(1, size // IMPORT_SHARE)
    seconds, rows, memory = _ours_export(company, "xlsx", limit)
    sample = min(rows, BASELINE_EXPORT_SAMPLE)
    baseline, baseline_memory = _baseline_export(company, "xlsx", sample)
    floors = _floor_xlsx(company, limit)
    fastest = max(floors, key=floors.get)
    return {
        "name": "export_xlsx", "size": size, "ours": round(rows / seconds), "baseline": round(1 / baseline),
        "unit": "rows/s", "rows": rows, "seconds": round(seconds, 1), "peak_rss_mb": memory.peak_mb,
        "rss_before_mb": memory.start_mb, "baseline_sample": sample, "baseline_peak_rss_mb": baseline_memory.peak_mb,
        **{f"floor_{name}": round(rate) for name, rate in floors.items()},
        "floor": round(floors[fastest]), "floor_writer": fastest, "share_of_floor": round(rows / seconds / floors[fastest], 2),
    }  # fmt: skip


BENCHMARKS = {"import_csv": import_csv, "export_csv": export_csv, "export_xlsx": export_xlsx}


# --- standalone -------------------------------------------------------------------------------------


def _setup_django(size: int) -> None:
    """Django on ``bench/data/transfer_<size>.sqlite3`` whose tables are built from the models (like
    the test suite without migrations)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings.test")
    (HERE / "data").mkdir(exist_ok=True)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{HERE / 'data' / f'transfer_{size}.sqlite3'}")
    import django
    from django.conf import settings

    django.setup()
    from django.db import connection

    database = settings.DATABASES["default"]
    database["TEST"] = {"NAME": database["NAME"], "MIGRATE": False}
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=True, serialize=False)


def _dataset(size: int):
    from crm import services
    from crm.models import Company, Role
    from crm.testing.factories import UserFactory
    from leads.generate import leads_generate
    from leads.models import Lead

    company = Company.objects.filter(slug=f"transfer-{size}").first()
    if company is not None and Lead.objects.filter(company=company).exists():
        return company
    company = company or services.company_create(name="Transfer bench", slug=f"transfer-{size}", default_country="GB")
    user = UserFactory(email=f"admin@transfer-{size}.bench.test", full_name="Bench Admin", is_staff=True)
    admin = services.membership_create(company=company, user=user, role=Role.ADMIN)
    for i in range(4):
        sdr = UserFactory(email=f"sdr{i}@transfer-{size}.bench.test", full_name=f"SDR {i}")
        services.membership_create(company=company, user=sdr, role=Role.SDR, manager=admin)
    result = leads_generate(company=company, count=size, duplicates_ratio=0.05, seed=42)
    log(f"generated {size:,} leads in {result.seconds:.1f} s")
    return company


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", choices=sorted(BENCHMARKS))
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    stdout = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        _setup_django(args.size)
        result = BENCHMARKS[args.name](_dataset(args.size), args.size)
    result.setdefault("ratio", round(result["ours"] / result["baseline"], 1))
    if args.json:
        print(json.dumps([result]), file=stdout)
    else:
        print(f"{result['name']:<12} size {result['size']:>9,}  ours {result['ours']:>9,} {result['unit']}  "
              f"baseline {result['baseline']:>9,} {result['unit']}  ×{result['ratio']}", file=stdout)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())


def _url_of(db: dict) -> str:
    """The DATABASE_URL of this connection's database, for the export's own process."""
    if "sqlite" in db["ENGINE"]:
        return f"sqlite:///{db['NAME']}"
    login = db["USER"] + (f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else "")
    return f"postgres://{login}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
