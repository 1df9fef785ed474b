"""The batch scan that fills the review queue for a whole company — never all pairs.

Only leads that share a blocking key are compared, each lead having several: equal exact keys;
the company "core" or the company its corporate email domain names (split, when the company is
large, by the sound of each word of the person name, so a typo, a nickname or a swap of first and
last name still meets); the sound of the whole name with the company's first letters (companies
spelled differently); the same mailbox name at another domain; the same corporate email domain
for a lead without a person name. Names are compared with rapidfuzz's ``cdist`` and a
``score_cutoff``, candidates then scored by ``leads.dedup.keys.evaluate``. A domain that leads of
many different companies use is treated as free mail.

``queue_new_leads`` runs the same matching for a few new leads (an import) against the leads
that share a blocking key with them, read with one query per kind of key.
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

import leads.dedup.names as names
from crm.models import Company, Membership
from leads import normalize, vendor
from leads.dedup.keys import (
    MAX_BLOCK,
    MAX_EXACT_GROUP,
    MAX_MAILBOX_GROUP,
    RULE_FLAGS,
    SHARED_DOMAIN_COMPANIES,
    SMALL_BLOCK,
    Keys,
    Reason,
    company_core,
    domain_company,
    evaluate,
    exact_key_fields,
    free_mail_domains,
    rule_for,
    title_key,
)
from leads.dedup.matching import MATCH_COLUMNS, custom_labels, live_leads, union_sql
from leads.dedup.queue import components, queue_pairs
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


def _columns(with_custom: bool) -> list[str]:
    return [*MATCH_COLUMNS, "custom_fields"] if with_custom else list(MATCH_COLUMNS)


def _lead_rows(sql: str, params: list, with_custom: bool) -> Iterator[tuple]:
    """The leads' keys (``_columns``), straight from the cursor (the ORM would triple the time at 1M)."""
    json_field = Lead._meta.get_field("custom_fields")
    size = len(MATCH_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while chunk := cursor.fetchmany(20000):
            if with_custom:
                for row in chunk:
                    yield (*row[:size], json_field.from_db_value(row[size], None, connection))
            else:
                yield from chunk


def _company_rows(company_id: int, with_custom: bool, ids: list[int] | None = None) -> Iterator[tuple]:
    """Every live lead of the company (or those of ``ids``)."""
    queryset = live_leads(company_id).order_by()
    if ids is not None:
        queryset = queryset.filter(pk__in=ids)
    return _lead_rows(*queryset.values_list(*_columns(with_custom)).query.sql_with_params(), with_custom)


def _per_value(function, values: list[str]) -> list:
    """``function`` of each value, computed once per distinct value (keys repeat across leads)."""
    of = {value: function(value) for value in set(values)}
    return [of[value] for value in values]


class _Scanner:
    """Finds candidate pairs among leads, in memory, block by block.

    Leads are held column-wise (lists indexed by position) so a million of them load quickly.
    ``new``: the positions of the leads whose pairs are wanted (all when None).
    """

    def __init__(self, rule: DuplicateRule, rows: Iterable[tuple], new: set[int] | None = None):
        self.rule = rule
        rows = list(rows)
        width = len(MATCH_COLUMNS) + 1
        columns = [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]
        del rows  # the columns hold the same strings; the row tuples can go
        (self.ids, self.emails, self.phones, self.urls, self.company_keys, self.name_keys, self.countries,
         self.titles) = columns[: len(MATCH_COLUMNS)]  # fmt: skip
        self.customs: list[dict] = [values or {} for values in columns[-1]] if len(columns) == width else []
        self.cores = _per_value(company_core, self.company_keys)
        self.names = _per_value(names.canonical, self.name_keys)
        self.domains = self._company_domains(free_mail_domains(rule))
        self.new = None if new is None else {index for index, pk in enumerate(self.ids) if pk in new}
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
                    self.domains[i], self.countries[i] or "", title_key(self.titles[i] or ""))  # fmt: skip

    def _add(self, i: int, j: int) -> None:
        if self.new is None or i in self.new or j in self.new:
            self.candidates.add((i, j) if i < j else (j, i))

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
        for members in _groups(column):
            if len(members) > MAX_EXACT_GROUP:
                for other in members[1:]:
                    self._add(members[0], other)
            else:
                for i, j in itertools.combinations(members, 2):
                    self._add(i, j)

    # fuzzy: named leads inside company blocks (split by the sound of the name's words when large),
    # companies compared inside blocks of one sounding name, mailbox names, and nameless leads inside
    # blocks of one corporate domain
    def fuzzy(self) -> None:
        if self.rule.match_name_company:
            self._name_looks()
            by_core = self._company_blocks()
            self._similar_companies(by_core)
            self._mailboxes()
        if self.rule.match_company_domain:
            self._nameless()

    def _name_looks(self) -> None:
        """Each name's sound codes; the few leads whose names also need a look as typed (a
        nickname) or word by word (an initial, one word, a nickname of several names)."""
        self.sounds = _per_value(names.sounds, self.name_keys)
        distinct = set(self.name_keys) - {""}
        nicknamed = {key for key in distinct if names.nicknamed(key)}
        word_by_word = {key for key in distinct if names.word_by_word(key)}
        self.nicknamed = {i for i, key in enumerate(self.name_keys) if key in nicknamed}
        self.word_by_word = {i for i, key in enumerate(self.name_keys) if key in word_by_word}

    def _company_blocks(self) -> dict[str, list[int]]:
        """Named leads of one company: by its name, or by the company its email domain names.
        Returns the named leads by company core."""
        by_company: dict[str, list[int]] = defaultdict(list)
        by_core: dict[str, list[int]] = defaultdict(list)
        domain_companies = _per_value(domain_company, self.domains)
        for index, (core, name, other) in enumerate(zip(self.cores, self.names, domain_companies, strict=True)):
            if name:
                if core:
                    by_company[core].append(index)
                    by_core[core].append(index)
                if other and other != core:
                    by_company[other].append(index)
        for members in by_company.values():
            if self.new is not None and not self.new.intersection(members):
                continue
            if len(members) > MAX_BLOCK:
                self._sound_blocks(members)
            elif len(members) > 1:
                self._compare_names(members)
        return by_core

    def _sound_blocks(self, members: list[int]) -> None:
        """A large company: compare names that share the sound of a word (a typo rarely changes
        it, and nicknames are in their usual form)."""
        blocks: dict[str, list[int]] = defaultdict(list)
        sounds = self.sounds
        for i in members:
            for code in sounds[i]:
                blocks[code].append(i)
        for block in blocks.values():
            if len(block) > 1:
                self._compare_names(block)

    def _compare_names(self, members: list[int]) -> None:
        """Pairs of alike names among ``members``: whole names with nicknames in their usual form,
        those with a nickname as typed too, and names that need it word by word."""
        cutoff, name_keys = self.rule.name_threshold, self.name_keys
        self._alike([self.names[i] for i in members], members, cutoff)
        nicknamed = self.nicknamed
        if not nicknamed.isdisjoint(members):
            typed = [names.as_typed(name_keys[i]) if i in nicknamed else self.names[i] for i in members]
            self._alike(typed, members, cutoff)
        for i in self.word_by_word.intersection(members):
            for j in members:
                if j != i and names.name_similarity(name_keys[i], name_keys[j]).similarity >= cutoff:
                    self._add(i, j)

    def _alike(self, texts: list[str], members: list[int], cutoff: int) -> None:
        """Pairs of ``members`` whose ``texts`` (in the same order) are at least ``cutoff`` alike."""
        if len(members) <= SMALL_BLOCK:  # a loop beats cdist's fixed cost on a few names
            ratio, add = fuzz.ratio, self._add
            for i, j in itertools.combinations(range(len(members)), 2):
                if ratio(texts[i], texts[j], score_cutoff=cutoff):
                    add(members[i], members[j])
            return
        scores = process.cdist(texts, texts, scorer=fuzz.ratio, score_cutoff=cutoff, dtype=np.uint8, workers=1)
        rows, cols = np.nonzero(np.triu(scores, 1))
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
            self._add(members[i], members[j])

    def _similar_companies(self, by_core: dict[str, list[int]]) -> None:
        """Two companies spelled alike but not the same (a typo, another word) — found among the
        companies that share their first three letters — and, across them, names alike in sound."""
        by_prefix: dict[str, list[str]] = defaultdict(list)
        for core in by_core:
            by_prefix[core[:3]].append(core)
        cutoff = self.rule.company_threshold
        for cores in by_prefix.values():
            if len(cores) < 2:
                continue
            scores = process.cdist(cores, cores, scorer=fuzz.ratio, score_cutoff=cutoff, dtype=np.uint8, workers=1)
            for a, b in zip(*np.nonzero(np.triu(scores, 1)), strict=True):
                self._across(by_core[cores[a]], by_core[cores[b]])

    def _across(self, one: list[int], other: list[int]) -> None:
        if len(one) > len(other):
            one, other = other, one
        by_sound: dict[tuple, list[int]] = defaultdict(list)
        for i in one:
            by_sound[self.sounds[i]].append(i)
        for j in other:
            for i in by_sound.get(self.sounds[j], ()):
                self._add(i, j)

    def _mailboxes(self) -> None:
        """The same mailbox name at two domains ('j.smith@acme.example', 'jsmith@mail.example')."""
        mailbox = names.email_name
        mailboxes = [
            mailbox(email) if email and name else "" for email, name in zip(self.emails, self.names, strict=True)
        ]
        for members in _groups(mailboxes):
            if len(members) <= MAX_MAILBOX_GROUP:
                for i, j in itertools.combinations(members, 2):
                    self._add(i, j)

    def _nameless(self) -> None:
        """A lead without a person name and another lead with the same corporate domain."""
        by_domain: dict[str, list[int]] = defaultdict(list)
        for index, (domain, core) in enumerate(zip(self.domains, self.cores, strict=True)):
            if domain and core:
                by_domain[domain].append(index)
        for members in by_domain.values():
            for i in members:
                if not self.names[i]:
                    for j in members:
                        if j != i:
                            self._add(i, j)

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


def _groups(column: list[str]) -> Iterator[list[int]]:
    """The positions of each value that more than one row has ('' never groups)."""
    first: dict[str, int] = {}
    repeats: dict[str, list[int]] = defaultdict(list)
    for index, value in enumerate(column):
        if value and first.setdefault(value, index) != index:
            repeats[value].append(index)
    for value, others in repeats.items():
        yield [first[value], *others]


def find_candidates(company: Company, *, rule: DuplicateRule | None = None, timings: dict | None = None) -> list[Pair]:
    """Every candidate pair among the live leads of ``company`` (no writes), best first; pairs
    already marked "not a duplicate" are left out."""
    rule = rule or rule_for(company)
    timings = timings if timings is not None else {}
    started = time.perf_counter()
    scanner = _Scanner(rule, _company_rows(company.pk, bool(rule.custom_field_keys)))
    timings["load"] = time.perf_counter() - started
    started = time.perf_counter()
    scanner.exact()
    timings["exact"] = time.perf_counter() - started
    started = time.perf_counter()
    scanner.fuzzy()
    timings["fuzzy"] = time.perf_counter() - started
    started = time.perf_counter()
    pairs = _not_dismissed(company, scanner.pairs(custom_labels(company.pk, rule)))
    timings["score"] = time.perf_counter() - started
    timings["leads"] = len(scanner.ids)
    return pairs


def _not_dismissed(company: Company, pairs: list[Pair]) -> list[Pair]:
    dismissed = set(
        DuplicateCandidate.objects.filter(company=company, status=CandidateStatus.NOT_DUPLICATE).values_list(
            "lead_a_id", "lead_b_id"
        )
    )
    return [pair for pair in pairs if (pair.a, pair.b) not in dismissed]


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


# --- new leads in bulk ----------------------------------------------------------------------------

NEW_LEADS_CHUNK = 1000  # new leads whose neighbours one statement reads


@transaction.atomic
def queue_new_leads(company: Company, lead_ids: Iterable[int]) -> list[Pair]:
    """Put the possible duplicates of leads just created in bulk (an import) in the review queue,
    as the per-save check does for a form's lead: the leads that share a blocking key with them (an
    exact key, the company, the name under any of its spellings, the mailbox at another domain) and
    the new leads among themselves, scored as everywhere else; pairs marked "not a duplicate" stay
    dismissed, reviewed pairs untouched. A fixed number of statements per ``NEW_LEADS_CHUNK`` leads,
    whatever their number below it (and the INSERTs the new pairs take). Like the per-save check,
    it reads no sound of a name: names alike only in sound at another company, and mailboxes
    written with other dots, are left to the nightly scan. Returns the pairs queued, best first."""
    rule = rule_for(company)
    ids = sorted(set(lead_ids))
    labels = custom_labels(company.pk, rule)
    found: dict[tuple[int, int], Pair] = {}
    for start in range(0, len(ids), NEW_LEADS_CHUNK):
        for pair in _new_lead_pairs(company.pk, rule, ids[start : start + NEW_LEADS_CHUNK], labels):
            found[(pair.a, pair.b)] = pair
    pairs = _not_dismissed(company, sorted(found.values(), key=lambda pair: (-pair.score, pair.a, pair.b)))
    queue_pairs(company_id=company.pk, pairs=[(p.a, p.b, p.reasons) for p in pairs], source=CandidateSource.SAVED)
    return pairs


def _new_lead_pairs(company_id: int, rule: DuplicateRule, ids: list[int], labels: dict[str, str]) -> list[Pair]:
    with_custom = bool(rule.custom_field_keys)
    new_rows = list(_company_rows(company_id, with_custom, ids))
    if with_custom:  # custom fields have no index: the whole company, as the scan reads it
        others = _company_rows(company_id, with_custom)
    else:
        arms = _neighbour_arms(rule, new_rows)
        others = _lead_rows(*union_sql(company_id, arms, _columns(False), live=True), False) if arms else ()
    rows = {row[0]: row for row in itertools.chain(others, new_rows)}
    scanner = _Scanner(rule, rows.values(), new=set(ids))
    scanner.exact()
    scanner.fuzzy()
    return scanner.pairs(labels)


def _neighbour_arms(rule: DuplicateRule, rows: list[tuple]) -> list[tuple[str, list]]:
    """The lookups of the leads that share a blocking key with any of ``rows`` (one per kind of key)."""
    columns = dict(zip(MATCH_COLUMNS, zip(*rows, strict=True), strict=True)) if rows else {}
    if not columns:
        return []
    arms = [_is_in(key, set(columns[key])) for key in exact_key_fields(rule)]
    if rule.match_name_company or rule.match_company_domain:
        free = free_mail_domains(rule)
        companies = set(columns["company_key"]) | {company_core(key) for key in columns["company_key"]}
        domains = {normalize.email_domain(email) for email in columns["email_key"]} - free
        arms.append(_is_in("company_key", companies | {domain_company(domain) for domain in domains if domain}))
    if rule.match_name_company:
        spellings = {variant for key in columns["name_key"] for variant in names.name_variants(key)}
        arms.append(_is_in("name_key", spellings))
        mailboxes = [vendor.starts_with_sql("email_key", f"{email.partition('@')[0]}@") for email in set(columns["email_key"])
                     if names.email_name(email)]  # fmt: skip
        if mailboxes:
            arms.append(("(" + " OR ".join(f"({condition})" for condition, _ in mailboxes) + ")",
                         [value for _, params in mailboxes for value in params]))  # fmt: skip
    return [arm for arm in arms if arm is not None]


def _is_in(column: str, values: set[str]) -> tuple[str, list] | None:
    values = sorted(values - {""})
    return (f"{column} IN ({', '.join(['%s'] * len(values))})", values) if values else None
