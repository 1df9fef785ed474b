"""A lead's match keys: the stored, indexed forms of its identifiers that search and duplicate
detection compare (``Lead.email_key`` … ``Lead.name_key``).

One function computes them for every writer, so that a key found by the duplicate check is the key
stored by any door: the services (create, edit and the import through ``lead_prepare``), merge and
unmerge, the check of a form's unsaved values and the synthetic-lead generator. How each identifier
is normalised is ``leads.normalize``'s business; which keys a lead has is this module's.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from leads import normalize


class MatchKeys(NamedTuple):
    """In the order of the lead's key columns (the generator writes them positionally)."""

    email_key: str
    phone_key: str
    profile_url_key: str
    company_key: str
    name_key: str


KEY_FIELDS = MatchKeys._fields

# Folding text (accents, punctuation) is the dear part of these keys, and companies and names repeat
# across the rows of an import or a generated load: remember the recent ones.
_company_key = lru_cache(maxsize=65536)(normalize.company_key)
_name_key = lru_cache(maxsize=65536)(normalize.name_key)


def match_keys(
    *,
    email: str = "",
    phone: str = "",
    country: str = "",
    profile_url: str = "",
    company_name: str = "",
    first_name: str = "",
    last_name: str = "",
    phone_key: str | None = None,
) -> MatchKeys:
    """The keys of a lead with these values; ``phone`` is read in ``country`` (ISO alpha-2).

    ``phone_key``: a caller that already holds the number's E.164 form passes it and skips the
    parse (the generator draws numbers from ranges that are valid by construction)."""
    return MatchKeys(
        normalize.email_key(email or ""),
        normalize.phone_key(phone or "", country or "") if phone_key is None else phone_key,
        normalize.profile_url_key(profile_url or ""),
        _company_key(company_name or ""),
        _name_key(first_name or "", last_name or ""),
    )


def lead_keys(lead) -> MatchKeys:
    """The keys of ``lead``'s current values (saved or not)."""
    return match_keys(
        email=lead.email,
        phone=lead.phone,
        country=lead.country,
        profile_url=lead.profile_url,
        company_name=lead.company_name,
        first_name=lead.first_name,
        last_name=lead.last_name,
    )


def apply_keys(lead) -> None:
    """Store on ``lead`` (in memory) the keys of its current values."""
    for name, value in zip(KEY_FIELDS, lead_keys(lead), strict=True):
        setattr(lead, name, value)
