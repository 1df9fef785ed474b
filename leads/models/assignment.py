"""Assignment and prioritisation: per-company lead settings, scoring rules, assignment rules (with
their members and the round-robin cursor), the assignment log and engagement events.

The rules themselves (what a field/operator means, how a strategy picks a member) live in
``leads.scoring`` and ``leads.assignment``; these models only store them.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from crm.history import TrackedHistory
from crm.models import Company, Membership

__all__ = [
    "AssignmentKind",
    "AssignmentRule",
    "AssignmentRuleMember",
    "AssignmentStrategy",
    "EngagementEvent",
    "EngagementKind",
    "LeadAssignment",
    "LeadSettings",
    "ScoringRule",
]


class LeadSettings(models.Model):
    """A company's prioritisation settings; created lazily with these defaults."""

    company = models.OneToOneField(Company, on_delete=models.CASCADE, related_name="lead_settings")
    hot_threshold = models.PositiveSmallIntegerField(
        default=70, validators=[MaxValueValidator(100)], help_text="Leads scoring at least this are hot."
    )
    warm_threshold = models.PositiveSmallIntegerField(
        default=40, validators=[MaxValueValidator(100)], help_text="Leads scoring at least this (below hot) are warm."
    )
    sla_hours = models.PositiveIntegerField(
        default=24,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 90)],
        help_text="Hours an owner has to respond to a newly assigned lead.",
    )
    spam_threshold = models.PositiveSmallIntegerField(
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Leads with a spam score at least this are held for review: not assigned, never hot.",
    )
    engagement_half_life_days = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(3650)],
        help_text="Engagement points halve every this many days; 0 keeps them forever.",
    )
    # Bumped on every change to the settings or the scoring rules: scorers cached per process
    # compare it to know when to reload.
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)
    history = TrackedHistory()

    class Meta:
        verbose_name = "lead settings"
        verbose_name_plural = "lead settings"

    def __str__(self) -> str:
        return f"Lead settings of {self.company}"


class ScoringRule(models.Model):
    """``field operator value → points``: e.g. lead_source in referral → +25, or one engagement
    kind per event → +5 each."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="scoring_rules")
    name = models.CharField(max_length=100)
    field = models.CharField(max_length=80)
    operator = models.CharField(max_length=20)
    value = models.CharField(max_length=300, blank=True)
    points = models.SmallIntegerField(validators=[MinValueValidator(-100), MaxValueValidator(100)])
    max_points = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(100)], help_text="Cap for per-event rules."
    )
    order = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = TrackedHistory()

    class Meta:
        ordering = ["order", "id"]
        indexes = [models.Index(fields=["company", "is_active", "order"])]

    def __str__(self) -> str:
        return self.name


class AssignmentStrategy(models.TextChoices):
    ROUND_ROBIN = "round_robin", "Round-robin"
    WEIGHTED = "weighted", "Weighted round-robin"
    LEAST_LOADED = "least_loaded", "Least-loaded"
    FIXED = "fixed", "Fixed member"


class AssignmentRule(models.Model):
    """One ordered rule: conditions on the lead, the members it may go to, and how to pick one.

    ``conditions`` is a list of ``{"field", "operator", "value"}`` (the scoring vocabulary);
    ``cursor`` is the round-robin position, advanced only while the row is locked.
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="assignment_rules")
    name = models.CharField(max_length=100)
    order = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    conditions = models.JSONField(default=list, blank=True)
    strategy = models.CharField(
        max_length=20, choices=AssignmentStrategy.choices, default=AssignmentStrategy.ROUND_ROBIN
    )
    match_territory = models.BooleanField(
        default=False, help_text="Only members whose territory covers the lead's country."
    )
    required_skills = models.JSONField(default=list, blank=True, help_text="Members must have all of these skills.")
    skill_field = models.CharField(
        max_length=80, blank=True, help_text="A lead field whose value must be one of the member's skills."
    )
    cursor = models.PositiveBigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = TrackedHistory(excluded_fields=["cursor", "updated_at"])

    class Meta:
        ordering = ["order", "id"]
        constraints = [models.UniqueConstraint(fields=["company", "name"], name="assignmentrule_unique_name")]
        indexes = [models.Index(fields=["company", "is_active", "order"])]

    def __str__(self) -> str:
        return self.name


class AssignmentRuleMember(models.Model):
    rule = models.ForeignKey(AssignmentRule, on_delete=models.CASCADE, related_name="members")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    weight = models.PositiveSmallIntegerField(default=1, validators=[MaxValueValidator(100)])
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "membership"], name="assignmentrulemember_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.membership_id} in {self.rule_id} (weight {self.weight})"


class AssignmentKind(models.TextChoices):
    AUTO = "auto", "Rule on create"
    BATCH = "batch", "Rules on a batch"
    MANUAL = "manual", "Assigned by a person"
    CLAIM = "claim", "Claimed"
    RELEASE = "release", "Released to the pool"
    POOL = "pool", "Left in the pool"


class LeadAssignment(models.Model):
    """Why a lead went where it went (or stayed in the pool): one row per assignment decision."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="assignments")
    kind = models.CharField(max_length=10, choices=AssignmentKind.choices)
    owner = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    previous_owner = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    rule = models.ForeignKey(AssignmentRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    rule_name = models.CharField(max_length=100, blank=True)
    strategy = models.CharField(max_length=20, blank=True)
    reason = models.TextField()
    actor = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    # Claimed (conditional UPDATE) by the notifier, so a retried notification never repeats.
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["lead", "-created_at"], name="leadassignment_lead"),
            models.Index(fields=["company", "created_at"], name="leadassignment_company"),
            models.Index(fields=["company", "owner", "created_at"], name="leadassignment_owner"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: lead {self.lead_id} → {self.owner_id or 'pool'}"


class EngagementKind(models.TextChoices):
    EMAIL_OPEN = "email_open", "Email opened"
    EMAIL_CLICK = "email_click", "Email link clicked"
    FORM_SUBMIT = "form_submit", "Form submitted"
    CALL = "call", "Call"
    MEETING = "meeting", "Meeting"
    EMAIL = "email", "Email exchanged"


class EngagementEvent(models.Model):
    """An engagement signal that is not an Activity on the timeline (opens, clicks, form submits).

    Calls, meetings and emails logged as ``crm.Activity`` count too, without a row here.
    ``key`` makes recording idempotent (e.g. the tracking pixel's message id).
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="engagement_events")
    kind = models.CharField(max_length=20, choices=EngagementKind.choices)
    occurred_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=100, blank=True)
    key = models.CharField(max_length=200, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["company", "key"], name="engagementevent_unique_key"),
        ]
        indexes = [models.Index(fields=["lead", "occurred_at"], name="engagementevent_lead")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on lead {self.lead_id}"
