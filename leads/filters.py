"""``LeadFilterSet``: the one filter definition shared by the HTML list, the API, exports, saved
views and bulk operations.

Only the filters declared here exist: unknown parameters are ignored and no ``__`` lookup from a
query string ever reaches the ORM. An invalid value makes the filterset invalid; callers must show
``errors`` and never fall back to an unfiltered list (see ``filter_leads``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import django_filters as df
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone
from django_filters.fields import ModelChoiceField, ModelMultipleChoiceField

from crm.ids import is_valid_id
from crm.models import Membership, Role
from crm.queries import memberships_visible_to, team_member_ids
from leads import dedup, search
from leads.models import Campaign, CustomField, CustomFieldType, Lead, LeadStatus, Priority, Stage

PROFILE_TEXT_KEYS = ("headline", "location", "source")


class CSVCharFilter(df.BaseInFilter, df.CharFilter):
    """``?country=GB,DE`` — several values in one parameter."""


YES = frozenset({"true", "1", "yes", "on"})
NO = frozenset({"false", "0", "no", "off"})


class YesNoSelect(forms.Select):
    """Any / Yes / No, handing the field the value as sent (so a bad value is an error)."""

    def __init__(self, attrs=None):
        super().__init__(attrs, choices=(("", "Any"), ("true", "Yes"), ("false", "No")))

    def format_value(self, value):
        text = "" if value is None else str(value).strip().lower()
        return ["true" if text in YES else "false" if text in NO else ""]

    def value_from_datadict(self, data, files, name):
        return data.get(name)


class YesNoField(forms.NullBooleanField):
    """True, False or None (no filter: empty or "unknown"); any other value is an error rather than
    no filter, which would show a wider list than asked for."""

    widget = YesNoSelect

    def to_python(self, value):
        if isinstance(value, bool) or value is None:
            return value
        text = str(value).strip().lower()
        if text in ("", "unknown"):
            return None
        if text in YES | NO:
            return text in YES
        raise ValidationError("Give true or false.", code="invalid")


class YesNoFilter(df.BooleanFilter):
    field_class = YesNoField


class IdChoiceField(ModelMultipleChoiceField):
    """Refuses a value that cannot be an id before asking the database (which may overflow)."""

    def _check_values(self, value):
        for pk in value:
            if not is_valid_id(pk):
                raise ValidationError(self.error_messages["invalid_pk_value"], code="invalid_pk_value",
                                      params={"pk": pk})  # fmt: skip
        return super()._check_values(value)


class IdMultipleChoiceFilter(df.ModelMultipleChoiceFilter):
    field_class = IdChoiceField


class MemberChoiceField(ModelChoiceField):
    """Members by name alone: the company and role in ``str(membership)`` are noise in a filter."""

    def label_from_instance(self, obj):
        return str(obj.user)


class MemberChoiceFilter(df.ModelChoiceFilter):
    field_class = MemberChoiceField


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def date_input() -> forms.DateInput:
    """The browser's date picker; it sends (and shows) ISO dates, the format the filters parse."""
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _date_filters(prefix: str, field: str) -> dict[str, df.Filter]:
    return {
        f"{prefix}_after": df.DateFilter(
            field_name=field, method="filter_from", label=f"{prefix.title()} from", widget=date_input()
        ),
        f"{prefix}_before": df.DateFilter(
            field_name=field, method="filter_until", label=f"{prefix.title()} until", widget=date_input()
        ),
    }


RANGES = (
    ("score_min", "score_max"),
    ("created_after", "created_before"),
    ("updated_after", "updated_before"),
    ("activity_after", "activity_before"),
)


SCORE_INPUT = forms.NumberInput(attrs={"min": 0, "max": 100})


class LeadFilterForm(forms.Form):
    def clean(self):
        cleaned = super().clean()
        for low, high in RANGES:
            start, end = cleaned.get(low), cleaned.get(high)
            if start is not None and end is not None and start > end:
                self.add_error(high, "The end of the range must not be before its start.")
        for name in ("score_min", "score_max"):
            value = cleaned.get(name)
            if value is not None and not 0 <= value <= 100:
                self.add_error(name, "Scores run from 0 to 100.")
        return cleaned


class LeadFilterSet(df.FilterSet):
    q = df.CharFilter(method="filter_search", label="Search")
    status = IdMultipleChoiceFilter(queryset=LeadStatus.objects.none(), distinct=False)
    owner = df.MultipleChoiceFilter(method="filter_owner", label="Owner", distinct=False)
    team = MemberChoiceFilter(
        queryset=Membership.objects.none(), method="filter_team", label="Team of", empty_label="Any"
    )
    campaign = IdMultipleChoiceFilter(queryset=Campaign.objects.none(), distinct=False)
    source = df.CharFilter(field_name="lead_source", lookup_expr="iexact", label="Source")
    medium = df.CharFilter(field_name="medium", lookup_expr="iexact")
    stage = df.MultipleChoiceFilter(choices=Stage.choices, distinct=False)
    country = CSVCharFilter(method="filter_country", label="Country", help_text="Codes, comma-separated: GB,DE")
    score_min = df.NumberFilter(field_name="score", lookup_expr="gte", label="Score from", widget=SCORE_INPUT)
    score_max = df.NumberFilter(field_name="score", lookup_expr="lte", label="Score to", widget=SCORE_INPUT)
    priority = df.MultipleChoiceFilter(choices=Priority.choices, distinct=False)
    gdpr_consent = YesNoFilter(label="GDPR consent")
    dnd = YesNoFilter(label="Do not disturb")
    converted = YesNoFilter(field_name="converted_at", lookup_expr="isnull", exclude=True, label="Converted")
    has_duplicates = YesNoFilter(method="filter_has_duplicates", label="Has duplicates")
    headline = df.CharFilter(method="filter_profile", label="Profile headline contains")
    location = df.CharFilter(method="filter_profile", label="Profile location contains")
    locals().update(_date_filters("created", "created_at"))
    locals().update(_date_filters("updated", "updated_at"))
    locals().update(_date_filters("activity", "last_activity_at"))

    class Meta:
        model = Lead
        fields: list[str] = []
        form = LeadFilterForm

    def __init__(self, data=None, *args, membership: Membership, **kwargs):
        self.membership = membership
        super().__init__(data, *args, **kwargs)
        company_id = membership.company_id
        self.filters["status"].queryset = LeadStatus.objects.filter(company_id=company_id)
        self.filters["campaign"].queryset = Campaign.objects.filter(company_id=company_id)
        team_leads = memberships_visible_to(membership).filter(role__in=[Role.MANAGER, Role.ADMIN])
        self.filters["team"].queryset = team_leads.select_related("user", "company")
        owners = memberships_visible_to(membership).select_related("user")
        self.filters["owner"].extra["choices"] = [("me", "Me"), ("unassigned", "Unassigned")] + [
            (str(m.pk), str(m.user)) for m in owners
        ]
        for definition in CustomField.objects.filter(company_id=company_id, is_active=True):
            for name, custom in _custom_filters(definition).items():
                custom.parent, custom.model = self, Lead
                self.filters[name] = custom

    # -- filter methods ---------------------------------------------------------------------------

    def filter_search(self, queryset, name, value):
        return search.search_leads(queryset, value)

    def filter_owner(self, queryset, name, values):
        if not values:
            return queryset
        condition = Q()
        for value in values:
            if value == "me":
                condition |= Q(owner_id=self.membership.pk)
            elif value == "unassigned":
                condition |= Q(owner__isnull=True)
            else:
                condition |= Q(owner_id=int(value))
        return queryset.filter(condition)

    def filter_team(self, queryset, name, manager):
        return queryset.filter(owner_id__in=team_member_ids(manager))

    def filter_country(self, queryset, name, values):
        return queryset.filter(country__in=[v.strip().upper() for v in values if v.strip()])

    def filter_has_duplicates(self, queryset, name, value):
        """In a pair of the review queue that the member can see: exactly the leads whose page
        lists possible duplicates."""
        pairs = dedup.candidates_visible_to(self.membership)
        in_pair = Q(id__in=pairs.values("lead_a")) | Q(id__in=pairs.values("lead_b"))
        return queryset.filter(in_pair) if value else queryset.exclude(in_pair)

    def filter_profile(self, queryset, name, value):
        return queryset.filter(**{f"profile_data__{name}__icontains": value})

    def filter_from(self, queryset, name, value):
        return queryset.filter(**{f"{name}__gte": _day_start(value)})

    def filter_until(self, queryset, name, value):
        if value == dt.date.max:  # the last day there is: no end
            return queryset
        return queryset.filter(**{f"{name}__lt": _day_start(value + dt.timedelta(days=1))})

    def filter_custom(self, queryset, name, value):
        key, _, op = name.partition(":")
        if isinstance(value, Decimal):  # stored JSON numbers compare as int/float
            value = int(value) if value == value.to_integral_value() else float(value)
        path = f"custom_fields__{key}"
        if op == "contains":
            return queryset.filter(**{f"{path}__icontains": value})
        if op in ("gte", "lte"):
            return queryset.filter(**{f"{path}__{op}": value.isoformat() if hasattr(value, "isoformat") else value})
        return queryset.filter(**{path: value.isoformat() if hasattr(value, "isoformat") else value})


def _custom_filters(definition: CustomField) -> dict[str, df.Filter]:
    key, label = definition.key, definition.label
    name = f"cf_{key}"
    kind = definition.field_type
    method = "filter_custom"
    if kind == CustomFieldType.NUMBER:
        return {
            f"{name}_min": df.NumberFilter(field_name=f"{key}:gte", method=method, label=f"{label} from"),
            f"{name}_max": df.NumberFilter(field_name=f"{key}:lte", method=method, label=f"{label} to"),
        }
    if kind == CustomFieldType.DATE:
        return {
            f"{name}_after": df.DateFilter(
                field_name=f"{key}:gte", method=method, label=f"{label} from", widget=date_input()
            ),
            f"{name}_before": df.DateFilter(
                field_name=f"{key}:lte", method=method, label=f"{label} until", widget=date_input()
            ),
        }
    if kind == CustomFieldType.BOOL:
        return {name: YesNoFilter(field_name=key, method=method, label=label)}
    if kind == CustomFieldType.CHOICE:
        choices = [(c, c) for c in definition.choices]
        return {name: df.ChoiceFilter(field_name=key, method=method, label=label, choices=choices, empty_label="Any")}
    return {
        name: df.CharFilter(field_name=key, method=method, label=f"{label} is"),
        f"{name}_contains": df.CharFilter(field_name=f"{key}:contains", method=method, label=f"{label} contains"),
    }


class FilterError(ValidationError):
    """The filter parameters are invalid; ``message_dict`` names each bad parameter and
    ``filterset`` keeps the bound form so the page can show the errors beside the inputs."""

    filterset: LeadFilterSet | None = None


def filter_leads(queryset: QuerySet[Lead], params, *, membership: Membership) -> tuple[QuerySet[Lead], LeadFilterSet]:
    """Apply ``params`` with the LeadFilterSet; raise ``FilterError`` instead of silently widening."""
    filterset = LeadFilterSet(params, queryset=queryset, membership=membership)
    if filterset.is_bound and not filterset.is_valid():
        error = FilterError({name: [str(m) for m in messages] for name, messages in filterset.errors.items()})
        error.filterset = filterset
        raise error
    return filterset.qs, filterset
