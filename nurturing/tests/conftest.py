import pytest

from nurturing.testing.smtp import smtp_settings, start_sink


@pytest.fixture
def smtp_sink(settings):
    """An aiosmtpd server on 127.0.0.1 (a free port) with Django's SMTP backend pointed at it."""
    controller, sink = start_sink()
    for name, value in smtp_settings(controller).items():
        setattr(settings, name, value)
    settings.SITE_URL = "http://testserver"
    yield sink
    controller.stop()


@pytest.fixture
def q_clusters(monkeypatch):
    """Start ``count`` real django-q2 clusters (ORM broker, forked workers) at once; stopped at the
    end. Needs a committed, file-backed database: ``django_db(transaction=True)``."""
    from django.db import connection
    from django_q.brokers import get_broker
    from django_q.cluster import Cluster
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)
    running = []

    def start(count: int):
        connection.close()  # workers fork: give them no inherited connection
        for _ in range(count):
            cluster = Cluster(get_broker())
            cluster.start()
            running.append(cluster)
        return running

    yield start
    for cluster in running:
        cluster.stop()
