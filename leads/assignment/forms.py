"""Forms of the assignment pages. They parse input only: the rules live in ``leads.assignment`` and
``leads.scoring``, and their errors come back through ``crm.forms.add_service_errors``."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone

from crm.models import Company, Membership
from leads.assignment import open_loads
from leads.models import AssignmentStrategy, LeadSettings
from leads.scoring import OPERATORS, field_choices

__all__ = [
    "AssignForm",
    "ConditionFormSet",
    "DryRunForm",
    "LeadSettingsForm",
    "MemberCapacityForm",
    "MemberFormSet",
    "RuleForm",
    "ScoringRuleForm",
    "StatsPeriodForm",
    "rule_service_data",
]


def _member_label(member: Membership, loads: dict[int, int]) -> str:
    flags = "" if member.is_available else ", unavailable"
    flags += "" if member.is_active else ", inactive"
    return f"{member.display_name} — {loads.get(member.pk, 0)} of {member.capacity} open leads{flags}"


class AssignForm(forms.Form):
    owner = forms.ModelChoiceField(queryset=Membership.objects.none(), label="Assign to", empty_label="Choose…")
    reason = forms.CharField(
        required=False, max_length=300, widget=forms.Textarea(attrs={"rows": 2}), help_text="Optional: why."
    )

    def __init__(self, *args, members, **kwargs):
        super().__init__(*args, **kwargs)
        members = members.select_related("user").order_by("user__full_name", "user__email")
        loads = open_loads([m.pk for m in members])
        self.fields["owner"].queryset = members
        self.fields["owner"].label_from_instance = lambda m: _member_label(m, loads)


class DryRunForm(forms.Form):
    count = forms.IntegerField(min_value=1, max_value=200, initial=10, label="Next N pool leads")


# --- assignment rules ------------------------------------------------------------------------------


class RuleForm(forms.Form):
    name = forms.CharField(max_length=100)
    is_active = forms.BooleanField(required=False, initial=True, label="Active")
    strategy = forms.ChoiceField(choices=AssignmentStrategy.choices)
    match_territory = forms.BooleanField(required=False, label="Only members whose territory covers the lead's country")
    required_skills = forms.CharField(
        required=False, max_length=300, help_text="Comma-separated; members need all of them (e.g. de, payroll)."
    )
    skill_field = forms.ChoiceField(
        required=False, label="Match a lead field to member skills",
        help_text="e.g. a Language custom field: only members with that language as a skill.",
    )  # fmt: skip

    def __init__(self, *args, company: Company, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["skill_field"].choices = [("", "—")] + field_choices(company, purpose="assignment")


OPERATOR_CHOICES = [(key, label) for key, label in OPERATORS.items() if key != "per_event"]


class ConditionForm(forms.Form):
    field = forms.ChoiceField(required=False)
    operator = forms.ChoiceField(required=False, choices=[("", "—"), *OPERATOR_CHOICES])
    value = forms.CharField(required=False, max_length=300)

    def __init__(self, *args, company: Company, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["field"].choices = [("", "—")] + field_choices(company, purpose="assignment")

    def as_condition(self) -> dict | None:
        data = self.cleaned_data
        if not data or data.get("DELETE") or not (data.get("field") or data.get("operator")):
            return None
        return {"field": data.get("field", ""), "operator": data.get("operator", ""), "value": data.get("value", "")}


class MemberForm(forms.Form):
    membership = forms.ModelChoiceField(queryset=Membership.objects.none(), required=False, label="Member")
    weight = forms.IntegerField(required=False, initial=1, min_value=0, max_value=100)

    def __init__(self, *args, company: Company, **kwargs):
        super().__init__(*args, **kwargs)
        members = Membership.objects.filter(company=company).select_related("user").order_by("user__full_name")
        self.fields["membership"].queryset = members
        self.fields["membership"].label_from_instance = lambda m: (
            f"{m.display_name} ({m.get_role_display()}{', ' + m.territory if m.territory else ''})"
        )

    def as_member(self) -> dict | None:
        data = self.cleaned_data
        if not data or data.get("DELETE") or data.get("membership") is None:
            return None
        return {"membership": data["membership"].pk, "weight": 1 if data.get("weight") is None else data["weight"]}


ConditionFormSet = forms.formset_factory(ConditionForm, extra=2, can_delete=True)
MemberFormSet = forms.formset_factory(MemberForm, extra=2, can_delete=True)


def rule_service_data(form: RuleForm, conditions, members) -> dict:
    data = dict(form.cleaned_data)
    data["required_skills"] = [s.strip() for s in data.get("required_skills", "").split(",") if s.strip()]
    data["conditions"] = [c for c in (f.as_condition() for f in conditions.forms) if c]
    data["members"] = [m for m in (f.as_member() for f in members.forms) if m]
    return data


# --- scoring ----------------------------------------------------------------------------------------


class ScoringRuleForm(forms.Form):
    name = forms.CharField(max_length=100)
    field = forms.ChoiceField()
    operator = forms.ChoiceField(choices=list(OPERATORS.items()))
    value = forms.CharField(
        required=False, max_length=300,
        help_text="Lists are comma-separated; ranges are low-high. Empty for 'is set', 'is empty', 'for each event'.",
    )  # fmt: skip
    points = forms.IntegerField(help_text="From -100 to 100; per event for engagement rules.")
    max_points = forms.IntegerField(required=False, label="Cap", help_text="Per-event rules only: at most this many.")
    order = forms.IntegerField(required=False, min_value=0)
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    def __init__(self, *args, company: Company, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["field"].choices = field_choices(company, purpose="scoring")


class LeadSettingsForm(forms.ModelForm):
    class Meta:
        model = LeadSettings
        fields = ["hot_threshold", "warm_threshold", "sla_hours", "spam_threshold", "engagement_half_life_days"]
        labels = {"sla_hours": "Response SLA (hours)", "engagement_half_life_days": "Engagement half-life (days)"}


# --- team and stats ---------------------------------------------------------------------------------


class MemberCapacityForm(forms.Form):
    # Any whole number is accepted here: the service explains what is wrong with a negative one.
    capacity = forms.IntegerField(help_text="Maximum open leads.")
    is_available = forms.BooleanField(required=False, label="Available (receives new leads)")
    territory = forms.CharField(required=False, max_length=100, help_text="Regions or country codes: EMEA, DACH, FR.")
    skills = forms.CharField(required=False, max_length=300, help_text="Comma-separated: languages, products, …")

    def service_data(self) -> dict:
        data = dict(self.cleaned_data)
        data["skills"] = [s.strip() for s in data.get("skills", "").split(",") if s.strip()]
        return data


class StatsPeriodForm(forms.Form):
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From")
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To (inclusive)")

    DEFAULT_DAYS = 30
    MAX_DAYS = 366

    def clean(self):
        cleaned = super().clean()
        today = timezone.localdate()
        until = cleaned.get("until") or today
        since = cleaned.get("since") or until - dt.timedelta(days=self.DEFAULT_DAYS - 1)
        if since > until:
            raise forms.ValidationError("The start date is after the end date.")
        if (until - since).days >= self.MAX_DAYS:
            raise forms.ValidationError(f"Choose a period of at most {self.MAX_DAYS} days.")
        cleaned["since"], cleaned["until"] = since, until
        return cleaned

    def period(self) -> tuple[dt.datetime, dt.datetime]:
        since, until = self.cleaned_data["since"], self.cleaned_data["until"]
        start = timezone.make_aware(dt.datetime.combine(since, dt.time.min))
        end = timezone.make_aware(dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min))
        return start, end
