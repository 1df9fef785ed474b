"""Forms of the qualification panel, the conversion page, the bulk conversion and the qualification
settings. They parse and render; the services validate (their field errors come back through
``put_service_errors``, with ``bant.budget`` shown on ``bant_budget``)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from accounts.conversion import AccountMatch
from accounts.models_qualification import BANT, MEDDICC, Qualification, QualificationSettings, RiskScore
from accounts.qualification import LABELS, MAX_ANSWER, SETTINGS_FIELDS, bant_prefill
from crm.forms import add_service_errors
from leads.models import Lead

NEW = "new"


def put_service_errors(form: forms.Form, error: ValidationError, rename: dict[str, str] | None = None) -> None:
    """A service's field errors on the form's fields (``opportunity.amount`` → ``opportunity_amount``,
    and the names in ``rename``)."""
    names = {name: (rename or {}).get(name, name.replace(".", "_")) for name in getattr(error, "error_dict", {})}
    add_service_errors(form, error, rename=names)


class QualificationForm(forms.Form):
    """The scorecard: one text answer per BANT and MEDDICC criterion, the risk, the workflow's note."""

    risk_score = forms.ChoiceField(choices=RiskScore.choices, initial=RiskScore.LOW, label="Risk")
    note = forms.CharField(required=False, max_length=1000, label="Note for the status change",
                           help_text="Needed when the workflow asks for one (moving to unqualified, say).")  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        answers = {f"{group}_{key}": forms.CharField(label=LABELS[key], required=False, max_length=MAX_ANSWER)
                   for group, keys in (("bant", BANT), ("meddicc", MEDDICC)) for key in keys}  # fmt: skip
        self.fields = {**answers, "risk_score": self.fields["risk_score"], "note": self.fields["note"]}

    @classmethod
    def initial_for(cls, lead: Lead, qualification: Qualification | None) -> dict:
        """The current scorecard, or the BANT answers the lead's own fields give."""
        bant = qualification.bant if qualification else bant_prefill(lead)
        meddicc = qualification.meddicc if qualification else {}
        initial = {f"bant_{key}": bant.get(key, "") for key in BANT}
        initial.update({f"meddicc_{key}": meddicc.get(key, "") for key in MEDDICC})
        initial["risk_score"] = qualification.risk_score if qualification else RiskScore.LOW
        return initial

    def bant_fields(self):
        return [self[f"bant_{key}"] for key in BANT]

    def meddicc_fields(self):
        return [self[f"meddicc_{key}"] for key in MEDDICC]

    def service_data(self) -> dict:
        data = self.cleaned_data
        return {
            "bant": {key: data[f"bant_{key}"] for key in BANT},
            "meddicc": {key: data[f"meddicc_{key}"] for key in MEDDICC},
            "risk_score": data["risk_score"],
            "note": data["note"],
        }


class ConversionForm(forms.Form):
    """Pick a proposed account (or any account of the company by id) or create a new one, and
    optionally an opportunity. Amount and date are checked by the service."""

    account = forms.CharField(required=False, widget=forms.RadioSelect, label="Account")
    opportunity = forms.BooleanField(required=False, label="Create an opportunity")
    opportunity_name = forms.CharField(required=False, max_length=200, label="Opportunity name")
    opportunity_amount = forms.CharField(required=False, max_length=40, label="Amount")
    opportunity_close_date = forms.CharField(required=False, label="Close date",
                                             widget=forms.DateInput(attrs={"type": "date"}),
                                             help_text="Empty: 90 days from today.")  # fmt: skip
    override_note = forms.CharField(required=False, max_length=1000, label="Override note",
                                    help_text="Managers: convert although the qualification or the lead score "
                                    "falls short, and say why.")  # fmt: skip

    def __init__(self, *args, matches: list[AccountMatch], may_override: bool, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(str(m.account.pk), f"{m.account.name} — score {m.score}: {', '.join(m.reasons)}")
                   for m in matches if m.visible]  # fmt: skip
        self.fields["account"].widget.choices = [*choices, (NEW, "Create a new account")]
        self.initial.setdefault("account", choices[0][0] if choices and matches[0].exact else NEW)
        if not may_override:
            del self.fields["override_note"]

    def clean_account(self) -> str:
        value = self.cleaned_data["account"] or NEW
        if value != NEW and not value.isdecimal():
            raise ValidationError("Choose a proposed account or create a new one.")
        return value

    def service_data(self) -> dict:
        data = self.cleaned_data
        opportunity = None
        if data["opportunity"]:
            opportunity = {"name": data["opportunity_name"], "amount": data["opportunity_amount"],
                           "close_date": data["opportunity_close_date"]}  # fmt: skip
        new = data["account"] == NEW
        return {"account": None if new else int(data["account"]), "new_account": new, "opportunity": opportunity,
                "override_note": data.get("override_note", "")}  # fmt: skip


class BulkConversionForm(forms.Form):
    ids = forms.CharField(label="Lead ids", widget=forms.Textarea(attrs={"rows": 3}),
                          help_text="The leads to convert, separated by commas or spaces (#12, 15 …).")  # fmt: skip

    def clean_ids(self) -> list[int]:
        words = self.cleaned_data["ids"].replace(",", " ").split()
        try:
            ids = sorted({int(word.lstrip("#")) for word in words})
        except ValueError:
            raise ValidationError("Give lead ids: whole numbers separated by commas or spaces.") from None
        if not ids:
            raise ValidationError("Give at least one lead id.")
        return ids


class QualificationSettingsForm(forms.ModelForm):
    class Meta:
        model = QualificationSettings
        fields = SETTINGS_FIELDS

    def service_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in SETTINGS_FIELDS}
