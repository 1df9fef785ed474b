"""Duplicates and merge: each company's duplicate rules, the review queue of candidate pairs (with
the "not a duplicate" memory) and the merge records that make every merge reversible."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from crm.history import RequestMetaFields, TrackedHistory
from crm.models import Company, Membership
from leads.models.core import Lead

__all__ = ["CandidateSource", "CandidateStatus", "DuplicateCandidate", "DuplicateRule", "MergeRecord"]

_THRESHOLD = [MinValueValidator(50), MaxValueValidator(100)]


class DuplicateRule(models.Model):
    """Which criteria make two leads of a company duplicates, and how close fuzzy ones must be.

    A company without a saved rule uses the defaults below (``leads.dedup.rule_for``).
    """

    company = models.OneToOneField(Company, on_delete=models.CASCADE, related_name="duplicate_rule")
    match_email = models.BooleanField("Same email", default=True)
    match_phone = models.BooleanField("Same phone", default=True)
    match_profile_url = models.BooleanField("Same profile URL", default=True)
    match_name_company = models.BooleanField("Similar person name at a similar company", default=True)
    match_company_domain = models.BooleanField(
        "Similar company with the same email domain",
        default=True,
        help_text="Free-mail domains (gmail.com, outlook.com, …) never count as a company domain.",
    )
    name_threshold = models.PositiveSmallIntegerField("Person name similarity (%)", default=88, validators=_THRESHOLD)
    company_threshold = models.PositiveSmallIntegerField(
        "Company name similarity (%)", default=85, validators=_THRESHOLD
    )
    custom_field_keys = models.JSONField(
        default=list, blank=True, help_text="Custom fields whose equal values make an exact duplicate."
    )
    free_mail_domains = models.JSONField(
        default=list, blank=True, help_text="More free-mail domains, besides the built-in list."
    )
    updated_at = models.DateTimeField(auto_now=True)
    history = TrackedHistory()

    class Meta:
        verbose_name = "duplicate rule"

    def __str__(self) -> str:
        return f"Duplicate rule of {self.company}"


class CandidateStatus(models.TextChoices):
    PENDING = "pending", "To review"
    NOT_DUPLICATE = "not_duplicate", "Not a duplicate"
    MERGED = "merged", "Merged"


class CandidateSource(models.TextChoices):
    SCAN = "scan", "Batch scan"
    CREATED_ANYWAY = "created_anyway", "Created anyway"
    SAVED = "saved", "Saved with a possible duplicate"


class DuplicateCandidate(models.Model):
    """A pair of leads that may be the same person (``lead_a`` has the smaller id).

    A pair marked "not a duplicate" stays as the memory that keeps it from being proposed again.
    Pending pairs that share a lead form a group (``group_key``: the smallest lead id in it).
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    lead_a = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+")
    lead_b = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+")
    score = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])
    reasons = models.JSONField(default=list, help_text='[{"code": "phone", "label": "same phone", "score": 100}]')
    is_exact = models.BooleanField(default=False)
    status = models.CharField(max_length=15, choices=CandidateStatus.choices, default=CandidateStatus.PENDING)
    source = models.CharField(max_length=15, choices=CandidateSource.choices, default=CandidateSource.SCAN)
    group_key = models.BigIntegerField(db_index=True)
    found_at = models.DateTimeField(default=timezone.now)
    reviewed_by = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-score", "id"]
        constraints = [
            models.UniqueConstraint(fields=["lead_a", "lead_b"], name="duplicatecandidate_unique_pair"),
            models.CheckConstraint(condition=Q(lead_a__lt=F("lead_b")), name="duplicatecandidate_ordered_pair"),
        ]
        indexes = [
            models.Index(fields=["company", "status", "-score"], name="dedup_candidate_queue"),
            models.Index(fields=["lead_b"], name="dedup_candidate_lead_b"),
        ]

    def __str__(self) -> str:
        return f"#{self.lead_a_id} ~ #{self.lead_b_id} ({self.score})"

    @property
    def reason_text(self) -> str:
        return " · ".join(reason["label"] for reason in self.reasons)


class MergeRecord(RequestMetaFields):
    """One merge: who merged which leads into which survivor, and everything needed to undo it.

    ``survivor_before`` / ``survivor_after`` are the survivor's field values around the merge
    (JSON-safe, exact), ``loser_snapshots`` the tombstones' values, ``moves`` every related row
    that moved (model, field, from which lead, ids) and ``candidates`` the review-queue pairs the
    merge resolved with their previous status.
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    survivor = models.ForeignKey(Lead, on_delete=models.RESTRICT, related_name="+")
    lead_ids = models.JSONField(help_text="The merged (now tombstoned) leads' ids.")
    field_choices = models.JSONField(default=dict)
    survivor_before = models.JSONField(default=dict)
    survivor_after = models.JSONField(default=dict)
    loser_snapshots = models.JSONField(default=dict)
    moves = models.JSONField(default=list)
    candidates = models.JSONField(default=list)
    queue_before = models.JSONField(
        default=dict, blank=True, help_text="The review queue's pairs the merge changed, as they were (for undo)."
    )
    queue_created = models.JSONField(default=list, blank=True, help_text="Review-queue pairs the merge created.")
    warnings = models.JSONField(default=list)
    merged_by = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    merged_at = models.DateTimeField(default=timezone.now)
    undone_by = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    undone_at = models.DateTimeField(null=True, blank=True)
    undo_report = models.JSONField(default=list, blank=True, help_text="What the unmerge could not restore.")

    class Meta:
        ordering = ["-merged_at", "-id"]
        indexes = [
            models.Index(fields=["company", "-merged_at"], name="dedup_merge_company"),
            models.Index(fields=["survivor", "-merged_at"], name="dedup_merge_survivor"),
        ]

    def __str__(self) -> str:
        return f"Merge #{self.pk} into lead #{self.survivor_id}"

    @property
    def is_undone(self) -> bool:
        return self.undone_at is not None
