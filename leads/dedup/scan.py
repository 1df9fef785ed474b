"""The batch scan that fills the review queue for a whole company — never all pairs.

Only leads that share a blocking key are compared: the same company "core" (split by the first or
last name's initial when the company is large), the same person name (then the companies are
compared), the same corporate email domain for a lead without a person name — with rapidfuzz's
``cdist`` and a ``score_cutoff``. A domain that leads of many different companies use is treated
as free mail.
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
from django.db import connection, transaction
from django.utils import timezone
from rapidfuzz import fuzz, process

from crm.models import Company, Membership
from leads.dedup.keys import (
    MAX_BLOCK,
    MAX_EXACT_GROUP,
    MAX_NAME_GROUP,
    RULE_FLAGS,
    SHARED_DOMAIN_COMPANIES,
    SMALL_BLOCK,
    Keys,
    Reason,
    company_core,
    evaluate,
    free_mail_domains,
    initials,
    rule_for,
    sorted_name,
)
from leads.dedup.matching import KEY_COLUMNS, custom_labels, live_leads
from leads.dedup.queue import components
from leads.models import CandidateSource, CandidateStatus, DuplicateCandidate, DuplicateRule, Lead

# --- the batch scan -------------------------------------------------------------------------------


@dataclass
class Pair:
    a: int
    b: int
    reasons: list[Reason]

    @property
    def score(self) -> int:
        return max(r.score for r in self.reasons)

    def as_dict(self) -> dict:
        return {"lead_a": self.a, "lead_b": self.b, "score": self.score, "reasons": [r.as_dict() for r in self.reasons]}


@dataclass
class ScanResult:
    company: Company
    leads: int = 0
    pairs: list[Pair] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    removed: int = 0
    dismissed: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


def _lead_rows(company_id: int, with_custom: bool) -> Iterator[tuple]:
    """Every live lead's keys, straight from the cursor (the ORM would triple the time at 1M)."""
    columns = [*KEY_COLUMNS, "custom_fields"] if with_custom else list(KEY_COLUMNS)
    queryset = live_leads(company_id).values_list(*columns).order_by()
    sql, params = queryset.query.sql_with_params()
    json_field = Lead._meta.get_field("custom_fields")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while chunk := cursor.fetchmany(20000):
            if with_custom:
                for row in chunk:
                    yield (*row[:6], json_field.from_db_value(row[6], None, connection))
            else:
                yield from chunk


class _Scanner:
    """Finds candidate pairs among all live leads of one company, in memory, block by block.

    Leads are held column-wise (lists indexed by position) so a million of them load quickly.
    """

    def __init__(self, rule: DuplicateRule, rows: Iterable[tuple]):
        self.rule = rule
        rows = list(rows)
        columns = [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(7)]
        del rows  # the columns hold the same strings; the row tuples can go
        self.ids, self.emails, self.phones, self.urls, self.company_keys, self.name_keys = columns[:6]
        self.customs: list[dict] = [values or {} for values in columns[6]] if len(columns) > 6 else []
        core_of = {key: company_core(key) for key in set(self.company_keys)}
        name_of = {key: sorted_name(key) for key in set(self.name_keys)}
        self.cores = [core_of[key] for key in self.company_keys]
        self.names = [name_of[key] for key in self.name_keys]
        self.domains = self._company_domains(free_mail_domains(rule))
        self.candidates: set[tuple[int, int]] = set()

    def _company_domains(self, free: frozenset[str]) -> list[str]:
        """Each lead's corporate email domain: '' for free mail and for domains that leads of many
        different companies use (an ISP's, a free-mail provider the list does not know)."""
        domains = [email.rpartition("@")[2] for email in self.emails]
        cores_by_domain: dict[str, set[str]] = defaultdict(set)
        for domain, core in zip(domains, self.cores, strict=True):
            if domain and len(cores_by_domain[domain]) <= SHARED_DOMAIN_COMPANIES:
                cores_by_domain[domain].add(core)
        shared = {d for d, cores in cores_by_domain.items() if len(cores) > SHARED_DOMAIN_COMPANIES} | free
        return ["" if domain in shared else domain for domain in domains]

    def keys(self, i: int) -> Keys:
        return Keys(self.ids[i], self.emails[i], self.phones[i], self.urls[i], self.company_keys[i],
                    self.name_keys[i], self.customs[i] if self.customs else {}, self.cores[i], self.names[i],
                    self.domains[i])  # fmt: skip

    # exact keys: every pair of a small group, star-wise for a large one
    def exact(self) -> None:
        rule = self.rule
        columns = {"email_key": self.emails, "phone_key": self.phones, "profile_url_key": self.urls}
        for key, flag in RULE_FLAGS.items():
            if getattr(rule, flag):
                self._pair_groups(columns[key])
        for custom in rule.custom_field_keys or []:
            self._pair_groups([str(values.get(custom) or "").strip().lower() for values in self.customs])

    def _pair_groups(self, column: list[str]) -> None:
        first: dict[str, int] = {}
        repeats: dict[str, list[int]] = defaultdict(list)
        for index, value in enumerate(column):
            if value and first.setdefault(value, index) != index:
                repeats[value].append(index)
        for value, others in repeats.items():
            members = [first[value], *others]
            if len(members) > MAX_EXACT_GROUP:
                self.candidates.update((members[0], other) for other in others)
            else:
                self.candidates.update(itertools.combinations(members, 2))

    # fuzzy: names compared inside company blocks (split by initial when large), companies compared
    # inside blocks of one person name, and nameless leads inside blocks of one corporate domain
    def fuzzy(self) -> None:
        rule = self.rule
        if rule.match_name_company:
            by_core: dict[str, list[int]] = defaultdict(list)
            for index, (core, name) in enumerate(zip(self.cores, self.names, strict=True)):
                if core and name:
                    by_core[core].append(index)
            for members in by_core.values():
                if len(members) > MAX_BLOCK:
                    self._initial_blocks(members)
                elif len(members) > 1:
                    self._compare_names(members)
            self._same_names()
        if rule.match_company_domain:
            self._nameless()

    def _initial_blocks(self, members: list[int]) -> None:
        """A large company: compare names sharing the first name's or the last name's initial
        (a typo rarely hits a word's first letter)."""
        blocks: dict[tuple[int, str], list[int]] = defaultdict(list)
        for i in members:
            first, last = initials(self.name_keys[i])
            blocks[(0, first)].append(i)
            if last != first:
                blocks[(1, last)].append(i)
        for block in blocks.values():
            if len(block) > 1:
                self._compare_names(block)

    def _compare_names(self, members: list[int]) -> None:
        names, cutoff = [self.names[i] for i in members], self.rule.name_threshold
        if len(members) <= SMALL_BLOCK:  # a loop beats cdist's fixed cost on a few names
            for i, j in itertools.combinations(range(len(members)), 2):
                if fuzz.ratio(names[i], names[j], score_cutoff=cutoff):
                    self._add(members[i], members[j])
            return
        scores = process.cdist(names, names, scorer=fuzz.ratio, score_cutoff=cutoff, dtype=np.uint8, workers=1)
        rows, cols = np.nonzero(np.triu(scores, 1))
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
            self._add(members[i], members[j])

    def _add(self, i: int, j: int) -> None:
        self.candidates.add((i, j) if i < j else (j, i))

    def _same_names(self) -> None:
        """Same person name, company spelled differently (blocked by the company's first three
        letters): compare the companies."""
        first: dict[tuple[str, str], int] = {}
        repeats: dict[tuple[str, str], list[int]] = defaultdict(list)
        for index, (core, name) in enumerate(zip(self.cores, self.names, strict=True)):
            if core and name and first.setdefault((name, core[:3]), index) != index:
                repeats[(name, core[:3])].append(index)
        cutoff = self.rule.company_threshold
        for block, others in repeats.items():
            members = [first[block], *others]
            if len(members) > MAX_NAME_GROUP:
                continue
            by_core: dict[str, list[int]] = defaultdict(list)
            for i in members:
                by_core[self.cores[i]].append(i)
            if len(by_core) < 2:
                continue  # the company blocks compared them already
            for core_a, core_b in itertools.combinations(by_core, 2):
                if fuzz.ratio(core_a, core_b, score_cutoff=cutoff):
                    self.candidates.update((min(i, j), max(i, j)) for i in by_core[core_a] for j in by_core[core_b])

    def _nameless(self) -> None:
        """A lead without a person name and another lead with the same corporate domain."""
        by_domain: dict[str, list[int]] = defaultdict(list)
        for index, (domain, core) in enumerate(zip(self.domains, self.cores, strict=True)):
            if domain and core:
                by_domain[domain].append(index)
        for members in by_domain.values():
            for i in members:
                if not self.names[i]:
                    self.candidates.update((min(i, j), max(i, j)) for j in members if j != i)

    def pairs(self, labels: dict[str, str]) -> list[Pair]:
        rule, found, keys = self.rule, [], {}
        for i, j in self.candidates:
            a = keys.get(i) or keys.setdefault(i, self.keys(i))
            b = keys.get(j) or keys.setdefault(j, self.keys(j))
            reasons = evaluate(rule, a, b, labels)
            if reasons:
                found.append(Pair(*sorted((a.id, b.id)), reasons))
        found.sort(key=lambda pair: (-pair.score, pair.a, pair.b))
        return found


def find_candidates(company: Company, *, rule: DuplicateRule | None = None, timings: dict | None = None) -> list[Pair]:
    """Every candidate pair among the live leads of ``company`` (no writes), best first; pairs
    already marked "not a duplicate" are left out."""
    rule = rule or rule_for(company)
    timings = timings if timings is not None else {}
    started = time.perf_counter()
    scanner = _Scanner(rule, _lead_rows(company.pk, bool(rule.custom_field_keys)))
    timings["load"] = time.perf_counter() - started
    started = time.perf_counter()
    scanner.exact()
    timings["exact"] = time.perf_counter() - started
    started = time.perf_counter()
    scanner.fuzzy()
    timings["fuzzy"] = time.perf_counter() - started
    started = time.perf_counter()
    pairs = scanner.pairs(custom_labels(company.pk, rule))
    dismissed = set(
        DuplicateCandidate.objects.filter(company=company, status=CandidateStatus.NOT_DUPLICATE).values_list(
            "lead_a_id", "lead_b_id"
        )
    )
    pairs = [pair for pair in pairs if (pair.a, pair.b) not in dismissed]
    timings["score"] = time.perf_counter() - started
    timings["leads"] = len(scanner.ids)
    return pairs


@transaction.atomic
def duplicates_scan(*, company: Company, actor: Membership | None = None) -> ScanResult:
    """Scan the company and bring the review queue up to date: new pairs are added, pending pairs
    get their current reasons and score, pending pairs no longer found are removed; pairs a
    reviewer marked "not a duplicate" are never proposed again."""
    started = time.perf_counter()
    result = ScanResult(company=company)
    result.pairs = find_candidates(company, timings=result.timings)
    write_started = time.perf_counter()
    existing = {
        (a, b): (pk, status, reasons, group_key)
        for pk, a, b, status, reasons, group_key in DuplicateCandidate.objects.filter(company=company).values_list(
            "id", "lead_a_id", "lead_b_id", "status", "reasons", "group_key"
        )
    }
    # The queue after the scan: every pair found that is new or still pending (pending pairs of any
    # source that no longer match go); its groups are computed here, once, for the bulk writes.
    pending = [p for p in result.pairs if existing.get((p.a, p.b), (0, CandidateStatus.PENDING))[1] == "pending"]
    group_of = components([(p.a, p.b) for p in pending])
    new, changed = [], []
    now = timezone.now()
    for pair in pending:
        known = existing.get((pair.a, pair.b))
        reasons, exact, group = (
            [r.as_dict() for r in pair.reasons],
            any(r.exact for r in pair.reasons),
            group_of[pair.a],
        )
        if known is None:
            new.append(DuplicateCandidate(
                company=company, lead_a_id=pair.a, lead_b_id=pair.b, score=pair.score, reasons=reasons,
                is_exact=exact, source=CandidateSource.SCAN, group_key=group, found_at=now,
            ))  # fmt: skip
        elif (known[2], known[3]) != (reasons, group):
            changed.append(DuplicateCandidate(pk=known[0], score=pair.score, reasons=reasons, is_exact=exact,
                                              group_key=group))  # fmt: skip
    seen = {(p.a, p.b) for p in result.pairs}
    stale = [pk for key, (pk, status, *_) in existing.items() if key not in seen and status == CandidateStatus.PENDING]
    DuplicateCandidate.objects.bulk_create(new, batch_size=2000)
    DuplicateCandidate.objects.bulk_update(changed, ["score", "reasons", "is_exact", "group_key"], batch_size=1000)
    for start in range(0, len(stale), 2000):
        DuplicateCandidate.objects.filter(pk__in=stale[start : start + 2000]).delete()
    result.created, result.updated, result.removed = len(new), len(changed), len(stale)
    result.leads = result.timings.get("leads", 0)
    result.timings["write"] = time.perf_counter() - write_started
    result.seconds = time.perf_counter() - started
    return result
