"""The three lists (accounts, contacts, opportunities): visibility, FilterSet and sort keys in one
place, with the lead list's keyset machinery (``crm.listing``) for pages, the API and exports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import CharField, F, QuerySet, Value
from django.db.models.functions import Coalesce

from accounts.filters import AccountFilterSet, ContactFilterSet, OpportunityFilterSet, filter_records
from accounts.models import Account, Contact, Opportunity
from accounts.queries import accounts_visible_to, contacts_visible_to, opportunities_visible_to
from crm.listing import Listing, Page, SortKey, check_page_param, filter_params, per_page_of
from crm.models import Membership

OWNER = SortKey("Owner", "_s_owner", Coalesce(F("owner__user__full_name"), Value(""), output_field=CharField()))
CREATED = SortKey("Created", "_s_created", F("created_at"), "datetime")


@dataclass(frozen=True)
class RecordList:
    model: type
    visible: Callable[[Membership], QuerySet]
    filterset: type
    listing: Listing
    related: tuple[str, ...]

    def filtered(self, membership: Membership, params) -> tuple[QuerySet, object]:
        """The visible rows through the FilterSet (``FilterError`` on a bad value, never a wider list)."""
        rows, filterset = filter_records(self.filterset, self.visible(membership), params, membership=membership)
        return rows.select_related(*self.related), filterset


LISTINGS: dict[str, RecordList] = {
    "accounts": RecordList(
        Account, accounts_visible_to, AccountFilterSet,
        Listing({
            "name": [SortKey("Name", "_s_name", F("name"))],
            "type": [SortKey("Type", "_s_type", F("account_type"))],
            "health": [SortKey("Health", "_s_health", F("health_score"))],
            "owner": [OWNER],
            "created": [CREATED],
        }, "name"),
        ("owner__user",),
    ),
    "contacts": RecordList(
        Contact, contacts_visible_to, ContactFilterSet,
        Listing({
            "name": [SortKey("Name", "_s_last", F("last_name")), SortKey("Name", "_s_first", F("first_name"))],
            "account": [SortKey("Account", "_s_account", F("account__name"))],
            "owner": [OWNER],
            "created": [CREATED],
        }, "name"),
        ("owner__user", "account"),
    ),
    "opportunities": RecordList(
        Opportunity, opportunities_visible_to, OpportunityFilterSet,
        Listing({
            "name": [SortKey("Name", "_s_name", F("name"))],
            "account": [SortKey("Account", "_s_account", F("account__name"))],
            "amount": [SortKey("Amount", "_s_amount", F("amount"), "decimal")],
            "close": [SortKey("Close date", "_s_close", F("close_date"), "date")],
            "stage": [SortKey("Stage", "_s_stage", F("stage__order"), "int")],
            "probability": [SortKey("Probability", "_s_probability", F("probability"), "int")],
            "owner": [OWNER],
            "created": [CREATED],
        }, "close"),
        ("owner__user", "account", "stage"),
    ),
}  # fmt: skip


def page_of(record_list: RecordList, membership: Membership, get, *, default_per_page: int = 50):
    """One page of the list for the request parameters ``get`` (sort, cursor, per_page, filters)."""
    check_page_param(get.get("page"))
    sort = record_list.listing.parse_sort(get.get("sort", ""))
    per_page = per_page_of(get.get("per_page"), default_per_page)
    rows, filterset = record_list.filtered(membership, filter_params(get))
    page: Page = record_list.listing.paginate(rows, sort, cursor=get.get("cursor"), per_page=per_page)
    return page, filterset
