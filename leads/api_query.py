"""Query parameters of the API's lists: the lead list's filters, sorting, saved views and keyset
pages (the same ``leads.listing`` and ``LeadFilterSet`` as the HTML list), and the date ranges of a
lead's activities and history."""

from __future__ import annotations

import datetime as dt

import django_filters as df
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from crm.models import Membership
from leads import listing
from leads.filters import LeadFilterSet
from leads.models import Lead

# The lead list's sort keys, and the API's field names for the same columns.
SORT_ALIASES = {
    "last_name": "name",
    "company_name": "company",
    "created_at": "created",
    "updated_at": "updated",
    "last_activity_at": "activity",
}
LIST_PARAMS = ("sort", "view")
PAGE_PARAMS = ("cursor", "page_size", "format")
BAD_PAGE_SIZE = f"Give a whole number from 1 to {listing.MAX_PER_PAGE}."


# --- sorting and views -----------------------------------------------------------------------------


def parse_sort(spec: str) -> list[tuple[str, bool]]:
    """``"-score,last_name"`` → the list's parsed sort; API field names stand for their column."""
    parts = [part.strip() for part in (spec or "").split(",")] if (spec or "").strip() else []
    translated = []
    for part in parts:
        descending, key = part.startswith("-"), part.lstrip("-")
        translated.append(("-" if descending else "") + SORT_ALIASES.get(key, key))
    return listing.parse_sort(",".join(translated))


def lead_list_params(query: QueryDict, membership: Membership) -> tuple[QueryDict, str]:
    """The filter parameters and sort spec of an API lead-list request: the query's own filters,
    or those of the view it names (``view=builtin:mine`` / ``view=saved:7``); ``sort`` wins."""
    filters = QueryDict(mutable=True)
    for name in query:
        if name not in LIST_PARAMS + PAGE_PARAMS:
            filters.setlist(name, query.getlist(name))
    sort, view = query.get("sort", ""), query.get("view", "")
    if not view:
        return filters, sort or listing.DEFAULT_SORT
    if filters:
        raise ValidationError({"view": [f"Give a view or filters, not both (got {', '.join(sorted(filters))})."]})
    chosen = QueryDict(mutable=True)
    chosen["view"] = view
    if sort:
        chosen["sort"] = sort
    params, sort_spec, _key, errors = listing.resolve_view(chosen, membership)
    if errors:
        raise ValidationError(errors)
    return params, sort_spec


def known_lead_params(query: QueryDict, membership: Membership) -> set[str]:
    """Every parameter the lead list understands. The company's custom-field filters are only
    looked up when the query has a parameter the declared filters do not cover."""
    known = {*LeadFilterSet.base_filters, *LIST_PARAMS}
    if set(query) - known - set(PAGE_PARAMS):
        known |= set(LeadFilterSet(None, queryset=Lead.objects.none(), membership=membership).filters)
    return known


# --- pages -----------------------------------------------------------------------------------------------


class LeadPagination(BasePagination):
    """The HTML list's keyset pages (``leads.listing.paginate``) in DRF's cursor-page shape: any
    sort the list offers, no OFFSET and no COUNT at any depth. The view sets ``sort``."""

    cursor_query_param = "cursor"
    page_size_query_param = "page_size"
    page_size = 50
    max_page_size = listing.MAX_PER_PAGE

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        sort = getattr(view, "sort", None) or listing.parse_sort(listing.DEFAULT_SORT)
        cursor = request.query_params.get(self.cursor_query_param)
        self.page = listing.paginate(queryset, sort, cursor=cursor, per_page=self.get_page_size(request))
        return self.page.rows

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param, "")
        if raw == "":
            return self.page_size
        if not raw.isdecimal() or int(raw) < 1:
            raise ValidationError({self.page_size_query_param: [BAD_PAGE_SIZE]})
        return min(int(raw), self.max_page_size)

    def _link(self, cursor: str | None) -> str | None:
        if cursor is None:
            return None
        return replace_query_param(self.request.build_absolute_uri(), self.cursor_query_param, cursor)

    def get_paginated_response(self, data):
        return Response(
            {"next": self._link(self.page.next_cursor), "previous": self._link(self.page.prev_cursor), "results": data}
        )

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }

    def get_schema_operation_parameters(self, view):
        return [
            {"name": self.cursor_query_param, "required": False, "in": "query",
             "description": "The page to show: the `next` or `previous` link of the page before.",
             "schema": {"type": "string"}},
            {"name": self.page_size_query_param, "required": False, "in": "query",
             "description": f"Leads per page: 1 to {self.max_page_size} (default {self.page_size}).",
             "schema": {"type": "integer", "minimum": 1}},
        ]  # fmt: skip


# --- the documented parameters ----------------------------------------------------------------------------


def _filter_parameter(name: str, spec: df.Filter) -> OpenApiParameter:
    description = str(spec.label or name.replace("_", " ").capitalize())
    many, enum, kind = False, None, OpenApiTypes.STR
    if isinstance(spec, df.ModelMultipleChoiceFilter):
        many, kind = True, OpenApiTypes.INT
    elif isinstance(spec, df.ModelChoiceFilter):
        kind = OpenApiTypes.INT
    elif isinstance(spec, df.MultipleChoiceFilter):
        many, enum = True, [value for value, _label in spec.extra.get("choices", [])] or None
    elif isinstance(spec, df.BooleanFilter):
        kind = OpenApiTypes.BOOL
    elif isinstance(spec, df.NumberFilter):
        kind = OpenApiTypes.NUMBER
    elif isinstance(spec, df.DateFilter):
        kind = OpenApiTypes.DATE
    return OpenApiParameter(name, kind, many=many, enum=enum, description=description)


def lead_list_parameters() -> list[OpenApiParameter]:
    keys = ", ".join([*listing.SORT_KEYS, *SORT_ALIASES])
    return [
        OpenApiParameter("sort", str, description=f"Up to four keys, comma-separated, `-` for descending "
                         f"(e.g. `-score,last_name`): {keys}. Ties are broken by id."),
        OpenApiParameter("view", str, description="A view's filters and sort instead of filter parameters: "
                         "builtin:mine, builtin:unassigned, builtin:hot, builtin:active or saved:<id>."),
        *(_filter_parameter(name, spec) for name, spec in LeadFilterSet.base_filters.items()),
    ]  # fmt: skip


# --- date ranges -----------------------------------------------------------------------------------------


def day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class DateRangeQuerySerializer(serializers.Serializer):
    since = serializers.DateField(required=False, help_text="From this day on.")
    until = serializers.DateField(required=False, help_text="Up to and including this day.")

    def validate(self, attrs):
        since, until = attrs.get("since"), attrs.get("until")
        if since and until and since > until:
            raise serializers.ValidationError({"until": ["The end of the range must not be before its start."]})
        return attrs


def range_bounds(query: dict) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The query's since…until days as [start, end) moments; None for an open end."""
    since, until = query.get("since"), query.get("until")
    start = day_start(since) if since else None
    end = day_start(until + dt.timedelta(days=1)) if until and until < dt.date.max else None
    return start, end


def in_range(moment: dt.datetime, bounds: tuple[dt.datetime | None, dt.datetime | None]) -> bool:
    start, end = bounds
    return (start is None or moment >= start) and (end is None or moment < end)
