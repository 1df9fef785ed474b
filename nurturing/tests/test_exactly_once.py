"""Exactly once under concurrency: two django-q2 clusters racing over the same due steps, and a
worker killed after the SMTP server accepted a message but before it was recorded (at most once:
never re-sent, marked unknown for review)."""

import datetime as dt
import multiprocessing
import os
import signal
import time

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from nurturing import sending
from nurturing.models import LeadEmailActivity, MessageState
from nurturing.testing import child
from nurturing.testing.factories import make_consenting_lead, make_enrolment, make_sequence

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_clusters_running_duplicate_tasks_send_each_step_once(cast, smtp_sink, q_clusters):
    from django_q.models import Success
    from django_q.tasks import async_task

    sequence = make_sequence(cast.a.company)
    leads = [make_consenting_lead(cast.a.company, email=f"race{n}@example.com") for n in range(12)]
    for lead in leads:
        make_enrolment(cast.a.company, sequence=sequence, lead=lead)
    q_clusters(2)
    for _ in range(4):  # a retried task, a duplicate schedule, two clusters: all at once
        async_task("nurturing.tasks.send_due", batch_size=3)
    deadline = time.monotonic() + 120
    while Success.objects.count() < 4 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert Success.objects.count() == 4
    received = sorted(str(m["To"]) for m in smtp_sink.messages)
    assert received == sorted(lead.email for lead in leads)
    assert LeadEmailActivity.objects.filter(state=MessageState.SENT).count() == 12
    assert sum(task.result["sent"] for task in Success.objects.all()) == 12


def test_a_worker_killed_after_sending_before_recording_never_sends_it_again(cast, smtp_sink):
    make_enrolment(cast.a.company)
    # A process of its own ("spawn"): a forked one inherits this process's database sockets.
    overrides = {name: getattr(settings, name) for name in child.SETTINGS}
    worker = multiprocessing.get_context("spawn").Process(
        target=child.send_due, args=(os.environ["DJANGO_SETTINGS_MODULE"], connection.settings_dict["NAME"], overrides)
    )
    # The server has the message; the worker dies before it hears "250" and records "sent".
    smtp_sink.on_message = lambda message: os.kill(worker.pid, signal.SIGKILL)
    worker.start()
    worker.join(60)
    assert worker.exitcode == -signal.SIGKILL
    row = LeadEmailActivity.objects.get()
    assert (smtp_sink.count(), row.state) == (1, MessageState.CLAIMED)
    smtp_sink.on_message = None
    assert (sending.send_due().claimed, smtp_sink.count()) == (0, 1)
    later = sending.send_due(now=timezone.now() + dt.timedelta(minutes=16))
    row.refresh_from_db()
    assert (later.stale, later.claimed, row.state, smtp_sink.count()) == (1, 0, MessageState.UNKNOWN, 1)
    assert row.error.startswith("Interrupted while sending")
