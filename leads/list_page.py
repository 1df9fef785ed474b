"""What the lead list page shows around its rows: the active filters as removable chips, the
optional columns, the pager's page numbers and the bulk actions a role may run. Reads only what the
list has already fetched: no query of its own."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import QueryDict

from leads import bulk, listing
from leads.filters import LeadFilterSet

OPTIONAL_COLUMNS = {"email": "Email", "phone": "Phone"}
CHIP_FORMATS = {"score_min": "Score ≥ {value}", "score_max": "Score ≤ {value}"}


@dataclass(frozen=True)
class Chip:
    text: str  # "Status: Contacted"
    href: str  # the same list without this value


def keep_columns(params: QueryDict, get: QueryDict) -> list[str]:
    """The optional columns to show: the request's ``cols`` win over the view's, and stay in
    ``params`` so that every link of the page (sort, pages, chips, saved views) keeps them."""
    if "cols" in get:
        params.setlist("cols", get.getlist("cols"))
    wanted = {name.strip() for value in params.getlist("cols") for name in value.split(",")}
    columns = [name for name in OPTIONAL_COLUMNS if name in wanted]
    if columns:
        params.setlist("cols", columns)
    else:
        params.pop("cols", None)
    return columns


def _query(params: QueryDict, sort_spec: str) -> str:
    """``?…`` for these params; the sort is always explicit, so an emptied list does not fall back to
    the member's default view (which would bring the removed filter back)."""
    data = QueryDict(mutable=True)
    for name, values in params.lists():
        kept = [v for v in values if v]
        if kept:
            data.setlist(name, kept)
    data["sort"] = sort_spec
    return f"?{data.urlencode()}"


def _choice_labels(field) -> dict[str, str]:
    """value → label of a choice field. The choices are read once into a list that the widget
    then renders from, so a model choice field costs no second query."""
    if not hasattr(field.widget, "choices"):
        return {}
    field.widget.choices = list(iter(field.widget.choices))  # iter(): list() would ask len(), a COUNT
    return {str(value): str(label) for value, label in field.widget.choices}


def _chip_text(name: str, field, labels: dict[str, str], raw: str) -> str | None:
    key = field.widget.format_value(raw)[0] if labels else raw
    if key == "":  # "Any": no filter
        return None
    value = labels.get(key, raw)
    return CHIP_FORMATS[name].format(value=value) if name in CHIP_FORMATS else f"{field.label}: {value}"


def filter_chips(filterset: LeadFilterSet, params: QueryDict, sort_spec: str) -> list[Chip]:
    """One chip per filter value in use, in the panel's order; a multi-value filter gets one chip
    per value, and removing it keeps the others."""
    chips = []
    for name, field in filterset.form.fields.items():
        labels = _choice_labels(field)
        values = [v for v in params.getlist(name) if v]
        for raw in values:
            text = _chip_text(name, field, labels, raw)
            if text is not None:
                rest = params.copy()
                rest.setlist(name, [v for v in values if v != raw])
                chips.append(Chip(text, _query(rest, sort_spec)))
    return chips


def clear_filters_query(params: QueryDict, sort_spec: str) -> str:
    """The list without any filter, keeping its sort and columns."""
    columns = QueryDict(mutable=True)
    columns.setlist("cols", params.getlist("cols"))
    return _query(columns, sort_spec)


@dataclass(frozen=True)
class Pager:
    numbers: list[int | None]  # page numbers to link, None for a gap
    last: int  # the last numbered page
    more: bool  # pages beyond the numbered ones (the count stopped at its cap)


def pager(page: listing.Page, count: int, capped: bool) -> Pager:
    last = listing.last_numbered_page(count, page.per_page)
    return Pager(listing.page_numbers(min(page.number, last), last), last, capped)


def bulk_operations(permissions: frozenset[str]) -> dict[str, str]:
    """The bulk actions the role may run here: restoring belongs to the trash, not the live list."""
    return {
        key: label
        for key, label in bulk.OPERATIONS.items()
        if key != "restore" and bulk.PERMISSIONS.get(key, "leads.bulk") in permissions
    }
