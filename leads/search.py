"""Full-text search over a lead's name, email, company and job title, on both engines.

The same query finds the same leads on SQLite and PostgreSQL (``leads/tests/test_search.py`` runs one
set of cases on whichever engine the suite runs on):

* words are split on anything that is not a letter or a digit (``o'brien`` → ``o``, ``brien``; an email
  is its parts), compared without case or accents, and each query word matches as a prefix;
* all words must match (AND), at most ``MAX_WORDS`` of them are used.

The index and the SQL that reads it differ per engine and live in ``leads.vendor``: on SQLite an
external-content FTS5 table kept current by triggers (``unicode61 remove_diacritics 2``); on PostgreSQL
a GIN index over an immutable ``tsvector`` expression of the same columns (``unaccent``, lower-cased,
punctuation turned into spaces, the ``simple`` configuration: no stemming, no stop words, as FTS5).
The index is created after migrations (``post_migrate`` → ``vendor.ensure_search_index``), so it exists
in every database the project builds, including test databases created without migrations.
"""

from __future__ import annotations

import re

from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from leads import vendor

MAX_WORDS = 8
WORD = re.compile(r"\w+", re.UNICODE)


def query_words(query: str) -> list[str]:
    return WORD.findall(query.lower())[:MAX_WORDS]


def search_ids_sql(query: str) -> tuple[str, list] | None:
    """The ids of the leads matching ``query`` as (SQL, params); None when the query has no words.
    The user's words travel as a bound parameter."""
    words = query_words(query)
    return vendor.search_ids_sql(words) if words else None


def search_leads(queryset: QuerySet, query: str) -> QuerySet:
    """Narrow ``queryset`` to the leads matching ``query`` (unchanged for an empty query)."""
    if not query.strip():
        return queryset
    sql = search_ids_sql(query)
    return queryset.none() if sql is None else queryset.filter(id__in=RawSQL(*sql))  # noqa: S611
