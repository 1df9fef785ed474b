"""django-q2 tasks of the duplicates area: thin wrappers that take ids, re-fetch and call a service,
and the nightly schedule that keeps every company's review queue current."""

from __future__ import annotations

from django.db import transaction

from crm.models import Company
from crm.tasks import enqueue, ensure_daily
from leads import dedup
from leads.bulkwrite import id_ranges

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


# Above this many new leads, one pass over the whole company (the nightly scan's) is cheaper than
# looking up each new lead's neighbours.
NEW_LEADS_SCAN_ABOVE = 10_000


def check_new_leads(company_id: int, ranges: list[list[int]]) -> dict:
    """Queue the possible duplicates of leads created in bulk (an import: ``ranges`` of their ids)
    for review, as the per-save check does for a form's lead; a large batch runs the company's scan."""
    company = Company.objects.filter(pk=company_id).first()
    if company is None:
        return {"company": company_id, "found": 0}
    ids = [pk for start, end in ranges for pk in range(start, end + 1)]
    if len(ids) > NEW_LEADS_SCAN_ABOVE:
        return scan_company(company_id)
    return {"company": company_id, "leads": len(ids), "found": len(dedup.queue_new_leads(company, ids))}


def queue_check_new_leads(company_id: int, lead_ids: list[int], *, name: str) -> None:
    """``check_new_leads`` in the background once the caller's transaction has committed (the
    worker must see the new leads); an import runs as fast as before and the review queue has its
    new pairs seconds later, not at the next nightly scan."""
    if not lead_ids:
        return
    ranges = id_ranges(lead_ids)
    transaction.on_commit(lambda: enqueue("leads.dedup.tasks.check_new_leads", company_id, ranges, name=name))


def queue_scan(company_id: int) -> None:
    """Scan in the background (in the caller's thread when django-q2 runs in sync mode, as in tests)."""
    enqueue("leads.dedup.tasks.scan_company", company_id, name=f"dedup-scan-{company_id}")


def ensure_schedule(*, hour: int = 2):
    """Create (or update) the nightly scan of every company; returns the django-q2 Schedule."""
    return ensure_daily(SCHEDULE_NAME, SCAN_ALL, hour=hour)
