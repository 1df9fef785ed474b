"""Forms of the nurturing pages. They parse; the services validate (their field-named errors land on
these fields through ``crm.forms.add_service_errors``)."""

from __future__ import annotations

from django import forms
from django.db.models import Q

from leads import listing
from leads.queries import statuses_of
from nurturing.models import ConsentPolicy, EmailSequence, NurturingSettings, Trigger
from nurturing.templating import MERGE_FIELDS


class SequenceForm(forms.Form):
    name = forms.CharField(max_length=150)
    description = forms.CharField(max_length=300, required=False)
    trigger = forms.ChoiceField(choices=Trigger.choices, initial=Trigger.MANUAL)
    trigger_score = forms.IntegerField(required=False, label="Score threshold",
                                       help_text="With “Score crosses a threshold”: the score (0–100) that enrols.")  # fmt: skip
    trigger_status = forms.ModelChoiceField(queryset=None, required=False, label="Status",
                                            help_text="With “Status changed to”: the status that enrols.")  # fmt: skip
    sender_name = forms.CharField(max_length=100, required=False, help_text="Empty: the company's name.")
    sender_email = forms.EmailField(required=False, help_text="Empty: the site's sending address.")

    def __init__(self, *args, company, sequence: EmailSequence | None = None, **kwargs):
        if sequence is not None:
            kwargs.setdefault("initial", {name: getattr(sequence, name) for name in self.base_fields})
        super().__init__(*args, **kwargs)
        self.fields["trigger_status"].queryset = statuses_of(company.pk)

    def service_data(self) -> dict:
        return dict(self.cleaned_data)


class StepForm(forms.Form):
    subject = forms.CharField(max_length=200)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 10}),
                           help_text="HTML (paragraphs, bold, lists, links) with merge fields such as {{ first_name }}.")  # fmt: skip
    delay_days = forms.IntegerField(required=False, initial=0, label="Delay in days")
    delay_hours = forms.IntegerField(required=False, initial=0, label="…and hours",
                                     help_text="After the previous step (after the enrolment for the first step).")  # fmt: skip

    merge_fields = MERGE_FIELDS

    def __init__(self, *args, step=None, **kwargs):
        if step is not None:
            kwargs.setdefault("initial", {name: getattr(step, name) for name in self.base_fields})
        super().__init__(*args, **kwargs)

    def service_data(self) -> dict:
        data = dict(self.cleaned_data)
        for name in ("delay_days", "delay_hours"):
            data[name] = data[name] if data[name] is not None else 0
        return data


class PreviewForm(forms.Form):
    lead = forms.IntegerField(required=False, label="Lead", widget=forms.NumberInput(attrs={"list": "preview-leads"}),
                              help_text="A lead's number; empty: sample values.")  # fmt: skip


class BulkEnrolForm(forms.Form):
    view = forms.ChoiceField(required=False, label="Every lead of a view")
    filter = forms.CharField(required=False, label="…or every lead matching a filter",
                             help_text="A lead-list query, as in the lead list's address: status=3&country=GB")  # fmt: skip
    ids = forms.CharField(required=False, label="…or these leads", help_text="Lead numbers, separated by commas.")

    def __init__(self, *args, membership, **kwargs):
        super().__init__(*args, **kwargs)
        views = [(key, label) for key, (label, _query, _sort) in listing.builtin_views(membership).items()]
        views += [(f"saved:{saved.pk}", saved.name) for saved in listing.saved_filters_visible_to(membership)]
        self.fields["view"].choices = [("", "—"), *views]

    def clean_ids(self) -> list[int] | None:
        text = self.cleaned_data["ids"].replace(";", ",").strip()
        if not text:
            return None
        try:
            return [int(part.strip().lstrip("#")) for part in text.split(",") if part.strip()]
        except ValueError:
            raise forms.ValidationError("Give lead numbers separated by commas, such as 12, 15, 18.") from None

    def clean(self):
        cleaned = super().clean()
        given = [name for name in ("view", "filter", "ids") if cleaned.get(name)]
        if len(given) != 1 and not self.errors:
            self.add_error("view", "Choose one: a view, a filter or lead numbers.")
        return cleaned


class NurturingSettingsForm(forms.Form):
    """The company's sending rules. Numbers are plain integers here so that a negative one reaches
    the service's own message."""

    rate_per_minute = forms.IntegerField(label="Rate limit (emails per minute)",
                                         help_text="Across every sequence and worker of the company.")  # fmt: skip
    window_start = forms.TimeField(required=False, label="Send from (UTC)",
                                   widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                                   help_text="Empty (both ends): any time of day.")  # fmt: skip
    window_end = forms.TimeField(required=False, label="…until (UTC)",
                                 widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                                 help_text="Earlier than the start: the window runs past midnight.")  # fmt: skip
    consent_policy = forms.ChoiceField(choices=ConsentPolicy.choices, label="Consent policy")
    default_sequence = forms.ModelChoiceField(queryset=None, required=False, label="Default nurture sequence",
                                              help_text="The nightly sweep enrols new and contacted leads under the "
                                              "threshold here. Empty: no sweep.")  # fmt: skip
    sweep_threshold = forms.IntegerField(label="Sweep threshold (score 0–100)",
                                         help_text="Leads scoring below this are swept into the default sequence.")  # fmt: skip

    def __init__(self, *args, settings: NurturingSettings, **kwargs):
        kwargs.setdefault("initial", {name: getattr(settings, name) for name in self.base_fields})
        super().__init__(*args, **kwargs)
        # The company's active sequences, and the current choice even if deactivated since.
        sequences = EmailSequence.objects.filter(company_id=settings.company_id)
        chosen = Q(is_active=True) | Q(pk=settings.default_sequence_id)
        self.fields["default_sequence"].queryset = sequences.filter(chosen)

    def service_data(self) -> dict:
        return dict(self.cleaned_data)
