"""Duplicate detection's vocabulary: the company's rule, what matching knows of a lead (``Keys``:
its stored match keys plus the company "core", the person name with nicknames in their usual
form, the corporate email domain, country and job title) and how two leads compare (``evaluate``
gives the reasons, ``contradiction`` what rules a pair out).

Two named leads are a fuzzy pair when their names are alike (``name_threshold``; nicknames, a swap
of first and last name, an initial count, see ``leads.dedup.names``), something else ties them (a
similar company, ``company_threshold``, or a company matching the other's email domain, or the
same mailbox name at another domain) and the weighted agreement of every field both have (name,
company, mailbox, country, job title) reaches ``MATCH_SCORE``.

A similar name is never enough when an identifier contradicts it: different profile URLs,
different phone numbers, or different mailboxes at the same company domain. Free-mail domains
(gmail.com, outlook.com, …, plus the rule's own list) never count as a shared company domain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import fuzz

import leads.dedup.names as names
from crm.models import Company, Membership
from crm.permissions import permissions_for
from leads import normalize
from leads.models import DuplicateRule

_FREE_MAIL = """
    gmail.com googlemail.com outlook.com hotmail.com hotmail.co.uk hotmail.fr hotmail.de hotmail.it
    hotmail.es live.com live.co.uk live.fr msn.com outlook.fr outlook.de outlook.es yahoo.com
    yahoo.co.uk yahoo.fr yahoo.de yahoo.es yahoo.it yahoo.co.in yahoo.com.br ymail.com rocketmail.com
    icloud.com me.com mac.com aol.com proton.me protonmail.com pm.me gmx.com gmx.de gmx.net gmx.at
    gmx.ch web.de t-online.de freenet.de mail.com email.com zoho.com zohomail.com yandex.com
    yandex.ru mail.ru bk.ru inbox.ru list.ru qq.com 163.com 126.com sina.com naver.com daum.net
    orange.fr wanadoo.fr free.fr laposte.net sfr.fr libero.it virgilio.it tiscali.it alice.it
    btinternet.com sky.com virginmedia.com ntlworld.com talktalk.net fastmail.com fastmail.fm hey.com
    tutanota.com tuta.io seznam.cz wp.pl o2.pl onet.pl interia.pl rediffmail.com uol.com.br
    bol.com.br terra.com.br ig.com.br hushmail.com mailbox.org posteo.de telenet.be skynet.be
    bigpond.com optusnet.com.au shaw.ca rogers.com sympatico.ca comcast.net verizon.net att.net
    sbcglobal.net cox.net charter.net earthlink.net juno.com
"""
FREE_MAIL_DOMAINS = frozenset(_FREE_MAIL.split())
# Words that say what kind of company it is, not which: dropped from the company "core" used for
# blocking and comparison, on top of the legal suffixes that ``normalize.company_key`` drops.
GENERIC_COMPANY_WORDS = frozenset({"group", "holding", "holdings", "aktiebolag", "gruppe", "groupe", "grupo"})
SHARED_DOMAIN_COMPANIES = 10  # a domain used by leads of more distinct companies is not a company's
MAX_EXACT_GROUP = 50  # a key shared by more leads is paired star-wise (first lead ↔ each other)
MAX_BLOCK = 40  # a company with more named leads is split into blocks by the sound of each name word
MAX_MAILBOX_GROUP = 20  # a mailbox name used by more leads (info, sales) ties nobody
SMALL_BLOCK = 12  # blocks up to this size are compared pair by pair, larger ones with cdist
CHECK_FUZZY_ROWS = 5000  # (id, name) rows the per-save check reads at most from its fuzzy blocks
CHECK_EXACT_ROWS = 200  # leads sharing an exact key that the per-save check looks at, at most
CHECK_CLOSE_NAMES = 50  # closest names of the fuzzy blocks that the per-save check looks at, at most
CHECK_MATCHES = 10  # matches the per-save check returns at most
EXACT_FIELDS = (("email_key", "email", "same email"), ("phone_key", "phone", "same phone"),
                ("profile_url_key", "profile_url", "same profile URL"))  # fmt: skip
RULE_FLAGS = {"email_key": "match_email", "phone_key": "match_phone", "profile_url_key": "match_profile_url"}
_SINGLE_LETTERS = re.compile(r"\b(?:[a-z] )+[a-z]\b")
# How much each field weighs in a fuzzy pair's score: the weighted mean of the similarities (0–100)
# of the fields both leads have. A mailbox name counts only when it is the same (one person has
# several addresses); a different country or job title pulls the score down.
WEIGHTS = {"name": 3, "company": 2, "mailbox": 2, "country": 1, "job_title": 1}
MATCH_SCORE = 80  # the least score of a fuzzy pair of named leads


# --- rules --------------------------------------------------------------------------------------


def rule_for(company: Company | int) -> DuplicateRule:
    """The company's duplicate rule; an unsaved rule with the defaults when it has none."""
    company_id = getattr(company, "pk", company)
    rule = DuplicateRule.objects.filter(company_id=company_id).first()
    return rule or DuplicateRule(company_id=company_id)


def exact_key_fields(company) -> list[str]:
    """The stored match keys whose equality makes an exact duplicate for ``company`` (per its rules)."""
    rule = company if isinstance(company, DuplicateRule) else rule_for(company)
    return [key for key, flag in RULE_FLAGS.items() if getattr(rule, flag)]


def free_mail_domains(rule: DuplicateRule) -> frozenset[str]:
    extra = {str(d).strip().lower().lstrip("@") for d in rule.free_mail_domains or [] if str(d).strip()}
    return FREE_MAIL_DOMAINS | extra


def can_create_anyway(actor: Membership | None) -> bool:
    """Who may save a lead despite an exact duplicate (and so flag the pair): whoever may merge
    (managers and admins), and system writers (imports, commands) that pass no actor."""
    return actor is None or "leads.merge" in permissions_for(actor.role)


# --- keys ---------------------------------------------------------------------------------------


def company_core(company_key: str) -> str:
    """The company key without dotted abbreviations' spaces, legal suffixes or generic words:
    'acme l l c' → 'acme', 'acme group' → 'acme' (used to block and compare companies)."""
    if not company_key:
        return ""
    key = _SINGLE_LETTERS.sub(lambda m: m.group(0).replace(" ", ""), company_key)
    words = key.split()
    while len(words) > 1 and (words[-1] in normalize.LEGAL_SUFFIXES or words[-1] in GENERIC_COMPANY_WORDS):
        words.pop()
    return " ".join(words)


@lru_cache(maxsize=65536)
def domain_company(domain: str) -> str:
    """The company an email domain names, as a company core: 'northwind-traders.co.uk' →
    'northwind traders' (compared with the other lead's company when one of them has none)."""
    labels = domain.split(".")[:-1]
    if len(labels) > 1 and labels[-1] in ("co", "com", "org", "net", "ac", "gov", "edu"):
        labels.pop()
    return company_core(normalize.company_key(labels[-1].replace("-", " "))) if labels else ""


@lru_cache(maxsize=4096)
def title_key(job_title: str) -> str:
    return normalize.fold(job_title)


@dataclass(slots=True)
class Keys:
    """What matching needs to know about one lead."""

    id: int
    email_key: str = ""
    phone_key: str = ""
    profile_url_key: str = ""
    company_key: str = ""
    name_key: str = ""
    custom: dict = field(default_factory=dict)
    core: str = ""
    name: str = ""  # the person name, nicknames in their usual form, words in a fixed order (names.canonical)
    domain: str = ""  # the corporate email domain ('' for free mail)
    country: str = ""
    title: str = ""  # the job title, folded

    @classmethod
    def build(cls, pk, email_key, phone_key, profile_url_key, company_key, name_key, custom=None, *, free=(),
              country="", job_title=""):  # fmt: skip
        domain = normalize.email_domain(email_key)
        return cls(
            pk or 0, email_key, phone_key, profile_url_key, company_key, name_key, custom or {},
            company_core(company_key), names.canonical(name_key), "" if domain in free else domain,
            country or "", title_key(job_title or ""),
        )  # fmt: skip

    @property
    def mailbox(self) -> str:
        return names.email_name(self.email_key)

    @property
    def domain_company(self) -> str:
        return domain_company(self.domain) if self.domain else ""


# --- matches ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    code: str  # email, phone, profile_url, custom:<key>, name_company, company_domain
    label: str  # "same phone", "name 94% + same company"
    score: int

    @property
    def exact(self) -> bool:
        return self.score == 100 and self.code not in ("name_company", "company_domain")

    @property
    def field(self) -> str:
        """The lead field this reason points at (where a form shows it)."""
        if self.code.startswith("custom:"):
            return f"custom_fields.{self.code[7:]}"
        return self.code if self.code in ("email", "phone", "profile_url") else "__all__"

    def as_dict(self) -> dict:
        return {"code": self.code, "label": self.label, "score": self.score}


@dataclass(frozen=True)
class Match:
    """A lead that may be the same person as the one being saved. A converted one (a returning
    customer) is shown as "converted before" but never blocks a new lead (the guide's 3.1)."""

    lead_id: int
    name: str
    reasons: tuple[Reason, ...]
    visible: bool = True
    owner_name: str = ""
    converted: bool = False

    @property
    def score(self) -> int:
        return max(reason.score for reason in self.reasons)

    @property
    def exact(self) -> bool:
        """An exact duplicate, which blocks saving (converted leads never do)."""
        return not self.converted and any(reason.exact for reason in self.reasons)

    @property
    def reason_text(self) -> str:
        return " · ".join([reason.label for reason in self.reasons] + (["converted before"] if self.converted else []))

    @property
    def label(self) -> str:
        """How messages name the lead: by name when the actor can see it; a lead they cannot see
        stays anonymous (neither its name nor its owner)."""
        if self.visible:
            return f"{self.name} (#{self.lead_id})"
        return "a lead you cannot see"


def _percent(value: float) -> int:
    return int(value + 0.5)


def evaluate(rule: DuplicateRule, a: Keys, b: Keys, labels: dict[str, str] | None = None) -> list[Reason]:
    """Why ``a`` and ``b`` are duplicates under ``rule`` (empty: they are not)."""
    reasons = []
    for key, code, label in EXACT_FIELDS:
        value = getattr(a, key)
        if value and value == getattr(b, key) and getattr(rule, RULE_FLAGS[key]):
            reasons.append(Reason(code, label, 100))
    for key in rule.custom_field_keys or []:
        value = a.custom.get(key)
        if value not in (None, "") and str(value).strip().lower() == str(b.custom.get(key, "")).strip().lower():
            reasons.append(Reason(f"custom:{key}", f"same {(labels or {}).get(key, key)}", 100))
    fuzzy = _fuzzy_reason(rule, a, b)
    if fuzzy is not None:
        reasons.append(fuzzy)
    return reasons


def contradiction(a: Keys, b: Keys, *, person: bool = True) -> str:
    """Why two leads are certainly not one person, whatever their names say: different profile
    URLs, different phone numbers, or (for people) different mailboxes at the same company domain."""
    if a.profile_url_key and b.profile_url_key and a.profile_url_key != b.profile_url_key:
        return "different profile URLs"
    if a.phone_key and b.phone_key and a.phone_key != b.phone_key:
        return "different phones"
    if person and a.domain and a.domain == b.domain and a.email_key != b.email_key:
        return "different emails at the same company"
    return ""


def _fuzzy_reason(rule: DuplicateRule, a: Keys, b: Keys) -> Reason | None:
    """Two named leads: ``_person_reason``. Otherwise, for a lead without a person name, a similar
    company with the same corporate email domain. Never when an identifier contradicts it."""
    if a.name and b.name:
        return _person_reason(rule, a, b) if rule.match_name_company else None
    if not (a.core and b.core):
        return None
    company = 100.0 if a.core == b.core else fuzz.ratio(a.core, b.core, score_cutoff=rule.company_threshold)
    if not company:
        return None
    company_text = "same company" if company == 100 else f"company {_percent(company)}%"
    if rule.match_company_domain and a.domain and a.domain == b.domain and not contradiction(a, b, person=False):
        return Reason("company_domain", f"{company_text} + same email domain {a.domain}", min(_percent(company), 90))
    return None


def _company(rule: DuplicateRule, a: Keys, b: Keys) -> tuple[float | None, str]:
    """How alike the two leads' companies are (None: unknown for one of them) and, when alike
    enough to tie the leads, how to say it. A lead without a company name is read from its
    corporate email domain."""
    if a.core and b.core:
        similarity = 100.0 if a.core == b.core else fuzz.ratio(a.core, b.core)
        if similarity < rule.company_threshold:
            return similarity, ""
        return similarity, "same company" if similarity == 100 else f"company {_percent(similarity)}%"
    if not (a.core or b.core):
        return None, ""  # two addresses at one domain are one mailbox (exact) or two people
    one, other = (a.core or a.domain_company), (b.core or b.domain_company)
    if not (one and other):
        return None, ""
    similarity = 100.0 if one == other else fuzz.ratio(one, other)
    return (similarity, "company matches email domain") if similarity >= rule.company_threshold else (None, "")


def _same_mailbox(a: Keys, b: Keys) -> bool:
    """The same mailbox name at two addresses, unless it is a bare name ('ivan@…'), which many
    people have."""
    mailbox = a.mailbox
    if not mailbox or mailbox != b.mailbox or a.email_key == b.email_key:
        return False
    return mailbox not in a.name_key.split() and mailbox not in b.name_key.split()


def _person_reason(rule: DuplicateRule, a: Keys, b: Keys) -> Reason | None:
    """Alike names (``name_threshold``) tied by a similar company or the same mailbox name, with
    a weighted agreement of name, company, mailbox, country and job title of at least
    ``MATCH_SCORE``: "name 92% (first and last swapped) + same company"."""
    name = names.name_similarity(a.name_key, b.name_key)
    if name.similarity < rule.name_threshold or contradiction(a, b):
        return None
    company, company_text = _company(rule, a, b)
    mailbox = _same_mailbox(a, b)
    ties = [text for text in (company_text, "same email name" if mailbox else "") if text]
    if not ties:
        return None
    parts = [(WEIGHTS["name"], name.similarity)]
    if company is not None:
        parts.append((WEIGHTS["company"], company))
    if mailbox:
        parts.append((WEIGHTS["mailbox"], 100.0))
    if a.country and b.country:
        parts.append((WEIGHTS["country"], 100.0 if a.country == b.country else 0.0))
    if a.title and b.title:
        parts.append((WEIGHTS["job_title"], 100.0 if a.title == b.title else fuzz.token_sort_ratio(a.title, b.title)))
    score = sum(weight * value for weight, value in parts) / sum(weight for weight, _ in parts)
    if score < MATCH_SCORE:
        return None
    label = f"name {_percent(name.similarity)}%" + (f" ({name.note})" if name.note else "")
    return Reason("name_company", " + ".join([label, *ties]), min(_percent(score), 99))
