"""Rescoring benchmark (DESIGN §7, issue 5): ``recalculate_scores`` over every lead of a company.

* ours: ``leads.scoring.leads_rescore`` — rules compiled once, leads read 2,000 at a time as plain
  rows (no model instances), engagement read once per batch, changed scores written with one
  ``executemany`` per batch, each batch its own transaction. Every lead's breakdown is cleared
  first (not timed), so every row is really rewritten: the worst case.
* baseline: the naive loop, one ``leads.scoring.lead_rescore`` per lead (row lock, engagement
  queries, ``save()`` with a history row), timed on a sample of min(size, 2,000) leads.

Run it with the harness: ``python bench/run.py rescore [--size N] [--json]``; or ``run(size)``.
"""

from __future__ import annotations

import sys
import time

BASELINE_SAMPLE = 2000


def rescore(company, size: int) -> dict:
    from django.db import transaction

    from leads.models import Lead
    from leads.scoring import forget, lead_rescore, leads_rescore

    leads = Lead.objects.filter(company=company)
    total = leads.count()
    with transaction.atomic():
        leads.update(score_breakdown=[])
    forget(company.pk)
    _log(f"ours: rescoring {total:,} leads of {company.slug}")
    result = leads_rescore(company=company, progress=_progress(total))
    sample_ids = list(leads.order_by("pk").values_list("pk", flat=True)[: min(total, BASELINE_SAMPLE)])
    leads.filter(pk__in=sample_ids).update(score_breakdown=[])
    _log(f"baseline: {len(sample_ids):,} × leads.scoring.lead_rescore")
    started = time.perf_counter()
    for lead in Lead.objects.filter(pk__in=sample_ids).order_by("pk"):
        lead_rescore(lead=lead)
    baseline_seconds = time.perf_counter() - started
    return {
        "name": "rescore",
        "size": size,
        "ours": round(result.rate),
        "baseline": round(len(sample_ids) / baseline_seconds),
        "unit": "rows/s",
        "seconds": round(result.seconds, 1),
        "rescored": result.scanned,
        "changed": result.changed,
        "baseline_sample": len(sample_ids),
        "baseline_seconds": round(baseline_seconds, 2),
    }


BENCHMARKS = {"rescore": rescore}


def run(size: int) -> dict:
    """Stand-alone entry: the harness's database and shared data set at ``size``, then ``rescore``."""
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import run as harness

    harness.setup_django(size)
    result = rescore(harness.dataset(size), size)
    return harness.normalise(result)


def _progress(total: int):
    step = max(total // 10, 1)
    started = time.perf_counter()

    def report(done: int) -> None:
        if done % step < 2000 or done == total:
            _log(f"  … {done:,} leads, {time.perf_counter() - started:.0f} s")

    return report


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
