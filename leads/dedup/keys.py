"""Duplicate detection's vocabulary: the company's rule, the blocking keys of a lead (company
"core", sorted person name, initials, corporate email domain) and how two leads' keys compare
(``evaluate`` gives the reasons, ``contradiction`` what rules a pair out).

A similar name is never enough when an identifier contradicts it: different profile URLs,
different phone numbers, or different mailboxes at the same company domain. Free-mail domains
(gmail.com, outlook.com, …, plus the rule's own list) never count as a shared company domain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rapidfuzz import fuzz

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
MAX_NAME_GROUP = 200  # larger groups of one person name are compared through the company blocks only
MAX_BLOCK = 250  # a company with more leads is split into blocks by name initials
SMALL_BLOCK = 12  # blocks up to this size are compared pair by pair, larger ones with cdist
CHECK_FUZZY_ROWS = 5000  # (id, name) rows the per-save check reads at most from its fuzzy blocks
CHECK_EXACT_ROWS = 200  # leads sharing an exact key that the per-save check looks at, at most
CHECK_CLOSE_NAMES = 50  # closest names of the fuzzy blocks that the per-save check looks at, at most
CHECK_MATCHES = 10  # matches the per-save check returns at most
EXACT_FIELDS = (("email_key", "email", "same email"), ("phone_key", "phone", "same phone"),
                ("profile_url_key", "profile_url", "same profile URL"))  # fmt: skip
RULE_FLAGS = {"email_key": "match_email", "phone_key": "match_phone", "profile_url_key": "match_profile_url"}
_SINGLE_LETTERS = re.compile(r"\b(?:[a-z] )+[a-z]\b")


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


def sorted_name(name_key: str) -> str:
    """The person name with its words sorted, so 'smith john' and 'john smith' compare equal."""
    return " ".join(sorted(name_key.split())) if name_key else ""


def initials(name_key: str) -> tuple[str, str]:
    words = name_key.split()
    if not words:
        return "", ""
    return words[0][0], words[-1][0]


def email_domain(email_key: str) -> str:
    return email_key.rsplit("@", 1)[1] if "@" in email_key else ""


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
    name: str = ""
    domain: str = ""

    @classmethod
    def build(cls, pk, email_key, phone_key, profile_url_key, company_key, name_key, custom=None, *, free=()):
        domain = email_domain(email_key)
        return cls(
            pk or 0, email_key, phone_key, profile_url_key, company_key, name_key, custom or {},
            company_core(company_key), sorted_name(name_key), "" if domain in free else domain,
        )  # fmt: skip


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
    """Similar person name at a similar company; or, for a lead without a person name, a similar
    company with the same corporate email domain. Never when an identifier contradicts it."""
    if not (a.core and b.core):
        return None
    company = 100.0 if a.core == b.core else fuzz.ratio(a.core, b.core, score_cutoff=rule.company_threshold)
    if not company:
        return None
    company_text = "same company" if company == 100 else f"company {_percent(company)}%"
    if a.name and b.name:
        if not rule.match_name_company:
            return None
        name = fuzz.ratio(a.name, b.name, score_cutoff=rule.name_threshold)
        if not name or contradiction(a, b):
            return None
        score = _percent((2 * name + company) / 3)
        return Reason("name_company", f"name {_percent(name)}% + {company_text}", min(score, 99))
    if rule.match_company_domain and a.domain and a.domain == b.domain and not contradiction(a, b, person=False):
        return Reason("company_domain", f"{company_text} + same email domain {a.domain}", min(_percent(company), 90))
    return None
