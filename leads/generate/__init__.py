"""Synthetic leads, fast, that look like a real company's: for benchmarks and demos
(``manage.py generate_leads``; ``bench/run.py``).

The rows are synthetic and valid by construction, so they skip the per-lead service
(``leads.services.lead_create``): no history rows, no ``StatusChange`` rows. Every match key is
computed by ``leads.keys.match_keys`` as the services compute it, except that the phone key is not
parsed again: numbers are drawn from ranges in which every number is valid for its country, so
the generator knows their E.164 form (the tests check it against ``normalize.phone_key`` for every
row and every written form).

What the data looks like (shares are of all leads, in expectation):

* **Scores** come from the company's own scoring rules: each lead's score and breakdown are what
  ``lead_rescore`` gives it (no engagement events yet), and its priority is the band the score
  earns. What the rules read is recorded as an SDR would have: an authority level (from the job
  title) on 10 % of new leads and 60 % of worked ones, a budget, timeline and product on some
  worked leads, all of them on qualified leads. The spam score stays below the company's hold and
  the validation status is valid (70 %) or pending: the addresses use the reserved ``.example``
  domains, which the quality check would rightly call undeliverable.
* **Statuses** follow a funnel (``FUNNEL``): New 48 %, Contacted 30 %, Recycled 6 %, Qualified 5 %,
  Unqualified 8 %, Disqualified 3 %; never Converted (that takes a conversion).
* **Countries**: the company's home country 65 %; five big markets 23 % (8, 6, 4, 3, 2 %); a middle
  tier of 17 countries 11.8 % (falling as 1/rank); a tail of 40 rare countries 0.2 % (about 50
  leads each in a million).
* **Campaigns** (and so sources, media and terms): the n-th of 30 campaigns weighs 1/(n+1)^1.3, so
  the biggest holds 37 % of the leads, the first four 66 %, the last one 0.4 %.
* **Owners**: 30 % of leads are unassigned; the rest go to SDRs, the n-th SDR (by id) weighing
  1/(n+1)^0.8 (with eight SDRs the busiest holds five times the quietest's leads), managers 0.1
  and admins 0.03 of the busiest SDR's share.
* **Creation times** span the last year, rising with the lead's id, four times as many a day now
  as a year ago.

Of the ``count`` leads, ``round(count × duplicates_ratio)`` (at most half) are planted
near-duplicates of earlier ones, each original copied at most once; ``GenerateResult.pairs`` lists
(original id, duplicate id, kind) and ``write_truth`` writes them as CSV. Each duplicate carries
one kind of variation (shares of the duplicates):

* ``typo`` 25 %: one keyboard slip in the first or the last name;
* ``nickname`` 15 %: a familiar form of the first name (Robert → Bob, William → Bill), of an
  original whose name has one (when 30 random picks find none, a typo instead, counted as
  ``typo``);
* ``swapped_names`` 10 %: first and last name swapped;
* ``missing_fields`` 15 %: only one way to reach the person (the phone, else the e-mail, else the
  profile URL), and no company name or no job title;
* ``other_contact`` 20 %: the same mailbox name at another domain (work ↔ personal) and the same
  phone written another way;
* ``company_suffix`` 15 %: the company with another legal suffix ("Acme Ltd" → "ACME Limited").

Besides its kind, a duplicate (other than ``missing_fields`` and ``other_contact``) has the
original's e-mail retyped (other case, stray spaces: kept raw in ``profile_data``, stored
lower-cased as the service would), another personal address or none; usually the same phone
written another way; sometimes the profile URL with tracking added; sometimes another job title
or the name in other case; and a creation time up to 45 days after the original's.

Speed (a million leads in about two minutes on two cores with SQLite): one transaction; multi-row
INSERTs built from ``Lead._meta`` by a producer thread while the main thread writes (the database
driver releases the GIL); on SQLite, the DB-API cursor with its own placeholders, ids from the last
rowid, foreign keys checked once at the end as ``loaddata`` does, and a page cache sized to the
load; scores remembered per combination of the fields the rules read. The planner statistics are
refreshed at the end (``leads.vendor.refresh_statistics``).
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple, TextIO

from django.db import connection, transaction
from django.utils import timezone

from crm.models import Company, Membership, Role
from leads import bulkwrite, vendor
from leads.generate.data import (
    CAMPAIGNS,
    COMPANY_BRANDS,
    COMPANY_SECTORS,
    COMPANY_SUFFIXES,
    FIRST_NAMES,
    HOME_COUNTRY_SHARE,
    JOB_TITLES,
    LAST_NAMES,
    NICKNAMES,
    SUFFIX_VARIANTS,
)
from leads.generate.phones import PHONE_PLANS, PhonePlan, PhoneRange, phone_display
from leads.generate.rows import FIELDS, UNASSIGNED_SHARE, LeadFaker, batches
from leads.generate.variants import DUPLICATE_KINDS, KINDS
from leads.generate.writer import adapters, write
from leads.models import Campaign, Lead, LeadStatus, StatusCategory
from leads.scoring import scorer_for
from leads.workflow import CONVERSION_TARGET

__all__ = [
    "CAMPAIGNS",
    "COMPANY_BRANDS",
    "COMPANY_SECTORS",
    "COMPANY_SUFFIXES",
    "DUPLICATE_KINDS",
    "FIELDS",
    "FIRST_NAMES",
    "FUNNEL",
    "HOME_COUNTRY_SHARE",
    "JOB_TITLES",
    "KINDS",
    "LAST_NAMES",
    "MAX_DUPLICATES_RATIO",
    "NICKNAMES",
    "PHONE_PLANS",
    "SUFFIX_VARIANTS",
    "UNASSIGNED_SHARE",
    "GenerateResult",
    "LeadFaker",
    "PhonePlan",
    "PhoneRange",
    "PlantedPair",
    "adapters",
    "campaigns_ensure",
    "duplicates_for",
    "leads_generate",
    "phone_display",
    "write_truth",
]

MAX_DUPLICATES_RATIO = 0.5
# Weight of each status of the seed's workflow; a company's own statuses get OTHER_OPEN (open ones)
# or OTHER_CLOSED (lost and closed ones).
FUNNEL = {"new": 48, "contacted": 30, "recycled": 6, "qualified": 5, "unqualified": 8, "disqualified": 3}
OTHER_OPEN, OTHER_CLOSED = 3.0, 1.0
SDR_SKEW = 0.8  # the n-th SDR (from 0) weighs 1 / (n + 1) ** SDR_SKEW
ROLE_WEIGHTS = {Role.MANAGER: 0.1, Role.ADMIN: 0.03}  # of the busiest SDR's weight


class PlantedPair(NamedTuple):
    original_id: int
    duplicate_id: int
    kind: str  # one of KINDS


@dataclass
class GenerateResult:
    company: Company
    created: int
    duplicates: int
    seconds: float
    seed: int
    pairs: list[PlantedPair] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.created / self.seconds if self.seconds else 0.0


def campaigns_ensure(company: Company) -> list[tuple[int, str, str, str]]:
    """The synthetic campaigns of ``company`` (created when missing) as (id, lead source, medium,
    term), the biggest first."""
    existing = {c.name: c for c in Campaign.objects.filter(company=company, name__in=[c[0] for c in CAMPAIGNS])}
    found = []
    for name, source, medium, term in CAMPAIGNS:
        campaign = existing.get(name) or Campaign.objects.create(
            company=company, name=name, source=source, medium=medium
        )
        found.append((campaign.pk, campaign.source or source, campaign.medium, term))
    return found


def _statuses(company: Company) -> list[tuple[int, str, float]]:
    """(id, key, weight) of the active statuses leads can sit in, the initial one first: every one
    but the conversion's, weighted by ``FUNNEL``."""
    statuses = list(
        LeadStatus.objects.filter(company=company, is_active=True)
        .exclude(CONVERSION_TARGET)
        .order_by("-is_initial", "order", "id")
    )
    if not any(s.category == StatusCategory.OPEN for s in statuses):
        raise ValueError(f"{company.name} has no active open status to put leads in.")
    return [
        (s.pk, s.key, FUNNEL.get(s.key, OTHER_OPEN if s.category == StatusCategory.OPEN else OTHER_CLOSED))
        for s in statuses
    ]


def _owners(company: Company) -> tuple[list[int], list[float]]:
    """The active members who own leads, and their weights (``SDR_SKEW``, ``ROLE_WEIGHTS``)."""
    members = Membership.objects.filter(company=company, is_active=True).order_by("id").values_list("pk", "role")
    ids, weights, sdrs = [], [], 0
    for pk, role in members:
        if role == Role.SDR:
            weight, sdrs = 1 / (sdrs + 1) ** SDR_SKEW, sdrs + 1
        else:
            weight = ROLE_WEIGHTS.get(role, 0.0)
        if weight:
            ids.append(pk)
            weights.append(weight)
    return ids, weights


def duplicates_for(count: int, ratio: float) -> int:
    """How many of ``count`` leads are planted duplicates: round(count × ratio), at most half."""
    if not 0 <= ratio <= MAX_DUPLICATES_RATIO:
        raise ValueError(f"The duplicates ratio must be between 0 and {MAX_DUPLICATES_RATIO}.")
    return min(round(count * ratio), count // 2)


def leads_generate(
    *,
    company: Company,
    count: int,
    duplicates_ratio: float = 0.0,
    seed: int | None = None,
    batch_size: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> GenerateResult:
    """Write ``count`` synthetic leads into ``company`` in one transaction (see the module doc),
    then refresh the planner statistics. The same seed on the same company setup gives the same
    leads."""
    if count < 0:
        raise ValueError("The count cannot be negative.")
    if batch_size < 1:
        raise ValueError("The batch size must be at least 1.")
    duplicates = duplicates_for(count, duplicates_ratio)
    seed = random.randrange(2**31) if seed is None else seed
    started = time.perf_counter()
    faker = _faker(company, count, seed)
    result = GenerateResult(company=company, created=0, duplicates=duplicates, seconds=0.0, seed=seed)
    # Like loaddata: SQLite checks foreign keys row by row (a third of the load time), so switch
    # that off for the load and check the new rows once at the end. Inside an outer transaction
    # (tests) SQLite cannot switch it off, and then nothing changes.
    checks_off = connection.disable_constraint_checking()
    # The rows hold no reference cycles; the collector would only rescan the live batches and the
    # reservoir again and again (a third of the generation time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        # About 1 KiB of page cache a lead: the indexes the load touches.
        with vendor.page_cache_for(count), transaction.atomic(), bulkwrite.DeferredSearchIndex() as index:
            pairs, ids = write(batches(faker, count, duplicates, batch_size), batch_size, progress)
            if ids:
                index.add(ids[0], ids[-1])
            if checks_off:
                connection.check_constraints(table_names=[Lead._meta.db_table])
    finally:
        if collecting:
            gc.enable()
        if checks_off:
            connection.enable_constraint_checking()
    if count:
        vendor.refresh_statistics([Lead._meta.db_table])
    result.created, result.pairs = len(ids), [PlantedPair(*pair) for pair in pairs]
    result.seconds = time.perf_counter() - started
    return result


def _faker(company: Company, count: int, seed: int) -> LeadFaker:
    adapt_datetime, adapt_json = adapters()
    owners, owner_weights = _owners(company)
    return LeadFaker(
        rng=random.Random(seed),
        company_id=company.pk,
        home_country=company.default_country or "US",
        campaigns=campaigns_ensure(company),
        statuses=_statuses(company),
        owners=owners,
        owner_weights=owner_weights,
        now=timezone.now(),
        count=count,
        adapt_datetime=adapt_datetime,
        adapt_json=adapt_json,
        scorer=scorer_for(company),
    )


def write_truth(pairs: list[PlantedPair], out: TextIO) -> None:
    """The planted duplicates as CSV: ``original_id,duplicate_id,kind``, one pair per line."""
    out.write("original_id,duplicate_id,kind\n")
    out.writelines(f"{original},{duplicate},{kind}\n" for original, duplicate, kind in pairs)
