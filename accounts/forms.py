"""Forms only parse and render; the services validate and write (their errors are put back on the
fields with ``crm.forms.add_service_errors``). Foreign-key choices are the company's rows the
member can see."""

from __future__ import annotations

from django import forms

from accounts.models import Account, Contact, Opportunity, Stage
from accounts.queries import accounts_visible_to, contacts_visible_to, stages_of
from crm.models import ActivityKind, ActivityOutcome, Membership
from crm.queries import memberships_visible_to

ACCOUNT_FIELDS = ["name", "website", "domain", "account_type", "industry", "company_size", "annual_revenue", "gstin",
                  "health_score", "lifecycle_stage", "country", "owner", "parent", "is_active"]  # fmt: skip
CONTACT_FIELDS = ["account", "first_name", "last_name", "job_title", "role", "email", "phone", "preferred_channel",
                  "influence", "is_primary", "gdpr_consent", "dnd", "owner"]  # fmt: skip
OPPORTUNITY_FIELDS = ["name", "account", "primary_contact", "amount", "currency", "close_date", "stage",
                      "forecast_category", "source", "next_step", "lost_reason", "owner"]  # fmt: skip


def _formfield(model_field, **kwargs):
    # Formats (email, URL, dates, numbers) are checked by the service, so every problem comes back
    # in one pass with the same message as through the API.
    if model_field.name in ("email", "website", "amount", "annual_revenue"):
        return forms.CharField(label=model_field.verbose_name.capitalize(), required=False,
                               max_length=getattr(model_field, "max_length", None) or 40)  # fmt: skip
    if model_field.name == "close_date":
        return forms.CharField(label="Close date", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    return model_field.formfield(**kwargs)


class RecordForm(forms.Form):
    model: type
    field_names: list[str]

    def __init__(self, *args, membership: Membership, instance=None, **kwargs):
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = forms.model_to_dict(instance, fields=self.field_names)
        super().__init__(*args, **kwargs)
        for name in self.field_names:
            field = _formfield(self.model._meta.get_field(name))
            if field is not None:
                field.required = False
                self.fields[name] = field
        self.membership = membership
        if "owner" in self.fields:
            owners = memberships_visible_to(membership).filter(is_active=True).select_related("user")
            self.fields["owner"].queryset = owners
            self.fields["owner"].label_from_instance = lambda m: str(m.user)

    def service_data(self) -> dict:
        data = dict(self.cleaned_data)
        if "stage" in data and data["stage"] is None:
            data.pop("stage")
        return data


class AccountForm(RecordForm):
    model, field_names = Account, ACCOUNT_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent"].queryset = accounts_visible_to(self.membership)


class ContactForm(RecordForm):
    model, field_names = Contact, CONTACT_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = accounts_visible_to(self.membership)


class OpportunityForm(RecordForm):
    model, field_names = Opportunity, OPPORTUNITY_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = accounts_visible_to(self.membership)
        self.fields["primary_contact"].queryset = contacts_visible_to(self.membership).select_related("account")
        self.fields["stage"].queryset = stages_of(self.membership.company_id)
        self.fields["stage"].help_text = "Empty: the first open stage. The probability follows the stage."


class StageMoveForm(forms.Form):
    """The board's no-JavaScript door (and the htmx one): move a card to another stage."""

    stage = forms.ModelChoiceField(queryset=Stage.objects.none())
    note = forms.CharField(required=False, widget=forms.TextInput(attrs={"placeholder": "Note (reopen, override)"}))
    probability = forms.CharField(required=False, help_text="Managers only: another probability, with a note.")
    lost_reason = forms.CharField(required=False)

    def __init__(self, *args, company_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage"].queryset = stages_of(company_id)


class RecordActivityForm(forms.Form):
    kind = forms.ChoiceField(choices=[c for c in ActivityKind.choices if c[0] != ActivityKind.SYSTEM])
    subject = forms.CharField(max_length=200)
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    outcome = forms.ChoiceField(choices=[("", "—"), *ActivityOutcome.choices], required=False)


class StageForm(forms.Form):
    """A pipeline stage as an admin edits it. Numbers are text here: ``accounts.services.stage_*``
    parse and check them, so the page and the API give the same messages."""

    name = forms.CharField(max_length=60, required=False)
    order = forms.CharField(required=False, help_text="Columns are shown from the lowest order up. Empty: last.",
                            widget=forms.TextInput(attrs={"inputmode": "numeric"}))  # fmt: skip
    probability = forms.CharField(label="Probability (%)", required=False, help_text="0–100; a stage change sets it.",
                                  widget=forms.TextInput(attrs={"inputmode": "numeric"}))  # fmt: skip
    is_won = forms.BooleanField(label="Closed won", required=False)
    is_lost = forms.BooleanField(label="Closed lost", required=False)
    is_active = forms.BooleanField(label="Active", required=False, initial=True,
                                   help_text="Retired stages stay in the history but leave the board.")  # fmt: skip

    def __init__(self, *args, stage: Stage | None = None, **kwargs):
        if stage is not None:
            kwargs.setdefault("initial", forms.model_to_dict(stage, fields=list(self.base_fields)))
        super().__init__(*args, **kwargs)

    def service_data(self) -> dict:
        data = dict(self.cleaned_data)
        if data["order"] == "":
            data.pop("order")  # the service puts a new stage last and leaves an edited one where it is
        return data
