"""Synthetic leads, fast: realistic people, companies, phones and scraped profiles for benchmarks and
demos (``manage.py generate_leads``; ``bench/run.py generate``).

The rows are synthetic and valid by construction, so they skip the per-lead service
(``leads.services.lead_create``): no history rows, no ``StatusChange`` rows, random scores banded
by the company's thresholds. Every match key is computed by ``leads.keys.match_keys`` as the
services compute it, except that the phone key is not parsed again: numbers are
drawn from ranges in which every number is valid for its country, so the generator knows their
E.164 form (the tests check it against ``normalize.phone_key`` for every row and every written form).

Of the ``count`` leads, ``round(count × duplicates_ratio)`` (at most half) are planted
near-duplicates of earlier ones: a typo or a case change in the name, the same e-mail typed in
another case or with spaces (kept raw in ``profile_data``, stored lower-cased as the service
would) or another address, the company with another legal suffix ("Acme Ltd" → "ACME Limited"),
the same phone written another way. Each original is copied at most once; ``GenerateResult.pairs``
lists (original id, duplicate id).

Speed (a million leads in about two minutes on two cores with SQLite): one transaction; multi-row
INSERTs built from ``Lead._meta`` by a producer thread while the main thread writes (the database
driver releases the GIL); on SQLite, the DB-API cursor with its own placeholders, ids from the last
rowid, foreign keys checked once at the end as ``loaddata`` does, and a page cache sized to the load.
"""

from __future__ import annotations

import gc
import queue
import random
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TextIO

import phonenumbers
from django.db import connection, models, transaction
from django.utils import timezone

from crm.models import Company, Membership
from leads import bulkwrite, normalize
from leads.keys import match_keys
from leads.models import (
    AuthorityLevel,
    Campaign,
    Lead,
    LeadStatus,
    Priority,
    Stage,
    StatusCategory,
    ValidationStatus,
)
from leads.scoring import scorer_for

HOT_SCORE, WARM_SCORE, SPAM_HOLD = 70, 40, 60  # the defaults of a company's LeadSettings
UNASSIGNED_SHARE = 0.3
HOME_COUNTRY_SHARE = 0.7
MAX_DUPLICATES_RATIO = 0.5
DAY = 86400.0

# --- built-in word lists (no Faker at runtime: it is a dev-only dependency) -----------------------


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = _words(
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan "
    "Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty Anthony Sandra "
    "Mark Ashley Steven Emily Andrew Donna Joshua Michelle Kevin Carol Brian Amanda George Melissa Oliver "
    "Amelia Harry Isla Jack Ava Noah Mia Leo Freya Arthur Grace Oscar Chloe Finn Ruby Liam Sophie Ethan "
    "Hannah Lucas Emma Ben Laura Max Anna Felix Lena Jonas Lea Paul Marie Lukas Clara Elias Johanna "
    "Mathis Camille Manon Louis Chloé Théo Inès Raphaël Léa Jules Zoé Antoine Élodie Pablo Lucía "
    "Hugo Martina Alejandro Sofía Diego Valentina Javier Carmen José Ana Matteo Giulia Lorenzo Chiara "
    "Francesco Alessia Sven Astrid Lars Ingrid Erik Sigrid Søren Freja Mikkel Saga Aarav Priya Vihaan "
    "Ananya Arjun Diya Rohan Kavya Ishaan Aditi Wei Li Jun Mei Hiroshi Yuki Kenji Aiko Sipho Thandiwe "
    "Kwame Amara Chidi Ngozi Mateus Beatriz Rafael Larissa Tomasz Agnieszka Łukasz Zofia Piotr Katarzyna "
    "Niamh Cian Aoife Oisín Siobhán Seán Fatima Omar Layla Yusuf Noor Hamza"
)
LAST_NAMES = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Wilson "
    "Anderson Thomas Taylor Moore Jackson Martin Lee Thompson White Harris Clark Lewis Robinson Walker "
    "Young Allen King Wright Scott Green Baker Adams Nelson Hill Campbell Mitchell Roberts Carter Phillips "
    "Evans Turner Parker Collins Edwards Stewart Morris Murphy Cook Rogers Morgan Cooper Peterson Bailey "
    "Reed Kelly Howard Cox Ward Richardson Watson Brooks Wood James Bennett Gray Hughes Price Sanders "
    "Patel Shah Singh Kumar Sharma Gupta Mehta Iyer Reddy Nair Müller Schmidt Schneider Fischer Weber "
    "Meyer Wagner Becker Schulz Hoffmann Koch Richter Klein Wolf Schröder Neumann Dubois Durand Lefèvre "
    "Moreau Laurent Simon Michel Garnier Faure Rousseau Fernández González Sánchez Pérez Gómez Martín "
    "Jiménez Ruiz Díaz Álvarez Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco "
    "Jansen Bakker Visser Smit Andersson Johansson Karlsson Nilsson Eriksson "
    "Larsen Hansen Nielsen Jensen Pedersen Kowalski Nowak Wiśniewski Wójcik Silva Santos Oliveira Souza "
    "Costa Pereira Ferreira Tanaka Suzuki Takahashi Watanabe Sato Wang Zhang Chen Liu Yang Huang Nguyen "
    "Tran Kim Park Choi O'Brien O'Connor Byrne Ryan Walsh McCarthy Okafor Mensah Dlamini Nkosi Haddad "
    "Khan Rahman Ali Hussain Cohen Levi Novak Horvat Popescu Ionescu"
) + ("de Vries", "van den Berg", "da Silva", "Le Roux", "Mac Giolla")
COMPANY_BRANDS = _words(
    "Acme Northwind Contoso Globex Initech Umbrella Vandelay Stark Wayne Hooli Soylent Tyrell "
    "Cyberdyne Wonka Gringotts Oscorp Aperture Monarch Nakatomi Virtucon "
    "Bluepeak Brightline Clearwater Cobalt Copperleaf Crestview Deepfield Evergreen Fairway Firefly "
    "Foxglove Granite Greenway Harborview Highland Horizon Ironbridge Juniper Keystone Lakeside Lighthouse "
    "Lumen Maple Meridian Mosaic Nimbus Northstar Oakridge Orbit Pinnacle Polaris Quantum Redwood "
    "Riverbend Sapphire Silverline Skyline Solstice Summit Sunrise Tidewater Trident Vertex Westbrook "
    "Willow Zenith Arcadia Atlas Beacon Cedar Delta Ember Falcon Helix Kestrel Nova Onyx Prism Quartz"
) + ("Pied Piper", "Blue Sun", "Massive Dynamic", "Les Deux Rives", "Zürich Höhe")
COMPANY_SECTORS = _words(
    "Logistics Analytics Software Systems Solutions Labs Health Energy Foods Capital Partners Consulting "
    "Robotics Media Networks Pharma Retail Industries Ventures Security Cloud Biotech Insurance Motors "
    "Telecom Fintech Learning Design Manufacturing"
)
COMPANY_SUFFIXES = ("Ltd", "Limited", "PLC", "Inc", "Inc.", "LLC", "Corp.", "GmbH", "AG", "SA", "SAS", "BV", "AB", "")
# A suffix and what the same company may be called elsewhere (most normalise to the same key).
SUFFIX_VARIANTS = {
    "Ltd": ("Limited", "Ltd.", "LTD"),
    "Limited": ("Ltd", "Ltd."),
    "PLC": ("plc", "P.L.C."),
    "Inc": ("Inc.", "Incorporated", "INC"),
    "Inc.": ("Inc", "Incorporated"),
    "LLC": ("L.L.C.", "llc", ""),
    "Corp.": ("Corporation", "Corp"),
    "GmbH": ("GMBH", ""),
    "AG": ("", "A.G."),
    "SA": ("S.A.", ""),
    "SAS": ("S.A.S.", "SA"),
    "BV": ("B.V.", ""),
    "AB": ("", "Aktiebolag"),
    "": ("Ltd", "Inc", "Group"),
}
JOB_TITLES = (
    "CEO", "CTO", "CFO", "COO", "Founder", "Co-founder", "VP Sales", "VP Marketing", "VP Engineering",
    "Head of Growth", "Head of Sales", "Head of Marketing", "Head of Operations", "Head of IT",
    "Sales Director", "Marketing Director", "IT Director", "Procurement Manager", "Operations Manager",
    "Product Manager", "Engineering Manager", "Marketing Manager", "Sales Manager", "Account Executive",
    "Business Development Manager", "Data Scientist", "Software Engineer", "Solutions Architect",
    "Financial Controller", "HR Director", "Office Manager", "Customer Success Manager", "Consultant",
    "Analyst", "Purchasing Lead", "Digital Transformation Lead", "Chief Revenue Officer",
)  # fmt: skip
SKILLS = (
    "SaaS", "B2B sales", "Growth", "SEO", "Python", "Data analysis", "Negotiation", "Leadership",
    "Cloud", "Procurement", "Supply chain", "Fintech", "Salesforce", "Marketing automation", "Security",
)  # fmt: skip
CAMPAIGNS = (
    # name, lead source, medium, search term
    ("Spring webinar series", "Webinar", "email", ""),
    ("LinkedIn outreach", "LinkedIn", "social", ""),
    ("Google Ads – brand", "Google Ads", "cpc", "crm software"),
    ("Trade show: SaaStr", "Trade show", "event", ""),
    ("Partner referrals", "Partner", "referral", ""),
    ("Content: buyer's guide", "Website", "organic", "lead management guide"),
    ("Cold outbound Q3", "Outbound", "email", ""),
    ("Scraped profiles", "Scraped profile", "", ""),
)
BUDGETS = ("< 10k", "10k–50k", "50k–100k", "100k–250k", "> 250k")
TIMELINES = ("This quarter", "Next quarter", "This year", "Next year", "No timeline")
PRODUCTS = ("CRM Starter", "CRM Professional", "CRM Enterprise", "Analytics add-on", "API access")
NEEDS = (
    "Replace spreadsheets for the sales team.",
    "Consolidate two CRMs after an acquisition.",
    "Better lead routing across territories.",
    "Reporting for the board on pipeline health.",
)
PERSONAL_DOMAINS = ("mail.example", "inbox.example", "post.example")
SKILL_PAIRS = [[a, b] for a in SKILLS for b in SKILLS if a != b]
# Plain strings: database drivers need not know Django's enum types.
AWARENESS, HOT, WARM, COLD = Stage.AWARENESS.value, Priority.HOT.value, Priority.WARM.value, Priority.COLD.value
VALID, PENDING = ValidationStatus.VALID.value, ValidationStatus.PENDING.value
CONSIDERATION, DECISION = Stage.CONSIDERATION.value, Stage.DECISION.value
AUTHORITY_LEVELS = tuple(AuthorityLevel.values)
_EPOCH = datetime(1970, 1, 1)
# What a generated row holds, in order; every other column gets its default.
FIELDS = (
    "company_id", "first_name", "last_name", "email", "phone", "country", "job_title", "company_name",
    "profile_url", "profile_data", "lead_source", "campaign_id", "medium", "term", "owner_id",
    "status_id", "stage", "score", "priority", "gdpr_consent", "dnd", "opt_in_date", "spam_score",
    "validation_status", "email_key", "phone_key", "profile_url_key", "company_key", "name_key",
    "created_at", "updated_at", "status_changed_at", "assigned_at", "first_response_at", "last_activity_at",
    "authority_level", "budget_range", "timeline", "interest_product", "need",
)  # fmt: skip
_STAGE, _QUALIFICATION = FIELDS.index("stage"), FIELDS.index("authority_level")


@dataclass(frozen=True)
class PhonePlan:
    """Number ranges (national prefix, free digits) in which every number is valid for the country."""

    code: str
    ranges: tuple[tuple[str, int], ...]
    national: str  # how the number is written at home: "trunk0", "plain", "nanp" or "" (never)
    city: str
    name: str


PHONE_PLANS = {
    "GB": PhonePlan("44", (("74", 8), ("207", 7)), "trunk0", "London", "United Kingdom"),
    "US": PhonePlan(
        "1", (("2125", 6), ("4155", 6), ("6465", 6), ("3125", 6), ("2015", 6)), "nanp", "New York", "United States"
    ),
    "CA": PhonePlan("1", (("4165", 6), ("6045", 6)), "nanp", "Toronto", "Canada"),
    "DE": PhonePlan("49", (("151", 8), ("30", 8), ("89", 8)), "trunk0", "Berlin", "Germany"),
    "FR": PhonePlan("33", (("61", 7), ("62", 7), ("1", 8)), "trunk0", "Paris", "France"),
    "ES": PhonePlan("34", (("6", 8), ("91", 7)), "plain", "Madrid", "Spain"),
    "IT": PhonePlan("39", (("31", 8), ("02", 8)), "plain", "Milan", "Italy"),
    "NL": PhonePlan("31", (("61", 7), ("20", 7)), "trunk0", "Amsterdam", "Netherlands"),
    "IE": PhonePlan("353", (("85", 7), ("87", 7), ("1", 7)), "trunk0", "Dublin", "Ireland"),
    "SE": PhonePlan("46", (("70", 7), ("8", 7)), "trunk0", "Stockholm", "Sweden"),
    "AU": PhonePlan("61", (("41", 7), ("28", 7)), "trunk0", "Sydney", "Australia"),
    "IN": PhonePlan("91", (("9", 9), ("8", 9)), "trunk0", "Bengaluru", "India"),
    "CH": PhonePlan("41", (("78", 7), ("44", 7)), "trunk0", "Zurich", "Switzerland"),
    "AT": PhonePlan("43", (("664", 7),), "trunk0", "Vienna", "Austria"),
    "BE": PhonePlan("32", (("47", 7),), "trunk0", "Brussels", "Belgium"),
    "PL": PhonePlan("48", (("5", 8), ("22", 7)), "plain", "Warsaw", "Poland"),
    "PT": PhonePlan("351", (("91", 7), ("21", 7)), "plain", "Lisbon", "Portugal"),
    "NO": PhonePlan("47", (("41", 6), ("9", 7)), "plain", "Oslo", "Norway"),
    "SG": PhonePlan("65", (("81", 6), ("91", 6), ("61", 6)), "plain", "Singapore", "Singapore"),
    "ZA": PhonePlan("27", (("7", 8), ("21", 7)), "trunk0", "Cape Town", "South Africa"),
    "MX": PhonePlan("52", (("55", 8), ("33", 8)), "plain", "Mexico City", "Mexico"),
    "BR": PhonePlan("55", (("119", 8), ("219", 8)), "", "São Paulo", "Brazil"),
    "JP": PhonePlan("81", (("901", 7), ("80", 8)), "trunk0", "Tokyo", "Japan"),
}
ABROAD = ("GB", "US", "DE", "FR", "ES", "NL", "IE", "SE", "AU", "CA", "IN", "IT", "CH", "SG")
_STRIDE = 7919  # prime, coprime with 10: i ↦ i·stride + offset (mod 10^k) never repeats a number


class _PhoneRange:
    """Unique numbers in one range: the i-th is a bijection of i, so no two leads share a phone."""

    def __init__(self, plan: PhonePlan, prefix: str, digits: int, offset: int, *, check: bool = False):
        self.plan, self.prefix, self.digits, self.offset = plan, prefix, digits, offset
        self.size = 10**digits
        self.next = 0
        self.check = check  # ranges guessed at runtime (unknown countries) validate each number

    def take(self) -> str | None:
        """The next national significant number, or None when the range is used up (or, for a
        guessed range, turns out to hold hardly any valid number)."""
        misses = 0
        while self.next < self.size and misses < 1000:
            n = (self.next * _STRIDE + self.offset) % self.size
            self.next += 1
            nsn = f"{self.prefix}{n:0{self.digits}d}"
            if not self.check or phonenumbers.is_valid_number(phonenumbers.parse(f"+{self.plan.code}{nsn}")):
                return nsn
            misses += 1
        self.next = self.size
        return None


def _guessed_plan(country: str) -> PhonePlan | None:
    """A plan for a country outside PHONE_PLANS, from phonenumbers' example mobile number."""
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    example = example or phonenumbers.example_number(country)
    if example is None:
        return None
    nsn = phonenumbers.national_significant_number(example)
    digits = min(6, len(nsn) - 2)
    return PhonePlan(str(example.country_code), ((nsn[:-digits], digits),), "", country, country)


def phone_display(plan: PhonePlan, nsn: str, style: int) -> str:
    """The number as people write it: 0 → E.164, 1 → international with spaces, 2 → national."""
    if style == 2 and plan.national:
        if plan.national == "nanp":
            return f"({nsn[:3]}) {nsn[3:6]}-{nsn[6:]}"
        national = ("0" if plan.national == "trunk0" else "") + nsn
        return f"{national[:-6]} {national[-6:-3]} {national[-3:]}"
    if style == 0:
        return f"+{plan.code}{nsn}"
    return f"+{plan.code} {nsn[:-6]} {nsn[-6:]}"


# --- people -----------------------------------------------------------------------------------

_LATIN = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe", "ı": "i"})


def _ascii(text: str) -> str:
    """Letters and digits fit for an e-mail address or a URL: 'Søren' → 'soren'."""
    return "".join(ch for ch in normalize.fold(text).translate(_LATIN) if ch.isascii() and ch.isalnum())


def _typo(rng: random.Random, word: str) -> str:
    """One keyboard slip: two letters swapped, one dropped or one doubled."""
    if len(word) < 3:
        return word + word[-1]
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def _recase(rng: random.Random, email: str) -> str:
    """The same address as someone else typed it: other case, stray spaces."""
    local, _, domain = email.partition("@")
    return rng.choice((f"{local.title()}@{domain.title()}", f" {email.upper()} ", f"{local.capitalize()}@{domain}  "))


@dataclass(slots=True)
class _Original:
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


@dataclass
class GenerateResult:
    company: Company
    created: int
    duplicates: int
    seconds: float
    seed: int
    pairs: list[tuple[int, int]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.created / self.seconds if self.seconds else 0.0


def _same(value, *_):
    return value


class LeadFaker:
    """Builds lead rows for one company: lists of values in the order of ``FIELDS``, datetimes
    (naive UTC) and JSON passed through the given database adapters, if any. Pure: no database
    access, so tests can check thousands of rows cheaply and another thread can run it."""

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
        bands: tuple[int, int, int] = (HOT_SCORE, WARM_SCORE, SPAM_HOLD),  # hot, warm, spam hold thresholds
    ):
        self.rng, self.random = rng, rng.random
        self.adapt_datetime = adapt_datetime or _same
        self.adapt_json = adapt_json or _same
        self.hot, self.warm, self.spam_hold = bands
        self.company_id = company_id
        self.home = home_country.upper()
        self.campaigns = campaigns
        self.statuses = [(pk, key) for pk, key, _weight in statuses]
        self.status_cum = _cumulative([weight for _pk, _key, weight in statuses])
        self.owners = owners
        self.now_ts = now.timestamp()
        self.start_ts = self.now_ts - 365 * DAY
        self.count = max(count, 1)
        self.serial = rng.randrange(10_000, 90_000)
        self.url_salt = rng.getrandbits(32) | 1
        self.companies = self._companies(max(50, count // 20))
        self.phone_ranges: dict[str, list[_PhoneRange]] = {}
        self.ascii_names = {name: _ascii(name) for name in (*FIRST_NAMES, *LAST_NAMES)}
        self.locations = {code: f"{plan.city}, {plan.name}" for code, plan in PHONE_PLANS.items()}

    def _companies(self, how_many: int) -> list[tuple[str, str, str]]:
        """(name without suffix, legal suffix, e-mail domain), each name once; popular ones first."""
        names = [*COMPANY_BRANDS, *(f"{brand} {sector}" for brand in COMPANY_BRANDS for sector in COMPANY_SECTORS)]
        chosen = self.rng.sample(names, min(how_many, len(names)))
        return [
            (name, self.rng.choice(COMPANY_SUFFIXES), "-".join(_ascii(w) for w in name.split()) + ".example")
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

    def _ranges_for(self, country: str) -> list[_PhoneRange]:
        plan = PHONE_PLANS.get(country)
        check = plan is None
        plan = plan or _guessed_plan(country)
        if plan is None:
            return []
        return [
            _PhoneRange(plan, prefix, digits, self.rng.randrange(10**digits), check=check)
            for prefix, digits in plan.ranges
        ]

    def _stamp(self, ts: float) -> datetime:
        """Seconds since the epoch → naive UTC datetime, never in the future."""
        return _EPOCH + timedelta(0, ts if ts < self.now_ts else self.now_ts)

    # --- rows ---

    def original(self, position: int) -> tuple[list, _Original]:
        """A new person; ``position`` (0 … count-1) sets the creation time, which rises with it."""
        rnd = self.random
        self.serial += 1
        first = FIRST_NAMES[int(rnd() * len(FIRST_NAMES))]
        last = LAST_NAMES[int(rnd() * len(LAST_NAMES))]
        country = self.home if rnd() < HOME_COUNTRY_SHARE else ABROAD[int(rnd() * len(ABROAD))]
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
        created = self.start_ts + (position + rnd()) * (self.now_ts - self.start_ts) / self.count
        title = JOB_TITLES[int(rnd() * len(JOB_TITLES))]
        original = _Original(
            first, last, email, plan, nsn, int(rnd() * 3), country, company, title, profile_url, created
        )
        company_name = f"{company[0]} {company[1]}" if company[1] else company[0]
        return self._row(original, company_name, email), original

    def duplicate(self, of: _Original) -> list:
        """A near-copy of ``of`` as another source captured it later."""
        rng, rnd = self.rng, self.random
        first, last = of.first, of.last
        roll = rnd()
        if roll < 0.25:
            first = _typo(rng, first)
        elif roll < 0.5:
            last = _typo(rng, last)
        elif roll < 0.7:
            first, last = first.lower(), last.upper()
        base, suffix, _domain = of.company
        roll = rnd()
        if roll < 0.6:
            suffix = rng.choice(SUFFIX_VARIANTS[suffix])
        elif roll < 0.75:
            base = base.upper()
        email, raw_email = of.email, of.email
        roll = rnd()
        if of.email and roll < 0.55:
            raw_email = _recase(rng, of.email)
        elif roll < 0.8 or not (of.nsn or of.profile_url):
            self.serial += 1
            local = f"{_ascii(first) or 'lead'}.{_ascii(last) or 'contact'}.{self.serial}"
            email = raw_email = f"{local}@{rng.choice(PERSONAL_DOMAINS)}"
        else:
            email = raw_email = ""
        keep_phone = bool(of.nsn) and (not email or rnd() < 0.75)
        profile_url = of.profile_url
        if profile_url and rnd() < 0.5:
            profile_url = profile_url.replace("https://www.", "http://").rstrip("/") + "?utm_source=newsletter"
        elif email or keep_phone:
            profile_url = ""
        copy = _Original(
            first, last, email, of.phone_plan if keep_phone else None, of.nsn if keep_phone else "",
            (of.phone_style + rng.randrange(1, 3)) % 3, of.country, of.company,
            of.job_title if rnd() < 0.8 else rng.choice(JOB_TITLES), profile_url,
            of.created + rng.uniform(3600, 45 * DAY),
        )  # fmt: skip
        return self._row(copy, f"{base} {suffix}".strip(), email, raw_email)

    def _row(self, lead: _Original, company_name: str, email: str, raw_email: str | None = None) -> list:
        rnd, stamp, db_time = self.random, self._stamp, self.adapt_datetime
        phone = phone_display(lead.phone_plan, lead.nsn, lead.phone_style) if lead.nsn else ""
        status_id, status_key = self.statuses[_pick(self.status_cum, rnd())]
        is_new = status_id == self.statuses[0][0]
        campaign_id, source, medium, term = self.campaigns[int(rnd() * len(self.campaigns))]
        owner_id = self.owners[int(rnd() * len(self.owners))] if self.owners and rnd() >= UNASSIGNED_SHARE else None
        score = min(100, int(self.rng.triangular(0, 101, 25)))  # most leads are cold, few are hot
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
            status_id, AWARENESS, score, HOT if score >= self.hot else WARM if score >= self.warm else COLD,
            consent, rnd() < 0.03, created_db if consent else None, int(rnd() ** 4 * self.spam_hold),
            VALID if rnd() < 0.7 else PENDING,
            *match_keys(email=email, profile_url=lead.profile_url, company_name=company_name, first_name=lead.first,
                        last_name=lead.last, phone_key=f"+{lead.phone_plan.code}{lead.nsn}" if lead.nsn else ""),
            created_db, changed_db if updated is changed else db_time(updated), changed_db,
            None if assigned is None else db_time(assigned), None if responded is None else db_time(responded),
            None if is_new else changed_db,
            "", "", "", "", "",
        ]  # fmt: skip
        if status_key == "qualified":
            self._qualify(row)
        return row

    def _qualify(self, row: list) -> None:
        rng = self.rng
        row[_STAGE] = DECISION if rng.random() < 0.3 else CONSIDERATION
        row[_QUALIFICATION : _QUALIFICATION + 5] = (
            rng.choice(AUTHORITY_LEVELS), rng.choice(BUDGETS), rng.choice(TIMELINES), rng.choice(PRODUCTS),
            rng.choice(NEEDS),
        )  # fmt: skip

    def _profile(self, lead: _Original, company_name: str, email: str, phone: str, source: str, at) -> dict:
        """A small scraped profile (the shape ``leads.profiles`` reads), as the scraper sent it."""
        at = str(at)
        profile = {
            "name": f"{lead.first} {lead.last}",
            "headline": f"{lead.job_title} at {company_name}",
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


def _cumulative(weights: list[float]) -> list[float]:
    total, running, out = sum(weights), 0.0, []
    for weight in weights:
        running += weight / total
        out.append(running)
    out[-1] = 1.0
    return out


def _pick(cumulative: list[float], roll: float) -> int:
    for index, bound in enumerate(cumulative):
        if roll < bound:
            return index
    return len(cumulative) - 1


def _batches(faker: LeadFaker, count: int, duplicates: int, batch_size: int) -> Iterator[tuple[list[dict], list]]:
    """(rows, planted pairs as row positions) per batch: the batch's originals, then its duplicates
    of originals generated earlier. A reservoir keeps a bounded, uniform sample of originals to
    copy; it never runs dry because duplicates are at most half of every prefix of the run."""
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
            original = pool.pop(rng.randrange(len(pool)))
            pairs.append((original.row, written + len(rows)))
            rows.append(faker.duplicate(original))
        written += len(rows)
        yield rows, pairs


# --- writing ----------------------------------------------------------------------------------


class _LeadInserter:
    """Multi-row ``INSERT INTO leads_lead (FIELDS…, every other column) VALUES …``.

    Rows come from ``LeadFaker`` already adapted for the backend (see ``adapters``); the columns it
    does not fill get the field's default, prepared once. Building statements needs no database,
    so it runs in the producer thread.
    """

    def __init__(self, batch_size: int):
        quote = connection.ops.quote_name
        by_attname = {f.attname: f for f in Lead._meta.concrete_fields if not f.primary_key}
        unknown = set(FIELDS) - set(by_attname)
        if unknown:
            raise RuntimeError(f"Lead has no column for {sorted(unknown)}: update leads.generate.FIELDS.")
        rest = [f for name, f in by_attname.items() if name not in FIELDS]
        self.adapt_datetime, self.adapt_json = adapters()
        self.tail = [self._default(f) for f in rest]
        columns = ", ".join(quote(f.column) for f in [*(by_attname[name] for name in FIELDS), *rest])
        width = len(FIELDS) + len(rest)
        self.per_statement = max(1, min(batch_size, bulkwrite.parameter_limit() // width))
        # On SQLite (``bulkwrite.raw_cursor``) SQLite also gives a multi-row INSERT consecutive
        # rowids (one writer, rowid = max + 1), so the last rowid tells every id, where fetching
        # RETURNING rows would step SQLite, and swap the GIL with the producer thread, once per row.
        self.returning = not bulkwrite.uses_raw_cursor()
        self.one_row = "(" + ", ".join([bulkwrite.placeholder()] * width) + ")"
        self.head = f"INSERT INTO {quote(Lead._meta.db_table)} ({columns}) VALUES "  # noqa: S608 — names from _meta
        self.end = f" RETURNING {quote(Lead._meta.pk.column)}" if self.returning else ""

    def _default(self, model_field: models.Field):
        if getattr(model_field, "auto_now", False) or getattr(model_field, "auto_now_add", False):
            return self.adapt_datetime(timezone.now().astimezone(UTC).replace(tzinfo=None))
        return model_field.get_db_prep_save(model_field.get_default(), connection)

    def statements(self, rows: list[list]) -> list[tuple[str, list, int]]:
        """(SQL, parameters, number of rows) for ``rows``, in order."""
        out, tail = [], self.tail
        for start in range(0, len(rows), self.per_statement):
            chunk = rows[start : start + self.per_statement]
            params = []
            for row in chunk:
                params += row
                params += tail
            out.append((self.head + ", ".join([self.one_row] * len(chunk)) + self.end, params, len(chunk)))
        return out

    def run(self, cursor, sql: str, params: list, size: int) -> Iterable[int]:
        """Execute one statement; the ids of its rows, in order."""
        cursor.execute(sql, params)
        if self.returning:
            return [pk for (pk,) in cursor.fetchall()]
        return range(cursor.lastrowid - size + 1, cursor.lastrowid + 1)

    def check_ids(self, cursor, ids: array) -> None:
        """The ids derived from last rowids are exactly the rows written (SQLite only)."""
        if self.returning or not ids:
            return
        table, pk = connection.ops.quote_name(Lead._meta.db_table), connection.ops.quote_name(Lead._meta.pk.column)
        cursor.execute(f"SELECT MIN({pk}), MAX({pk}), COUNT(*) FROM {table} WHERE {pk} >= ?", [ids[0]])  # noqa: S608
        if tuple(cursor.fetchone()) != (ids[0], ids[-1], len(ids)) or ids[-1] - ids[0] + 1 != len(ids):
            raise RuntimeError("Generated leads did not get consecutive ids; nothing was written.")


def adapters() -> tuple[Callable[[datetime], object], Callable[[object, object], object]]:
    """(naive-UTC datetime → database value, (JSON value, encoder) → database value), identical to
    what the ORM sends. On SQLite with a UTC connection a datetime is ``str(value)``, several times
    cheaper than the general path."""
    adapt = connection.ops.adapt_datetimefield_value
    probe = datetime(2024, 5, 6, 7, 8, 9, 123456)
    if connection.vendor == "sqlite" and adapt(probe.replace(tzinfo=UTC)) == str(probe):
        return str, connection.ops.adapt_json_value
    return (lambda value: adapt(value.replace(tzinfo=UTC))), connection.ops.adapt_json_value


class _Producer(threading.Thread):
    """Builds the statements of each batch while the main thread writes the previous one: SQLite
    and psycopg release the GIL while they work, so generation and writing overlap on two cores."""

    def __init__(self, batches: Iterator, inserter: _LeadInserter):
        super().__init__(name="generate-leads", daemon=True)
        self.batches, self.inserter = batches, inserter
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            for rows, pairs in self.batches:
                if self.stopped.is_set():
                    return
                self._put((len(rows), self.inserter.statements(rows), pairs))
            self._put(None)
        except BaseException as error:  # noqa: BLE001 — handed to the main thread, which raises it
            self._put(error)

    def _put(self, item) -> None:
        while not self.stopped.is_set():
            try:
                self.queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def __iter__(self):
        while (item := self.queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item


# --- the whole run ----------------------------------------------------------------------------


def campaigns_ensure(company: Company) -> list[tuple[int, str, str, str]]:
    """The synthetic campaigns of ``company`` (created when missing) as (id, lead source, medium,
    term)."""
    found = []
    for name, source, medium, term in CAMPAIGNS:
        campaign, _ = Campaign.objects.get_or_create(
            company=company, name=name, defaults={"source": source, "medium": medium}
        )
        found.append((campaign.pk, campaign.source or source, campaign.medium, term))
    return found


def _statuses(company: Company) -> list[tuple[int, str, float]]:
    """Open, active, non-terminal statuses (each reachable from the initial one), weighted so that
    earlier ones hold more leads: most leads are new."""
    statuses = LeadStatus.objects.filter(
        company=company, category=StatusCategory.OPEN, is_active=True, is_terminal=False
    ).order_by("-is_initial", "order", "id")
    found = [(s.pk, s.key, 1.0 / (rank + 1) ** 1.2) for rank, s in enumerate(statuses)]
    if not found:
        raise ValueError(f"{company.name} has no active open status to put leads in.")
    return found


def _bands(company: Company) -> tuple[int, int, int]:
    """The company's hot and warm thresholds and its spam hold: generated leads get the priority
    their score earns there, and none is held for spam review."""
    scorer = scorer_for(company)
    return scorer.hot, scorer.warm, scorer.spam_threshold


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
    """Write ``count`` synthetic leads into ``company`` in one transaction (see the module doc).
    The same seed on the same company setup gives the same leads."""
    if count < 0:
        raise ValueError("The count cannot be negative.")
    if batch_size < 1:
        raise ValueError("The batch size must be at least 1.")
    duplicates = duplicates_for(count, duplicates_ratio)
    seed = random.randrange(2**31) if seed is None else seed
    started = time.perf_counter()
    adapt_datetime, adapt_json = adapters()
    faker = LeadFaker(
        rng=random.Random(seed),
        company_id=company.pk,
        home_country=company.default_country or "US",
        campaigns=campaigns_ensure(company),
        statuses=_statuses(company),
        owners=list(Membership.objects.filter(company=company, is_active=True).values_list("pk", flat=True)),
        now=timezone.now(),
        count=count,
        adapt_datetime=adapt_datetime,
        adapt_json=adapt_json,
        bands=_bands(company),
    )
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
        with bulkwrite.sqlite_cache_for(count), transaction.atomic(), bulkwrite.DeferredSearchIndex() as index:
            result.pairs, ids = _write(_batches(faker, count, duplicates, batch_size), batch_size, result, progress)
            if ids:
                index.add(ids[0], ids[-1])
            if checks_off:
                connection.check_constraints(table_names=[Lead._meta.db_table])
    finally:
        if collecting:
            gc.enable()
        if checks_off:
            connection.enable_constraint_checking()
    result.seconds = time.perf_counter() - started
    return result


def _write(batches: Iterator, batch_size: int, result: GenerateResult, progress) -> tuple[list[tuple[int, int]], array]:
    """Run the statements the producer builds; the planted pairs as ids, and the ids written."""
    inserter = _LeadInserter(batch_size)
    producer = _Producer(batches, inserter)
    ids, pairs = array("q"), []
    producer.start()
    try:
        with bulkwrite.raw_cursor() as cursor:
            for written, statements, planted in producer:
                for sql, params, size in statements:
                    ids.extend(inserter.run(cursor, sql, params, size))
                pairs.extend(planted)
                result.created += written
                if progress is not None:
                    progress(result.created)
            inserter.check_ids(cursor, ids)
    finally:
        producer.stopped.set()
        producer.join()
    return [(ids[original], ids[duplicate]) for original, duplicate in pairs], ids


def write_truth(pairs: list[tuple[int, int]], out: TextIO) -> None:
    """The planted duplicates as CSV: ``original_id,duplicate_id``, one pair per line."""
    out.write("original_id,duplicate_id\n")
    out.writelines(f"{original},{duplicate}\n" for original, duplicate in pairs)
