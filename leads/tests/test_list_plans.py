"""The lead list chooses how to read a page by how many leads match (issue 17): past the count's cap
it walks the sort's index (SQLite's INDEXED BY, through ``leads.vendor``) and stops after a page;
under it, it finds the matches as a set and sorts them. Either way the pages are the same."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads import listing, vendor
from leads.models import Lead
from leads.testing.factories import make_lead

SQLITE_ONLY = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite's INDEXED BY and query plans; PostgreSQL plans by its own statistics"
)


@pytest.fixture
def crowd(cast):
    """Nine leads of company a: equal scores, no activity for some, activity equal for others;
    one lead of company b that must never show."""
    now = timezone.now()
    activity = [None, now - dt.timedelta(days=1), None, now - dt.timedelta(days=3), now - dt.timedelta(days=1),
                None, now - dt.timedelta(days=9), now - dt.timedelta(days=3), None]  # fmt: skip
    ids = []
    for n, at in enumerate(activity):
        lead = make_lead(cast.a.company, cast.a.admin, last_name=f"L{n}", country="SK" if n % 3 == 0 else "GB")
        Lead.objects.filter(pk=lead.pk).update(score=[30, 70, 30, 50, 70, 10, 50, 30, 90][n], last_activity_at=at)
        ids.append(lead.pk)
    make_lead(cast.b.company, cast.b.admin, last_name="Hidden", country="SK")
    return ids


def walk(leads, sort, *, many):
    """Every page forward with Next, then back from the last with Previous."""
    parsed = listing.parse_sort(sort)
    pages, cursor = [], None
    while True:
        page = listing.paginate(leads, parsed, cursor=cursor, per_page=2, many=many)
        pages.append(page)
        if not page.has_next:
            break
        cursor = page.next_cursor
    forward = [lead.pk for page in pages for lead in page.rows]
    back, page = [lead.pk for lead in pages[-1].rows], pages[-1]
    while page.has_previous:
        page = listing.paginate(leads, parsed, cursor=page.prev_cursor, per_page=2, many=many)
        back = [lead.pk for lead in page.rows] + back
    return forward, back


@pytest.mark.parametrize("sort", ["-activity", "activity", "-score", "score", "-created", "-updated", "name"])
@pytest.mark.parametrize("many", [True, False])
def test_both_ways_of_reading_give_the_same_pages(sort, many, cast, crowd):
    leads = Lead.objects.filter(company=cast.a.company)
    expected = list(listing.sorted_leads(leads, listing.parse_sort(sort)).values_list("id", flat=True))
    assert sorted(expected) == sorted(crowd)

    forward, back = walk(leads, sort, many=many)

    assert forward == expected
    assert back == expected


def test_never_touched_leads_come_last_when_newest_activity_first(cast, crowd):
    page = listing.paginate(
        Lead.objects.filter(company=cast.a.company), listing.parse_sort("-activity"), cursor=None, per_page=9
    )
    assert [lead.last_activity_at is None for lead in page.rows] == [False] * 5 + [True] * 4


def executed(func) -> list[str]:
    """The statements the database itself ran (after every execute wrapper): SQLite's trace; on
    PostgreSQL, what Django sent (no wrapper changes it there)."""
    if connection.vendor != "sqlite":
        with CaptureQueriesContext(connection) as queries:
            func()
        return [q["sql"] for q in queries]
    ran = []
    connection.ensure_connection()
    connection.connection.set_trace_callback(ran.append)
    try:
        func()
    finally:
        connection.connection.set_trace_callback(None)
    return [sql for sql in ran if sql.startswith("SELECT")]


def test_many_matches_walk_the_sorts_index(cast, crowd):
    leads = Lead.objects.filter(company=cast.a.company)
    for sort, index in (("-score", "lead_company_score"), ("-activity", "lead_company_activity_key")):
        parsed = listing.parse_sort(sort)
        ran = executed(lambda p=parsed: listing.paginate(leads, p, cursor=None, per_page=2, many=True))
        assert [(f'INDEXED BY "{index}"' in sql) for sql in ran] == [connection.vendor == "sqlite"]


def test_few_matches_are_found_as_a_set_then_sorted(cast, crowd):
    leads = Lead.objects.filter(company=cast.a.company, country="SK")
    with CaptureQueriesContext(connection) as queries:
        page = listing.paginate(leads, listing.parse_sort("-score"), cursor=None, per_page=2, many=False)
    assert [lead.last_name for lead in page.rows] == ["L6", "L3"]
    [query] = queries
    assert "INDEXED BY" not in query["sql"]
    assert '"leads_lead"."id" IN (SELECT' in query["sql"]


def test_the_count_decides_when_the_caller_does_not(cast, crowd):
    leads = Lead.objects.filter(company=cast.a.company)
    with CaptureQueriesContext(connection) as queries:
        page = listing.paginate(leads, listing.parse_sort("-score"), cursor=None, per_page=2)
    assert [lead.last_name for lead in page.rows] == ["L8", "L4"]
    assert len(queries) == 2  # the capped count, then the page
    assert "IN (SELECT" in queries[1]["sql"]  # nine leads: few


def test_the_list_page_counts_first_and_reads_the_page_once(cast, crowd, client_for):
    client = client_for(cast.a.admin)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/c/{cast.a.company.slug}/leads/", {"sort": "-score", "per_page": 2})
    assert [lead.last_name for lead in response.context["page"].rows] == ["L8", "L4"]
    pages = [q["sql"] for q in queries if '"leads_lead"."score" AS "_s_score"' in q["sql"]]
    assert len(pages) == 1


def test_a_hint_the_database_cannot_follow_runs_the_statement_as_written(cast, crowd):
    with vendor.read_through_index(Lead._meta.db_table, "no_such_index"):
        names = list(Lead.objects.filter(company=cast.a.company, score=90).values_list("last_name", flat=True))
    assert names == ["L8"]


@SQLITE_ONLY
def test_sqlite_walks_the_last_activity_index_without_sorting_and_seeks_deep_pages(cast, crowd):
    leads = Lead.objects.filter(company=cast.a.company)
    parsed = listing.parse_sort("-activity")
    first = listing.paginate(leads, parsed, cursor=None, per_page=2, many=True)
    values = [listing._value_of(first.rows[-1], key) for key, _ in first.columns]
    deeper = listing.sorted_leads(leads, parsed).filter(listing._seek(first.columns, values, True))[:3]
    with vendor.read_through_index(Lead._meta.db_table, "lead_company_activity_key"), connection.cursor() as cursor:
        sql, params = deeper.query.sql_with_params()
        plan = [row[-1] for row in cursor.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()]
    lead_plan = [step for step in plan if "leads_lead " in step]
    assert lead_plan == ["SEARCH leads_lead USING INDEX lead_company_activity_key (company_id=? AND <expr><?)"]
    assert not any("TEMP B-TREE" in step for step in plan)
