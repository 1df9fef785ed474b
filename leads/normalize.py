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
    phonenumbers is the dearest step of checking a lead (tens of microseconds). A number written
    in international form takes a shorter road to the same answer (``_international_key``)."""
    quick = _international_key(phone)
    if quick is not None:
        return quick
    parsed = parse_phone(phone, default_country)
    if parsed is None:
        return ""
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


_INTERNATIONAL = re.compile(r"\+[1-9][0-9 ]{2,40}")
_NATIONAL_PREFIXES: dict[int, tuple] = {}


def _international_key(phone: str) -> str | None:
    """``phone_key`` of a number written as "+", the country code and the number, in ASCII digits
    and spaces (most numbers in imported files and forms), without ``phonenumbers.parse``: the
    country code is the shortest known one it starts with (as the library reads it), and the rest
    is the national number when nothing there could be a national prefix, a leading zero or a
    length the library refuses. None: anything else, left to the library
    (``test_phone_validity`` holds both roads to the same answers)."""
    text = phone.strip() if phone else ""
    if not _INTERNATIONAL.fullmatch(text):
        return None
    digits = text[1:].replace(" ", "")
    for width in (1, 2, 3):
        code = int(digits[:width])
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code)
        if regions:
            break
    else:
        return None
    nsn = digits[width:]
    if not 2 <= len(nsn) <= 17 or nsn[0] == "0":
        return None
    metadata = _Metadata.metadata_for_region_or_calling_code(code, regions[0].upper())
    if metadata is None:
        return None
    prefix = _NATIONAL_PREFIXES.get(code)
    if prefix is None or prefix[0] is not metadata:
        pattern = metadata.national_prefix_for_parsing
        prefix = _NATIONAL_PREFIXES[code] = (metadata, re.compile(pattern).match if pattern else None)
    if prefix[1] is not None and prefix[1](nsn) is not None:
        return None
    return f"+{code}{nsn}" if _valid_nsn(code, nsn) else ""


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
    return parsed if is_valid_number(parsed) else None


# --- phone validity: phonenumbers' verdict at half its cost -------------------------------------
# ``phonenumbers.is_valid_number`` finds the number's region by matching its type patterns, then
# matches them all again for that region, in an order where the common types (fixed line, mobile)
# come last: about eleven regular expressions twice for a British mobile. Validity only asks whether
# ANY type matches, so the functions below match each region's patterns once, common types first,
# with the patterns compiled once. Same verdict for every number (``test_phone_validity``).

_UNKNOWN = phonenumbers.PhoneNumberType.UNKNOWN
_TYPES = ("fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "voip", "personal_number", "pager",
          "uan", "voicemail")  # fmt: skip
_Metadata = phonenumbers.PhoneMetadata
_compiled: dict[int, tuple] = {}


def _matcher(desc):
    """(lengths or None, fullmatch) of a ``PhoneNumberDesc``; None when it matches nothing."""
    if desc is None or not desc.national_number_pattern:
        return None
    return (frozenset(desc.possible_length) or None, re.compile(desc.national_number_pattern).fullmatch)


def _plan(metadata) -> tuple:
    """The metadata's general matcher and its type matchers, compiled once (keyed by identity: the
    library keeps one metadata object per region for the life of the process)."""
    found = _compiled.get(id(metadata))
    if found is None or found[0] is not metadata:
        types = tuple(m for m in (_matcher(getattr(metadata, name)) for name in _TYPES) if m is not None)
        found = _compiled[id(metadata)] = (metadata, _matcher(metadata.general_desc), types)
    return found[1], found[2]


def _matches(nsn: str, matcher) -> bool:
    lengths, fullmatch = matcher
    return (lengths is None or len(nsn) in lengths) and fullmatch(nsn) is not None


def _has_type(nsn: str, metadata) -> bool:
    """``phonenumbers._number_type_helper(nsn, metadata) != UNKNOWN``."""
    general, types = _plan(metadata)
    return general is not None and _matches(nsn, general) and any(_matches(nsn, m) for m in types)


def is_valid_number(parsed) -> bool:
    """``phonenumbers.is_valid_number(parsed)``, matching each candidate region's patterns once."""
    return _valid_nsn(parsed.country_code, phonenumbers.national_significant_number(parsed))


def _valid_nsn(code: int, nsn: str) -> bool:
    """``is_valid_number`` of the number with country code ``code`` and national significant number ``nsn``."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code)
    if not regions:
        return False
    if len(regions) == 1:
        region = regions[0]
        metadata = _Metadata.metadata_for_region_or_calling_code(code, region.upper())
        if metadata is None or (
            region != phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY and metadata.country_code != code
        ):
            return False
        return _has_type(nsn, metadata)
    for region in regions:  # the library's region search; a region found by its patterns is valid
        metadata = _Metadata.metadata_for_region(region.upper(), None)
        if metadata is None:
            continue
        if metadata.leading_digits is not None:
            if re.match(metadata.leading_digits, nsn):
                return metadata.country_code == code and _has_type(nsn, metadata)
        elif _has_type(nsn, metadata):
            return metadata.country_code == code
    return False


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


@lru_cache(maxsize=4096)
def country_code(value: str) -> str:
    """The ISO 3166-1 alpha-2 code of a country given by code, alpha-3 code, English name or a common
    variant ('Deutschland', 'UK', 'U.S.A.'), ignoring case and accents. Anything else comes back
    stripped and upper-cased, as it always did, so the field's own validation still reports it."""
    text = (value or "").strip()
    return country_names().get(_country_key(text), text.upper()) if text else ""
