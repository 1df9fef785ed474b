"""``manage.py refresh_statistics``: bring the query planner's statistics up to date (what the daily
django-q2 schedule and every import of 10,000 leads or more run), e.g. after a large load or restore."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from leads import vendor


class Command(BaseCommand):
    help = (
        "Refresh the query planner's statistics (ANALYZE, and SQLite's optimize) of the whole "
        "database, or of the tables named with --table. Runs daily in the worker; run it after a large load."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--table", action="append", metavar="NAME", help="Only this table (repeatable), e.g. leads_lead."
        )

    def handle(self, *args, table, **options):
        if table:
            known = set(connection.introspection.table_names())
            unknown = sorted(set(table) - known)
            if unknown:
                raise CommandError(f"--table: no such table in the database: {', '.join(map(repr, unknown))}.")
        statements = vendor.refresh_statistics(table)
        scope = ", ".join(table) if table else "every table"
        self.stdout.write(f"Refreshed the planner statistics of {scope}: {'; '.join(statements)}.")
