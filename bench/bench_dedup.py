"""Duplicate-detection benchmarks (DESIGN §7, issue 7): ``dedup_scan`` and ``dedup_check``.

* ``dedup_scan``: the batch scan (``leads.dedup.duplicates_scan``: exact keys + blocked rapidfuzz,
  then the review queue written) over every lead of a company with planted near-duplicates (``leads.generate``, 5 % of the leads),
  with recall and precision against the planted pairs. Baselines measured in the same run:
  the seed's per-lead loop (``fuzz.ratio`` of each lead's name + company against every other
  lead), timed on a sample of leads and scaled to all of them, and an all-pairs ``process.cdist``
  timed on a sample of leads and scaled by the square of the ratio.
* ``dedup_check``: the per-save check (``leads.dedup.check_before_save``) for leads of the company
  (median and 95th percentile over a sample), against an unblocked check: the same fuzzy criteria
  with ``process.extract`` over every lead of the company, as an un-indexed check would have to.

Through the harness: ``python bench/run.py dedup_scan --size 100000 --json`` (its ``dataset``:
company ``bench`` and ``truth_<size>.csv``). On its own, before the dedup migrations exist:
``python bench/bench_dedup.py dedup_scan --size 100000 [--json]`` builds its SQLite file under
bench/data/ from the models (unless DATABASE_URL is set) and generates its data once.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DUPLICATES_RATIO = 0.05
SEED = 7
LOOP_SAMPLE = 40  # leads the naive per-lead loop is timed on
CDIST_SAMPLE = 10_000  # leads the all-pairs cdist is timed on
CHECK_SAMPLE = 200  # leads the per-save check is timed on


# --- data ---------------------------------------------------------------------------------------


def _read_truth(path: Path) -> set[tuple[int, int]]:
    return set(read_truth_kinds(path))


def read_truth_kinds(path: Path) -> dict[tuple[int, int], str]:
    """Planted pair (lower id first) → kind of variation (``leads.generate.KINDS``); files written
    before the ``kind`` column existed give every pair the kind ``""``."""
    with path.open(encoding="utf-8") as source:
        return {
            tuple(sorted((int(row["original_id"]), int(row["duplicate_id"])))): row.get("kind") or ""
            for row in csv.DictReader(source)
        }


def _harness_truth(size: int) -> Path:
    """Where ``bench/run.py`` keeps the planted pairs of its data set in the current database."""
    import run as harness

    return harness.truth_path(size)


def dataset(size: int, *, company=None):
    """A company with ``size`` generated leads, 5 % of them planted near-duplicates, and the planted
    pairs. The harness's company (``bench/run.py``'s ``dataset``) comes with ``truth_<size>.csv``;
    on its own this module generates company ``dedup-<size>`` and keeps its truth file beside it."""
    from django.db import connection

    from crm import services
    from crm.models import Company
    from leads.generate import leads_generate, write_truth
    from leads.models import Lead

    harness_truth = _harness_truth(size) if company is not None else None
    if harness_truth is not None and harness_truth.exists():
        return company, _read_truth(harness_truth)
    slug = f"dedup-{size}"
    company = Company.objects.filter(slug=slug).first() or services.company_create(
        name=f"Dedup bench {size}", slug=slug, default_country="GB"
    )
    truth = HERE / "data" / f"dedup-truth-{Path(str(connection.settings_dict['NAME'])).stem}-{slug}.csv"
    if Lead.objects.filter(company=company).count() != size or not truth.exists():
        Lead.objects.filter(company=company).delete()
        result = leads_generate(company=company, count=size, duplicates_ratio=DUPLICATES_RATIO, seed=SEED)
        truth.parent.mkdir(parents=True, exist_ok=True)
        with truth.open("w", encoding="utf-8", newline="") as out:
            write_truth(result.pairs, out)
    return company, _read_truth(truth)


# --- dedup_scan -----------------------------------------------------------------------------------


def _naive_loop_seconds(company, total: int) -> tuple[float, int]:
    """The seed's approach: for each lead, ``fuzz.ratio`` against every other lead (name + company).
    Timed on LOOP_SAMPLE leads; the whole run is that × total / sample."""
    from rapidfuzz import fuzz

    from leads.models import Lead

    rows = list(Lead.objects.filter(company=company).values_list("id", "first_name", "last_name", "company_name"))
    texts = [f"{first} {last} {company_name}".lower() for _, first, last, company_name in rows]
    sample = random.Random(SEED).sample(range(len(rows)), min(LOOP_SAMPLE, len(rows)))
    start = time.perf_counter()
    for i in sample:
        mine = texts[i]
        for j, other in enumerate(texts):
            if j != i and fuzz.ratio(mine, other) >= 90:
                pass
    elapsed = time.perf_counter() - start
    return elapsed * total / max(len(sample), 1), len(sample)


def _cdist_seconds(company, total: int) -> tuple[float, int]:
    """All pairs with ``process.cdist`` (every core): timed on CDIST_SAMPLE leads, scaled by (N/n)²."""
    import numpy as np
    from rapidfuzz import fuzz, process

    from leads.models import Lead

    names = [
        f"{name} {company_key}"
        for name, company_key in Lead.objects.filter(company=company).values_list("name_key", "company_key")[
            :CDIST_SAMPLE
        ]
    ]
    start = time.perf_counter()
    scores = process.cdist(names, names, scorer=fuzz.ratio, score_cutoff=88, dtype=np.uint8, workers=-1)
    np.nonzero(np.triu(scores, 1))
    elapsed = time.perf_counter() - start
    return elapsed * (total / max(len(names), 1)) ** 2, len(names)


def dedup_scan(company, size: int, *, baselines: bool = True) -> dict:
    """Ours: ``duplicates_scan`` — what ``find_duplicates`` and the nightly task run: read every lead,
    find the pairs and write the review queue (emptied first, so every run does the same work)."""
    from leads import dedup
    from leads.models import DuplicateCandidate

    on_harness = company is not None
    company, truth = dataset(size, company=company)
    DuplicateCandidate.objects.filter(company=company).delete()
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    scan = dedup.duplicates_scan(company=company)
    ours = time.perf_counter() - start
    timings = scan.timings
    found = {(pair.a, pair.b) for pair in scan.pairs}
    # Leave the data set as it was: the harness drops its generated leads with one raw DELETE.
    DuplicateCandidate.objects.filter(company=company).delete()
    hits = len(found & truth)
    result = {
        "name": "dedup_scan",
        "size": size,
        "ours": round(ours, 2),
        "unit": "s",
        "recall": round(hits / len(truth), 4) if truth else None,
        "precision": round(hits / len(found), 4) if found else None,
        "planted": len(truth),
        "found": len(found),
        "phases": {key: round(value, 2) for key, value in timings.items() if key != "leads"},
        # The machine's 1-minute load average before and after the scan: figures taken on a busy
        # machine are slower than on a quiet one.
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    kinds = read_truth_kinds(_harness_truth(size)) if on_harness and _harness_truth(size).exists() else {}
    if any(kinds.values()):
        result["recall_by_kind"] = _recall_by_kind(kinds, found)
    if baselines:
        loop, loop_sample = _naive_loop_seconds(company, size)
        cdist, cdist_sample = _cdist_seconds(company, size)
        result |= {
            "baseline": round(loop, 1),
            "baseline_method": f"per-lead fuzz.ratio loop over every other lead, timed on {loop_sample} leads, "
            f"scaled ×{size}/{loop_sample}",
            "baseline_cdist": round(cdist, 1),
            "baseline_cdist_method": f"all-pairs process.cdist (all cores), timed on {cdist_sample} leads, "
            f"scaled ×({size}/{cdist_sample})²",
            "ratio": round(loop / ours, 1) if ours else None,
            "ratio_cdist": round(cdist / ours, 1) if ours else None,
        }
    return result


def _recall_by_kind(kinds: dict[tuple[int, int], str], found: set[tuple[int, int]]) -> dict[str, float]:
    """Planted variation kind → share of its pairs the scan found."""
    planted: dict[str, list[bool]] = {}
    for pair, kind in kinds.items():
        planted.setdefault(kind, []).append(pair in found)
    return {kind: round(sum(hits) / len(hits), 4) for kind, hits in sorted(planted.items())}


# --- dedup_check ----------------------------------------------------------------------------------


def _probe(lead):
    """A new lead with the same keys as ``lead``, as the services would check it before saving."""
    from leads.models import Lead

    probe = Lead(company_id=lead.company_id)
    for name in ("email_key", "phone_key", "profile_url_key", "company_key", "name_key", "custom_fields", "country",
                 "job_title"):  # fmt: skip
        setattr(probe, name, getattr(lead, name))
    return probe


def _unblocked_check_ms(company, probes: list) -> float:
    """An un-indexed check: every lead's name + company read and compared with ``process.extract``."""
    from rapidfuzz import fuzz, process

    from leads.models import Lead

    def check(probe):
        rows = list(Lead.objects.filter(company=company).values_list("id", "name_key", "company_key"))
        choices = [f"{name} {company_key}" for _, name, company_key in rows]
        process.extract(f"{probe.name_key} {probe.company_key}", choices, scorer=fuzz.ratio, score_cutoff=88, limit=10)

    samples = []
    for probe in probes:
        start = time.perf_counter()
        check(probe)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def dedup_check(company, size: int, *, baselines: bool = True) -> dict:
    from crm.models import Membership, Role
    from leads import dedup
    from leads.models import Lead

    company, _truth = dataset(size, company=company)
    actor = Membership.objects.filter(company=company, role=Role.ADMIN).first()
    ids = list(Lead.objects.filter(company=company).values_list("pk", flat=True))
    sample = random.Random(SEED).sample(ids, min(CHECK_SAMPLE, len(ids)))
    probes = [_probe(lead) for lead in Lead.objects.filter(pk__in=sample)]
    dedup.check_before_save(probes[0], actor=actor, allow_duplicates=True)  # warm the connection
    samples, found = [], 0
    for probe in probes:
        start = time.perf_counter()
        found += bool(dedup.check_before_save(probe, actor=actor, allow_duplicates=True))
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    ours = statistics.median(samples)
    result = {
        "name": "dedup_check",
        "size": size,
        "ours": round(ours, 2),
        "unit": "ms",
        "p95": round(samples[int(len(samples) * 0.95) - 1], 2),
        "max": round(samples[-1], 2),
        "checks": len(samples),
        "with_matches": found,
        "block_index": _has_block_index(),
    }
    if baselines:
        baseline = _unblocked_check_ms(company, probes[:5])
        result |= {"baseline": round(baseline, 1), "ratio": round(baseline / ours, 1) if ours else None,
                   "baseline_method": "unblocked: every lead's name + company through process.extract (5 checks)"}  # fmt: skip
    return result


def _has_block_index() -> bool:
    """Whether leads have the (company, company_key, name_key) index that makes the check's fuzzy
    block an index-only read (suggested for leads.Lead; without it each candidate row is read)."""
    from django.db import connection

    from leads.models import Lead

    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Lead._meta.db_table)
    return any(
        c["index"] and c["columns"][:3] == ["company_id", "company_key", "name_key"] for c in constraints.values()
    )


BENCHMARKS = {"dedup_scan": dedup_scan, "dedup_check": dedup_check}


def run(name: str, size: int) -> dict:
    """One benchmark on its own data (for a harness without a company of its own)."""
    return BENCHMARKS[name](None, size)


# --- standalone -------------------------------------------------------------------------------------


def _setup_django() -> None:
    """Django on a benchmark database whose tables are built from the models (like the test suite
    without migrations), so the benchmark runs before the integration's migrations exist."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings.test")
    import django
    from django.conf import settings

    default = HERE / "data" / "dedup.sqlite3"
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{default}")
    django.setup()
    from django.db import connection

    database = settings.DATABASES["default"]
    database["TEST"] = {"NAME": database["NAME"], "MIGRATE": False}
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=True, serialize=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", choices=sorted(BENCHMARKS))
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-baseline", action="store_true", help="Skip the (slow) baselines.")
    args = parser.parse_args(argv)
    _setup_django()
    result = BENCHMARKS[args.name](None, args.size, baselines=not args.no_baseline)
    if args.json:
        print(json.dumps([result]))
    else:
        for key, value in result.items():
            print(f"{key:>22}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
