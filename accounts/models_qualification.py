"""Qualification of leads (BANT and MEDDICC scorecards) and each company's scoring settings.
Imported at the end of ``accounts.models``, so Django finds these models in the accounts app."""

from __future__ import annotations

from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone

from crm.history import TrackedHistory
from crm.models import Company, Membership

PERCENT = [MaxValueValidator(100)]

BANT = ("budget", "authority", "need", "timeline")
MEDDICC = ("metrics", "economic_buyer", "decision_criteria", "decision_process", "identify_pain", "champion",
           "competition")  # fmt: skip


class RiskScore(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class Recommendation(models.TextChoices):
    QUALIFIED = "qualified", "Qualified"
    NURTURE_MORE = "nurture_more", "Nurture more"
    DISQUALIFY = "disqualify", "Disqualify"


class QualificationSettings(models.Model):
    """How a company scores qualifications (defaults: the data-flow guide's 5.2) and the lead score
    a lead needs to be converted without a manager's override."""

    company = models.OneToOneField(Company, on_delete=models.CASCADE, related_name="qualification_settings")
    budget_weight = models.PositiveSmallIntegerField("Points for budget", default=25, validators=PERCENT)
    authority_weight = models.PositiveSmallIntegerField("Points for authority", default=25, validators=PERCENT)
    need_weight = models.PositiveSmallIntegerField("Points for need", default=25, validators=PERCENT)
    timeline_weight = models.PositiveSmallIntegerField("Points for timeline", default=25, validators=PERCENT)
    meddicc_weight = models.PositiveSmallIntegerField("Points per MEDDICC answer", default=5, validators=PERCENT)
    meddicc_cap = models.PositiveSmallIntegerField("MEDDICC points at most", default=20, validators=PERCENT)
    qualified_at = models.PositiveSmallIntegerField("Qualified from (score)", default=75, validators=PERCENT)
    nurture_at = models.PositiveSmallIntegerField("Nurture more from (score)", default=50, validators=PERCENT)
    min_lead_score = models.PositiveSmallIntegerField(
        "Minimum lead score to convert", null=True, blank=True, validators=PERCENT,
        help_text="Empty: no minimum. Below it, converting needs a manager's override with a note.",
    )  # fmt: skip
    updated_at = models.DateTimeField(auto_now=True)
    history = TrackedHistory(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = verbose_name_plural = "qualification settings"

    def __str__(self) -> str:
        return f"Qualification settings of {self.company}"

    def bant_weights(self) -> dict[str, int]:
        return {key: getattr(self, f"{key}_weight") for key in BANT}


class Qualification(models.Model):
    """A lead's scorecard: the answers, the risk and the computed result. One row per lead, kept
    up to date by each qualification; its history rows are the earlier scorecards (who, when)."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="qualifications")
    lead = models.OneToOneField("leads.Lead", on_delete=models.CASCADE, related_name="qualification")
    bant = models.JSONField(default=dict, blank=True)
    meddicc = models.JSONField(default=dict, blank=True)
    risk_score = models.CharField(max_length=6, choices=RiskScore.choices, default=RiskScore.LOW)
    score = models.PositiveSmallIntegerField(default=0, validators=PERCENT)
    is_qualified = models.BooleanField(default=False)
    missing_criteria = models.JSONField(default=list, blank=True)
    recommendation = models.CharField(max_length=12, choices=Recommendation.choices)
    weights = models.JSONField(default=dict, blank=True, help_text="The company's settings this was scored with.")
    qualified_by = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    qualified_at = models.DateTimeField(default=timezone.now)
    history = TrackedHistory()

    class Meta:
        ordering = ["-qualified_at", "-id"]
        indexes = [models.Index(fields=["company", "recommendation"], name="qualification_recommendation")]

    def __str__(self) -> str:
        return f"Qualification of lead #{self.lead_id}: {self.score} ({self.recommendation})"
