"""Import and export: import jobs (with what a revert needs), export templates, scheduled exports
and the runs that store their files."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils import timezone

from crm.history import RequestMetaFields, TrackedHistory
from crm.models import Company, Membership

__all__ = [
    "DuplicatePolicy",
    "ExportFormat",
    "ExportRun",
    "ExportRunStatus",
    "ExportTemplate",
    "ImportFormat",
    "ImportJob",
    "ImportStatus",
    "ScheduleFrequency",
    "ScheduledExport",
]


class ImportFormat(models.TextChoices):
    CSV = "csv", "CSV (comma, semicolon or tab separated)"
    XLSX = "xlsx", "Excel workbook (.xlsx)"
    JSON = "json", "JSON (a list of objects)"
    JSONL = "jsonl", "JSON Lines (scraped profiles, one per line)"


class DuplicatePolicy(models.TextChoices):
    SKIP = "skip", "Skip rows that match an existing lead"
    UPDATE = "update", "Update the matching lead with the row's values"
    FLAG = "flag", "Create the lead and flag it as a possible duplicate"
    CREATE = "create", "Create the lead anyway"


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", "Waiting for column mapping"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    CHECKED = "checked", "Checked (dry run, nothing written)"
    SUCCEEDED = "succeeded", "Imported"
    FAILED = "failed", "Failed (nothing imported)"
    REVERTING = "reverting", "Reverting"
    REVERTED = "reverted", "Reverted"


def _import_path(job: ImportJob, filename: str) -> str:
    return f"imports/{job.company_id}/{timezone.now():%Y/%m}/{filename}"


def _export_path(run: ExportRun, filename: str) -> str:
    return f"exports/{run.company_id}/{timezone.now():%Y/%m}/{filename}"


class ImportJob(RequestMetaFields):
    """One file imported into one company: who, when, the file, the options, the outcome.

    ``mapping`` lists, per file column (by position), the lead field it fills ("" = ignored).
    ``errors`` holds every bad row as {row, column, value, message}; ``errors_file`` is the same
    rows as a file to fix and re-import. ``created_ranges`` (inclusive id ranges) and
    ``updated_snapshots`` ({lead id: {"old": {...}, "new": {...}}}) are what a revert needs.
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="import_jobs")
    created_by = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    file = models.FileField(upload_to=_import_path, max_length=300)
    file_name = models.CharField(max_length=255)
    file_size = models.PositiveBigIntegerField(default=0)
    file_format = models.CharField(max_length=5, choices=ImportFormat.choices)
    encoding = models.CharField(max_length=20, blank=True)
    delimiter = models.CharField(max_length=1, blank=True)
    headers = models.JSONField(default=list, blank=True)
    mapping = models.JSONField(default=list, blank=True)
    options = models.JSONField(default=dict, blank=True, help_text="on_duplicate, skip_invalid, dry_run, campaign…")

    status = models.CharField(max_length=10, choices=ImportStatus.choices, default=ImportStatus.UPLOADED)
    error = models.TextField(blank=True, help_text="Why the whole job failed.")
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    flagged_count = models.PositiveIntegerField(default=0)
    invalid_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    errors_file = models.FileField(upload_to=_import_path, max_length=300, blank=True)
    notes = models.JSONField(default=list, blank=True, help_text="Rows skipped or flagged, and why (capped).")

    created_ranges = models.JSONField(default=list, blank=True)
    updated_snapshots = models.JSONField(default=dict, blank=True)
    reverted_at = models.DateTimeField(null=True, blank=True)
    reverted_by = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    revert_result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["company", "-created_at"], name="importjob_company_created")]

    def __str__(self) -> str:
        return f"Import #{self.pk} {self.file_name} ({self.get_status_display()})"

    @property
    def change_reason(self) -> str:
        return f"leads.lead.imported:{self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in (
            ImportStatus.CHECKED,
            ImportStatus.SUCCEEDED,
            ImportStatus.FAILED,
            ImportStatus.REVERTED,
        )

    @property
    def can_revert(self) -> bool:
        return self.status == ImportStatus.SUCCEEDED and (self.created_count or self.updated_count) > 0

    @property
    def percent(self) -> int:
        if self.is_finished:
            return 100
        return int(100 * self.processed_rows / self.total_rows) if self.total_rows else 0


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel (.xlsx)"
    JSON = "json", "JSON"


class ExportTemplate(models.Model):
    """Which fields an export holds, in which order, under which header labels.

    ``columns`` is a list of {"field": key, "label": text}; keys are lead fields (``email``),
    related names (``status``, ``owner``, ``campaign``), ``custom:<key>`` and ``profile:<key>``.
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="export_templates")
    name = models.CharField(max_length=100)
    columns = models.JSONField(default=list)
    created_by = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = TrackedHistory(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["company", "name"], name="exporttemplate_unique_name")]

    def __str__(self) -> str:
        return self.name


class ScheduleFrequency(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    CRON = "cron", "Cron expression"


class ScheduledExport(models.Model):
    """A saved filter + template + format exported on a schedule (a django-q2 Schedule row) and
    mailed to recipients. The export runs with the visibility of ``owner``."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="scheduled_exports")
    owner = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="scheduled_exports")
    name = models.CharField(max_length=100)
    saved_filter = models.ForeignKey(
        "leads.SavedFilter", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    template = models.ForeignKey(ExportTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    format = models.CharField(max_length=4, choices=ExportFormat.choices, default=ExportFormat.CSV)
    frequency = models.CharField(max_length=6, choices=ScheduleFrequency.choices, default=ScheduleFrequency.DAILY)
    time_of_day = models.TimeField(default=dt.time(6, 0), help_text="UTC.")
    weekday = models.PositiveSmallIntegerField(default=0, help_text="0 = Monday (weekly only).")
    cron = models.CharField(max_length=100, blank=True, help_text="Five fields: minute hour day month weekday.")
    recipients = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    schedule_id = models.PositiveIntegerField(null=True, blank=True, help_text="The django-q2 Schedule row.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    history = TrackedHistory(excluded_fields=["last_run_at", "schedule_id"])

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["company", "name"], name="scheduledexport_unique_name")]

    def __str__(self) -> str:
        return self.name


class ExportRunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Ready"
    FAILED = "failed", "Failed"
    STREAMED = "streamed", "Downloaded directly"


class ExportRun(RequestMetaFields):
    """One export: streamed straight to a browser (recorded, no file) or written to a stored file
    (scheduled and API exports), downloadable by permitted members from the exports page."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="export_runs")
    created_by = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    scheduled_export = models.ForeignKey(
        ScheduledExport, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    template = models.ForeignKey(ExportTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    format = models.CharField(max_length=4, choices=ExportFormat.choices)
    params = models.JSONField(default=dict, blank=True, help_text="Filter parameters, sort and selection.")
    status = models.CharField(max_length=10, choices=ExportRunStatus.choices, default=ExportRunStatus.QUEUED)
    file = models.FileField(upload_to=_export_path, max_length=300, blank=True)
    file_name = models.CharField(max_length=255, blank=True)
    file_size = models.PositiveBigIntegerField(default=0)
    row_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    due_at = models.DateTimeField(null=True, blank=True, help_text="The scheduled slot this run is for.")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["company", "-created_at"], name="exportrun_company_created")]
        constraints = [
            # A retried scheduled task never produces a second run (or a second email) for a slot.
            models.UniqueConstraint(fields=["scheduled_export", "due_at"], name="exportrun_unique_slot"),
        ]

    def __str__(self) -> str:
        return f"Export #{self.pk} ({self.format}, {self.get_status_display()})"

    @property
    def is_downloadable(self) -> bool:
        return self.status == ExportRunStatus.SUCCEEDED and bool(self.file)
