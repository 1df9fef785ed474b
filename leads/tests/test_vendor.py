"""leads/vendor.py: the one module that knows SQLite from PostgreSQL (no other module asks), and what
it does on the engine the suite runs on: planner statistics (on demand, daily, after a large import),
the page cache, datetimes as the ORM sends them."""

import ast
import datetime as dt
import pydoc
import re
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django_q.models import Schedule, Task
from django_q.scheduler import scheduler

from leads import vendor
from leads.models import ImportStatus, Lead, StatusChange
from leads.testing.factories import make_campaign, make_lead
from leads.transfer import jobs
from leads.transfer.jobs import import_job_create, import_job_start
from leads.transfer.mapping import ImportOptions

ROOT = Path(settings.BASE_DIR)
SKIPPED_DIRS = {"tests", "migrations", "node_modules", "__pycache__"}
PRAGMA = re.compile(r"\bPRAGMA\b", re.IGNORECASE)
DRIVERS = {"sqlite3", "psycopg", "psycopg2"}

# Where asking which engine runs is allowed; None: any number of times, a number: at most that many.
ALLOWED = {
    "leads/vendor.py": None,  # the one module
    "crm/env.py": None,  # database settings: the SQLite connection's PRAGMAs
}
# The benchmarks measure the engines themselves: they create databases (psycopg), time raw sqlite3
# floors and name their data files per engine. They are scripts, not the application.
ALLOWED_DIRS = ("bench/",)


def project_files() -> list[Path]:
    return sorted(
        path
        for path in ROOT.rglob("*.py")
        if not any(part.startswith(".") or part in SKIPPED_DIRS for part in path.relative_to(ROOT).parts[:-1])
        and path.name != "conftest.py"
    )


def engine_questions(tree: ast.AST) -> list[str]:
    """Each place the code asks which engine it is on: ``….vendor``, a ``PRAGMA``, a driver import."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "vendor":
            found.append(f"{node.lineno}: .vendor")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and PRAGMA.search(node.value):
            found.append(f"{node.lineno}: PRAGMA")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            found += [f"{node.lineno}: import {name}" for name in names if name.split(".")[0] in DRIVERS]
    return found


def test_only_the_vendor_module_and_the_database_settings_ask_which_engine_runs():
    files = project_files()
    found = {}
    for path in files:
        questions = engine_questions(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        if questions:
            found[path.relative_to(ROOT).as_posix()] = questions

    unexpected = {
        name: questions
        for name, questions in found.items()
        if not name.startswith(ALLOWED_DIRS)
        and (name not in ALLOWED or (ALLOWED[name] is not None and len(questions) > ALLOWED[name]))
    }
    assert unexpected == {}
    assert {"leads/vendor.py", "leads/search.py", "leads/bulkwrite.py", "leads/transfer/jobs.py"} <= {
        path.relative_to(ROOT).as_posix() for path in files
    }  # the walk sees the modules that used to ask
    assert "leads/vendor.py" in found  # … and would see a question if one were there


def test_the_walk_finds_every_kind_of_question():
    source = (
        "import sqlite3\nfrom psycopg import sql\n"
        "if connections['default'].vendor == 'sqlite':\n    cursor.execute(f'pragma cache_size = {n}')\n"
    )
    assert engine_questions(ast.parse(source)) == [
        "1: import sqlite3",
        "2: import psycopg",
        "3: .vendor",
        "4: PRAGMA",
    ]


# --- planner statistics ---------------------------------------------------------------------------------


def statistics_runs(table: str) -> int:
    """How often the planner statistics of ``table`` were computed, as the engine records it:
    SQLite's rows in ``sqlite_stat1`` (none before the first ANALYZE; the test's transaction rolls
    them back), PostgreSQL's ``analyze_count`` (kept across transactions: compare before and after)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
            if cursor.fetchone() == (0,):
                return 0
            cursor.execute("SELECT count(DISTINCT tbl) FROM sqlite_stat1 WHERE tbl = %s", [table])
            return cursor.fetchone()[0]
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # read the counter now, not as first read
        cursor.execute("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = %s", [table])
        return cursor.fetchone()[0]


@pytest.fixture
def leads(cast):
    for n in range(3):
        make_lead(cast.a.company, email=f"stat{n}@example.com")
    return Lead.objects.filter(company=cast.a.company)


def test_refreshing_statistics_analyzes_the_whole_database(leads):
    before = statistics_runs("leads_lead")

    statements = vendor.refresh_statistics()

    assert statistics_runs("leads_lead") == before + 1
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            assert statements == ["ANALYZE", "PRAGMA optimize"]
            assert cursor.execute("PRAGMA analysis_limit").fetchone() == (0,)  # the sampling limit is put back
        else:
            assert statements == ["ANALYZE"]
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'leads_lead'")
            assert cursor.fetchone() == (Lead.objects.count(),)


def test_refreshing_the_statistics_of_named_tables(leads):
    before = (statistics_runs("leads_lead"), statistics_runs("leads_campaign"))

    statements = vendor.refresh_statistics(["leads_lead"])

    if connection.vendor == "sqlite":
        assert statements == ['ANALYZE "leads_lead"', "PRAGMA optimize"]
        # optimize also analyzes the tables this connection has queried and that have no statistics yet
        assert (statistics_runs("leads_lead"), statistics_runs("leads_campaign")) == (1, 1)
    else:
        assert statements == ['ANALYZE "leads_lead"']
        assert (statistics_runs("leads_lead"), statistics_runs("leads_campaign")) == (before[0] + 1, before[1])


def test_the_command_refreshes_every_table_or_the_named_ones(leads):
    before = statistics_runs("leads_lead")
    out = StringIO()

    call_command("refresh_statistics", table=["leads_lead"], stdout=out)

    optimize = "; PRAGMA optimize" if connection.vendor == "sqlite" else ""
    assert out.getvalue() == f'Refreshed the planner statistics of leads_lead: ANALYZE "leads_lead"{optimize}.\n'
    assert statistics_runs("leads_lead") == before + 1
    out = StringIO()
    call_command("refresh_statistics", stdout=out)
    assert out.getvalue() == f"Refreshed the planner statistics of every table: ANALYZE{optimize}.\n"


def test_the_command_names_a_table_that_does_not_exist_and_analyzes_nothing(leads):
    before = statistics_runs("leads_lead")

    with pytest.raises(CommandError) as raised:
        call_command("refresh_statistics", table=["leads_lead", "leads_nope", "bogus"], stdout=StringIO())

    assert str(raised.value) == "--table: no such table in the database: 'bogus', 'leads_nope'."
    assert statistics_runs("leads_lead") == before


def test_a_daily_schedule_refreshes_the_statistics(leads):
    row = Schedule.objects.get(name=vendor.STATISTICS_SCHEDULE)  # made by post_migrate
    assert (row.func, row.schedule_type, row.repeats) == ("leads.vendor.refresh_statistics", Schedule.DAILY, -1)
    assert pydoc.locate(row.func) is vendor.refresh_statistics
    assert timezone.localtime(row.next_run).hour == 1
    assert vendor.ensure_statistics_schedule().pk == row.pk  # idempotent
    assert Schedule.objects.filter(name=vendor.STATISTICS_SCHEDULE).count() == 1
    Schedule.objects.update(next_run=timezone.now() + dt.timedelta(days=1))  # nothing else due
    Schedule.objects.filter(pk=row.pk).update(next_run=timezone.now() - dt.timedelta(minutes=1))
    before = statistics_runs("leads_lead")

    scheduler()  # django-q2's scheduler; the test settings run the task at once (sync)

    assert list(Task.objects.values_list("func", "success")) == [("leads.vendor.refresh_statistics", True)]
    assert statistics_runs("leads_lead") == before + 1


def do_import(cast, rows: int, first: int = 0):
    text = "email,first_name,last_name\n" + "".join(
        f"imp{n}@batch.example,Imp{n},Batch\n" for n in range(first, first + rows)
    )
    campaign = make_campaign(cast.a.company, "Imports")
    job = import_job_create(
        company=cast.a.company,
        actor=cast.a.manager,
        upload=SimpleUploadedFile("leads.csv", text.encode(), content_type="text/csv"),
        options=ImportOptions(campaign_id=campaign.pk),
    )
    return import_job_start(job=job, actor=cast.a.manager)


def test_an_import_of_many_leads_refreshes_the_statistics_of_the_tables_it_wrote(cast, monkeypatch):
    monkeypatch.setattr(jobs, "STATISTICS_AFTER_CREATED", 3)  # 10,000 in production
    tables = [Lead._meta.db_table, Lead.history.model._meta.db_table, StatusChange._meta.db_table]
    before = [statistics_runs(table) for table in tables]

    small = do_import(cast, 2)

    assert (small.status, small.created_count) == (ImportStatus.SUCCEEDED, 2)
    assert [statistics_runs(table) for table in tables] == before
    large = do_import(cast, 3, first=2)
    assert (large.status, large.created_count) == (ImportStatus.SUCCEEDED, 3)
    assert [statistics_runs(table) for table in tables] == [runs + 1 for runs in before]
    # By a worker, once the import is done (django-q2 runs tasks at once in the tests).
    task = Task.objects.get(name=f"import-statistics-{large.pk}")
    assert (task.func, task.args, task.success) == (vendor.STATISTICS_TASK, (tables,), True)
    assert not Task.objects.filter(name=f"import-statistics-{small.pk}").exists()


# --- statements and page cache ------------------------------------------------------------------------


def test_datetimes_are_sent_as_the_orm_sends_them(db):
    adapt = vendor.datetime_adapter()
    moment = dt.datetime(2025, 3, 4, 5, 6, 7, 890123)

    assert adapt(moment) == connection.ops.adapt_datetimefield_value(moment.replace(tzinfo=dt.UTC))
    assert (adapt is str) == (connection.vendor == "sqlite")


def test_a_prefix_condition_finds_the_values_that_start_with_it_case_and_wildcards_counting(cast):
    for last_name in ("Smith", "Smithers", "smith", "Smyth", "Sm%th", "Sm_th", "Sm"):
        make_lead(cast.a.company, last_name=last_name)
    column = f"{connection.ops.quote_name('leads_lead')}.{connection.ops.quote_name('last_name')}"

    def starting(prefix: str) -> list[str]:
        condition, params = vendor.starts_with_sql(column, prefix)
        ids = RawSQL(f"SELECT id FROM leads_lead WHERE {condition}", params)  # noqa: S608, S611
        return sorted(Lead.objects.filter(id__in=ids).values_list("last_name", flat=True))

    assert starting("Smith") == ["Smith", "Smithers"]
    assert starting("Sm%") == ["Sm%th"]
    assert starting("Sm_") == ["Sm_th"]
    assert starting("Sm") == ["Sm", "Sm%th", "Sm_th", "Smith", "Smithers", "Smyth"]


def page_cache_kib() -> int:
    with connection.cursor() as cursor:
        size = cursor.execute("PRAGMA cache_size").fetchone()[0]
        return -size if size < 0 else size * cursor.execute("PRAGMA page_size").fetchone()[0] // 1024


def test_a_large_write_gets_a_larger_page_cache_and_puts_the_configured_one_back(db, django_assert_num_queries):
    if connection.vendor != "sqlite":  # PostgreSQL's buffers are the server's: not a statement is sent
        with django_assert_num_queries(0), vendor.page_cache_for(500_000), vendor.page_cache_for_database(9):
            pass
        return
    configured = page_cache_kib()
    with connection.cursor() as cursor:
        database = cursor.execute("PRAGMA page_count").fetchone()[0] * cursor.execute("PRAGMA page_size").fetchone()[0]

    with vendor.page_cache_for(configured + 1000):
        assert page_cache_kib() == configured + 1000
    with vendor.page_cache_for(10 * 1024 * 1024):
        assert page_cache_kib() == vendor.MAX_PAGE_CACHE_KIB  # at most 1 GiB
    with vendor.page_cache_for(10):
        assert page_cache_kib() == configured  # never smaller than configured
    with vendor.page_cache_for_database(10 * 1024 * 1024):
        assert page_cache_kib() == max(configured, database // 1024)
    with vendor.page_cache_at_most(100):
        assert page_cache_kib() == 100
    assert page_cache_kib() == configured
