# ruff: noqa: S608 — DDL and SQL built from the constant column list below, no user input.
"""Full-text search over a lead's name, email, company and job title, on both engines.

The same query finds the same leads on SQLite and PostgreSQL (``leads/tests/test_search.py`` runs one
set of cases on whichever engine the suite runs on):

* words are split on anything that is not a letter or a digit (``o'brien`` → ``o``, ``brien``; an email
  is its parts), compared without case or accents, and each query word matches as a prefix;
* all words must match (AND), at most ``MAX_WORDS`` of them are used.

SQLite: an external-content FTS5 table kept current by triggers (``unicode61 remove_diacritics 2``).
PostgreSQL: a GIN index over an immutable ``tsvector`` expression of the same columns (``unaccent``,
lower-cased, punctuation turned into spaces, the ``simple`` configuration: no stemming, no stop words,
as FTS5). The index is created after migrations (``post_migrate``), so it exists in every database the
project builds, including test databases created without migrations.
"""

from __future__ import annotations

import re

from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

COLUMNS = ("first_name", "last_name", "email", "company_name", "job_title")
MAX_WORDS = 8
WORD = re.compile(r"\w+", re.UNICODE)

_cols = ", ".join(COLUMNS)
_new = ", ".join(f"new.{c}" for c in COLUMNS)
_old = ", ".join(f"old.{c}" for c in COLUMNS)

SQLITE_CREATE = [
    f"CREATE VIRTUAL TABLE leads_lead_search USING fts5({_cols}, content='leads_lead', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    f"CREATE TRIGGER leads_lead_search_ai AFTER INSERT ON leads_lead BEGIN "
    f"INSERT INTO leads_lead_search(rowid, {_cols}) VALUES (new.id, {_new}); END",
    f"CREATE TRIGGER leads_lead_search_ad AFTER DELETE ON leads_lead BEGIN "
    f"INSERT INTO leads_lead_search(leads_lead_search, rowid, {_cols}) VALUES ('delete', old.id, {_old}); END",
    f"CREATE TRIGGER leads_lead_search_au AFTER UPDATE OF {_cols} ON leads_lead BEGIN "
    f"INSERT INTO leads_lead_search(leads_lead_search, rowid, {_cols}) VALUES ('delete', old.id, {_old}); "
    f"INSERT INTO leads_lead_search(rowid, {_cols}) VALUES (new.id, {_new}); END",
    "INSERT INTO leads_lead_search(leads_lead_search) VALUES ('rebuild')",
]

# unaccent() is only STABLE (it reads its dictionary by name); naming the dictionary explicitly in an
# IMMUTABLE wrapper is the documented way to index it.
_PG_NORMALISE = (
    "regexp_replace(lower(public.unaccent('public.unaccent'::regdictionary, {})), '[^[:alnum:]]+', ' ', 'g')"
)
PG_DOCUMENT = f"leads_search_document({_cols})"
PG_CREATE = [
    "CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public",
    "CREATE OR REPLACE FUNCTION leads_search_document(text, text, text, text, text) RETURNS tsvector "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT to_tsvector('simple', "
    + _PG_NORMALISE.format("concat_ws(' ', $1, $2, $3, $4, $5)")
    + ") $$",
    "CREATE OR REPLACE FUNCTION leads_search_query(text) RETURNS tsquery "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT to_tsquery('simple', "
    "(SELECT string_agg(quote_literal(word) || ':*', ' & ') FROM regexp_split_to_table("
    + _PG_NORMALISE.format("$1")
    + ", ' ') AS word WHERE word <> '')) $$",
    f"CREATE INDEX IF NOT EXISTS leads_lead_search_gin ON leads_lead USING gin ({PG_DOCUMENT})",
]


def _index_exists(cursor, vendor: str) -> bool:
    if vendor == "sqlite":
        cursor.execute("SELECT 1 FROM sqlite_master WHERE name = 'leads_lead_search'")
    else:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = 'leads_lead_search_gin'")
    return cursor.fetchone() is not None


def ensure_search_index(connection) -> bool:
    """Create the search index (and on SQLite its triggers) when missing; True when it was created."""
    if connection.vendor not in ("sqlite", "postgresql"):
        return False
    with connection.cursor() as cursor:
        if _index_exists(cursor, connection.vendor):
            return False
        for statement in SQLITE_CREATE if connection.vendor == "sqlite" else PG_CREATE:
            cursor.execute(statement)
    return True


def rebuild_search_index(connection) -> None:
    """Re-read every lead into the index after bulk loads that bypassed the triggers (SQLite only:
    PostgreSQL's expression index is maintained by every insert)."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO leads_lead_search(leads_lead_search) VALUES ('rebuild')")


def query_words(query: str) -> list[str]:
    return WORD.findall(query.lower())[:MAX_WORDS]


def search_ids_sql(query: str) -> tuple[str, list] | None:
    """The ids of the leads matching ``query`` as (SQL, params); None when the query has no words.
    The user's words travel as a bound parameter."""
    words = query_words(query)
    if not words:
        return None
    if connection.vendor == "sqlite":
        match = " AND ".join(f'"{w}"*' for w in words)
        return "SELECT rowid FROM leads_lead_search WHERE leads_lead_search MATCH %s", [match]
    return f"SELECT id FROM leads_lead WHERE {PG_DOCUMENT} @@ leads_search_query(%s)", [" ".join(words)]


def search_leads(queryset: QuerySet, query: str) -> QuerySet:
    """Narrow ``queryset`` to the leads matching ``query`` (unchanged for an empty query)."""
    if not query.strip():
        return queryset
    sql = search_ids_sql(query)
    return queryset.none() if sql is None else queryset.filter(id__in=RawSQL(*sql))  # noqa: S611
