"""django-q2 tasks: thin wrappers that take ids, re-fetch and call a service."""

from leads import bulk


def bulk_job_run(job_id: int) -> int:
    return bulk.bulk_job_run(job_id=job_id).pk
