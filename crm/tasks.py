"""Queue background work by the task's dotted name, so that a service never imports the module of
its tasks (which import the services back): ``enqueue("leads.transfer.tasks.run_export", run.pk)``.
django-q2 runs the task in a worker, or at once in the caller's thread in sync mode (tests)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task


def enqueue(func: str, *args, name: str | None = None) -> None:
    async_task(func, *args, task_name=name)


def next_daily(hour: int) -> dt.datetime:
    """The next ``hour``:00 in local time (today's if it is still to come)."""
    now = timezone.localtime()
    run = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return run if run > now else run + dt.timedelta(days=1)


def ensure_daily(name: str, func: str, *, hour: int) -> Schedule:
    """Create (or update) the django-q2 schedule ``name`` that runs ``func`` daily at ``hour``:00."""
    schedule, _ = Schedule.objects.update_or_create(
        name=name,
        defaults={"func": func, "schedule_type": Schedule.DAILY, "repeats": -1, "next_run": next_daily(hour)},
    )
    return schedule
