from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _search_index(sender, using, **kwargs):
    from django.db import connections

    from leads.vendor import ensure_search_index

    ensure_search_index(connections[using])


def _nightly_duplicate_scan(sender, **kwargs):
    from leads.dedup.tasks import ensure_schedule

    ensure_schedule()


def _daily_statistics(sender, **kwargs):
    from leads.vendor import ensure_statistics_schedule

    ensure_statistics_schedule()


class LeadsConfig(AppConfig):
    name = "leads"

    def ready(self):
        from leads import signals  # noqa: F401

        post_migrate.connect(_search_index, sender=self)
        post_migrate.connect(_nightly_duplicate_scan, sender=self)
        post_migrate.connect(_daily_statistics, sender=self)
