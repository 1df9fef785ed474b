"""Forms of the import and export pages. They parse input only; the rules live in
``leads.transfer.jobs`` and ``leads.transfer.exports``, whose errors come back through
``crm.forms.add_service_errors``."""

from __future__ import annotations

from django import forms

from crm.models import Membership
from leads.listing import saved_filters_visible_to
from leads.models import (
    Campaign,
    DuplicatePolicy,
    ExportFormat,
    ExportTemplate,
    ImportFormat,
    ImportJob,
    ScheduledExport,
    ScheduleFrequency,
)
from leads.transfer.cells import column_choices
from leads.transfer.mapping import IGNORE, ImportOptions, profile_target, targets_for

IGNORE_CHOICE = "__ignore__"
WEEKDAYS = [(0, "Monday"), (1, "Tuesday"), (2, "Wednesday"), (3, "Thursday"), (4, "Friday"), (5, "Saturday"),
            (6, "Sunday")]  # fmt: skip


class ImportUploadForm(forms.Form):
    file = forms.FileField(label="File", help_text="CSV, Excel (.xlsx), JSON (a list of objects) or JSON Lines.")
    file_format = forms.ChoiceField(
        label="Format", required=False, choices=[("", "Detect from the file")] + list(ImportFormat.choices)
    )
    campaign = forms.ModelChoiceField(
        queryset=Campaign.objects.none(),
        required=False,
        help_text="Used for rows without a Campaign column (required for JSON Lines profiles).",
    )
    lead_source = forms.CharField(
        required=False, max_length=100, help_text="Used for rows without a Lead source (default: the campaign's)."
    )

    def __init__(self, *args, company, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = Campaign.objects.filter(company=company, is_active=True)

    def options(self) -> ImportOptions:
        campaign = self.cleaned_data.get("campaign")
        return ImportOptions(
            campaign_id=campaign.pk if campaign else None, lead_source=self.cleaned_data.get("lead_source", "")
        )


class ImportMappingForm(forms.Form):
    """One select per file column (``col_<n>``) plus the run options."""

    on_duplicate = forms.ChoiceField(
        label="When a row matches an existing lead", choices=DuplicatePolicy.choices, initial=DuplicatePolicy.SKIP
    )
    skip_invalid = forms.BooleanField(
        required=False,
        label="Skip invalid rows",
        help_text="Import the valid rows and get the invalid ones back as a file (otherwise nothing is imported).",
    )
    dry_run = forms.BooleanField(required=False, label="Check only (dry run: nothing is written)")

    def __init__(self, *args, job: ImportJob, **kwargs):
        options = ImportOptions.from_dict(job.options)
        kwargs.setdefault(
            "initial",
            {
                "on_duplicate": options.on_duplicate,
                "skip_invalid": options.skip_invalid,
                "dry_run": options.dry_run,
                **{f"col_{i}": _initial(target) for i, target in enumerate(job.mapping)},
            },
        )
        super().__init__(*args, **kwargs)
        self.job = job
        targets = targets_for(job.company)
        for position, header in enumerate(job.headers):
            profile = profile_target(header, position)
            choices = [("", "— choose a field —"), (IGNORE_CHOICE, "Ignore this column"), *targets,
                       (profile, f"Profile attribute “{profile.split(':', 1)[1]}”")]  # fmt: skip
            self.fields[f"col_{position}"] = forms.ChoiceField(
                label=header or f"Column {position + 1}", choices=choices, required=False
            )

    @property
    def column_fields(self):
        return [self[f"col_{position}"] for position in range(len(self.job.headers))]

    def mapping(self) -> list[str | None]:
        data = self.cleaned_data
        return [_target(data.get(f"col_{position}")) for position in range(len(self.job.headers))]

    def options(self) -> ImportOptions:
        base = ImportOptions.from_dict(self.job.options)
        base.on_duplicate = self.cleaned_data["on_duplicate"]
        base.skip_invalid = self.cleaned_data["skip_invalid"]
        base.dry_run = self.cleaned_data["dry_run"]
        return base


def _initial(target: str | None) -> str:
    if target is None:
        return ""
    return IGNORE_CHOICE if target == IGNORE else target


def _target(choice: str | None) -> str | None:
    if not choice:
        return None
    return IGNORE if choice == IGNORE_CHOICE else choice


class ExportTemplateForm(forms.Form):
    name = forms.CharField(max_length=100)
    columns = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12}),
        help_text="One column per line, in order: a field key, optionally followed by “= Header label” "
        "(for example “email = E-mail address”). Profile attributes: “profile:headline”.",
    )

    def __init__(self, *args, company, template: ExportTemplate | None = None, **kwargs):
        if template is not None and "initial" not in kwargs:
            lines = [f"{c['field']} = {c['label']}" for c in template.columns]
            kwargs["initial"] = {"name": template.name, "columns": "\n".join(lines)}
        super().__init__(*args, **kwargs)
        self.choices = column_choices(company)

    def service_data(self) -> dict:
        columns = []
        for line in self.cleaned_data["columns"].splitlines():
            if not line.strip():
                continue
            key, _, label = line.partition("=")
            columns.append({"field": key.strip(), "label": label.strip()})
        return {"name": self.cleaned_data["name"], "columns": columns}


class ScheduledExportForm(forms.Form):
    name = forms.CharField(max_length=100)
    saved_filter = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Saved view", help_text="Empty: every lead you can see."
    )
    template = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Template", help_text="Empty: the default columns."
    )
    format = forms.ChoiceField(choices=ExportFormat.choices, initial=ExportFormat.CSV)
    frequency = forms.ChoiceField(choices=ScheduleFrequency.choices, initial=ScheduleFrequency.DAILY)
    time_of_day = forms.TimeField(initial="06:00", help_text="UTC; daily and weekly schedules.", required=False)
    weekday = forms.TypedChoiceField(choices=WEEKDAYS, coerce=int, initial=0, required=False, label="Day (weekly)")
    cron = forms.CharField(required=False, max_length=100, help_text="Cron schedules: e.g. “0 7 * * 1-5”.")
    recipients = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Email addresses, separated by commas or new lines. Empty: you.",
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    def __init__(self, *args, membership: Membership, schedule: ScheduledExport | None = None, **kwargs):
        if schedule is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": schedule.name, "saved_filter": schedule.saved_filter_id, "template": schedule.template_id,
                "format": schedule.format, "frequency": schedule.frequency, "time_of_day": schedule.time_of_day,
                "weekday": schedule.weekday, "cron": schedule.cron, "recipients": ", ".join(schedule.recipients),
                "is_active": schedule.is_active,
            }  # fmt: skip
        super().__init__(*args, **kwargs)
        saved = saved_filters_visible_to(membership)
        self.fields["saved_filter"].choices = [("", "— all my leads —")] + [(s.pk, s.name) for s in saved]
        templates = ExportTemplate.objects.filter(company_id=membership.company_id)
        self.fields["template"].choices = [("", "— default columns —")] + [(t.pk, t.name) for t in templates]

    def service_data(self) -> dict:
        data = dict(self.cleaned_data)
        data["template"] = data["template"] or ""
        if data.get("weekday") is None:
            data["weekday"] = 0
        return data
