"""One FilterSet per model, shared by the HTML lists, the board, the forecast, the API and the
exports. As with leads, only declared filters exist and an invalid value is an error (``FilterError``
from ``leads.filters``), never a wider list."""

from __future__ import annotations

import datetime as dt
import re

import django_filters as df
from django import forms
from django.db.models import Q, QuerySet

from accounts.models import (
    Account,
    AccountType,
    Channel,
    Contact,
    ContactRole,
    ForecastCategory,
    HealthScore,
    Influence,
    LifecycleStage,
    Opportunity,
    Stage,
)
from crm.models import Membership, Role
from crm.queries import memberships_visible_to, team_member_ids
from leads.filters import CSVCharFilter, FilterError, IdMultipleChoiceFilter

PERIOD = re.compile(r"^(?P<year>\d{4})-(?:(?P<month>0[1-9]|1[0-2])|Q(?P<quarter>[1-4]))$")


def period_bounds(value: str) -> tuple[dt.date, dt.date] | None:
    """'2026-03' → (2026-03-01, 2026-04-01); '2026-Q2' → (2026-04-01, 2026-07-01); else None."""
    match = PERIOD.match((value or "").strip().upper())
    if not match:
        return None
    year = int(match["year"])
    first_month = int(match["month"]) if match["month"] else (int(match["quarter"]) - 1) * 3 + 1
    months = 1 if match["month"] else 3
    start = dt.date(year, first_month, 1)
    end_month = first_month + months
    end = dt.date(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1)
    return start, end


class PeriodField(forms.CharField):
    def clean(self, value):
        value = super().clean(value)
        if value and period_bounds(value) is None:
            raise forms.ValidationError("Give a month (2026-03) or a quarter (2026-Q1).")
        return value.upper() if value else value


class PeriodFilter(df.CharFilter):
    field_class = PeriodField

    def filter(self, qs, value):
        if not value:
            return qs
        start, end = period_bounds(value)
        return qs.filter(**{f"{self.field_name}__gte": start, f"{self.field_name}__lt": end})


class OwnedFilterSet(df.FilterSet):
    """Owner (me, unassigned or a member one can see) and team (a manager's reporting tree)."""

    owner = df.MultipleChoiceFilter(method="filter_owner", label="Owner", distinct=False)
    team = df.ModelChoiceFilter(queryset=Membership.objects.none(), method="filter_team", label="Team of")

    def __init__(self, data=None, *args, membership: Membership, **kwargs):
        self.membership = membership
        super().__init__(data, *args, **kwargs)
        visible = memberships_visible_to(membership)
        self.filters["team"].queryset = visible.filter(role__in=[Role.MANAGER, Role.ADMIN]).select_related("user")
        self.filters["owner"].extra["choices"] = [("me", "Me"), ("unassigned", "Unassigned")] + [
            (str(m.pk), str(m.user)) for m in visible.select_related("user")
        ]

    def filter_owner(self, queryset, name, values):
        condition = Q()
        for value in values:
            if value == "me":
                condition |= Q(owner_id=self.membership.pk)
            elif value == "unassigned":
                condition |= Q(owner__isnull=True)
            else:
                condition |= Q(owner_id=int(value))
        return queryset.filter(condition) if values else queryset

    def filter_team(self, queryset, name, manager):
        return queryset.filter(owner_id__in=team_member_ids(manager))


def _created_filters() -> dict[str, df.Filter]:
    return {
        "created_after": df.DateFilter(field_name="created_at", lookup_expr="date__gte", label="Created from"),
        "created_before": df.DateFilter(field_name="created_at", lookup_expr="date__lte", label="Created until"),
    }


class AccountFilterSet(OwnedFilterSet):
    q = df.CharFilter(method="filter_search", label="Search")
    account_type = df.MultipleChoiceFilter(choices=AccountType.choices, distinct=False, label="Type")
    health_score = df.MultipleChoiceFilter(choices=HealthScore.choices, distinct=False, label="Health")
    lifecycle_stage = df.MultipleChoiceFilter(choices=LifecycleStage.choices, distinct=False, label="Lifecycle")
    industry = df.CharFilter(lookup_expr="iexact")
    country = CSVCharFilter(method="filter_country", label="Country (IN,GB)")
    is_active = df.BooleanFilter(label="Active")
    locals().update(_created_filters())

    class Meta:
        model = Account
        fields: list[str] = []

    def filter_search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(name__icontains=value) | Q(domain__icontains=value)) if value else queryset

    def filter_country(self, queryset, name, values):
        return queryset.filter(country__in=[v.strip().upper() for v in values if v.strip()])


class ContactFilterSet(OwnedFilterSet):
    q = df.CharFilter(method="filter_search", label="Search")
    account = IdMultipleChoiceFilter(queryset=Account.objects.none(), distinct=False)
    role = df.MultipleChoiceFilter(choices=ContactRole.choices, distinct=False)
    influence = df.MultipleChoiceFilter(choices=Influence.choices, distinct=False)
    preferred_channel = df.MultipleChoiceFilter(choices=Channel.choices, distinct=False, label="Channel")
    is_primary = df.BooleanFilter(label="Primary contact")
    dnd = df.BooleanFilter(label="Do not disturb")
    locals().update(_created_filters())

    class Meta:
        model = Contact
        fields: list[str] = []

    def __init__(self, data=None, *args, membership: Membership, **kwargs):
        super().__init__(data, *args, membership=membership, **kwargs)
        self.filters["account"].queryset = Account.objects.filter(company_id=membership.company_id)

    def filter_search(self, queryset, name, value):
        condition = Q()
        for word in value.split()[:8]:
            condition &= Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(email_key__icontains=word)
        return queryset.filter(condition)


class OpportunityFilterSet(OwnedFilterSet):
    q = df.CharFilter(method="filter_search", label="Search")
    account = IdMultipleChoiceFilter(queryset=Account.objects.none(), distinct=False)
    stage = IdMultipleChoiceFilter(queryset=Stage.objects.none(), distinct=False)
    forecast_category = df.MultipleChoiceFilter(choices=ForecastCategory.choices, distinct=False, label="Forecast")
    status = df.ChoiceFilter(choices=[("open", "Open"), ("won", "Won"), ("lost", "Lost")], method="filter_status")
    currency = df.CharFilter(method="filter_currency")
    close_period = PeriodFilter(field_name="close_date", label="Close period (2026-03, 2026-Q1)")
    close_after = df.DateFilter(field_name="close_date", lookup_expr="gte", label="Closes from")
    close_before = df.DateFilter(field_name="close_date", lookup_expr="lte", label="Closes until")
    amount_min = df.NumberFilter(field_name="amount", lookup_expr="gte", label="Amount from")
    amount_max = df.NumberFilter(field_name="amount", lookup_expr="lte", label="Amount to")
    locals().update(_created_filters())

    class Meta:
        model = Opportunity
        fields: list[str] = []

    def __init__(self, data=None, *args, membership: Membership, **kwargs):
        super().__init__(data, *args, membership=membership, **kwargs)
        self.filters["account"].queryset = Account.objects.filter(company_id=membership.company_id)
        self.filters["stage"].queryset = Stage.objects.filter(company_id=membership.company_id)

    def filter_search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(name__icontains=value) | Q(account__name__icontains=value)) if value else queryset

    def filter_status(self, queryset, name, value):
        if value == "won":
            return queryset.filter(stage__is_won=True)
        if value == "lost":
            return queryset.filter(stage__is_lost=True)
        return queryset.filter(stage__is_won=False, stage__is_lost=False) if value == "open" else queryset

    def filter_currency(self, queryset, name, value):
        return queryset.filter(currency=value.strip().upper())


def filter_records(filterset_class, queryset: QuerySet, params, *, membership: Membership):
    """Apply ``params`` with ``filterset_class``; raise ``FilterError`` instead of silently widening."""
    filterset = filterset_class(params or None, queryset=queryset, membership=membership)
    if filterset.is_bound and not filterset.is_valid():
        error = FilterError({name: [str(m) for m in messages] for name, messages in filterset.errors.items()})
        error.filterset = filterset
        raise error
    return filterset.qs, filterset
