"""django-q2 tasks of the duplicates area: thin wrappers that take ids, re-fetch and call a service,
and the nightly schedule that keeps every company's review queue current."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django_q.models import Schedule

from crm.models import Company
from crm.tasks import enqueue
from leads import dedup

SCHEDULE_NAME = "leads.dedup.nightly-scan"
SCAN_ALL = "leads.dedup.tasks.scan_all_companies"


def scan_company(company_id: int) -> dict:
    """Scan one company into its review queue; idempotent (a retry finds the same pairs)."""
    company = Company.objects.filter(pk=company_id).first()
    if company is None:
        return {"company": company_id, "found": 0}
    result = dedup.duplicates_scan(company=company)
    return {"company": company_id, "leads": result.leads, "found": len(result.pairs), "created": result.created,
            "removed": result.removed, "seconds": round(result.seconds, 2)}  # fmt: skip


def scan_all_companies() -> int:
    """The schedule's target: one scan task per company; how many were queued."""
    ids = list(Company.objects.order_by("pk").values_list("pk", flat=True))
    for company_id in ids:
        queue_scan(company_id)
    return len(ids)


def queue_scan(company_id: int) -> None:
    """Scan in the background (in the caller's thread when django-q2 runs in sync mode, as in tests)."""
    enqueue("leads.dedup.tasks.scan_company", company_id, name=f"dedup-scan-{company_id}")


def ensure_schedule(*, hour: int = 2):
    """Create (or update) the nightly scan of every company; returns the django-q2 Schedule."""
    now = timezone.localtime()
    next_run = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if next_run <= now:
        next_run += dt.timedelta(days=1)
    schedule, _ = Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={"func": SCAN_ALL, "schedule_type": Schedule.DAILY, "repeats": -1, "next_run": next_run},
    )
    return schedule
