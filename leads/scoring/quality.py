"""Data-quality signals of a lead: real checks on its contact details, names and attribution.

``check(lead)`` is pure (no query, no network) so it runs on every write and again when a page
explains a lead. Each failed check is a ``Signal`` with a reason a person can read and the spam
points it adds; ``validation_status`` is the worst severity found:

* ``invalid`` — the lead cannot be reached as given (bad email syntax, a domain that cannot
  receive mail, a phone number impossible for its country, no contact at all);
* ``suspect`` — reachable, but probably not a real prospect (disposable or role address,
  placeholder or gibberish name, missing attribution, a likely typo of a big mail provider);
* ``valid`` — none of the above.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, validate_email

from leads import normalize

INVALID, SUSPECT, VALID = "invalid", "suspect", "valid"

# Domains of throwaway inboxes (the common public services; extend as spam is reviewed).
DISPOSABLE_DOMAINS = frozenset(
    [
        "mailinator.com",
        "mailinator.net",
        "guerrillamail.com",
        "guerrillamail.net",
        "guerrillamail.org",
        "sharklasers.com",
        "grr.la",
        "10minutemail.com",
        "10minutemail.net",
        "20minutemail.com",
        "tempmail.com",
        "temp-mail.org",
        "temp-mail.io",
        "tempmail.net",
        "tempmailo.com",
        "tempr.email",
        "throwawaymail.com",
        "yopmail.com",
        "yopmail.fr",
        "yopmail.net",
        "trashmail.com",
        "trashmail.de",
        "trashmail.net",
        "dispostable.com",
        "getnada.com",
        "nada.email",
        "maildrop.cc",
        "mailnesia.com",
        "mintemail.com",
        "mohmal.com",
        "fakeinbox.com",
        "fakemail.net",
        "emailondeck.com",
        "spamgourmet.com",
        "spambox.us",
        "spam4.me",
        "mailcatch.com",
        "mytemp.email",
        "tempinbox.com",
        "burnermail.io",
        "discard.email",
        "mailpoof.com",
        "moakt.com",
        "inboxkitten.com",
        "getairmail.com",
        "33mail.com",
        "anonbox.net",
        "owlymail.com",
        "email-fake.com",
        "fake-mail.net",
        "crazymailing.com",
        "tempail.com",
        "emailtemporanea.net",
        "mvrht.net",
        "jetable.org",
        "mail-temp.com",
        "spamdecoy.net",
        "trbvm.com",
        "byom.de",
        "wegwerfmail.de",
        "einrot.com",
    ]
)
# Role mailboxes reach a team, not a person; the first group never reaches anybody.
NO_REPLY_LOCALS = frozenset({"noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "mailer-daemon"})
ROLE_LOCALS = frozenset(
    [
        "info",
        "admin",
        "administrator",
        "sales",
        "support",
        "contact",
        "hello",
        "office",
        "team",
        "marketing",
        "billing",
        "accounts",
        "hr",
        "jobs",
        "careers",
        "enquiries",
        "inquiries",
        "help",
        "webmaster",
        "postmaster",
        "hostmaster",
        "abuse",
        "root",
        "service",
        "press",
        "media",
    ]
)
# Reserved for documentation and testing (RFC 2606 / 6761): never a real inbox.
RESERVED_TLDS = frozenset({"test", "example", "invalid", "localhost", "local", "lan", "internal"})
PLACEHOLDER_DOMAINS = frozenset({"example.com", "example.net", "example.org", "test.com", "domain.com", "email.com"})
# A few misspellings of big providers that real people make.
TYPO_DOMAINS = {
    "gmial.com": "gmail.com", "gmai.com": "gmail.com", "gmail.co": "gmail.com", "gamil.com": "gmail.com",
    "gnail.com": "gmail.com", "gmail.con": "gmail.com", "hotmial.com": "hotmail.com", "hotmail.co": "hotmail.com",
    "hotmal.com": "hotmail.com", "yahooo.com": "yahoo.com", "yaho.com": "yahoo.com", "outlok.com": "outlook.com",
    "outllook.com": "outlook.com", "iclod.com": "icloud.com",
}  # fmt: skip
PLACEHOLDER_NAMES = frozenset(
    [
        "test",
        "tester",
        "testing",
        "asdf",
        "asd",
        "qwerty",
        "foo",
        "bar",
        "baz",
        "fake",
        "none",
        "null",
        "nil",
        "na",
        "n/a",
        "unknown",
        "xxx",
        "xx",
        "x",
        "abc",
        "sample",
        "dummy",
        "demo",
        "firstname",
        "lastname",
        "first",
        "last",
        "name",
        "noname",
        "anonymous",
        "anon",
        "user",
        "customer",
        "lead",
    ]
)
PLACEHOLDER_FULL_NAMES = frozenset({"john doe", "jane doe", "john smith test", "mickey mouse", "donald duck"})
PLACEHOLDER_SOURCES = frozenset({"unknown", "n/a", "na", "none", "test", "-", "?", "other"})
KEYBOARD_RUNS = ("qwert", "werty", "asdf", "sdfg", "zxcv", "hjkl", "yxcv", "qwertz", "azerty", "1234")
_CONSONANT_RUN = re.compile(r"[bcdfghjklmnpqrstvwxz]{6,}")
_REPEATED = re.compile(r"(.)\1{3,}")
_LATIN_WORD = re.compile(r"^[a-z]+$")
_EMAIL_USER = re.compile(EmailValidator.user_regex.pattern, EmailValidator.user_regex.flags)
_EMAIL_DOMAIN = re.compile(EmailValidator.domain_regex.pattern, EmailValidator.domain_regex.flags)
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class Signal:
    code: str
    text: str
    points: int
    severity: str  # INVALID or SUSPECT


@dataclass
class Quality:
    signals: list[Signal] = field(default_factory=list)

    @property
    def spam_score(self) -> int:
        return min(100, sum(s.points for s in self.signals))

    @property
    def validation_status(self) -> str:
        severities = {s.severity for s in self.signals}
        if INVALID in severities:
            return INVALID
        return SUSPECT if SUSPECT in severities else VALID

    @property
    def reasons(self) -> list[str]:
        return [s.text for s in self.signals]


def check(lead) -> Quality:
    """Every data-quality signal of ``lead`` (any object with the Lead's fields)."""
    quality = Quality()
    email = (lead.email or "").strip().lower()
    if email:
        quality.signals.extend(_email_signals(email))
    if (lead.phone or "").strip() and not _phone_is_valid(lead):
        quality.signals.append(
            Signal(
                "phone_invalid",
                f"The phone number is not in use in {lead.country or 'its country'}: check it.",
                25,
                SUSPECT,
            )
        )
    if not (email or (lead.phone or "").strip() or (lead.profile_url or "").strip()):
        quality.signals.append(Signal("no_contact", "There is no way to reach the lead.", 40, INVALID))
    quality.signals.extend(_name_signals(lead.first_name or "", lead.last_name or ""))
    quality.signals.extend(_attribution_signals(lead))
    return quality


def _phone_is_valid(lead) -> bool:
    """The stored E.164 key says it without parsing again (the services refresh it before scoring)."""
    key = getattr(lead, "phone_key", None)
    if key is not None:
        return bool(key)
    return normalize.parse_phone(lead.phone, lead.country) is not None


def _email_is_valid(email: str) -> bool:
    """Django's validator, with its two regular expressions tried first (already compiled): most
    addresses pass there, and the rest get the full check (IDN domains, address literals)."""
    user, _, domain = email.rpartition("@")
    if user and _EMAIL_USER.match(user) and _EMAIL_DOMAIN.match(domain):
        return True
    try:
        validate_email(email)
    except ValidationError:
        return False
    return True


def _email_signals(email: str) -> list[Signal]:
    if not _email_is_valid(email):
        return [Signal("email_syntax", f"“{email}” is not a valid email address.", 45, INVALID)]
    local, domain = email.rsplit("@", 1)
    signals = list(_domain_signals(domain))
    base = local.split("+", 1)[0]
    if base in NO_REPLY_LOCALS:
        signals.append(Signal("email_noreply", f"{local}@ is a no-reply address: nobody reads it.", 40, SUSPECT))
    elif base in ROLE_LOCALS:
        signals.append(Signal("email_role", f"{local}@ is a role address, not a person.", 15, SUSPECT))
    return signals


@lru_cache(maxsize=16384)
def _domain_signals(domain: str) -> tuple[Signal, ...]:
    """The signals of an email domain (a company's leads share a few thousand domains)."""
    signals = []
    problem = domain_problem(domain)
    if problem:
        signals.append(Signal("email_domain", f"The email domain {domain} {problem}.", 40, INVALID))
    elif domain in PLACEHOLDER_DOMAINS:
        signals.append(Signal("email_placeholder", f"{domain} is a placeholder domain.", 20, SUSPECT))
    elif domain in TYPO_DOMAINS:
        signals.append(Signal("email_typo", f"{domain} looks like a typo of {TYPO_DOMAINS[domain]}.", 25, SUSPECT))
    if domain in DISPOSABLE_DOMAINS:
        signals.append(Signal("email_disposable", f"{domain} gives out disposable addresses.", 50, SUSPECT))
    return tuple(signals)


def domain_problem(domain: str) -> str:
    """Why ``domain`` cannot receive mail as written ('' when it looks deliverable). No DNS: the
    app runs without network access, so this checks the shape, not the MX records."""
    if domain.startswith("[") or re.fullmatch(r"[\d.]+", domain):
        return "is an IP address, not a mail domain"
    labels = domain.split(".")
    if len(labels) < 2:
        return "has no top-level domain"
    tld = labels[-1]
    if tld in RESERVED_TLDS:
        return f"uses the reserved .{tld} top-level domain"
    if not (tld.isalpha() or tld.startswith("xn--")) or len(tld) < 2:
        return f"has an impossible top-level domain .{tld}"
    if not all(_LABEL.match(label) for label in labels):
        return "is not a valid host name"
    return ""


@lru_cache(maxsize=65536)
def _name_signals(first: str, last: str) -> tuple[Signal, ...]:
    # Names repeat a lot (and Signals are immutable): rescoring a million leads checks each once.
    return tuple(_name_problems(first, last))


def _name_problems(first: str, last: str) -> list[Signal]:
    first_key, first_placeholder, first_digits, first_gibberish = _name_part(first)
    last_key, last_placeholder, last_digits, last_gibberish = _name_part(last)
    full = f"{first_key} {last_key}".strip()
    if not full:
        return []
    shown = f"{first} {last}".strip()
    if full in PLACEHOLDER_FULL_NAMES or first_placeholder or last_placeholder:
        return [Signal("name_placeholder", f"“{shown}” looks like a placeholder name.", 30, SUSPECT)]
    if first_key and first_key == last_key and len(first_key) > 1:
        return [Signal("name_repeated", "First and last name are the same.", 20, SUSPECT)]
    if first_digits or last_digits:
        return [Signal("name_digits", "The name contains digits or a web address.", 25, SUSPECT)]
    if first_gibberish or last_gibberish:
        return [Signal("name_gibberish", f"“{shown}” looks like keyboard mashing.", 30, SUSPECT)]
    return []


@lru_cache(maxsize=65536)
def _name_part(name: str) -> tuple[str, bool, bool, bool]:
    """(folded, a placeholder, digits or a web address, keyboard mashing) of a first or a last name:
    names repeat far more than pairs of them, so a million leads fold a few thousand words."""
    key = normalize.fold(name)
    words = key.split()
    return (
        key,
        key in PLACEHOLDER_NAMES,
        any(ch.isdigit() for ch in key) or "http" in key or "www" in words,
        any(_is_gibberish(word) for word in words),
    )


@lru_cache(maxsize=65536)
def _is_gibberish(word: str) -> bool:
    """Latin-alphabet words only: other scripts are never judged."""
    if not _LATIN_WORD.match(word) or len(word) < 4:
        return False
    if _REPEATED.search(word) or _CONSONANT_RUN.search(word):
        return True
    if any(run in word for run in KEYBOARD_RUNS):
        return True
    vowels = sum(ch in "aeiouy" for ch in word)
    return len(word) >= 6 and vowels == 0


def _attribution_signals(lead) -> list[Signal]:
    signals = []
    source = (lead.lead_source or "").strip().lower()
    if not source or source in PLACEHOLDER_SOURCES:
        signals.append(Signal("no_source", "The lead source is missing or unknown.", 15, SUSPECT))
    if getattr(lead, "campaign_id", None) is None:
        signals.append(Signal("no_campaign", "The lead has no campaign.", 15, SUSPECT))
    return signals
