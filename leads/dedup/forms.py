"""Forms of the duplicates pages. They parse input only; the rules live in ``leads.dedup`` (and
``leads.dedup.merge``) and their errors come back through ``add_service_errors``."""

from __future__ import annotations

from django import forms

from crm.models import Company
from leads.models import CustomField, DuplicateRule

__all__ = ["DuplicateRuleForm", "MergeForm", "MergeSelectionForm"]


class MergeSelectionForm(forms.Form):
    """Which leads to merge (``?leads=1&leads=2``) and which of them survives (default: the first)."""

    leads = forms.TypedMultipleChoiceField(coerce=int, required=True)
    survivor = forms.IntegerField(required=False)

    def __init__(self, data=None, **kwargs):
        super().__init__(data, **kwargs)
        values = data.getlist("leads") if data is not None and hasattr(data, "getlist") else []
        self.fields["leads"].choices = [(value, value) for value in values]
        self.fields["leads"].error_messages["required"] = "Choose at least two leads to merge."
        self.fields["leads"].error_messages["invalid_choice"] = "“%(value)s” is not a lead id."

    def clean_leads(self):
        ids = []
        for value in self.cleaned_data["leads"]:
            if value not in ids:
                ids.append(value)
        return ids

    def clean(self):
        cleaned = super().clean()
        ids = cleaned.get("leads") or []
        survivor = cleaned.get("survivor")
        if ids and survivor is None:
            cleaned["survivor"] = ids[0]
        elif ids and survivor not in ids:
            self.add_error("survivor", "The survivor must be one of the leads being merged.")
        return cleaned

    @property
    def others(self) -> list[int]:
        return [pk for pk in self.cleaned_data["leads"] if pk != self.cleaned_data["survivor"]]


class MergeForm(forms.Form):
    """One choice per field of the merge page: the id of the lead whose value the survivor keeps."""

    def __init__(self, data=None, *, preview):
        super().__init__(data)
        for row in preview.rows:
            self.fields[row.name] = forms.TypedChoiceField(
                label=row.label,
                coerce=int,
                choices=[(pk, value) for pk, value in row.values],
                initial=row.chosen,
                widget=forms.RadioSelect,
            )

    def choices(self) -> dict[str, int]:
        return dict(self.cleaned_data)


class DuplicateRuleForm(forms.ModelForm):
    custom_field_keys = forms.MultipleChoiceField(
        label="Custom fields that identify a lead",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Two leads with the same value in one of these fields are exact duplicates.",
    )
    free_mail_domains = forms.CharField(
        label="More free-mail domains",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line. gmail.com, outlook.com and the other big providers are built in.",
    )

    class Meta:
        model = DuplicateRule
        fields = [
            "match_email", "match_phone", "match_profile_url", "match_name_company", "match_company_domain",
            "name_threshold", "company_threshold", "custom_field_keys", "free_mail_domains",
        ]  # fmt: skip

    def __init__(self, *args, company: Company, **kwargs):
        super().__init__(*args, **kwargs)
        fields = CustomField.objects.filter(company=company).order_by("order", "key")
        self.fields["custom_field_keys"].choices = [(f.key, f.label) for f in fields]
        if not self.is_bound:
            self.initial["free_mail_domains"] = "\n".join(self.instance.free_mail_domains or [])
        for name in ("name_threshold", "company_threshold"):
            self.fields[name].widget.attrs.update({"min": 50, "max": 100})

    def clean_free_mail_domains(self):
        return [line.strip() for line in self.cleaned_data["free_mail_domains"].splitlines() if line.strip()]

    def service_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}
