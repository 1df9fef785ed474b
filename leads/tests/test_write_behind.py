"""Writes run behind the caller (``bulkwrite.WriteBehind``) and ids taken before the rows are written
(``vendor.reserve_ids``): what the import's overlap of checking and writing rests on."""

import threading
import time

import pytest
from django.db import IntegrityError, connection, transaction

from leads import bulkwrite, vendor
from leads.models import Campaign, Lead
from leads.testing.factories import make_campaign, make_lead


def test_a_step_runs_in_another_thread_inside_the_callers_transaction(cast):
    company = cast.a.company
    threads = []

    def step(name):
        threads.append(threading.get_ident())
        Campaign.objects.create(company=company, name=name, source="Webinar")

    with transaction.atomic():
        with bulkwrite.WriteBehind() as behind:
            behind.submit(step, "Written behind")
            behind.wait()
            # The caller sees the step's uncommitted row: the same connection, the same transaction.
            assert Campaign.objects.filter(company=company, name="Written behind").count() == 1
            behind.submit(step, "Second step")
        transaction.set_rollback(True)
    assert vendor.connection_shareable()
    assert len(threads) == 2
    assert threading.get_ident() not in threads
    # Rolled back with the caller's transaction.
    assert Campaign.objects.filter(company=company, name__in=["Written behind", "Second step"]).count() == 0


def test_steps_run_one_at_a_time_in_order(cast):
    order = []

    def step(n):
        time.sleep(0.01 * (3 - n))  # the first is the slowest
        order.append(n)

    with bulkwrite.WriteBehind() as behind:
        for n in range(3):
            behind.submit(step, n)
    assert order == [0, 1, 2]


def test_a_failing_step_raises_its_error_in_the_caller(cast):
    company = cast.a.company
    make_campaign(company, "Taken")

    def behind_then_wait():
        with transaction.atomic(), bulkwrite.WriteBehind() as behind:
            behind.submit(lambda: Campaign.objects.create(company=company, name="Taken", source="Webinar"))
            behind.wait()

    with pytest.raises(IntegrityError):
        behind_then_wait()
    assert Campaign.objects.filter(company=company, name="Taken").count() == 1


def test_leaving_on_an_error_waits_for_the_running_step(cast):
    finished = []

    def slow_step():
        time.sleep(0.2)
        finished.append(True)

    def submit_then_fail():
        with bulkwrite.WriteBehind() as behind:
            behind.submit(slow_step)
            raise ValueError("the caller's own error")

    with pytest.raises(ValueError, match="the caller's own"):
        submit_then_fail()
    assert finished == [True]  # the block did not end while the step still used the connection


def test_reserved_ids_are_ascending_and_never_handed_out_again(cast):
    first = make_lead(cast.a.company)
    reserved = vendor.reserve_ids(Lead, 5)
    assert len(set(reserved)) == 5
    assert reserved == sorted(reserved)
    assert reserved[0] > first.pk
    if connection.vendor == "sqlite":
        assert reserved == list(range(reserved[0], reserved[0] + 5))
    later = make_lead(cast.a.company)
    assert later.pk > reserved[-1]
    again = vendor.reserve_ids(Lead, 2)
    assert again[0] > later.pk
    assert vendor.reserve_ids(Lead, 0) == []


def test_reserving_ids_of_a_table_that_never_had_a_row(db):
    from crm.models import Company

    with connection.cursor() as cursor:  # as on a new database: no counter for the table yet
        if connection.vendor == "sqlite":
            cursor.execute("DELETE FROM sqlite_sequence WHERE name = %s", [Company._meta.db_table])
    reserved = vendor.reserve_ids(Company, 3)
    assert len(set(reserved)) == 3
    assert reserved == sorted(reserved)
    company = Company.objects.create(name="After the reservation", slug="after-reservation")
    assert company.pk > reserved[-1]
