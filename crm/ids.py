"""Ids as they arrive from outside (bodies, query strings, forms, URLs).

Ids are 64-bit signed integers: a value outside 1…2^63−1 can name no row, and some databases raise
(``OverflowError``) instead of finding nothing, so such a value is refused before any query.
"""

from __future__ import annotations

MAX_ID = 2**63 - 1
ID_MESSAGE = f"Give a valid id: a whole number from 1 to {MAX_ID}."


def is_valid_id(value) -> bool:
    """``value`` (an int or a string of digits) can be the id of a row."""
    if isinstance(value, str):
        value = value.strip()
        if not value.isdecimal() or len(value) > len(str(MAX_ID)):
            return False
        value = int(value)
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID
