"""How a planted duplicate differs from its original: the kinds of variation, their shares, and the
small text changes they are made of. ``LeadFaker.duplicate`` applies them."""

from __future__ import annotations

import random

from leads import normalize
from leads.generate.data import NICKNAMES

# kind → share of the planted duplicates (see the package docstring for what each one changes).
DUPLICATE_KINDS = (
    ("typo", 0.25),
    ("nickname", 0.15),
    ("swapped_names", 0.10),
    ("missing_fields", 0.15),
    ("other_contact", 0.20),
    ("company_suffix", 0.15),
)
KINDS = tuple(kind for kind, _share in DUPLICATE_KINDS)

_LATIN = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe", "ı": "i"})


def ascii_word(text: str) -> str:
    """Letters and digits fit for an e-mail address or a URL: 'Søren' → 'soren'."""
    return "".join(ch for ch in normalize.fold(text).translate(_LATIN) if ch.isascii() and ch.isalnum())


def typo(rng: random.Random, word: str) -> str:
    """One keyboard slip: two letters swapped, one dropped or one doubled (never the same word)."""
    if len(word) < 3:
        return word + word[-1]
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0 and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def nickname(rng: random.Random, first: str) -> str | None:
    """A short or familiar form of ``first`` ('Robert' → 'Bob'), or None when it has none."""
    forms = NICKNAMES.get(first)
    return rng.choice(forms) if forms else None


def recase(rng: random.Random, email: str) -> str:
    """The same address as someone else typed it: other case, stray spaces."""
    local, _, domain = email.partition("@")
    return rng.choice((f"{local.title()}@{domain.title()}", f" {email.upper()} ", f"{local.capitalize()}@{domain}  "))


def at_other_domain(rng: random.Random, email: str, work_domain: str, personal: tuple[str, ...]) -> str:
    """The same mailbox name at another domain: a personal address for a work one, the work
    address for a personal one."""
    local, _, domain = email.partition("@")
    if domain == work_domain:
        return f"{local}@{rng.choice(personal)}"
    return f"{local}@{work_domain}"
