"""Keyset pages of the company activity feed (``leads.timeline.company_feed``).

The feed merges three tables (status changes, comments, activities), so an entry's place is the key
(at, stream, id): the moment, then the table (a fixed order), then the row's id within it. A page's
"Older" link carries the key of its last entry; the next page is everything strictly older, asked of
each table with one indexed condition, so every page costs the same few queries however deep it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from crm.models import Activity
from leads.models import LeadComment, StatusChange

PAGE_SIZE = 100
# Table → (its name in a cursor, the column holding the entry's moment). Ties on the moment are
# broken by this order, then by id.
STREAMS = {StatusChange: ("status", "changed_at"), LeadComment: ("comment", "created_at"), Activity: ("activity", "occurred_at")}  # fmt: skip
RANK = {name: rank for rank, (name, _column) in enumerate(STREAMS.values())}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
CURSOR = re.compile(r"(?P<at>-?\d{1,20})-(?P<stream>[a-z]+)-(?P<id>\d{1,19})")
BAD_CURSOR = "This link to older activity is not valid: start again from the newest."


@dataclass(frozen=True)
class FeedKey:
    at: datetime
    stream: str
    id: int

    def encode(self) -> str:
        """URL-safe and exact: microseconds since the epoch, the stream, the id."""
        return f"{(self.at - EPOCH) // MICROSECOND}-{self.stream}-{self.id}"


def parse_cursor(value: str | None) -> FeedKey | None:
    """The key an "Older" link carries; None for the first page; ValidationError when mangled."""
    if not value:
        return None
    match = CURSOR.fullmatch(value)
    if match is None or match["stream"] not in RANK:
        raise ValidationError({"before": BAD_CURSOR})
    try:
        at = EPOCH + int(match["at"]) * MICROSECOND
    except OverflowError:
        raise ValidationError({"before": BAD_CURSOR}) from None
    return FeedKey(at, match["stream"], int(match["id"]))


def entry_key(entry) -> FeedKey:
    """The key of a feed entry (its ``obj`` is the row it was made from)."""
    name, _column = STREAMS[type(entry.obj)]
    return FeedKey(entry.at, name, entry.obj.pk)


def feed_sort_key(entry) -> tuple[datetime, int, int]:
    key = entry_key(entry)
    return key.at, RANK[key.stream], key.id


def older_than(queryset: QuerySet, before: FeedKey) -> QuerySet:
    """Rows of one stream whose key is strictly below ``before``."""
    name, column = STREAMS[queryset.model]
    rank, cursor_rank = RANK[name], RANK[before.stream]
    if rank < cursor_rank:  # at the same moment, a lower stream comes after the cursor
        return queryset.filter(**{f"{column}__lte": before.at})
    if rank > cursor_rank:
        return queryset.filter(**{f"{column}__lt": before.at})
    return queryset.filter(Q(**{f"{column}__lt": before.at}) | Q(**{column: before.at, "id__lt": before.id}))


def split_page(entries: list, size: int = PAGE_SIZE) -> tuple[list, str | None]:
    """The page's entries (asked for ``size + 1``) and the cursor of the next page, if any."""
    if len(entries) <= size:
        return entries, None
    page = entries[:size]
    return page, entry_key(page[-1]).encode()
