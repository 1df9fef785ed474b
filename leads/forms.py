"""Forms only parse and render; the services validate and write. Service errors are mapped back
onto the form's fields (``crm.forms.add_service_errors``) so the user sees each message beside its field."""

from __future__ import annotations

import copy
import json

from django import forms
from django.core.exceptions import ValidationError

from crm.forms import CUSTOM_FIELD_PREFIX, add_service_errors
from crm.models import ActivityKind, ActivityOutcome, Membership
from crm.queries import memberships_visible_to
from leads.models import Campaign, CustomField, CustomFieldType, Lead
from leads.services import lead_prepare

LEAD_FORM_FIELDS = [
    "first_name", "last_name", "email", "phone", "country", "job_title", "company_name", "profile_url",
    "lead_source", "campaign", "medium", "term", "owner", "stage", "interest_product", "budget_range",
    "authority_level", "need", "timeline", "gdpr_consent", "dnd", "opt_in_date",
]  # fmt: skip
CUSTOM_PREFIX = CUSTOM_FIELD_PREFIX
# The old name, still imported by accounts/views_stages.py and accounts/forms_conversion.py.


def _custom_form_field(definition: CustomField) -> forms.Field:
    common = {"label": definition.label, "required": False}
    if definition.field_type == CustomFieldType.NUMBER:
        return forms.DecimalField(**common)
    if definition.field_type == CustomFieldType.DATE:
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if definition.field_type == CustomFieldType.BOOL:
        return forms.BooleanField(**common)
    if definition.field_type == CustomFieldType.CHOICE:
        return forms.ChoiceField(choices=[("", "—")] + [(c, c) for c in definition.choices], **common)
    return forms.CharField(max_length=1000, **common)


def _lead_formfield(model_field, **kwargs):
    # Email and URL are validated by the service, so every problem is reported in one pass.
    if model_field.name == "email":
        return forms.CharField(max_length=254, required=False, widget=forms.EmailInput)
    if model_field.name == "profile_url":
        return forms.CharField(max_length=500, required=False, widget=forms.URLInput, label="Profile URL")
    return model_field.formfield(**kwargs)


class LeadForm(forms.Form):
    """The lead's editable fields (taken from the model) plus one field per active custom field."""

    def __init__(self, *args, membership: Membership, can_assign: bool, lead: Lead | None = None, **kwargs):
        self.membership, self.lead = membership, lead
        if lead is not None and "initial" not in kwargs:
            kwargs["initial"] = {**forms.model_to_dict(lead, fields=LEAD_FORM_FIELDS)} | {
                f"{CUSTOM_PREFIX}{k}": v for k, v in lead.custom_fields.items()
            }
        super().__init__(*args, **kwargs)
        company = membership.company
        self.fields["campaign"].queryset = Campaign.objects.filter(company=company, is_active=True)
        for name in ("campaign", "lead_source"):  # required: the service names them when missing
            self.fields[name].required = False
            self.fields[name].widget.attrs["required"] = True
        # A name or a variant ("Germany", "Deutschland", "UK") is accepted: the service turns it into the code.
        self.fields["country"] = forms.CharField(
            label=self.fields["country"].label, max_length=60, required=False,
            help_text=f"A code or a name (DE, Germany, Deutschland); empty means {company.default_country}.",
        )  # fmt: skip
        self.fields["opt_in_date"].widget = forms.DateTimeInput(attrs={"type": "datetime-local"})
        if can_assign:
            self.fields["owner"].queryset = (
                memberships_visible_to(membership).filter(is_active=True).select_related("user")
            )
        else:
            del self.fields["owner"]
        self.custom_definitions = list(CustomField.objects.filter(company=company, is_active=True))
        for definition in self.custom_definitions:
            field = _custom_form_field(definition)
            field.required = definition.required
            self.fields[f"{CUSTOM_PREFIX}{definition.key}"] = field

    def clean(self):
        cleaned = super().clean()
        if self._errors:  # the service's verdict on the other fields now, not once these are fixed
            lead = copy.copy(self.lead) if self.lead is not None else None  # a dry run: the view's lead stays
            try:
                lead_prepare(
                    company=self.membership.company, actor=self.membership, data=self.service_data(), lead=lead
                )
            except ValidationError as error:
                add_service_errors(self, error, besides=True)
        return cleaned

    def service_data(self) -> dict:
        data = {name: self.cleaned_data[name] for name in LEAD_FORM_FIELDS if name in self.cleaned_data}
        data["custom_fields"] = {
            d.key: self.cleaned_data.get(f"{CUSTOM_PREFIX}{d.key}")
            for d in self.custom_definitions
            if self.cleaned_data.get(f"{CUSTOM_PREFIX}{d.key}") not in (None, "")
        }
        for key, value in data["custom_fields"].items():
            if hasattr(value, "isoformat"):
                data["custom_fields"][key] = value.isoformat()
            elif not isinstance(value, bool | str):
                data["custom_fields"][key] = str(value)
        return data

    @property
    def custom_field_names(self) -> list[str]:
        return [f"{CUSTOM_PREFIX}{d.key}" for d in self.custom_definitions]


LeadForm.base_fields = forms.fields_for_model(Lead, fields=LEAD_FORM_FIELDS, formfield_callback=_lead_formfield)


class ProfileForm(forms.Form):
    profile = forms.CharField(
        label="Scraped profile (JSON)", widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"})
    )
    campaign = forms.ModelChoiceField(queryset=Campaign.objects.none())
    lead_source = forms.CharField(max_length=100, required=False, help_text="Empty: the profile's source.")

    def __init__(self, *args, company, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = Campaign.objects.filter(company=company, is_active=True)

    def clean_profile(self):
        try:
            profile = json.loads(self.cleaned_data["profile"])
        except json.JSONDecodeError as error:
            raise ValidationError(
                f"Not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."
            ) from None
        if not isinstance(profile, dict):
            raise ValidationError("A scraped profile must be a JSON object ({…}).")
        return profile


class TransitionForm(forms.Form):
    status = forms.IntegerField()
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class CommentForm(forms.Form):
    body = forms.CharField(label="Comment", widget=forms.Textarea(attrs={"rows": 3, "data-rich": "true"}))
    parent = forms.IntegerField(required=False, widget=forms.HiddenInput)


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(choices=[c for c in ActivityKind.choices if c[0] != ActivityKind.SYSTEM])
    subject = forms.CharField(max_length=200, required=False)
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    outcome = forms.ChoiceField(choices=[("", "—"), *ActivityOutcome.choices], required=False)
    occurred_at = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), help_text="Empty: now."
    )


class FeedFilterForm(forms.Form):
    kind = forms.ChoiceField(required=False, choices=[("", "All kinds"), ("status", "Status changes"),
                                                      ("comment", "Comments"), ("interaction", "Interactions"),
                                                      ("system", "System events")])  # fmt: skip
    member = forms.ModelChoiceField(queryset=Membership.objects.none(), required=False, empty_label="Anyone")
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, membership: Membership, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["member"].queryset = memberships_visible_to(membership).select_related("user")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("since") and cleaned.get("until") and cleaned["since"] > cleaned["until"]:
            self.add_error("until", "The end date must be on or after the start date.")
        return cleaned
