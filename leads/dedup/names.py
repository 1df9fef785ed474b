"""Person names for duplicate matching: first names in their usual form (Bob → Robert, from
``nicknames.csv``), a sound-alike code per word for blocking, and how alike two names are.

Everything here reads a lead's stored ``name_key`` (folded "first last", see ``leads.keys``); the
results depend only on that string and are memoised, because names repeat across leads.
"""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from itertools import product
from pathlib import Path
from typing import NamedTuple

from rapidfuzz import fuzz

NICKNAMES_CSV = Path(__file__).with_name("nicknames.csv")
# Words of a surname that say nothing about which family it is ("van den Berg", "da Silva", the
# "O" of "O'Brien" once folded).
PARTICLES = frozenset({"de", "del", "della", "der", "den", "van", "von", "da", "das", "dos", "di", "du", "la", "le",
                       "mac", "mc", "st", "al", "el", "bin", "ibn", "ben", "o", "d", "l"})  # fmt: skip
# What a name that is only partly known (an initial, one of two names) can be worth at most: alike
# enough to pass the default threshold (88) with other evidence, never as sure as a whole name.
PARTIAL_CAP = 90
MAX_VARIANTS = 64  # spellings of one name the per-save check looks up at most


# --- first names in their usual form ---------------------------------------------------------------


@lru_cache(maxsize=1)
def nicknames() -> dict[str, tuple[str, ...]]:
    """Nickname or variant spelling → the usual forms it may stand for ('bob' → ('robert',);
    'pat' → ('patricia', 'patrick'))."""
    found: dict[str, list[str]] = {}
    with NICKNAMES_CSV.open(encoding="utf-8", newline="") as file:
        for name, variants in csv.reader(line for line in file if line.strip() and not line.startswith("#")):
            for variant in filter(None, variants.split("|")):
                found.setdefault(variant, []).append(name)
    return {variant: tuple(names) for variant, names in found.items()}


@lru_cache(maxsize=1)
def spellings() -> dict[str, tuple[str, ...]]:
    """Usual form → itself and every nickname of it."""
    found: dict[str, list[str]] = {}
    for variant, names in nicknames().items():
        for name in names:
            found.setdefault(name, [name]).append(variant)
    return {name: tuple(variants) for name, variants in found.items()}


def usual(word: str) -> str:
    """The word's usual form (the first, for a nickname of several names)."""
    forms = nicknames().get(word)
    return forms[0] if forms else word


def _usual_near(word: str, others: list[str]) -> str:
    """The usual form of ``word`` closest to one of ``others`` ('pat' beside 'patrick' → 'patrick')."""
    forms = nicknames().get(word)
    if not forms or len(forms) == 1:
        return forms[0] if forms else word
    return max(forms, key=lambda form: max(fuzz.ratio(form, other) for other in others))


def _ordered(words) -> str:
    """Words in a fixed order, by their sound first, so that a swap of first and last name costs
    nothing and a slip in a word's first letter ('Odams' for 'Adams') rarely moves it."""
    return " ".join(sorted(words, key=lambda word: (sound(word), word)))


@lru_cache(maxsize=262144)
def canonical(name_key: str) -> str:
    """The name with nicknames in their usual form, words in a fixed order: 'smith bob', 'Bob
    Smith' and 'Robert Smith' all give 'robert smith' (what blocks compare)."""
    return _ordered(usual(word) for word in name_key.split())


@lru_cache(maxsize=262144)
def as_typed(name_key: str) -> str:
    """The name's words as typed, in the same fixed order (compared too when a nickname's usual form
    hides a slip: 'Bn' is closer to 'Ben' than to 'Benjamin')."""
    return _ordered(name_key.split())


# --- sound-alike codes -----------------------------------------------------------------------------

_START = (("kn", "n"), ("gn", "n"), ("pn", "n"), ("wr", "r"), ("ps", "s"), ("wh", "w"), ("x", "s"))
_DIGRAPHS = re.compile(r"tch|sch|ph|ck|gh|th|dg|sh|ch|c(?=[eiy])|g(?=[eiy])|[^a-z]")
_DIGRAPH_SOUNDS = {"tch": "k", "sch": "sk", "ph": "f", "ck": "k", "gh": "g", "th": "t", "dg": "j", "sh": "s",
                   "ch": "k", "c": "s", "g": "j"}  # fmt: skip
_LETTERS = str.maketrans("cdgqvxzw", "ktkkfssw")
_SILENT = re.compile(r"[aeiouyhw]")


@lru_cache(maxsize=65536)
def sound(word: str) -> str:
    """A short code for how a word sounds, for blocking: spelling variants and most one-letter slips
    share it ('Smith', 'Smyth', 'Smtih' → 'SMT'; 'Steven', 'Stephen' → 'STFN'; 'Catherine',
    'Katherine' → 'KTRN'). Consonants only (after the first letter), doubled ones once, at most five."""
    word = word.lower()
    for prefix, replacement in _START:
        if word.startswith(prefix):
            word = replacement + word[len(prefix) :]
            break
    word = _DIGRAPHS.sub(lambda m: _DIGRAPH_SOUNDS.get(m.group(0), ""), word).translate(_LETTERS)
    if not word:
        return ""
    first = "A" if word[0] in "aeiouy" else word[0].upper()
    rest = _SILENT.sub("", word[1:]).upper()
    code = first
    for letter in rest:
        if letter != code[-1]:
            code += letter
    return code[:5]


@lru_cache(maxsize=262144)
def sounds(name_key: str) -> tuple[str, ...]:
    """The sound codes of the name's words that can block (nicknames in their usual form, no
    initials or particles), each once, sorted."""
    words = {usual(word) for word in name_key.split() if len(word) > 1 and word not in PARTICLES}
    return tuple(sorted({sound(word) for word in words} - {""}))


# --- how alike two names are -----------------------------------------------------------------------


class NameMatch(NamedTuple):
    similarity: float  # 0–100
    note: str  # what made them alike: '', 'first and last swapped', 'Bob = Robert', 'initial J', …


def _ratio(a: list[str], b: list[str]) -> float:
    return fuzz.ratio(" ".join(a), " ".join(b))


def _nickname_note(a: list[str], b: list[str]) -> str:
    """'Bob = Robert': the nickname first, the usual form second, whichever name has which (the
    note is the same both ways round)."""
    for x, y in product(a, b):
        if x != y and len(x) > 1 and len(y) > 1 and _usual_near(x, [y]) == _usual_near(y, [x]):
            short, full = sorted((x, y), key=lambda word: (usual(word) == word, len(word), word))
            return f"{short.title()} = {full.title()}"
    return ""


def _fill_initials(a: list[str], b: list[str]) -> list[str] | None:
    """``a`` with each initial replaced by the word of ``b`` it abbreviates; None when ``a`` has no
    initial or one that abbreviates nothing in ``b``."""
    if all(len(word) > 1 or word in PARTICLES for word in a):
        return None
    filled = []
    for word in a:
        if len(word) == 1 and word not in PARTICLES:
            word = next((other for other in b if len(other) > 1 and other[0] == word), "")
            if not word:
                return None
        filled.append(word)
    return filled


def _best_order(a: list[str], b: list[str]) -> NameMatch:
    """As typed, or with first and last name swapped (or any order, for longer names)."""
    straight = _ratio(a, b)
    if len(b) < 2:
        return NameMatch(straight, "")
    if len(b) == 2:
        swapped, note = _ratio(a, [b[1], b[0]]), "first and last swapped"
    else:
        swapped, note = fuzz.token_sort_ratio(" ".join(a), " ".join(b)), "names in another order"
    if swapped > straight + 5:
        return NameMatch(swapped, note)
    return NameMatch(max(straight, swapped), "")


@lru_cache(maxsize=65536)
def name_similarity(a: str, b: str) -> NameMatch:
    """How alike two persons' name keys are, and why: the better of the names as typed and with
    nicknames in their usual form; a swap of first and last name costs nothing; an initial or a
    single known name is worth at most ``PARTIAL_CAP``. The same both ways round."""
    if a > b:
        return name_similarity(b, a)
    raw_a, raw_b = a.split(), b.split()
    if not raw_a or not raw_b:
        return NameMatch(0.0, "")
    typed = _best_order(raw_a, raw_b)
    words_a, words_b = [_usual_near(word, raw_b) for word in raw_a], [_usual_near(word, raw_a) for word in raw_b]
    match = _best_order(words_a, words_b)
    if match.similarity > typed.similarity:
        nickname = _nickname_note(raw_a, raw_b)
        match = NameMatch(match.similarity, ", ".join(filter(None, (match.note, nickname))))
    else:
        match = typed
    partly = _partial(words_a, words_b)
    if partly is not None and partly.similarity > match.similarity:
        match = partly
    return match


def _partial(a: list[str], b: list[str]) -> NameMatch | None:
    """An initial for a name ('J Smith' ~ 'John Smith') or one name of two ('Smith' ~ 'John Smith')."""
    for this, other in ((a, b), (b, a)):
        filled = _fill_initials(this, other)
        if filled is not None:
            match = _best_order(filled, other)
            initial = next(word for word in this if len(word) == 1 and word not in PARTICLES)
            return NameMatch(min(match.similarity, PARTIAL_CAP), f"initial {initial.upper()}")
    if (len(a) == 1) != (len(b) == 1):
        single, words = (a[0], b) if len(a) == 1 else (b[0], a)
        best = max(fuzz.ratio(single, word) for word in words)
        return NameMatch(min(best, PARTIAL_CAP), "one name only")
    return None


@lru_cache(maxsize=262144)
def word_by_word(name_key: str) -> bool:
    """Whether comparing the name whole with others says too little, so that it needs a look word
    by word: a name known only in part (an initial, a single word) or holding a nickname of several
    names ('Pat': Patricia or Patrick)."""
    words = name_key.split()
    if len(words) == 1:
        return True
    nicks = nicknames()
    return any((len(word) == 1 and word not in PARTICLES) or len(nicks.get(word, ())) > 1 for word in words)


@lru_cache(maxsize=262144)
def nicknamed(name_key: str) -> bool:
    """Whether a word of the name has another usual form (then it is compared as typed too)."""
    nicks = nicknames()
    return any(word in nicks for word in name_key.split())


def _spelled(word: str) -> tuple[str, ...]:
    """The word and every spelling of the names it may stand for ('bob': bob, robert, rob, …)."""
    known = spellings()
    forms = nicknames().get(word, (word,))
    return tuple(dict.fromkeys((word, *(spelling for form in forms for spelling in known.get(form, (form,))))))


def word_forms(name_key: str) -> set[str]:
    """Every spelling of every word of the name."""
    return {spelling for word in name_key.split() for spelling in _spelled(word)}


def name_variants(name_key: str) -> list[str]:
    """The name keys under which the same person may be stored: the words in either order (first and
    last swapped), each first name as any of its nicknames (at most ``MAX_VARIANTS``)."""
    words = name_key.split()
    if not words:
        return []
    choices = [_spelled(word) for word in words]
    found = dict.fromkeys([name_key])
    for spelled in product(*choices):
        found[" ".join(spelled)] = None
        if len(spelled) == 2:
            found[f"{spelled[1]} {spelled[0]}"] = None
        if len(found) >= MAX_VARIANTS:
            break
    return list(found)[:MAX_VARIANTS]


# --- email addresses ---------------------------------------------------------------------------------


def email_name(email_key: str) -> str:
    """The mailbox part of a (lower-case) address without dots, dashes or a '+tag':
    'john.smith+crm@x' → 'johnsmith' (the same person's addresses at two domains often share it);
    '' when too short to mean anything."""
    local, at, _ = email_key.partition("@")
    local = local.partition("+")[0].replace(".", "").replace("_", "").replace("-", "")
    return local if at and len(local) >= 4 else ""
