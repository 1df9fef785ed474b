"""Forms of the lead settings pages. They parse input only; the rules live in
``leads.config.services`` and their errors come back through ``crm.forms.add_service_errors``."""

from __future__ import annotations

from django import forms

from crm.models import Company, Role
from leads.models import Campaign, CustomField, LeadStatus, StatusTransition

__all__ = ["CampaignForm", "CustomFieldForm", "StatusForm", "TransitionForm"]


class StatusForm(forms.ModelForm):
    class Meta:
        model = LeadStatus
        fields = ["key", "name", "description", "color", "category", "order", "is_initial", "is_terminal"]
        widgets = {"color": forms.TextInput(attrs={"type": "color"})}
        help_texts = {"key": "Lower-case letters, digits, - and _. It cannot change later."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["order"].required = False
        if self.instance.pk:
            self.fields["key"].disabled = True
            self.fields["key"].help_text = "The key cannot change after creation."


ROLE_CHOICES = [(value, label) for value, label in Role.choices]


class TransitionForm(forms.ModelForm):
    allowed_roles = forms.MultipleChoiceField(
        choices=ROLE_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked to allow every role.",
    )

    class Meta:
        model = StatusTransition
        fields = ["from_status", "to_status", "allowed_roles", "note_required"]
        labels = {"from_status": "From", "to_status": "To", "note_required": "A note is required"}

    def __init__(self, *args, company: Company, **kwargs):
        super().__init__(*args, **kwargs)
        statuses = LeadStatus.objects.filter(company=company).order_by("order", "id")
        self.fields["from_status"].queryset = statuses.filter(is_terminal=False)
        self.fields["to_status"].queryset = statuses


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = ["name", "source", "medium", "starts_on", "ends_on", "is_active"]
        widgets = {
            "starts_on": forms.DateInput(attrs={"type": "date"}),
            "ends_on": forms.DateInput(attrs={"type": "date"}),
        }


class CustomFieldForm(forms.ModelForm):
    choices = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One per line; only for a choice field.",
    )

    class Meta:
        model = CustomField
        fields = ["key", "label", "field_type", "choices", "required", "order", "is_active"]
        labels = {"field_type": "Type", "required": "Required on every lead"}
        help_texts = {"key": "Lower-case letters, digits and _. It cannot change later."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["order"].required = False
        if self.instance.pk:
            self.fields["key"].disabled = True
            self.fields["key"].help_text = "The key cannot change after creation."
            self.initial["choices"] = "\n".join(self.instance.choices or [])

    def clean_choices(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["choices"].splitlines() if line.strip()]
