"""The rows of generated leads: people, their companies and contacts, where they live, which
campaign brought them, who owns them, how far they got, and their planted near-duplicates
(``LeadFaker``); and the batches the writer inserts (``batches``)."""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate
from math import log

from leads.generate.data import (
    AUTHORITY_BY_TITLE_WORD,
    BIG_COUNTRIES,
    BIG_SHARES,
    BUDGETS,
    CAMPAIGN_SKEW,
    COMPANY_BRANDS,
    COMPANY_SECTORS,
    COMPANY_SUFFIXES,
    FIRST_NAMES,
    HOME_COUNTRY_SHARE,
    JOB_TITLES,
    LAST_NAMES,
    MID_COUNTRIES,
    NEEDS,
    NICKNAMES,
    PERSONAL_DOMAINS,
    PRODUCTS,
    SKILL_PAIRS,
    SUFFIX_VARIANTS,
    TAIL_COUNTRIES,
    TAIL_SHARE,
    TIMELINES,
)
from leads.generate.phones import PHONE_PLANS, PhonePlan, PhoneRange, guessed_plan, phone_display
from leads.generate.scores import RowScorer
from leads.generate.variants import DUPLICATE_KINDS, ascii_word, at_other_domain, nickname, recase, typo
from leads.keys import match_keys
from leads.models import Priority, Stage, ValidationStatus
from leads.scoring import Scorer

SPAM_HOLD = 60  # the default spam hold of a company's LeadSettings
UNASSIGNED_SHARE = 0.3
DAY = 86400.0
RECENT_GROWTH = 4.0  # leads a day now / leads a day a year ago: the company grows
# Qualification an SDR has recorded, by status: shares of leads with an authority level, a budget,
# a timeline and a product of interest (qualified leads have all of them, and a need).
QUALIFICATION_SHARES = {"new": (0.1, 0.0, 0.0, 0.0), "qualified": (1.0, 1.0, 1.0, 1.0)}
WORKED_SHARES = (0.6, 0.2, 0.15, 0.2)  # any other status: the lead has been worked
# Plain strings: database drivers need not know Django's enum types.
AWARENESS, CONSIDERATION, DECISION = Stage.AWARENESS.value, Stage.CONSIDERATION.value, Stage.DECISION.value
VALID, PENDING, COLD = ValidationStatus.VALID.value, ValidationStatus.PENDING.value, Priority.COLD.value
_EPOCH = datetime(1970, 1, 1)
# What a generated row holds, in order; every other column gets its default.
FIELDS = (
    "company_id", "first_name", "last_name", "email", "phone", "country", "job_title", "company_name",
    "profile_url", "profile_data", "lead_source", "campaign_id", "medium", "term", "owner_id",
    "status_id", "stage", "score", "priority", "score_breakdown", "gdpr_consent", "dnd", "opt_in_date",
    "spam_score", "validation_status", "email_key", "phone_key", "profile_url_key", "company_key", "name_key",
    "created_at", "updated_at", "status_changed_at", "assigned_at", "first_response_at", "last_activity_at",
    "authority_level", "budget_range", "timeline", "interest_product", "need",
)  # fmt: skip
_STAGE, _SCORE = FIELDS.index("stage"), FIELDS.index("score")


@dataclass(slots=True)
class Original:
    """What a planted duplicate needs to know about the lead it copies."""

    first: str
    last: str
    email: str
    phone_plan: PhonePlan | None
    nsn: str
    phone_style: int
    country: str
    company: tuple[str, str, str]
    job_title: str
    profile_url: str
    created: float
    row: int = 0  # position in the run, to find its id once written


def _same(value, *_):
    return value


def cumulative(weights: list[float]) -> list[float]:
    """Running shares of ``weights`` (the last one exactly 1), for ``bisect(…, random())``."""
    total = sum(weights)
    out = [running / total for running in accumulate(weights)]
    out[-1] = 1.0
    return out


def country_mix(home: str) -> list[tuple[str, float]]:
    """(country, share): the home country, five big markets, a middle tier (shares falling as
    1/rank) and the rare tail, never the home country twice."""
    big = [code for code in BIG_COUNTRIES if code != home][: len(BIG_SHARES)]
    mid = [code for code in MID_COUNTRIES if code != home and code not in big]
    tail = [code for code in TAIL_COUNTRIES if code != home]
    mid_share = 1.0 - HOME_COUNTRY_SHARE - sum(BIG_SHARES) - TAIL_SHARE
    mid_weights = [1 / (rank + 1) for rank in range(len(mid))]
    return [
        (home, HOME_COUNTRY_SHARE),
        *zip(big, BIG_SHARES, strict=True),
        *((code, mid_share * weight / sum(mid_weights)) for code, weight in zip(mid, mid_weights, strict=True)),
        *((code, TAIL_SHARE / len(tail)) for code in tail),
    ]


def authority_of(title: str) -> str:
    words = title.split()
    return next((level for word, level in AUTHORITY_BY_TITLE_WORD if word in words), "user")


def _with_columns(cls):
    """Each of ``FIELDS`` that is not a slot of ``cls`` read from the row, by position."""
    for index, name in enumerate(FIELDS):
        if name not in cls.__slots__:
            setattr(cls, name, property(lambda self, i=index: self.row[i]))
    return cls


@_with_columns
class _RowLead:
    """A row as the scorer reads a lead: its fields by name, the profile as a dict; the scorer
    writes its results on the slots."""

    __slots__ = ("custom_fields", "priority", "profile_data", "row", "score", "score_breakdown", "spam_score",
                 "validation_status")  # fmt: skip

    def __init__(self, row: list, profile: dict):
        self.row, self.profile_data, self.custom_fields, self.score_breakdown = row, profile, {}, []


class LeadFaker:
    """Builds lead rows for one company: lists of values in the order of ``FIELDS``, datetimes
    (naive UTC) and JSON passed through the given database adapters, if any. No database access
    (except reading campaign names once when a scoring rule tests the campaign), so tests can check
    thousands of rows cheaply and another thread can run it.

    ``campaigns`` come biggest first, ``statuses`` initial first with their weights, ``owners``
    weighted by ``owner_weights`` (evenly without). With a ``scorer`` (``leads.scoring.scorer_for``)
    each row is scored by the company's rules; without one every score is 0 (for callers that use
    the people and not the scores)."""

    def __init__(
        self,
        *,
        rng: random.Random,
        company_id: int,
        home_country: str,
        campaigns: list[tuple[int, str, str, str]],  # id, lead source, medium, term
        statuses: list[tuple[int, str, float]],  # id, key, weight; the initial status first
        owners: list[int],
        now: datetime,
        count: int,
        adapt_datetime: Callable[[datetime], object] | None = None,
        adapt_json: Callable[[object, object], object] | None = None,
        scorer: Scorer | None = None,
        owner_weights: list[float] | None = None,
    ):
        self.rng, self.random = rng, rng.random
        self.adapt_datetime = adapt_datetime or _same
        self.adapt_json = adapt_json or _same
        self.scorer = RowScorer(scorer, self.adapt_json, FIELDS, _RowLead) if scorer is not None else None
        if self.scorer is not None:
            self.scorer.warm([pk for pk, *_ in campaigns])
        self.unscored = (0, COLD, self.adapt_json([], None))
        self.spam_hold = scorer.spam_threshold if scorer is not None else SPAM_HOLD
        self.company_id = company_id
        self.home = home_country.upper()
        self.campaigns = campaigns
        self.campaign_cum = cumulative([1 / (rank + 1) ** CAMPAIGN_SKEW for rank in range(len(campaigns))])
        self.statuses = [(pk, key) for pk, key, _weight in statuses]
        self.status_cum = cumulative([weight for _pk, _key, weight in statuses])
        self.owners = owners
        self.owner_cum = cumulative(owner_weights or [1.0] * len(owners)) if owners else []
        mix = country_mix(self.home)
        self.countries, self.country_cum = [code for code, _ in mix], cumulative([share for _, share in mix])
        self.now_ts = now.timestamp()
        self.start_ts = self.now_ts - 365 * DAY
        self.count = max(count, 1)
        self.serial = rng.randrange(10_000, 90_000)
        self.url_salt = rng.getrandbits(32) | 1
        self.companies = self._companies(max(50, count // 20))
        self.phone_ranges: dict[str, list[PhoneRange]] = {}
        self.ascii_names = {name: ascii_word(name) for name in (*FIRST_NAMES, *LAST_NAMES)}
        self.locations = {code: f"{plan.city}, {plan.name}" for code, plan in PHONE_PLANS.items()} | TAIL_COUNTRIES
        self.authority = {title: authority_of(title) for title in JOB_TITLES}
        self.duplicate_kinds = [kind for kind, _ in DUPLICATE_KINDS]
        self.duplicate_cum = cumulative([share for _, share in DUPLICATE_KINDS])

    def _companies(self, how_many: int) -> list[tuple[str, str, str]]:
        """(name without suffix, legal suffix, e-mail domain), each name once; popular ones first."""
        names = [*COMPANY_BRANDS, *(f"{brand} {sector}" for brand in COMPANY_BRANDS for sector in COMPANY_SECTORS)]
        chosen = self.rng.sample(names, min(how_many, len(names)))
        return [
            (name, self.rng.choice(COMPANY_SUFFIXES), "-".join(ascii_word(w) for w in name.split()) + ".example")
            for name in chosen
        ]

    # --- pieces ---

    def _phone(self, country: str) -> tuple[PhonePlan | None, str]:
        ranges = self.phone_ranges.get(country)
        if ranges is None:
            ranges = self.phone_ranges[country] = self._ranges_for(country)
        while ranges:
            number_range = ranges[int(self.random() * len(ranges))]
            nsn = number_range.take()
            if nsn is not None:
                return number_range.plan, nsn
            ranges.remove(number_range)
        return None, ""

    def _ranges_for(self, country: str) -> list[PhoneRange]:
        plan = PHONE_PLANS.get(country)
        check = plan is None
        plan = plan or guessed_plan(country)
        if plan is None:
            return []
        return [
            PhoneRange(plan, prefix, digits, self.rng.randrange(10**digits), check=check)
            for prefix, digits in plan.ranges
        ]

    def _stamp(self, ts: float) -> datetime:
        """Seconds since the epoch → naive UTC datetime, never in the future."""
        return _EPOCH + timedelta(0, ts if ts < self.now_ts else self.now_ts)

    def _created(self, position: int) -> float:
        """Creation times rise with ``position`` and bunch towards now: the daily rate grows
        ``RECENT_GROWTH``-fold over the year."""
        share = (position + self.random()) / self.count
        return self.start_ts + (self.now_ts - self.start_ts) * log(1 + share * (RECENT_GROWTH - 1)) / log(RECENT_GROWTH)

    # --- rows ---

    def original(self, position: int) -> tuple[list, Original]:
        """A new person; ``position`` (0 … count-1) sets the creation time, which rises with it."""
        rnd = self.random
        self.serial += 1
        first = FIRST_NAMES[int(rnd() * len(FIRST_NAMES))]
        last = LAST_NAMES[int(rnd() * len(LAST_NAMES))]
        country = self.countries[bisect(self.country_cum, rnd())]
        company = self.companies[int(len(self.companies) * rnd() ** 2)]
        a_first, a_last = self.ascii_names[first], self.ascii_names[last]
        roll, email = rnd(), ""
        if roll < 0.92:
            pattern = int(rnd() * 4)
            if pattern == 0:
                local = f"{a_first}.{a_last}"
            elif pattern == 1:
                local = f"{a_first[0]}{a_last}"
            elif pattern == 2:
                local = f"{a_first}{a_last[0]}"
            else:
                local = f"{a_first}_{a_last}"
            domain = company[2] if roll < 0.75 else PERSONAL_DOMAINS[int(rnd() * len(PERSONAL_DOMAINS))]
            email = f"{local}{self.serial}@{domain}"
        plan, nsn = self._phone(country) if (not email or rnd() < 0.85) else (None, "")
        profile_url = ""
        if not (email or nsn) or rnd() < 0.6:
            profile_url = (
                f"https://www.linkedin.com/in/{a_first}-{a_last}-{(self.serial * self.url_salt) & 0xFFFFFFFF:08x}/"
            )
        title = JOB_TITLES[int(rnd() * len(JOB_TITLES))]
        original = Original(
            first, last, email, plan, nsn, int(rnd() * 3), country, company, title, profile_url, self._created(position)
        )
        company_name = f"{company[0]} {company[1]}" if company[1] else company[0]
        return self._row(original, company_name, email), original

    def duplicate_kind(self) -> str:
        """The kind of variation the next duplicate gets, by the shares of ``DUPLICATE_KINDS``."""
        return self.duplicate_kinds[bisect(self.duplicate_cum, self.random())]

    def duplicate(self, of: Original, kind: str) -> tuple[list, str]:
        """A near-copy of ``of`` as another source captured it later with a variation of ``kind``,
        and that kind (a ``nickname`` of a name that has none becomes a ``typo``)."""
        rng, rnd = self.rng, self.random
        first, last, kind = self._names(of, kind)
        base, suffix, work_domain = of.company
        if kind == "company_suffix":
            suffix = rng.choice(SUFFIX_VARIANTS[suffix])
            base = base.upper() if rnd() < 0.3 else base
        company_name = f"{base} {suffix}".strip()
        title = of.job_title if rnd() < 0.8 else rng.choice(JOB_TITLES)
        if kind == "missing_fields":
            company_name, title = ("", title) if rnd() < 0.5 else (company_name, "")
            email, raw_email, keep_phone, profile_url = self._one_contact(of)
        elif kind == "other_contact":
            email, raw_email, keep_phone, profile_url = self._other_contact(of, work_domain)
        else:
            email, raw_email, keep_phone, profile_url = self._contact(of, first, last)
        copy = Original(
            first, last, email, of.phone_plan if keep_phone else None, of.nsn if keep_phone else "",
            self._other_style(of), of.country, of.company, title, profile_url, of.created + rng.uniform(3600, 45 * DAY),
        )  # fmt: skip
        return self._row(copy, company_name, email, raw_email), kind

    def _names(self, of: Original, kind: str) -> tuple[str, str, str]:
        """(first name, last name, kind) of the duplicate: the kind's change, else sometimes the
        name in other case."""
        rng, first, last = self.rng, of.first, of.last
        if kind == "nickname":
            short = nickname(rng, first)
            if short is not None:
                return short, last, kind
            kind = "typo"
        if kind == "typo":
            return (typo(rng, first), last, kind) if self.random() < 0.5 else (first, typo(rng, last), kind)
        if kind == "swapped_names":
            return last, first, kind
        return (first.lower(), last.upper(), kind) if self.random() < 0.15 else (first, last, kind)

    def _other_style(self, of: Original) -> int:
        """Another way of writing the original's phone (where numbers have no national form,
        national and international are written alike: then E.164)."""
        style = (of.phone_style + self.rng.randrange(1, 3)) % 3
        if of.phone_plan is not None and not of.phone_plan.national and {style, of.phone_style} == {1, 2}:
            return 0
        return style

    def _contact(self, of: Original, first: str, last: str) -> tuple[str, str, bool, str]:
        """(email, email as typed, keep the phone, profile URL): the same address retyped, another
        personal one or none; mostly the phone (written another way); the profile URL sometimes."""
        rng, rnd = self.rng, self.random
        email, raw_email = of.email, of.email
        roll = rnd()
        if of.email and roll < 0.55:
            raw_email = recase(rng, of.email)
        elif roll < 0.8 or not (of.nsn or of.profile_url):
            self.serial += 1
            local = f"{ascii_word(first) or 'lead'}.{ascii_word(last) or 'contact'}.{self.serial}"
            email = raw_email = f"{local}@{rng.choice(PERSONAL_DOMAINS)}"
        else:
            email = raw_email = ""
        keep_phone = bool(of.nsn) and (not email or rnd() < 0.75)
        return email, raw_email, keep_phone, self._profile_url(of, bool(email or keep_phone))

    def _one_contact(self, of: Original) -> tuple[str, str, bool, str]:
        """Only one way to reach the person: the phone if there was one, else the address retyped,
        else the profile URL."""
        if of.nsn:
            return "", "", True, ""
        if of.email:
            return of.email, recase(self.rng, of.email), False, ""
        return "", "", False, self._profile_url(of, False)

    def _other_contact(self, of: Original, work_domain: str) -> tuple[str, str, bool, str]:
        """The same mailbox name at another domain and the same phone written another way."""
        email = at_other_domain(self.rng, of.email, work_domain, PERSONAL_DOMAINS) if of.email else ""
        if not (email or of.nsn):
            return "", "", False, self._profile_url(of, False)
        return email, email, bool(of.nsn), ""

    def _profile_url(self, of: Original, reachable: bool) -> str:
        """The profile URL with tracking added, as it was; or none when the lead is reachable
        otherwise."""
        if of.profile_url and self.random() < 0.5:
            return of.profile_url.replace("https://www.", "http://").rstrip("/") + "?utm_source=newsletter"
        return "" if reachable else of.profile_url

    def _row(self, lead: Original, company_name: str, email: str, raw_email: str | None = None) -> list:
        rnd, stamp, db_time = self.random, self._stamp, self.adapt_datetime
        phone = phone_display(lead.phone_plan, lead.nsn, lead.phone_style) if lead.nsn else ""
        status_id, status_key = self.statuses[bisect(self.status_cum, rnd())]
        is_new = status_id == self.statuses[0][0]
        campaign_id, source, medium, term = self.campaigns[bisect(self.campaign_cum, rnd())]
        owner_id = None
        if self.owners and rnd() >= UNASSIGNED_SHARE:
            owner_id = self.owners[bisect(self.owner_cum, rnd())]
        created = stamp(lead.created)
        changed = created if is_new else stamp(lead.created + 3600 + rnd() * 20 * DAY)
        assigned = responded = None
        if owner_id:
            assigned = stamp(lead.created + 60 + rnd() * 7200)
            if not is_new:
                responded = stamp(lead.created + 7200 + rnd() * 3 * DAY)
        updated = responded if responded is not None and responded > changed else changed
        created_db, changed_db = db_time(created), db_time(changed)
        consent = rnd() < 0.6
        profile = self._profile(lead, company_name, email if raw_email is None else raw_email, phone, source, created)
        row = [  # in the order of FIELDS
            self.company_id, lead.first, lead.last, email, phone, lead.country, lead.job_title, company_name,
            lead.profile_url, self.adapt_json(profile, None), source, campaign_id, medium, term, owner_id,
            status_id, AWARENESS, 0, COLD, None, consent, rnd() < 0.03, created_db if consent else None,
            int(rnd() ** 4 * self.spam_hold), VALID if rnd() < 0.7 else PENDING,
            *match_keys(email=email, profile_url=lead.profile_url, company_name=company_name, first_name=lead.first,
                        last_name=lead.last, phone_key=f"+{lead.phone_plan.code}{lead.nsn}" if lead.nsn else ""),
            created_db, changed_db if updated is changed else db_time(updated), changed_db,
            None if assigned is None else db_time(assigned), None if responded is None else db_time(responded),
            None if is_new else changed_db,
            *self._qualification(status_key, lead.job_title),
        ]  # fmt: skip
        if status_key == "qualified":
            row[_STAGE] = DECISION if rnd() < 0.3 else CONSIDERATION
        scored = self.scorer(row, profile) if self.scorer is not None else self.unscored
        row[_SCORE : _SCORE + 3] = scored  # score, priority, breakdown
        return row

    def _qualification(self, status_key: str, title: str) -> tuple[str, str, str, str, str]:
        """(authority level, budget, timeline, product, need) as far as an SDR has recorded them."""
        rng, rnd = self.rng, self.random
        authority, budget, timeline, product = QUALIFICATION_SHARES.get(status_key, WORKED_SHARES)
        return (
            self.authority[title] if title and rnd() < authority else "",
            rng.choice(BUDGETS) if rnd() < budget else "",
            rng.choice(TIMELINES) if rnd() < timeline else "",
            rng.choice(PRODUCTS) if rnd() < product else "",
            rng.choice(NEEDS) if status_key == "qualified" else "",
        )

    def _profile(self, lead: Original, company_name: str, email: str, phone: str, source: str, at) -> dict:
        """A small scraped profile (the shape ``leads.profiles`` reads), as the scraper sent it."""
        at = str(at)
        profile = {
            "name": f"{lead.first} {lead.last}",
            "headline": " at ".join(part for part in (lead.job_title, company_name) if part),
            "company": company_name,
            "location": self.locations.get(lead.country, lead.country),
            "country": lead.country,
            "skills": SKILL_PAIRS[int(self.random() * len(SKILL_PAIRS))],
            "scraped_at": f"{at[:10]}T{at[11:19]}Z",
            "source": "linkedin" if lead.profile_url else source.lower(),
        }
        if lead.profile_url:
            profile["profile_url"] = lead.profile_url
        if email:
            profile["email"] = email
        if phone:
            profile["phone"] = phone
        return profile


def batches(faker: LeadFaker, count: int, duplicates: int, batch_size: int) -> Iterator[tuple[list, list]]:
    """(rows, planted pairs as (original position, duplicate position, kind)) per batch: the
    batch's originals, then its duplicates of originals generated earlier. A reservoir keeps a
    bounded, uniform sample of originals to copy; it never runs dry because duplicates are at most
    half of every prefix of the run."""
    rng, pool, seen, written = faker.rng, [], 0, 0
    pool_size = max(batch_size, min(duplicates, 100_000))
    for start in range(0, count, batch_size):
        end = min(start + batch_size, count)
        planted = duplicates * end // count - duplicates * start // count
        rows = []
        for position in range(start, end - planted):
            row, original = faker.original(position)
            original.row, seen = written + len(rows), seen + 1
            rows.append(row)
            if len(pool) < pool_size:
                pool.append(original)
            elif rng.random() < pool_size / seen:
                pool[rng.randrange(pool_size)] = original
        pairs = []
        for _ in range(planted):
            kind = faker.duplicate_kind()
            original = pool.pop(_pick_original(rng, pool, kind))
            row, kind = faker.duplicate(original, kind)
            pairs.append((original.row, written + len(rows), kind))
            rows.append(row)
        written += len(rows)
        yield rows, pairs


def _pick_original(rng: random.Random, pool: list[Original], kind: str, tries: int = 30) -> int:
    """A random position in ``pool``; for a ``nickname``, one whose first name has a familiar
    form when one of ``tries`` random picks finds it (about a third of the names have one)."""
    position = rng.randrange(len(pool))
    if kind == "nickname":
        for _ in range(tries):
            if pool[position].first in NICKNAMES:
                break
            position = rng.randrange(len(pool))
    return position
