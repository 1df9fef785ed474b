"""Conversion benchmark (issue 14): one account-first conversion on the shared company ``bench`` with
``size`` leads and ``size // 10`` accounts (1,000,000 and 100,000 by default; target < 50 ms).

Both sides do what the conversion page does for one lead: propose the accounts matching it (same
corporate email domain, same normalised name, similar name with a score), then convert it into the
best exact match or a new account (``accounts.conversion.lead_convert``: lock, eligibility, account,
contact, "Lead converted" activity, status change, ``LeadConversion``). The leads are a seeded sample
of the data set, made eligible first (qualified status and scorecard; not timed). Each conversion
runs in a transaction that is rolled back afterwards, so the data set stays as it was (the commit
itself is not timed).

* ours: ``accounts.conversion.account_matches`` — indexed exact lookups on the domain and name keys
  and rapidfuzz over the block of accounts whose name starts like the lead's company.
* baseline: matching by a full scan of the company's account names with rapidfuzz (every account's
  keys read, ``process.extract`` over all of them), then the same ``lead_convert``.

``python bench/run.py convert --size 2000 --json``
"""

from __future__ import annotations

import random
import sys
import time

DEFAULT_SIZE = 1_000_000
ACCOUNTS_PER_LEAD = 0.1
SAMPLE = 30
SEED = 42


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _ensure_accounts(company, count: int) -> int:
    """The bench company's accounts, generated on first use (with their contacts, no deals)."""
    from django.db import connection

    from accounts.generate import accounts_generate
    from accounts.models import Account, Contact

    existing = Account.objects.filter(company=company).count()
    if existing >= count:
        return existing
    _log(f"generating {count - existing:,} accounts into {company.slug}")
    result = accounts_generate(company=company, accounts=count - existing, opportunities=0, seed=SEED)
    _log(f"  … {result.contacts:,} contacts in {result.seconds:.1f} s")
    with connection.cursor() as cursor:  # current planner statistics, as a live database has
        for model in (Account, Contact):
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    return count


def _eligible_sample(company, actor) -> list:
    """A seeded sample of open leads with a company name, made eligible: qualified, with a qualified
    scorecard (written directly, not timed)."""
    from accounts.models import LeadConversion, Qualification
    from leads.models import Lead, LeadStatus

    leads = Lead.objects.filter(company=company, merged_into__isnull=True, is_deleted=False, converted_at__isnull=True)
    leads = leads.exclude(company_name="").exclude(pk__in=LeadConversion.objects.values("lead_id"))
    last = leads.order_by("-pk").values_list("pk", flat=True).first() or 0
    rng, ids = random.Random(SEED), set()
    for _ in range(SAMPLE * 20):
        found = leads.filter(pk__gte=rng.randint(1, last)).order_by("pk").values_list("pk", flat=True).first()
        if found is not None:
            ids.add(found)
        if len(ids) == SAMPLE:
            break
    qualified = LeadStatus.objects.get(company=company, key="qualified")
    Lead.objects.filter(pk__in=ids).update(status=qualified)
    answers = {"budget": "yes", "authority": "yes", "need": "yes", "timeline": "yes"}
    Qualification.objects.filter(lead_id__in=ids).delete()
    Qualification.objects.bulk_create(
        Qualification(company=company, lead_id=pk, bant=answers, score=100, is_qualified=True,
                      recommendation="qualified", qualified_by=actor)
        for pk in ids
    )  # fmt: skip
    return list(Lead.objects.filter(pk__in=ids).order_by("pk"))


def _full_scan_matches(lead) -> list[tuple[int, int]]:
    """The naive matching: every account of the company read and compared (domain, name, fuzzy)."""
    from rapidfuzz import fuzz, process

    from accounts.conversion import lead_domain
    from accounts.models import Account
    from leads import dedup, normalize

    rule = dedup.rule_for(lead.company_id)
    domain, key = lead_domain(lead, rule), normalize.company_key(lead.company_name)
    rows = list(Account.objects.filter(company_id=lead.company_id).values_list("pk", "domain_key", "company_key"))
    exact = [(pk, 100) for pk, account_domain, name in rows if (domain and account_domain == domain) or name == key]
    names = {pk: dedup.company_core(name) for pk, _, name in rows}
    close = process.extract(dedup.company_core(key), names, scorer=fuzz.ratio, score_cutoff=rule.company_threshold,
                            limit=10)  # fmt: skip
    return exact + [(pk, min(int(score + 0.5), 99)) for _, score, pk in close if pk not in dict(exact)]


def _timed(convert, leads) -> list[float]:
    from django.db import transaction

    times = []
    for lead in leads:
        with transaction.atomic():
            started = time.perf_counter()
            convert(lead)
            times.append((time.perf_counter() - started) * 1000)
            transaction.set_rollback(True)
    return times


def convert(company, size: int) -> dict:
    from accounts.conversion import account_matches, lead_convert
    from crm.models import Membership, Role

    accounts = _ensure_accounts(company, max(int(size * ACCOUNTS_PER_LEAD), 1))
    actor = Membership.objects.filter(company=company, role=Role.ADMIN, is_active=True).first()
    leads = _eligible_sample(company, actor)
    _log(f"converting {len(leads)} sample leads of {company.slug} ({accounts:,} accounts), each rolled back")

    def ours(lead):
        matches = account_matches(lead, membership=actor)
        best = next((m.account for m in matches if m.exact), None)
        return lead_convert(actor=actor, lead=lead, account=best, new_account=best is None)

    def baseline(lead):
        matches = _full_scan_matches(lead)
        best = next((pk for pk, score in matches if score == 100), None)
        return lead_convert(actor=actor, lead=lead, account=best, new_account=best is None)

    _timed(ours, leads[:3])  # warm the caches both sides use
    ours_ms, baseline_ms = _timed(ours, leads), _timed(baseline, leads)
    matching_ms = [_ms(lambda lead=lead: account_matches(lead, membership=actor)) for lead in leads]
    scan_ms = [_ms(lambda lead=lead: _full_scan_matches(lead)) for lead in leads]
    matched = sum(1 for lead in leads if any(m.exact for m in account_matches(lead)))
    return {
        "name": "convert", "size": size, "ours": _median(ours_ms), "baseline": _median(baseline_ms), "unit": "ms",
        "accounts": accounts, "sample": len(leads), "into_existing_account": matched,
        "ours_p95": _p95(ours_ms), "baseline_p95": _p95(baseline_ms),
        "matching_ms": _median(matching_ms), "full_scan_matching_ms": _median(scan_ms), "target_ms": 50,
    }  # fmt: skip


def _ms(call) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return round(ordered[len(ordered) // 2], 2) if ordered else 0.0


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 2) if ordered else 0.0


BENCHMARKS = {"convert": convert}
