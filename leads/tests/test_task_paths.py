"""Task paths stored before the areas moved into subpackages keep working: django-q2 keeps the dotted
name of a task in ``Schedule.func`` and in queued tasks, and resolves it with ``pydoc.locate`` when
the task runs."""

import datetime as dt
import pydoc

import pytest
from django.core import mail
from django.http import QueryDict
from django.utils import timezone
from django_q.models import Schedule, Task
from django_q.scheduler import scheduler

from leads.dedup.tasks import SCAN_ALL, SCHEDULE_NAME, ensure_schedule
from leads.listing import saved_filter_create
from leads.models import ExportRun, ExportRunStatus
from leads.testing.factories import make_lead
from leads.transfer.schedules import scheduled_export_save

MOVED = {
    "leads.tasks_assignment.notify_assignments": "leads.assignment.tasks.notify_assignments",
    "leads.tasks_assignment.rescore_company": "leads.assignment.tasks.rescore_company",
    "leads.tasks_assignment.assign_pool": "leads.assignment.tasks.assign_pool",
    "leads.tasks_dedup.scan_company": "leads.dedup.tasks.scan_company",
    "leads.tasks_dedup.scan_all_companies": "leads.dedup.tasks.scan_all_companies",
    "leads.tasks_transfer.run_import": "leads.transfer.tasks.run_import",
    "leads.tasks_transfer.revert_import": "leads.transfer.tasks.revert_import",
    "leads.tasks_transfer.run_export": "leads.transfer.tasks.run_export",
    "leads.tasks_transfer.run_scheduled_export": "leads.transfer.tasks.run_scheduled_export",
}


@pytest.mark.parametrize(("old", "new"), MOVED.items())
def test_an_old_task_path_resolves_to_the_moved_task(old, new):
    task = pydoc.locate(new)
    assert (callable(task), pydoc.locate(old)) == (True, task)


def test_a_scheduled_export_saved_before_the_move_still_runs(cast):
    make_lead(cast.a.company, cast.a.manager, email="one@example.com", owner=cast.a.sdr1, country="DE")
    view = saved_filter_create(
        actor=cast.a.manager, name="Germany", params=QueryDict("country=DE"), sort="-created", visibility="private"
    )
    saved = scheduled_export_save(
        actor=cast.a.manager,
        data={"name": "Daily DE", "saved_filter": view.pk, "format": "csv", "frequency": "daily",
              "time_of_day": "07:30", "recipients": "boss@example.com"},
    )  # fmt: skip
    # The row as the scheduler found it before the move: the old path, and due (and nothing else due).
    Schedule.objects.update(next_run=timezone.now() + dt.timedelta(days=1))
    Schedule.objects.filter(pk=saved.schedule_id).update(
        func="leads.tasks_transfer.run_scheduled_export", next_run=timezone.now() - dt.timedelta(minutes=1)
    )

    scheduler()  # django-q2's scheduler; the test settings run the task at once (sync)

    run = ExportRun.objects.get()
    assert (run.scheduled_export, run.status, run.row_count) == (saved, ExportRunStatus.SUCCEEDED, 1)
    assert list(Task.objects.values_list("func", "success")) == [("leads.tasks_transfer.run_scheduled_export", True)]
    assert [(m.subject, m.to) for m in mail.outbox] == [("Export ready: Daily DE", ["boss@example.com"])]


def test_the_nightly_scan_row_is_pointed_at_the_new_path_after_migrate(db):
    Schedule.objects.update_or_create(name=SCHEDULE_NAME, defaults={"func": "leads.tasks_dedup.scan_all_companies"})

    ensure_schedule()  # what post_migrate runs

    assert list(Schedule.objects.filter(name=SCHEDULE_NAME).values_list("func", flat=True)) == [SCAN_ALL]
    assert SCAN_ALL == "leads.dedup.tasks.scan_all_companies"
