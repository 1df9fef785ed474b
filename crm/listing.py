"""The lead list's sort and keyset machinery for any model: a ``Listing`` is a set of sort keys
plus a default sort, and gives multi-key sorting, keyset pages (no OFFSET at any depth), sort links
and query strings exactly as the lead list does.

The building blocks (``SortKey``, cursors, the row-value seek, ``Page``, page sizes, capped counts)
are the lead list's own, imported from ``leads.listing`` rather than copied; what is generalised
here is only what names the lead's sort keys. Moving the blocks into this module (and making
``leads.listing`` a ``Listing`` of lead keys) is the natural next step.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db.models import F, QuerySet
from django.http import QueryDict

from leads.listing import (  # noqa: F401 — re-exported for other lists
    PER_PAGE_CHOICES,
    Page,
    SortKey,
    SortLink,
    capped_count,
    check_page_param,
    per_page_of,
)
from leads.listing import _decode as decode_cursor
from leads.listing import _encode as encode_cursor
from leads.listing import _parse_value as parse_lead_cursor_value
from leads.listing import _seek as seek
from leads.listing import _value_of as lead_cursor_value

BROKEN_CURSOR = "This page link is broken; start again from the first page."


def cursor_value(row, key: SortKey):
    """A row's sort value as JSON for a cursor; ``date`` and ``decimal`` keys travel as text."""
    value = getattr(row, key.alias)
    if key.kind in ("date", "decimal") and value is not None:
        return str(value) if key.kind == "decimal" else value.isoformat()
    return lead_cursor_value(row, key)


def parse_cursor_value(key: SortKey, raw):
    if key.kind not in ("date", "decimal"):
        return parse_lead_cursor_value(key, raw)
    try:
        if not isinstance(raw, str):
            raise TypeError
        value = dt.date.fromisoformat(raw) if key.kind == "date" else Decimal(raw)
    except (TypeError, ValueError, InvalidOperation):
        raise ValidationError({"cursor": BROKEN_CURSOR}) from None
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValidationError({"cursor": BROKEN_CURSOR})
    return value


CONTROL_PARAMS = frozenset({"cursor", "per_page", "sort", "page", "csrfmiddlewaretoken", "format"})
MAX_SORT_KEYS = 4


@dataclass(frozen=True)
class Listing:
    sort_keys: dict[str, list[SortKey]]
    default_sort: str

    def parse_sort(self, spec: str) -> list[tuple[str, bool]]:
        """``"-amount,name"`` → [("amount", True), ("name", False)]; unknown or repeated keys are errors."""
        spec = (spec or "").strip() or self.default_sort
        parsed, seen = [], set()
        for part in spec.split(","):
            part = part.strip()
            key = part.lstrip("-")
            if key not in self.sort_keys:
                raise ValidationError({"sort": f"Unknown sort key '{key}'. Use one of: {', '.join(self.sort_keys)}."})
            if key in seen:
                raise ValidationError({"sort": f"Sort key '{key}' is given twice."})
            seen.add(key)
            parsed.append((key, part.startswith("-")))
        if len(parsed) > MAX_SORT_KEYS:
            raise ValidationError({"sort": f"Sort by at most {MAX_SORT_KEYS} columns."})
        return parsed

    def columns(self, sort: list[tuple[str, bool]]) -> list[tuple[SortKey, bool]]:
        columns = [(k, desc) for key, desc in sort for k in self.sort_keys[key]]
        columns.append((SortKey("id", "id", F("id"), "int"), sort[-1][1]))  # stable: ties broken by id
        return columns

    def sorted(self, queryset: QuerySet, sort: list[tuple[str, bool]]) -> QuerySet:
        columns = self.columns(sort)
        annotations = {k.alias: k.expression for k, _ in columns if k.alias != "id"}
        return queryset.annotate(**annotations).order_by(*(f"-{k.alias}" if d else k.alias for k, d in columns))

    def paginate(self, queryset: QuerySet, sort: list[tuple[str, bool]], *, cursor: str | None, per_page: int) -> Page:
        """One page by keyset; ``cursor`` comes from a previous page's ``next_cursor``/``prev_cursor``."""
        columns = self.columns(sort)
        ordered = self.sorted(queryset, sort)
        number, forward = 1, True
        if cursor:
            payload = decode_cursor(cursor)
            if len(payload["v"]) != len(columns) or payload.get("d") not in ("n", "p"):
                raise ValidationError({"cursor": "This page link belongs to another sort order; start again."})
            values = [parse_cursor_value(key, raw) for (key, _), raw in zip(columns, payload["v"], strict=True)]
            number = int(payload.get("p", 1)) if str(payload.get("p", 1)).isdecimal() else 1
            forward = payload["d"] == "n"
            ordered = ordered.filter(seek(columns, values, forward))
            if not forward:
                ordered = ordered.reverse()
        rows = list(ordered[: per_page + 1])
        more = len(rows) > per_page
        rows = rows[:per_page]
        if not forward:
            rows.reverse()
        page = Page(rows=rows, number=max(number, 1), per_page=per_page, columns=columns)
        if rows:
            if more or not forward:
                page.next_cursor = encode_cursor(
                    {"v": [cursor_value(rows[-1], k) for k, _ in columns], "d": "n", "p": page.number + 1}
                )
            if page.number > 1 and (more or forward):
                page.prev_cursor = encode_cursor(
                    {"v": [cursor_value(rows[0], k) for k, _ in columns], "d": "p", "p": page.number - 1}
                )
        return page

    def sort_links(self, sort: list[tuple[str, bool]]) -> list[SortLink]:
        """One link per column: clicking puts the column first (flipped if it already leads)."""
        current, order = dict(sort), [key for key, _ in sort]
        links = []
        for key, keys in self.sort_keys.items():
            descending = current.get(key)
            direction = "" if descending is None else ("desc" if descending else "asc")
            first = f"{'' if descending else '-'}{key}" if descending is not None else f"-{key}"
            others = [f"{'-' if d else ''}{k}" for k, d in sort if k != key]
            position = order.index(key) + 1 if key in order else 0
            toggle = ",".join([first, *others][:MAX_SORT_KEYS])
            add = ",".join([*others, f"-{key}"][:MAX_SORT_KEYS])
            links.append(SortLink(key, keys[0].label, direction, position, toggle, add))
        return links

    def query_string(self, params: QueryDict, sort_spec: str, **extra) -> str:
        data = params.copy()
        if sort_spec and sort_spec != self.default_sort:
            data["sort"] = sort_spec
        for key, value in extra.items():
            data[key] = value
        return data.urlencode()


def filter_params(get: QueryDict) -> QueryDict:
    """The request's parameters without the list's own controls (cursor, sort, page size, …)."""
    params = QueryDict(mutable=True)
    for name in get:
        if name not in CONTROL_PARAMS:
            params.setlist(name, get.getlist(name))
    return params
