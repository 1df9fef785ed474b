"""Synthetic accounts, contacts and opportunities, fast, for benchmarks (``manage.py
generate_accounts``; ``bench/bench_pipeline.py``).

Like ``leads.generate``, the rows are valid by construction and skip the per-record services: no
history rows, no activities. What the pipeline pages read is all there: every account has one
primary contact (and up to two more), each opportunity has the stage-change rows of the path it
took through the company's stages (``changed_at``/``left_at`` chained, the last one open), the
probability and forecast category its stage implies, a lost reason when lost, and the match keys
``leads.normalize`` computes.

The skew is a real company's: a few owners hold most records; most opportunities sit in the early
stages, a fifth are won and a sixth lost; amounts are lognormal (median about 13,000 in the
company's currency, 2 % in another one); open deals close over the next year, bunched near month
ends, a few overdue; closed ones closed over the last eighteen months; a few accounts hold many
deals.

Rows are written in one transaction with ``leads.bulkwrite.RawInserter`` (multi-row INSERTs) and
foreign keys checked once at the end on SQLite, as ``leads.generate`` does.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from itertools import accumulate

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import (
    Account,
    AccountType,
    Channel,
    CompanySize,
    Contact,
    ContactRole,
    ForecastCategory,
    HealthScore,
    Influence,
    LifecycleStage,
    Opportunity,
    OpportunityStageChange,
    Stage,
)
from accounts.validation import default_currency
from crm.models import Company, Membership
from leads import bulkwrite, normalize, vendor
from leads.generate import COMPANY_BRANDS, COMPANY_SECTORS, COMPANY_SUFFIXES, FIRST_NAMES, JOB_TITLES, LAST_NAMES

REGIONS = (
    "", "North", "South", "East", "West", "Central", "Pacific", "Atlantic", "Alpine", "Nordic", "Iberia",
    "Benelux", "Midlands", "Highlands", "Coastal", "Metro", "Valley", "Bay", "Harbour", "Lakes", "Global",
    "International", "Europe", "Americas", "Asia", "Digital", "Direct", "Group", "Holdings", "Services",
    "Works", "Studio", "Partners", "Labs", "One", "Prime", "Plus", "Next", "United", "Continental",
)  # fmt: skip
PRODUCTS = ("CRM Starter", "CRM Professional", "CRM Enterprise", "Analytics add-on", "API access", "Onboarding",
            "Renewal", "Expansion", "Support plan")  # fmt: skip
SOURCES = ("Inbound", "Outbound", "Referral", "Partner", "Webinar", "Trade show", "Website", "Converted lead")
LOST_REASONS = ("Chose a competitor on price", "No budget this year", "Went quiet", "Timing: next year",
                "Building it in-house", "Lost the champion")  # fmt: skip
OTHER_CURRENCIES = ("EUR", "USD", "GBP", "INR")
OTHER_CURRENCY_SHARE = 0.02
WON_SHARE, LOST_SHARE = 0.20, 0.17
EXTRA_CONTACTS = (0, 0, 0, 1, 1, 2)  # besides the primary one
# Plain strings: database drivers need not know Django's enum types.
CUSTOMER = AccountType.CUSTOMER.value
MQA, SQA, CHURNED = LifecycleStage.MQA.value, LifecycleStage.SQA.value, LifecycleStage.CHURNED.value
COMMIT, OMITTED, EMAIL = ForecastCategory.COMMIT.value, ForecastCategory.OMITTED.value, Channel.EMAIL.value
# The forecast category of an open deal one, two, three, four or more stages in.
BY_STEP = tuple(
    category.value
    for category in (
        ForecastCategory.WORST_CASE, ForecastCategory.MOST_LIKELY, ForecastCategory.BEST_CASE, ForecastCategory.COMMIT
    )
)  # fmt: skip
CENT = Decimal("0.01")


@dataclass
class GenerateResult:
    company: Company
    accounts: int = 0
    contacts: int = 0
    opportunities: int = 0
    stage_changes: int = 0
    seconds: float = 0.0
    seed: int = 0

    @property
    def rate(self) -> float:
        rows = self.accounts + self.contacts + self.opportunities + self.stage_changes
        return rows / self.seconds if self.seconds else 0.0


@dataclass
class _Accounts:
    """What opportunities need to know about the accounts written: ids, owners, primary contacts."""

    ids: array
    owners: list[int | None]
    primaries: array
    names: list[str]


def _weights(count: int, exponent: float) -> list[float]:
    """Cumulative weights 1/(rank+1)^exponent: the first few take most."""
    return list(accumulate(1.0 / (rank + 1) ** exponent for rank in range(count)))


class _Faker:
    def __init__(self, *, rng: random.Random, company: Company, owners: list[int], stages: list[Stage], now):
        self.rng, self.company, self.now = rng, company, now
        self.today = timezone.localdate(now)
        self.currency = default_currency(company.default_country)
        owners = owners[:]
        rng.shuffle(owners)  # who gets the most is random, not the oldest member
        self.owners, self.owner_weights = owners, _weights(len(owners), 1.1)
        self.open = [s for s in stages if not s.is_closed]
        self.won = next(s for s in stages if s.is_won)
        self.lost = next(s for s in stages if s.is_lost)
        open_weights = [1.0 / (rank + 1) ** 0.7 for rank in range(len(self.open))]
        share = (1 - WON_SHARE - LOST_SHARE) / sum(open_weights)
        self.finals = [*range(len(self.open)), "won", "lost"]
        self.final_weights = list(accumulate([w * share for w in open_weights] + [WON_SHARE, LOST_SHARE]))

    def owner(self) -> int | None:
        if not self.owners or self.rng.random() < 0.03:
            return None
        return self.rng.choices(self.owners, cum_weights=self.owner_weights)[0]

    # --- accounts and contacts

    def account_names(self, count: int) -> list[tuple[str, str, str]]:
        """``count`` distinct (name, domain, sector): brand × sector × region, numbered beyond that."""
        total = len(COMPANY_BRANDS) * len(COMPANY_SECTORS) * len(REGIONS)
        order = self.rng.sample(range(total), min(count, total))
        names = []
        for i in range(count):
            n = order[i % total]
            brand, rest = COMPANY_BRANDS[n % len(COMPANY_BRANDS)], n // len(COMPANY_BRANDS)
            sector, region = COMPANY_SECTORS[rest % len(COMPANY_SECTORS)], REGIONS[rest // len(COMPANY_SECTORS)]
            base = " ".join(part for part in (brand, sector, region, str(i // total + 1) if i >= total else "") if part)
            slug = "-".join(
                "".join(c for c in word if c.isascii() and c.isalnum()) for word in normalize.fold(base).split()
            )
            suffix = self.rng.choice(COMPANY_SUFFIXES)
            names.append((f"{base} {suffix}".strip(), f"{slug}.example", sector))
        return names

    def account(self, name: str, domain: str, industry: str) -> dict:
        rng = self.rng
        created = self.now - dt.timedelta(days=rng.uniform(30, 3 * 365))
        kind = rng.choices(AccountType.values, cum_weights=(0.3, 0.9, 1.0))[0]  # customer, prospect, partner
        return {
            "company_id": self.company.pk, "name": name, "domain": domain, "website": f"https://www.{domain}",
            "account_type": kind, "industry": industry,
            "company_size": rng.choices(CompanySize.values, cum_weights=(0.25, 0.55, 0.8, 0.95, 1.0))[0],
            "annual_revenue": Decimal(round(rng.lognormvariate(15.5, 1.5))).quantize(CENT),
            "gstin": "", "health_score": rng.choices(HealthScore.values, cum_weights=(0.6, 0.85, 0.97, 1.0))[0],
            "lifecycle_stage": CUSTOMER if kind == CUSTOMER else rng.choice((MQA, SQA, SQA, CHURNED)),
            "is_active": rng.random() < 0.95, "owner_id": self.owner(), "parent_id": None,
            "country": self.company.default_country if rng.random() < 0.7 else rng.choice(("US", "GB", "DE", "IN")),
            "domain_key": domain, "company_key": normalize.company_key(name),
            "created_at": created, "updated_at": created,
        }  # fmt: skip

    def contact(self, account: dict, primary: bool) -> dict:
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = "".join(c for c in normalize.fold(f"{first}.{last}") if c.isascii() and (c.isalnum() or c == "."))
        email = f"{local}@{account['domain']}"
        created = account["created_at"] + dt.timedelta(days=rng.uniform(0, 60))
        return {
            "company_id": self.company.pk, "account_id": account["id"], "first_name": first, "last_name": last,
            "job_title": rng.choice(JOB_TITLES), "role": rng.choice(ContactRole.values), "email": email,
            "phone": "", "preferred_channel": EMAIL, "influence": rng.choice(Influence.values),
            "is_primary": primary, "gdpr_consent": rng.random() < 0.6, "dnd": rng.random() < 0.03,
            "opt_in_date": None, "owner_id": account["owner_id"], "email_key": normalize.email_key(email),
            "created_at": created, "updated_at": created,
        }  # fmt: skip

    # --- opportunities and their stage paths

    def path(self) -> list[Stage]:
        final = self.rng.choices(self.finals, cum_weights=self.final_weights)[0]
        if final == "won":
            return [*self.open, self.won]
        if final == "lost":
            return [*self.open[: self.rng.randint(1, len(self.open))], self.lost]
        return self.open[: final + 1]

    def times(self, steps: int, closed: bool) -> list[dt.datetime]:
        """When each stage was entered: open deals started in the last year, closed ones up to 18
        months ago; stays are exponential (a few linger)."""
        rng = self.rng
        start = self.now - dt.timedelta(days=rng.uniform(2, 540 if closed else 365))
        times = [start]
        room = (self.now - start).total_seconds()
        for _ in range(steps - 1):
            stay = min(rng.expovariate(1 / (21 * 86400)), room / steps)
            times.append(times[-1] + dt.timedelta(seconds=max(stay, 3600)))
        return times

    def close_date(self, closed_at: dt.datetime | None) -> dt.date:
        if closed_at is not None:
            return timezone.localdate(closed_at)
        day = self.today + dt.timedelta(days=int(self.rng.expovariate(1 / 80)) - 20)
        if self.rng.random() < 0.4:  # deals bunch at month end
            day = day.replace(day=calendar.monthrange(day.year, day.month)[1])
        return day

    def category(self, path: list[Stage]) -> str:
        final = path[-1]
        if final.is_lost:
            return OMITTED
        if final.is_won:
            return COMMIT
        step = min(len(path) - 1, len(BY_STEP) - 1)
        return BY_STEP[self.rng.randint(max(step - 1, 0), step)]

    def opportunity(self, accounts: _Accounts) -> tuple[dict, list[Stage], list[dt.datetime]]:
        rng = self.rng
        index = int(len(accounts.ids) * rng.random() ** 1.6)  # a few accounts hold many deals
        owner = accounts.owners[index] if rng.random() < 0.8 else self.owner()
        path = self.path()
        closed = path[-1].is_closed
        times = self.times(len(path), closed)
        closed_at = times[-1] if closed else None
        amount = Decimal(round(rng.lognormvariate(9.5, 1.1), -1) or 10).quantize(CENT)
        currency = rng.choice(OTHER_CURRENCIES) if rng.random() < OTHER_CURRENCY_SHARE else self.currency
        row = {
            "company_id": self.company.pk, "name": f"{accounts.names[index].split(' ')[0]} — {rng.choice(PRODUCTS)}",
            "account_id": accounts.ids[index], "primary_contact_id": accounts.primaries[index], "owner_id": owner,
            "amount": amount, "currency": currency, "close_date": self.close_date(closed_at), "stage_id": path[-1].pk,
            "probability": path[-1].probability, "forecast_category": self.category(path),
            "source": rng.choice(SOURCES), "lead_id": None,
            "next_step": "" if closed else rng.choice(("Send proposal", "Demo", "Call the CFO", "Security review")),
            "lost_reason": rng.choice(LOST_REASONS) if path[-1].is_lost else "",
            "stage_changed_at": times[-1], "closed_at": closed_at, "created_at": times[0], "updated_at": times[-1],
        }  # fmt: skip
        return row, path, times

    def stage_changes(self, opportunity_id: int, row: dict, path: list[Stage], times: list) -> list[dict]:
        changes = []
        for n, stage in enumerate(path):
            changes.append({
                "company_id": self.company.pk, "opportunity_id": opportunity_id,
                "from_stage_id": path[n - 1].pk if n else None, "to_stage_id": stage.pk,
                "probability": stage.probability, "changed_by_id": row["owner_id"], "changed_at": times[n],
                "left_at": times[n + 1] if n + 1 < len(times) else None, "note": "",
            })  # fmt: skip
        return changes


def accounts_generate(
    *,
    company: Company,
    accounts: int,
    opportunities: int,
    seed: int | None = None,
    batch_size: int = 5000,
    progress: Callable[[str, int], None] | None = None,
) -> GenerateResult:
    """Write ``accounts`` accounts (with their contacts) and ``opportunities`` opportunities (with
    their stage changes) into ``company`` in one transaction. The same seed on the same company setup
    gives the same rows."""
    if accounts < 0 or opportunities < 0:
        raise ValueError("Counts cannot be negative.")
    if opportunities and not accounts:
        raise ValueError("Opportunities need accounts: give --accounts too.")
    if batch_size < 1:
        raise ValueError("The batch size must be at least 1.")
    stages = list(Stage.objects.filter(company=company, is_active=True).order_by("order", "id"))
    if (
        not any(not s.is_closed for s in stages)
        or not any(s.is_won for s in stages)
        or not any(s.is_lost for s in stages)
    ):
        raise ValueError(f"{company.name} needs an active open, won and lost pipeline stage.")
    seed = random.randrange(2**31) if seed is None else seed
    owners = list(Membership.objects.filter(company=company, is_active=True).values_list("pk", flat=True))
    faker = _Faker(rng=random.Random(seed), company=company, owners=owners, stages=stages, now=timezone.now())
    result = GenerateResult(company=company, seed=seed)
    started = time.perf_counter()
    checks_off = connection.disable_constraint_checking()
    try:
        with vendor.page_cache_for(accounts + opportunities), transaction.atomic():
            written = _write_accounts(faker, accounts, batch_size, result, progress)
            _write_opportunities(faker, written, opportunities, batch_size, result, progress)
            if checks_off:
                connection.check_constraints(
                    table_names=[m._meta.db_table for m in (Account, Contact, Opportunity, OpportunityStageChange)]
                )
    finally:
        if checks_off:
            connection.enable_constraint_checking()
    result.seconds = time.perf_counter() - started
    return result


def _write_accounts(faker: _Faker, count: int, batch_size: int, result: GenerateResult, progress) -> _Accounts:
    account_rows, contact_rows = bulkwrite.RawInserter(Account), bulkwrite.RawInserter(Contact)
    written = _Accounts(array("q"), [], array("q"), [])
    names = faker.account_names(count)
    for start in range(0, count, batch_size):
        batch = [faker.account(*name) for name in names[start : start + batch_size]]
        ids = account_rows.insert([account_rows.values_from(row) for row in batch], returning=True)
        contacts, primaries = [], []
        for pk, row in zip(ids, batch, strict=True):
            row["id"] = pk
            primaries.append(len(contacts))
            contacts += [faker.contact(row, primary=n == 0) for n in range(1 + faker.rng.choice(EXTRA_CONTACTS))]
        contact_ids = contact_rows.insert([contact_rows.values_from(row) for row in contacts], returning=True)
        written.ids.extend(ids)
        written.owners.extend(row["owner_id"] for row in batch)
        written.primaries.extend(contact_ids[i] for i in primaries)
        written.names.extend(row["name"] for row in batch)
        result.accounts += len(batch)
        result.contacts += len(contacts)
        if progress is not None:
            progress("accounts", result.accounts)
    return written


def _write_opportunities(faker: _Faker, accounts: _Accounts, count: int, batch_size: int, result, progress) -> None:
    opportunity_rows, change_rows = bulkwrite.RawInserter(Opportunity), bulkwrite.RawInserter(OpportunityStageChange)
    for start in range(0, count, batch_size):
        batch = [faker.opportunity(accounts) for _ in range(min(batch_size, count - start))]
        ids = opportunity_rows.insert([opportunity_rows.values_from(row) for row, _, _ in batch], returning=True)
        changes = [
            change_rows.values_from(change)
            for pk, (row, path, times) in zip(ids, batch, strict=True)
            for change in faker.stage_changes(pk, row, path, times)
        ]
        change_rows.insert(changes)
        result.opportunities += len(batch)
        result.stage_changes += len(changes)
        if progress is not None:
            progress("opportunities", result.opportunities)
