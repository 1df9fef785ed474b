"""Queue background work by the task's dotted name, so that a service never imports the module of
its tasks (which import the services back): ``enqueue("leads.transfer.tasks.run_export", run.pk)``.
django-q2 runs the task in a worker, or at once in the caller's thread in sync mode (tests)."""

from __future__ import annotations

from django_q.tasks import async_task


def enqueue(func: str, *args, name: str | None = None) -> None:
    async_task(func, *args, task_name=name)
