"""Round-robin under concurrency: 1,000 leads created by 8 workers at once, each worker a thread with
its own database connection, spread across 4 equal members within ±1.

The cursor lives on the rule row and only moves while the row is locked (SELECT … FOR UPDATE on
PostgreSQL; SQLite's IMMEDIATE write transactions serialise writers). Run it on PostgreSQL with
``DATABASE_URL=postgres://…``. On SQLite the threads need a database file: the in-memory test
database is copied to one for the duration of the test.
"""

import sqlite3
import threading
from collections import Counter
from contextlib import contextmanager

import pytest
from django.db import connection

from crm.models import Membership
from crm.services import membership_create
from crm.testing.factories import UserFactory
from leads import services
from leads.models import Lead
from leads.testing.factories import make_assignment_rule, make_campaign

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS, LEADS = 8, 1000


@contextmanager
def shared_database(tmp_path):
    """Point new connections at a file copy of an in-memory SQLite test database (no-op otherwise)."""
    if connection.vendor != "sqlite" or not connection.is_in_memory_db():
        yield
        return
    connection.ensure_connection()
    path = str(tmp_path / "concurrency.sqlite3")
    target = sqlite3.connect(path)
    connection.connection.backup(target)
    target.close()
    settings = connection.settings_dict  # shared by every thread's connection wrapper
    original = settings["NAME"]
    settings["NAME"] = path
    try:
        yield
    finally:
        settings["NAME"] = original


def in_thread(func, *args):
    """Run ``func`` in a new thread (its own connection) and return its result."""
    result, errors = [], []

    def run():
        try:
            result.append(func(*args))
        except Exception as error:  # noqa: BLE001 — re-raised in the test thread
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


def test_a_thousand_leads_from_eight_workers_are_spread_within_one(cast, tmp_path):
    company = cast.a.company
    members = [
        membership_create(company=company, user=UserFactory(email=f"rr{n}@alpha.test", full_name=f"RR {n}"),
                          role="sdr", capacity=LEADS)
        for n in range(4)
    ]  # fmt: skip
    make_assignment_rule(company, "Round the table", members=members)
    campaign_id = make_campaign(company).pk
    start, errors = threading.Barrier(WORKERS), []

    def worker(number: int) -> None:
        try:
            actor = Membership.objects.select_related("company").get(pk=cast.a.manager.pk)
            start.wait()
            for n in range(LEADS // WORKERS):
                services.lead_create(
                    company=actor.company, actor=actor, allow_duplicates=True,
                    data={"first_name": f"W{number}", "last_name": f"Lead {n}", "email": f"w{number}.{n}@acme-corp.com",
                          "lead_source": "Website", "campaign": campaign_id},
                )  # fmt: skip
        except Exception as error:  # noqa: BLE001 — reported by the test thread
            errors.append(error)
        finally:
            connection.close()

    with shared_database(tmp_path):
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        counts = in_thread(lambda: Counter(Lead.objects.filter(company=company).values_list("owner_id", flat=True)))
        cursor = in_thread(lambda: company.assignment_rules.get().cursor)

    assert errors == []
    assert sum(counts.values()) == LEADS
    assert None not in counts
    assert max(counts.values()) - min(counts.values()) <= 1, counts
    assert sorted(counts) == sorted(m.pk for m in members)
    assert cursor == LEADS % len(members)
