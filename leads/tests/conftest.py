import pytest
from django.db import connection


@pytest.fixture
def django_q_cluster(monkeypatch, settings):
    """A real django-q2 cluster (ORM broker, forked worker processes) for the test's duration.
    Needs a committed, file-backed database: use it with ``django_db(transaction=True)``."""
    from django_q.brokers import get_broker
    from django_q.cluster import Cluster
    from django_q.conf import Conf

    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith(("file:", ":memory:")):
        pytest.fail("The cluster needs a file database shared with the worker processes.")
    monkeypatch.setattr(Conf, "SYNC", False)  # enqueue for the workers instead of running in-process
    settings.CRM_BULK_INLINE_LIMIT = 0
    connection.close()  # workers fork: give them no inherited connection
    running = Cluster(get_broker())
    running.start()
    yield running
    running.stop()
