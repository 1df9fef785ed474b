"""The lead list at a million rows: validated multi-key sorting, keyset pagination with signed-free
opaque cursors, capped counts, built-in and saved views."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Expression,
    F,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.http import QueryDict
from django.utils import timezone

from crm.models import Membership, Role
from leads import vendor
from leads.models import Lead, ListPreference, SavedFilter, Visibility
from leads.models.core import ActivityKey

PER_PAGE_CHOICES = (25, 50, 100, 200)
DISPLAY_PARAMS = frozenset({"cols"})  # how the list looks, not what it holds: kept in views, never filters
MAX_PER_PAGE = PER_PAGE_CHOICES[-1]
COUNT_CAP = 10_000


@dataclass(frozen=True)
class SortKey:
    label: str
    alias: str
    expression: object
    kind: str = "str"  # how cursor values are decoded: str, int, datetime


SORT_KEYS: dict[str, list[SortKey]] = {
    "name": [SortKey("Name", "_s_last", F("last_name")), SortKey("Name", "_s_first", F("first_name"))],
    "company": [SortKey("Company", "_s_company", F("company_name"))],
    "status": [SortKey("Status", "_s_status", F("status__order"), "int")],
    "owner": [SortKey("Owner", "_s_owner", Coalesce(F("owner__user__full_name"), Value(""), output_field=CharField()))],
    "score": [SortKey("Score", "_s_score", F("score"), "int")],
    "priority": [
        SortKey(
            "Priority",
            "_s_priority",
            Case(When(priority="hot", then=2), When(priority="warm", then=1), default=0, output_field=IntegerField()),
            "int",
        )
    ],
    "created": [SortKey("Created", "_s_created", F("created_at"), "datetime")],
    "updated": [SortKey("Updated", "_s_updated", F("updated_at"), "datetime")],
    "activity": [SortKey("Last activity", "_s_activity", ActivityKey(), "datetime")],
}
# The index that holds the company's leads in a sort key's order (with id last). When many leads
# match, the page walks it and stops after one page instead of sorting every match.
SORT_INDEXES = {
    "score": "lead_company_score",
    "created": "lead_company_created",
    "updated": "lead_company_updated",
    "activity": "lead_company_activity_key",
}
DEFAULT_SORT = "-created"


def parse_sort(spec: str) -> list[tuple[str, bool]]:
    """``"-score,name"`` → [("score", True), ("name", False)]; unknown or repeated keys are errors."""
    spec = (spec or "").strip() or DEFAULT_SORT
    parsed, seen = [], set()
    for part in spec.split(","):
        part = part.strip()
        descending = part.startswith("-")
        key = part.lstrip("-")
        if key not in SORT_KEYS:
            raise ValidationError({"sort": f"Unknown sort key '{key}'. Use one of: {', '.join(SORT_KEYS)}."})
        if key in seen:
            raise ValidationError({"sort": f"Sort key '{key}' is given twice."})
        seen.add(key)
        parsed.append((key, descending))
    if len(parsed) > 4:
        raise ValidationError({"sort": "Sort by at most four columns."})
    return parsed


def _columns(sort: list[tuple[str, bool]]) -> list[tuple[SortKey, bool]]:
    columns = [(k, desc) for key, desc in sort for k in SORT_KEYS[key]]
    columns.append((SortKey("id", "id", F("id"), "int"), sort[-1][1]))  # stable: ties broken by id
    return columns


def sorted_leads(queryset: QuerySet[Lead], sort: list[tuple[str, bool]]) -> QuerySet[Lead]:
    columns = _columns(sort)
    annotations = {k.alias: k.expression for k, _ in columns if k.alias != "id"}
    ordering = [f"-{k.alias}" if desc else k.alias for k, desc in columns]
    return queryset.annotate(**annotations).order_by(*ordering)


def _encode(payload: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(cursor: str) -> dict:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise ValidationError({"cursor": "This page link is broken; start again from the first page."}) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("v"), list):
        raise ValidationError({"cursor": "This page link is broken; start again from the first page."})
    return payload


def _value_of(row: Lead, key: SortKey):
    value = getattr(row, key.alias)
    return value.isoformat() if isinstance(value, dt.datetime) else value


def _parse_value(key: SortKey, raw):
    try:
        if key.kind == "int":
            value = int(raw)
            if not -(2**63) <= value < 2**63:  # no column holds it; the database would overflow
                raise ValueError
            return value
        if key.kind == "datetime":
            return dt.datetime.fromisoformat(raw)
        if not isinstance(raw, str):
            raise TypeError
        return raw
    except (TypeError, ValueError, OverflowError):
        raise ValidationError({"cursor": "This page link is broken; start again from the first page."}) from None


class RowValuesCompare(Expression):
    """``(a, b, …) < (x, y, …)``: rows strictly before or after a position in a sort order whose
    keys all run the same way, as ONE range condition that an index on those columns seeks to
    (SQLite ≥ 3.15 and PostgreSQL compare row values). The OR-expansion of the same condition
    makes SQLite walk the index from its start and filter, which is what made deep pages slow."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, expressions: list, values: list, operator: str):
        super().__init__()
        self.expressions, self.values, self.operator = list(expressions), list(values), operator

    def get_source_expressions(self):
        return self.expressions

    def set_source_expressions(self, exprs):
        self.expressions = list(exprs)

    def resolve_expression(self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False):
        clone = self.copy()
        clone.expressions = [
            e.resolve_expression(query, allow_joins, reuse, summarize, for_save) for e in self.expressions
        ]
        return clone

    def as_sql(self, compiler, connection):
        left, right, left_params, right_params = [], [], [], []
        for expression in self.expressions:
            sql, expression_params = compiler.compile(expression)
            left.append(sql)
            left_params.append(expression_params)
        for expression, value in zip(self.expressions, self.values, strict=True):
            sql, value_params = compiler.compile(Value(value, output_field=expression.output_field))
            right.append(sql)
            right_params.append(value_params)
        # The first key's bound on its own as well: SQLite seeks an index on an expression (last
        # activity) only by a plain comparison, not by a row value.
        bound = f"{left[0]} {self.operator}= {right[0]}"
        params = [*left_params[0], *right_params[0]]
        params += [p for group in left_params for p in group] + [p for group in right_params for p in group]
        return f"({bound} AND ({', '.join(left)}) {self.operator} ({', '.join(right)}))", params


def _seek(columns, values, forward: bool) -> Q | RowValuesCompare:
    """Rows strictly after (``forward``) or before ``values`` in the column order: one row-value
    comparison when every key runs the same way, else its expansion ``a < x OR (a = x AND b < y) …``."""
    directions = {desc for _, desc in columns}
    if len(directions) == 1:
        operator = "<" if directions.pop() == forward else ">"
        return RowValuesCompare([F(key.alias) for key, _ in columns], values, operator)
    condition = Q()
    for i, (key, desc) in enumerate(columns):
        operator = "lt" if desc == forward else "gt"
        term = Q(**{f"{key.alias}__{operator}": values[i]})
        for j in range(i):
            term &= Q(**{columns[j][0].alias: values[j]})
        condition |= term
    return condition


@dataclass
class Page:
    rows: list[Lead]
    number: int
    per_page: int
    next_cursor: str | None = None
    prev_cursor: str | None = None
    count: int | None = None
    count_capped: bool = False
    columns: list = field(default_factory=list)

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None

    @property
    def has_previous(self) -> bool:
        return self.prev_cursor is not None

    @property
    def start_index(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.rows else 0

    @property
    def end_index(self) -> int:
        return self.start_index + len(self.rows) - 1 if self.rows else 0


def per_page_of(raw, default: int = 50) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ValidationError({"per_page": "Page size must be a whole number."}) from None
    if value < 1:
        raise ValidationError({"per_page": "Page size must be at least 1."})
    return min(value, MAX_PER_PAGE)


def paginate(
    queryset: QuerySet[Lead],
    sort: list[tuple[str, bool]],
    *,
    cursor: str | None,
    per_page: int,
    number: int = 1,
    many: bool | None = None,
) -> Page:
    """One page. Following ``cursor`` (from a previous page) is a keyset seek: no OFFSET, whatever
    the depth. Without one, ``number`` (from ``page_number_of``) jumps to a numbered page inside the
    counted rows: an OFFSET bounded by ``COUNT_CAP``, the rows the capped count walks anyway.

    ``many`` says whether more than ``COUNT_CAP`` leads match (the capped count's answer; counted
    here when not given). Then the page walks the sort's index and stops after one page — the
    planner, which knows only average selectivities, would otherwise read a common country or the
    biggest campaign through the filter's index and sort all of its leads. When few match, the
    planner reads them through the filter's index and sorts them."""
    if many is None:
        many = capped_count(queryset)[1]
    if not many:  # the matches as a set first: no index on the sort can look cheaper than finding them
        return _page(queryset.filter(pk__in=queryset.order_by().values("pk")), sort, cursor=cursor,
                     per_page=per_page, number=number)  # fmt: skip
    index = SORT_INDEXES.get(sort[0][0]) if len(sort) == 1 else None
    with vendor.read_through_index(Lead._meta.db_table, index) if index else contextlib.nullcontext():
        return _page(queryset, sort, cursor=cursor, per_page=per_page, number=number)


def _page(
    queryset: QuerySet[Lead], sort: list[tuple[str, bool]], *, cursor: str | None, per_page: int, number: int
) -> Page:
    columns = _columns(sort)
    ordered = sorted_leads(queryset, sort)
    forward = True
    if not cursor and number > 1:
        ordered = ordered[(number - 1) * per_page :]
    if cursor:
        payload = _decode(cursor)
        if len(payload["v"]) != len(columns) or payload.get("d") not in ("n", "p"):
            raise ValidationError({"cursor": "This page link belongs to another sort order; start again."})
        values = [_parse_value(key, raw) for (key, _), raw in zip(columns, payload["v"], strict=True)]
        number = int(payload.get("p", 1)) if str(payload.get("p", 1)).isdecimal() else 1
        forward = payload["d"] == "n"
        ordered = ordered.filter(_seek(columns, values, forward))
        if not forward:
            ordered = ordered.reverse()
    rows = list(ordered[: per_page + 1])
    more = len(rows) > per_page
    rows = rows[:per_page]
    if not forward:
        rows.reverse()
    page = Page(rows=rows, number=max(number, 1), per_page=per_page, columns=columns)
    if rows:
        first = [_value_of(rows[0], k) for k, _ in columns]
        last = [_value_of(rows[-1], k) for k, _ in columns]
        has_next = more if forward else True
        has_prev = (number > 1) if forward else more
        if has_next:
            page.next_cursor = _encode({"v": last, "d": "n", "p": page.number + 1})
        if has_prev and page.number > 1:
            page.prev_cursor = _encode({"v": first, "d": "p", "p": page.number - 1})
    return page


def capped_count(queryset: QuerySet[Lead], cap: int = COUNT_CAP) -> tuple[int, bool]:
    """An exact count up to ``cap`` rows (cheap: the database stops there), else (cap, True)."""
    counted = queryset.order_by().values("id")[: cap + 1].count()
    return (cap, True) if counted > cap else (counted, False)


# --- built-in and saved views ----------------------------------------------------------------------


def builtin_views(membership: Membership) -> dict[str, tuple[str, dict, str]]:
    """key → (label, filter params, sort)."""
    week_ago = (timezone.localdate() - dt.timedelta(days=7)).isoformat()
    return {
        "builtin:mine": ("My leads", {"owner": ["me"]}, "-updated"),
        "builtin:unassigned": ("Unassigned", {"owner": ["unassigned"]}, "-created"),
        "builtin:hot": ("Hot leads", {"priority": ["hot"]}, "-score"),
        "builtin:active": ("Recently active", {"activity_after": [week_ago]}, "-activity"),
    }


def saved_filters_visible_to(membership: Membership) -> QuerySet[SavedFilter]:
    """Own views, the company's shared ones, and team views shared by a manager up the chain."""
    managers, current, seen = [], membership.manager, set()
    while current is not None and current.pk not in seen:
        seen.add(current.pk)
        managers.append(current.pk)
        current = current.manager
    condition = Q(owner=membership) | Q(visibility=Visibility.COMPANY)
    condition |= Q(visibility=Visibility.TEAM, owner_id__in=managers + [membership.manager_id or 0])
    if membership.role in (Role.MANAGER, Role.ADMIN):
        condition |= Q(visibility=Visibility.TEAM, owner=membership)
    return SavedFilter.objects.filter(company_id=membership.company_id).filter(condition).select_related("owner__user")


def _clean_query(params) -> dict[str, list[str]]:
    from leads.filters import LeadFilterSet  # noqa: F401 — documents the source of truth for names

    skip = {"cursor", "sort", "per_page", "view", "csrfmiddlewaretoken", "page"}
    query = {}
    for name in params:
        values = (
            [v for v in params.getlist(name) if v not in ("", None)] if hasattr(params, "getlist") else params[name]
        )
        if name not in skip and values:
            query[name] = list(values) if isinstance(values, list | tuple) else [values]
    return query


NOT_YOUR_VIEW = "Only the owner of a view (or an admin) can change or delete it."


def saved_filter_may_change(actor: Membership, saved: SavedFilter) -> bool:
    """The owner of a view, or an admin of its company, may change or delete it."""
    return saved.owner_id == actor.pk or (actor.role == Role.ADMIN and saved.company_id == actor.company_id)


def _saved_filter_errors(actor: Membership, owner: Membership, saved_pk, *, name, sort, visibility) -> dict:
    errors = {}
    if not name:
        errors["name"] = ["Give the view a name."]
    elif len(name) > 100:
        errors["name"] = ["Keep the name under 100 characters."]
    elif SavedFilter.objects.filter(owner=owner, name__iexact=name).exclude(pk=saved_pk).exists():
        errors["name"] = [f"You already have a view called “{name}”."]
    if visibility not in Visibility.values:
        errors["visibility"] = [f"Choose one of {', '.join(Visibility.values)}."]
    elif visibility == Visibility.COMPANY and actor.role == Role.SDR:
        errors["visibility"] = ["Only managers and admins share views with the whole company."]
    try:
        parse_sort(sort)
    except ValidationError as error:
        errors.update(error.message_dict)
    if len(sort or "") > SavedFilter._meta.get_field("sort").max_length:
        errors["sort"] = ["Keep the sort under 200 characters."]
    return errors


def _query_errors(actor: Membership, query: dict[str, list[str]]) -> dict:
    """A view keeps only filters that exist and values the filters accept, so using it later
    never shows an error nor a wider list."""
    from leads.filters import LeadFilterSet

    filterset = LeadFilterSet(_as_querydict(query), queryset=Lead.objects.none(), membership=actor)
    unknown = sorted(set(query) - set(filterset.filters) - DISPLAY_PARAMS)
    if unknown:
        return {"filter": [f"Unknown filter: {', '.join(unknown)}."]}
    if not filterset.is_valid():
        return {"filter": [f"{name}: {message}" for name, messages in filterset.errors.items() for message in messages]}
    return {}


@transaction.atomic
def saved_filter_create(*, actor: Membership, name: str, params, sort: str, visibility: str) -> SavedFilter:
    name = (name or "").strip()
    errors = _saved_filter_errors(actor, actor, None, name=name, sort=sort, visibility=visibility)
    errors.update(_query_errors(actor, _clean_query(params)))
    if errors:
        raise ValidationError(errors)
    return SavedFilter.objects.create(
        company_id=actor.company_id,
        owner=actor,
        name=name,
        query=_clean_query(params),
        sort=sort,
        visibility=visibility,
    )


@transaction.atomic
def saved_filter_update(*, actor: Membership, saved: SavedFilter, data) -> SavedFilter:
    """Rename, refilter, resort or reshare a view; ``data`` holds any of name, params, sort and
    visibility (what it leaves out stays)."""
    if not saved_filter_may_change(actor, saved):
        raise PermissionDenied(NOT_YOUR_VIEW)
    name = str(data.get("name", saved.name) or "").strip()
    sort, visibility = data.get("sort", saved.sort), data.get("visibility", saved.visibility)
    query = _clean_query(data["params"]) if "params" in data else saved.query
    errors = _saved_filter_errors(actor, saved.owner, saved.pk, name=name, sort=sort, visibility=visibility)
    errors.update(_query_errors(actor, query) if "params" in data else {})
    if errors:
        raise ValidationError(errors)
    saved.name, saved.sort, saved.visibility, saved.query = name, sort, visibility, query
    saved.save()
    return saved


@transaction.atomic
def saved_filter_delete(*, actor: Membership, saved: SavedFilter) -> None:
    if not saved_filter_may_change(actor, saved):
        raise ValidationError({"__all__": "Only the owner of a view (or an admin) can delete it."})
    ListPreference.objects.filter(default_view=f"saved:{saved.pk}").update(default_view="")
    saved.delete()


@transaction.atomic
def list_default_set(*, actor: Membership, view: str) -> ListPreference:
    valid = view == "" or view in builtin_views(actor)
    if view.startswith("saved:") and view[6:].isdecimal():
        valid = saved_filters_visible_to(actor).filter(pk=int(view[6:])).exists()
    if not valid:
        raise ValidationError({"view": "Choose one of your views."})
    preference, _ = ListPreference.objects.update_or_create(membership=actor, defaults={"default_view": view})
    return preference


CONTROL_PARAMS = {"cursor", "per_page", "sort", "view", "page", "csrfmiddlewaretoken"}


def _as_querydict(query: dict[str, list[str]]) -> QueryDict:
    data = QueryDict(mutable=True)
    for name, values in query.items():
        data.setlist(name, [str(v) for v in values])
    return data


def resolve_view(get: QueryDict, membership: Membership) -> tuple[QueryDict, str, str, dict]:
    """The filter params, sort and view key for a list request: explicit parameters win, then the
    chosen view (``?view=builtin:mine`` / ``?view=saved:7``), then the member's default view."""
    params = QueryDict(mutable=True)
    for name in get:
        if name not in CONTROL_PARAMS:
            params.setlist(name, get.getlist(name))
    sort = get.get("sort", "")
    view = get.get("view", "")
    if not view and not any(params.values()) and "sort" not in get and "cursor" not in get:
        view = preference_of(membership).default_view
    if not view:
        return params, sort or DEFAULT_SORT, "", {}
    builtins = builtin_views(membership)
    if view in builtins:
        _label, query, view_sort = builtins[view]
        return _as_querydict(query), sort or view_sort, view, {}
    saved = None
    if view.startswith("saved:") and view[6:].isdecimal():
        saved = saved_filters_visible_to(membership).filter(pk=int(view[6:])).first()
    if saved is None:
        return (
            params,
            sort or DEFAULT_SORT,
            "",
            {"view": ["This saved view no longer exists or is not shared with you."]},
        )
    return _as_querydict(saved.query), sort or saved.sort or DEFAULT_SORT, view, {}


def preference_of(membership: Membership) -> ListPreference:
    """The member's list preferences (unsaved defaults when none), read once per request."""
    if not hasattr(membership, "_list_preference"):
        found = ListPreference.objects.filter(membership=membership).first()
        membership._list_preference = found or ListPreference(membership=membership, per_page=PER_PAGE_CHOICES[1])
    return membership._list_preference


def query_string(params: QueryDict, sort_spec: str, **extra) -> str:
    data = params.copy()
    if sort_spec and sort_spec != DEFAULT_SORT:
        data["sort"] = sort_spec
    for key, value in extra.items():
        data[key] = value
    return data.urlencode()


@dataclass
class SortLink:
    key: str
    label: str
    direction: str  # "asc", "desc" or ""
    position: int  # 1-based position among the sort keys, 0 when unsorted
    toggle: str  # sort spec when clicked: this column first, flipped
    add: str  # sort spec when shift-added as a secondary key


def sort_links(spec: str, sort: list[tuple[str, bool]]) -> list[SortLink]:
    links = []
    current = dict(sort)
    order = [key for key, _ in sort]
    for key, keys in SORT_KEYS.items():
        descending = current.get(key)
        direction = "" if descending is None else ("desc" if descending else "asc")
        first = f"{'' if descending else '-'}{key}" if descending is not None else f"-{key}"
        others = [f"{'-' if d else ''}{k}" for k, d in sort if k != key]
        add = ",".join([*(f"{'-' if d else ''}{k}" for k, d in sort if k != key), f"-{key}"][:4])
        links.append(SortLink(key, keys[0].label, direction, order.index(key) + 1 if key in order else 0,
                              ",".join([first, *others][:4]), add))  # fmt: skip
    return links


def _page_param(raw) -> int:
    if raw in (None, ""):
        return 1
    try:
        number = int(raw)
    except (TypeError, ValueError):
        raise ValidationError({"page": "Page must be a whole number."}) from None
    if number < 1:
        raise ValidationError({"page": "Page numbers start at 1."})
    return number


def check_page_param(raw) -> None:
    """Pages are reached by following Next/Previous (keyset); a numbered page is only page 1."""
    if _page_param(raw) > 1:
        raise ValidationError({"page": "Jumping to a page number is not supported; follow Next and Previous."})


def page_number_of(raw, per_page: int) -> int:
    """``?page=N`` of the lead list: any page that starts inside the first ``COUNT_CAP`` rows (the
    pager numbers those); deeper pages are reached by Next/Previous."""
    number = _page_param(raw)
    if (number - 1) * per_page >= COUNT_CAP:
        raise ValidationError(
            {"page": f"Page numbers reach the first {COUNT_CAP:,} leads; go further with Next and Previous."}
        )
    return number


def last_numbered_page(count: int, per_page: int) -> int:
    """The last page the pager numbers: the list's last page, or (past the cap, where ``count`` is
    ``COUNT_CAP``) the last one ``page_number_of`` accepts."""
    return max(1, -(-count // per_page))


def page_numbers(current: int, last: int, *, around: int = 2) -> list[int | None]:
    """``1 … 4 5 6 7 8 … 40``: the pages a pager links to around ``current``, None for a gap."""
    shown = sorted({1, last, *range(max(1, current - around), min(last, current + around) + 1)})
    numbers: list[int | None] = []
    for number in shown:
        if numbers and number - numbers[-1] > 1:
            numbers.append(None)
        numbers.append(number)
    return numbers
