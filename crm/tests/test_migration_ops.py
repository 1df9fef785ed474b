"""``crm.migration_ops.DropFieldIndex``, through the migrations that use it, on the real schema."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from crm.testing.cast import build_cast
from leads.models import Lead, StatusChange
from leads.search import search_leads
from leads.testing.factories import make_lead

BEFORE = [("leads", "0005_lead_list_indexes"), ("crm", "0006_move_drf_tokens")]


def one_column_indexes(table: str) -> set[str]:
    """The columns of ``table`` that have a plain index of their own."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {
        info["columns"][0]
        for info in constraints.values()
        if info["index"] and not info["primary_key"] and not info["unique"] and len(info["columns"]) == 1
    }


def migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_history_tables_index_only_what_is_looked_up_and_the_migration_keeps_rows_and_search():
    company = build_cast().a.company
    lead = make_lead(company, first_name="Zoë", last_name="Quarrington")
    history = Lead.history.model._meta.db_table

    assert one_column_indexes(history) == {"id", "history_date", "history_user_id"}
    assert "company_id" not in one_column_indexes(Lead._meta.db_table)
    assert "lead_id" not in one_column_indexes(StatusChange._meta.db_table)

    migrate(BEFORE)
    try:
        assert one_column_indexes(history) == {
            "id", "history_date", "history_user_id",
            "company_id", "campaign_id", "owner_id", "created_by_id", "status_id", "merged_into_id",
        }  # fmt: skip
        assert "company_id" in one_column_indexes(Lead._meta.db_table)
        assert "lead_id" in one_column_indexes(StatusChange._meta.db_table)
    finally:
        migrate(None)  # the later tests of this worker need the current schema, whatever happened
    assert one_column_indexes(history) == {"id", "history_date", "history_user_id"}
    assert "company_id" not in one_column_indexes(Lead._meta.db_table)
    # The tables were not remade: the rows are there, and the lead table's search index (a
    # trigger on SQLite, a GIN index on PostgreSQL) still finds a lead written afterwards.
    assert Lead.history.filter(id=lead.pk).count() == 1
    later = make_lead(company, first_name="Zoe", last_name="Quarringtonne")
    found = set(search_leads(Lead.objects.filter(company=company), "quarr").values_list("pk", flat=True))
    assert found == {lead.pk, later.pk}
