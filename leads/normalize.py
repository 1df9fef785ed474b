"""Normalised match keys: the stored, indexed forms used for search and duplicate detection."""

from __future__ import annotations

import csv
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import phonenumbers

LEGAL_SUFFIXES = frozenset(
    {
        "inc",
        "incorporated",
        "llc",
        "llp",
        "ltd",
        "limited",
        "plc",
        "corp",
        "corporation",
        "co",
        "company",
        "gmbh",
        "ag",
        "sa",
        "sas",
        "sarl",
        "srl",
        "spa",
        "bv",
        "nv",
        "oy",
        "ab",
        "as",
        "aps",
        "pty",
        "pvt",
        "kg",
        "kgaa",
        "ug",
        "se",
    }
)
_NON_WORD = re.compile(r"[^\w\s]", re.UNICODE)
_SPACES = re.compile(r"\s+")
_TRACKING_PARAMS = re.compile(r"^(utm_|fbclid|gclid|trk|ref|originalSubdomain)", re.IGNORECASE)


def fold(text: str) -> str:
    """Lower-case, strip accents and punctuation, collapse whitespace."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    ascii_text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", _NON_WORD.sub(" ", ascii_text.lower())).strip()


def email_key(email: str) -> str:
    return (email or "").strip().lower()


def email_domain(email: str) -> str:
    key = email_key(email)
    return key.rsplit("@", 1)[1] if "@" in key else ""


@lru_cache(maxsize=4096)
def phone_key(phone: str, default_country: str) -> str:
    """E.164 form of ``phone`` read in ``default_country``; '' when empty or not a valid number.
    Memoised: validating a lead and keying it read the same number twice, and parsing with
    phonenumbers is the dearest step of checking a lead (tens of microseconds)."""
    parsed = parse_phone(phone, default_country)
    if parsed is None:
        return ""
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def possible_phone(phone: str, default_country: str) -> str:
    """``phone`` in international format when it has a possible length and prefix for its country
    but is not in the numbering plan's ranges (unallocated, or a fiction range like +44 7700 900…);
    '' otherwise. Such a number is kept with a data-quality warning instead of being refused."""
    if not (phone or "").strip():
        return ""
    try:
        parsed = phonenumbers.parse(phone, (default_country or "US").upper())
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(parsed):
        return ""
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def parse_phone(phone: str, default_country: str):
    """The parsed number when it is valid for its country, else None."""
    if not (phone or "").strip():
        return None
    try:
        parsed = phonenumbers.parse(phone, (default_country or "US").upper())
    except phonenumbers.NumberParseException:
        return None
    return parsed if phonenumbers.is_valid_number(parsed) else None


def profile_url_key(url: str) -> str:
    """Canonical profile URL: https, no www/m., lower-case host and path, no query noise or slash."""
    url = (url or "").strip()
    if not url:
        return ""
    if "://" not in url:
        url = "https://" + url
    parts = urlsplit(url)
    host = parts.hostname or ""
    for prefix in ("www.", "m.", "mobile."):
        if host.startswith(prefix):
            host = host[len(prefix) :]
    path = parts.path.rstrip("/").lower()
    query = "&".join(
        pair for pair in parts.query.split("&") if pair and not _TRACKING_PARAMS.match(pair.split("=", 1)[0])
    )
    return urlunsplit(("https", host.lower(), path, query, ""))


def company_key(name: str) -> str:
    """Company name without punctuation, accents or legal suffixes: 'ACME, Inc.' → 'acme'."""
    words = fold(name).split()
    while len(words) > 1 and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    return " ".join(words)


def name_key(first_name: str, last_name: str) -> str:
    return fold(f"{first_name} {last_name}")


# --- countries -------------------------------------------------------------------------------------

COUNTRIES_CSV = Path(__file__).with_name("countries.csv")


def _country_key(name: str) -> str:
    """'The Netherlands', 'U.S.A.', 'Antigua & Barbuda' → 'netherlands', 'usa', 'antiguabarbuda'."""
    words = fold(name).split()
    if len(words) < 2:
        return "".join(words)  # a lone word is kept whole: 'AND' is Andorra's alpha-3 code
    if words[0] == "the":
        words = words[1:]
    return "".join(word for word in words if word != "and")


@lru_cache(maxsize=1)
def country_names() -> dict[str, str]:
    """Folded name → ISO code, for every code, alpha-3 code, name and variant in countries.csv."""
    with COUNTRIES_CSV.open(encoding="utf-8", newline="") as file:
        rows = csv.reader(line for line in file if not line.startswith("#"))
        return {_country_key(name): code for code, names in rows for name in (code, *names.split("|"))}


def country_code(value: str) -> str:
    """The ISO 3166-1 alpha-2 code of a country given by code, alpha-3 code, English name or a common
    variant ('Deutschland', 'UK', 'U.S.A.'), ignoring case and accents. Anything else comes back
    stripped and upper-cased, as it always did, so the field's own validation still reports it."""
    text = (value or "").strip()
    return country_names().get(_country_key(text), text.upper()) if text else ""
