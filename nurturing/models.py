"""Email sequences: a company's sequences and their steps, the enrolment of a lead in a sequence,
one row per message (the exactly-once key) and the company's sending settings."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from crm.history import TrackedHistory
from crm.models import Company, Membership


class Trigger(models.TextChoices):
    MANUAL = "manual", "Manual enrolment only"
    LEAD_CREATED = "lead_created", "Lead created"
    SCORE_THRESHOLD = "score_threshold", "Score crosses a threshold"
    STATUS_CHANGED = "status_changed", "Status changed to"
    NURTURE_MORE = "nurture_more", "Qualification recommends nurturing"


class EmailSequence(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="email_sequences")
    name = models.CharField(max_length=150)
    description = models.CharField(max_length=300, blank=True)
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.MANUAL)
    trigger_score = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(100)], help_text="Enrol when the score rises to this."
    )
    trigger_status = models.ForeignKey(
        "leads.LeadStatus", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="Enrol when a lead moves to this status.",
    )  # fmt: skip
    is_active = models.BooleanField(default=False, help_text="Inactive sequences enrol nobody and send nothing.")
    sender_name = models.CharField(max_length=100, blank=True, help_text="Defaults to the company's name.")
    sender_email = models.EmailField(blank=True, help_text="Defaults to DEFAULT_FROM_EMAIL.")
    created_by = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = TrackedHistory(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["company", "name"], name="emailsequence_unique_name")]
        indexes = [models.Index(fields=["company", "trigger", "is_active"], name="emailsequence_trigger")]

    def __str__(self) -> str:
        return self.name


class EmailSequenceStep(models.Model):
    """One email of a sequence, sent ``delay_days`` + ``delay_hours`` after the previous step (after
    the enrolment for the first one)."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    sequence = models.ForeignKey(EmailSequence, on_delete=models.CASCADE, related_name="steps")
    step_number = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    subject = models.CharField(max_length=200)
    body = models.TextField(help_text="HTML with merge fields such as {{ first_name }}.")
    delay_days = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(365)])
    delay_hours = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(23)])
    is_active = models.BooleanField(default=True)
    history = TrackedHistory()

    class Meta:
        ordering = ["sequence", "step_number"]
        constraints = [
            models.UniqueConstraint(fields=["sequence", "step_number"], name="emailsequencestep_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.sequence} #{self.step_number}: {self.subject}"

    @property
    def delay(self) -> timezone.timedelta:
        return timezone.timedelta(days=self.delay_days, hours=self.delay_hours)


class EnrolmentState(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    STOPPED = "stopped", "Stopped"


class StopReason(models.TextChoices):
    MANUAL = "manual", "Unenrolled by a person"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    DND = "dnd", "Do not disturb"
    NO_CONSENT = "no_consent", "No consent"
    NO_EMAIL = "no_email", "No email address"
    BOUNCED = "bounced", "Email bounced"
    CONVERTED = "converted", "Converted"
    DISQUALIFIED = "disqualified", "Disqualified"
    DELETED = "deleted", "Lead deleted or merged"
    REPLIED = "replied", "The lead replied"


class Enrolment(models.Model):
    """A lead going through one sequence. ``last_step_number`` is the last step claimed for sending;
    ``next_send_at`` is when the next one is due (None unless active)."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="enrolments")
    sequence = models.ForeignKey(EmailSequence, on_delete=models.CASCADE, related_name="enrolments")
    state = models.CharField(max_length=10, choices=EnrolmentState.choices, default=EnrolmentState.ACTIVE)
    stop_reason = models.CharField(max_length=15, choices=StopReason.choices, blank=True)
    reason = models.CharField(max_length=200, blank=True, help_text="Why the lead was enrolled.")
    last_step_number = models.PositiveSmallIntegerField(default=0)
    next_send_at = models.DateTimeField(null=True, blank=True)
    enrolled_by = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    enrolled_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    history = TrackedHistory()

    class Meta:
        ordering = ["-enrolled_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["lead", "sequence"], name="enrolment_unique_lead_sequence")]
        indexes = [
            models.Index(fields=["company", "state", "next_send_at"], name="enrolment_due"),
            models.Index(fields=["sequence", "state"], name="enrolment_sequence_state"),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id} in {self.sequence_id} ({self.state})"


class MessageState(models.TextChoices):
    CLAIMED = "claimed", "Claimed, sending"
    SENT = "sent", "Sent"
    BOUNCED = "bounced", "Bounced"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Unknown: interrupted while sending"


class LeadEmailActivity(models.Model):
    """One message of one step to one lead. Created ``claimed`` before the SMTP call; the unique
    (enrolment, step) pair is what makes a second send of the same step impossible."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="messages")
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="email_messages")
    sequence = models.ForeignKey(EmailSequence, on_delete=models.CASCADE, related_name="messages")
    step = models.ForeignKey(EmailSequenceStep, on_delete=models.PROTECT, related_name="messages")
    uid = models.CharField(max_length=32, unique=True, help_text="Random id in the Message-ID and tracking tokens.")
    message_id = models.CharField(max_length=200)
    to_email = models.EmailField()
    subject = models.CharField(max_length=300)
    links = models.JSONField(default=list, blank=True, help_text="The URLs in this message (click targets).")
    state = models.CharField(max_length=10, choices=MessageState.choices, default=MessageState.CLAIMED)
    claim_token = models.CharField(max_length=32, help_text="The sending run that claimed this message.")
    claimed_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-claimed_at", "-id"]
        verbose_name = "sent email"
        constraints = [
            models.UniqueConstraint(fields=["enrolment", "step"], name="leademailactivity_once_per_step"),
        ]
        indexes = [
            models.Index(fields=["company", "claimed_at"], name="leademail_company_claimed"),
            models.Index(fields=["state", "claimed_at"], name="leademail_state_claimed"),
            models.Index(fields=["claim_token"], name="leademail_claim_token"),
            models.Index(fields=["lead", "-claimed_at"], name="leademail_lead"),
            models.Index(fields=["step", "state"], name="leademail_step_state"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} → {self.to_email} ({self.state})"


class ConsentPolicy(models.TextChoices):
    CONSENT = "consent", "Consent required (GDPR consent ticked)"
    LEGITIMATE_INTEREST = "legitimate_interest", "Legitimate interest (anyone not opted out)"


class NurturingSettings(models.Model):
    """A company's sending rules; created lazily with these defaults."""

    company = models.OneToOneField(Company, on_delete=models.CASCADE, related_name="nurturing_settings")
    consent_policy = models.CharField(max_length=20, choices=ConsentPolicy.choices, default=ConsentPolicy.CONSENT)
    rate_per_minute = models.PositiveIntegerField(
        default=600, validators=[MinValueValidator(1), MaxValueValidator(100_000)], help_text="Emails per minute."
    )
    window_start = models.TimeField(null=True, blank=True, help_text="Send only from this time (UTC)…")
    window_end = models.TimeField(null=True, blank=True, help_text="…until this time (UTC).")
    default_sequence = models.ForeignKey(
        EmailSequence, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The nightly sweep enrols new and contacted leads below the threshold here.",
    )  # fmt: skip
    sweep_threshold = models.PositiveSmallIntegerField(default=70, validators=[MaxValueValidator(100)])
    history = TrackedHistory()

    class Meta:
        verbose_name = "nurturing settings"
        verbose_name_plural = "nurturing settings"

    def __str__(self) -> str:
        return f"Nurturing settings of {self.company}"
