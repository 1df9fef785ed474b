# ruff: noqa: S608 — DDL built from the constant column list above, no user input.
"""Full-text search index for leads on SQLite (FTS5, kept current by triggers).

PostgreSQL searches with ``icontains`` over the same columns (see ``leads.filters.search_leads``).
The index is created after migrations (``post_migrate``), so it exists in every database the
project builds, including test databases created without migrations.
"""

from __future__ import annotations

COLUMNS = ("first_name", "last_name", "email", "company_name", "job_title")
_cols = ", ".join(COLUMNS)
_new = ", ".join(f"new.{c}" for c in COLUMNS)
_old = ", ".join(f"old.{c}" for c in COLUMNS)

CREATE = [
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


def ensure_search_index(connection) -> bool:
    """Create the FTS5 table and its triggers when missing; True when it was created."""
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE name = 'leads_lead_search'")
        if cursor.fetchone():
            return False
        for statement in CREATE:
            cursor.execute(statement)
    return True


def rebuild_search_index(connection) -> None:
    """Re-read every lead into the index (after bulk loads that bypassed the triggers)."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO leads_lead_search(leads_lead_search) VALUES ('rebuild')")
