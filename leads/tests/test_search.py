"""One set of search cases, run on whichever engine the suite runs on (SQLite FTS5 in `make test`,
PostgreSQL's GIN-indexed tsvector in CI's PostgreSQL run): both must give the same answers."""

import pytest
from django.db import connection

from leads.models import Lead
from leads.search import search_ids_sql, search_leads
from leads.testing.factories import make_lead

PEOPLE = [
    ("Zoë", "Müller", "zoe.mueller@example.de", "Müller & Söhne GmbH", "Head of Sales"),
    ("Patricia", "O'Brien", "pat@obrien.ie", "Northwind", "CTO"),
    ("José", "García", "jgarcia@acme.es", "Acme Iberia", "Procurement"),
    ("Пётр", "Иванов", "petr@example.ru", "Ромашка", "Директор"),
    ("Anna", "Smith-Jones", "anna@contoso.com", "Contoso", "VP_Marketing"),
    ("Patrick", "Evans", "p.evans@fabrikam.com", "Fabrikam 365", "Buyer"),
]


@pytest.fixture
def people(cast):
    company = cast.a.company
    for first, last, email, org, title in PEOPLE:
        make_lead(company, first_name=first, last_name=last, email=email, company_name=org, job_title=title)
    # A lead of the other company that would match several queries: results are per queryset.
    make_lead(cast.b.company, first_name="Patricia", last_name="Müller", email="pm@globex.test")
    return Lead.objects.filter(company=cast.a.company)


CASES = [
    ("muller", ["Müller"]),  # accents ignored in the data
    ("MÜLLER", ["Müller"]),  # … and in the query, and case
    ("zoe", ["Müller"]),
    ("jose garcia", ["García"]),
    ("pat", ["Evans", "O'Brien"]),  # prefix: Patricia, Patrick, pat@
    ("patr", ["Evans", "O'Brien"]),
    ("patri obr", ["O'Brien"]),  # every word must match (AND), each as a prefix
    ("o'brien", ["O'Brien"]),  # punctuation splits words on both sides
    ("obrien.ie", ["O'Brien"]),  # an email matches by its parts
    ("fabrikam.com", ["Evans"]),
    ("smith", ["Smith-Jones"]),  # hyphenated names are two words
    ("jones", ["Smith-Jones"]),
    ("marketing", ["Smith-Jones"]),  # underscore separates words
    ("söhne", ["Müller"]),
    ("soh", ["Müller"]),
    ("365", ["Evans"]),  # digits are words
    ("пётр", ["Иванов"]),  # Cyrillic, lower-cased
    ("ПЁТР ром", ["Иванов"]),
    ("head sales", ["Müller"]),
    ("northwind cto", ["O'Brien"]),
    ("nothing-like-this", []),
    ("muller xyz", []),
]


@pytest.mark.parametrize(("query", "expected"), CASES)
def test_search_finds_the_same_leads_on_every_engine(people, query, expected):
    found = sorted(search_leads(people, query).values_list("last_name", flat=True))

    assert found == expected


def test_an_empty_or_punctuation_only_query_keeps_or_empties_the_list(people):
    assert search_leads(people, "   ").count() == 6
    assert search_leads(people, "!!! --").count() == 0


def test_search_follows_edits_and_deletes(people):
    lead = people.get(last_name="Evans")
    lead.job_title = "Ångström Analyst"
    lead.save()

    assert list(search_leads(people, "angstrom").values_list("pk", flat=True)) == [lead.pk]
    assert search_leads(people, "buyer").count() == 0
    lead.delete()
    assert search_leads(people, "angstrom").count() == 0


def test_search_reads_its_index_not_the_table(people):
    sql, params = search_ids_sql("pat")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")  # six rows: make the planner show its index
            cursor.execute(f"EXPLAIN {sql}", params)
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())

    expected = {"postgresql": "leads_lead_search_gin", "sqlite": "VIRTUAL TABLE INDEX"}[connection.vendor]
    assert expected in plan
