"""Pages that queue work say when no background worker runs, and /healthz reports the worker's
last heartbeat — read from what a real django-q2 cluster writes to the shared cache."""

import time

import pytest
from django.core.cache import cache
from django.urls import reverse
from django_q.conf import Conf

from crm.worker import LAST_SEEN_KEY

WARNING = "No background worker is running"


@pytest.fixture
def shared_cache(settings, tmp_path):
    """A file cache, as in ``make demo``: the cluster's forked processes and the test see one cache."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                                   "LOCATION": str(tmp_path / "cache")}}  # fmt: skip
    yield
    cache.clear()


def import_page(client, tenant) -> str:
    response = client.get(reverse("leads:transfer:import", kwargs={"company_slug": tenant.company.slug}))
    assert response.status_code == 200
    return response.content.decode()


def test_without_a_worker_pages_that_queue_work_say_so_and_healthz_too(cast, client_for, monkeypatch, shared_cache):
    monkeypatch.setattr(Conf, "SYNC", False)

    page = import_page(client_for(cast.a.manager), cast.a)
    health = client_for(cast.a.manager).get("/healthz").json()

    assert WARNING in page
    assert "python manage.py qcluster" in page
    assert health["worker"] == {"alive": False, "clusters": 0, "last_heartbeat": None, "mode": "cluster"}


def test_when_tasks_run_inline_there_is_nothing_to_warn_about(cast, client_for):
    assert WARNING not in import_page(client_for(cast.a.manager), cast.a)
    assert client_for(cast.a.manager).get("/healthz").json()["worker"]["mode"] == "inline"


@pytest.mark.django_db(transaction=True)
def test_a_running_cluster_is_seen_and_its_last_heartbeat_kept(cast, client_for, shared_cache, django_q_cluster):
    deadline = time.monotonic() + 30
    health = client_for(cast.a.manager).get("/healthz").json()
    while not health["worker"]["alive"] and time.monotonic() < deadline:
        time.sleep(0.3)
        health = client_for(cast.a.manager).get("/healthz").json()

    assert (health["worker"]["alive"], health["worker"]["clusters"], health["worker"]["mode"]) == (True, 1, "cluster")
    assert cache.get(LAST_SEEN_KEY).isoformat() == health["worker"]["last_heartbeat"]
    assert WARNING not in import_page(client_for(cast.a.manager), cast.a)
