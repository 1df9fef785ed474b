"""A real django-q2 cluster (ORM broker, worker processes) runs a bulk job to the end, and a job
that fails in the worker rolls back whole."""

import time

import pytest

from leads import bulk
from leads.models import BulkJob, Lead
from leads.testing.factories import make_lead, status

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(job: BulkJob, seconds: float = 60) -> BulkJob:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job.pk} still {job.status} after {seconds} s")


def test_a_queued_bulk_job_is_run_by_the_cluster(cast, django_q_cluster):
    leads = [make_lead(cast.a.company, cast.a.admin, last_name=f"Q{n}") for n in range(30)]
    job = bulk.bulk_job_create(actor=cast.a.admin, operation="status",
                               params={"status": status(cast.a.company, "contacted").pk},
                               lead_ids=[lead.pk for lead in leads])  # fmt: skip
    job = bulk.bulk_job_start(job)
    assert job.status == "queued"
    job = wait_for(job)
    assert (job.status, job.result) == ("succeeded", {"changed": 30, "operation": "status"})
    assert set(Lead.objects.filter(pk__in=[lead.pk for lead in leads]).values_list("status__key", flat=True)) == {
        "contacted"
    }


def test_a_job_that_fails_in_the_worker_changes_nothing(cast, django_q_cluster):
    good = make_lead(cast.a.company, cast.a.admin, last_name="Good")
    stuck = make_lead(cast.a.company, cast.a.admin, last_name="Stuck")
    contacted = status(cast.a.company, "contacted")
    from leads import services

    services.lead_transition(actor=cast.a.admin, lead=stuck, to_status=contacted)
    job = bulk.bulk_job_start(bulk.bulk_job_create(actor=cast.a.admin, operation="status",
                                                   params={"status": contacted.pk}, lead_ids=[good.pk, stuck.pk]))  # fmt: skip
    job = wait_for(job)
    assert job.status == "failed"
    assert job.error.startswith("1 lead(s) cannot make this change:")
    assert Lead.objects.get(pk=good.pk).status.key == "new"
