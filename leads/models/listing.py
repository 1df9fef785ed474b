"""The lead list at scale: saved views, each member's default view, and bulk jobs."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from crm.history import RequestMetaFields
from crm.models import Company, Membership

__all__ = ["BulkJob", "BulkJobStatus", "ListPreference", "SavedFilter", "Visibility"]


class Visibility(models.TextChoices):
    PRIVATE = "private", "Only me"
    TEAM = "team", "My team"
    COMPANY = "company", "Everyone in the company"


class SavedFilter(models.Model):
    """A named lead-list view: the filter query string and sort, private or shared."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="saved_filters")
    owner = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="saved_filters")
    name = models.CharField(max_length=100)
    query = models.JSONField(default=dict, help_text="Filter parameters as {name: [values]}.")
    sort = models.CharField(max_length=200, blank=True)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PRIVATE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="savedfilter_unique_owner_name")]

    def __str__(self) -> str:
        return self.name


class ListPreference(models.Model):
    """A member's default lead-list view: a built-in key (``builtin:mine``) or ``saved:<id>``."""

    membership = models.OneToOneField(Membership, on_delete=models.CASCADE, related_name="list_preference")
    default_view = models.CharField(max_length=40, blank=True)
    per_page = models.PositiveSmallIntegerField(default=50)

    def __str__(self) -> str:
        return f"{self.membership}: {self.default_view or 'all'}"


class BulkJobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class BulkJob(RequestMetaFields):
    """One bulk operation over many leads: all-or-nothing, run inline or by a django-q2 worker."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="bulk_jobs")
    created_by = models.ForeignKey(Membership, null=True, on_delete=models.SET_NULL, related_name="bulk_jobs")
    operation = models.CharField(max_length=20)
    params = models.JSONField(default=dict, blank=True)
    lead_ids = models.JSONField(default=list, blank=True, help_text="The exact leads, fixed when the job starts.")
    total = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=BulkJobStatus.choices, default=BulkJobStatus.QUEUED)
    error = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["company", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.operation} × {self.total} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (BulkJobStatus.SUCCEEDED, BulkJobStatus.FAILED)
