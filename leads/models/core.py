"""The lead record and what hangs off it: campaigns, custom fields, statuses and their workflow,
status changes and comments."""

from __future__ import annotations

from django.contrib.contenttypes.fields import GenericRelation
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import DateTimeField, F, Func
from django.utils import timezone

from crm.history import TrackedHistory
from crm.models import Company, Membership


class ActivityKey(Func):
    """A lead's last activity, or 1970-01-01 when it has none: the list's "last activity" order
    (never-touched leads last when newest first) as a value a keyset cursor can hold. The epoch is
    written into the SQL rather than bound, so the index built on this very expression
    (``lead_company_activity_key``) serves the sort: SQLite matches an indexed expression only
    against the same literal."""

    output_field = DateTimeField()

    def __init__(self, **extra):
        super().__init__(F("last_activity_at"), **extra)

    def as_sql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        return f"COALESCE({column}, '1970-01-01 00:00:00')", params

    def as_postgresql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        return f"COALESCE({column}, '1970-01-01 00:00:00+00'::timestamptz)", params


LIST_FILTERS = ["status", "owner", "campaign", "country"]


class Campaign(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200)
    source = models.CharField(max_length=100, blank=True, help_text="Default lead source for this campaign.")
    medium = models.CharField(max_length=50, blank=True)
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = TrackedHistory()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["company", "name"], name="campaign_unique_name")]

    def __str__(self) -> str:
        return self.name


class CustomFieldType(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    DATE = "date", "Date"
    CHOICE = "choice", "Choice"
    BOOL = "bool", "Yes / no"


class CustomField(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="custom_fields")
    key = models.SlugField(
        max_length=50, validators=[RegexValidator(r"^[a-z][a-z0-9_]*$", "Use lower-case letters, digits and _.")]
    )
    label = models.CharField(max_length=100)
    field_type = models.CharField(max_length=10, choices=CustomFieldType.choices, default=CustomFieldType.TEXT)
    choices = models.JSONField(default=list, blank=True, help_text="Allowed values for a choice field.")
    required = models.BooleanField(default=False)
    order = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["order", "key"]
        constraints = [models.UniqueConstraint(fields=["company", "key"], name="customfield_unique_key")]

    def __str__(self) -> str:
        return self.label


class StatusCategory(models.TextChoices):
    OPEN = "open", "Open"
    WON = "won", "Won"
    LOST = "lost", "Lost"
    CLOSED = "closed", "Closed"


class LeadStatus(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="lead_statuses")
    key = models.SlugField(max_length=40)
    name = models.CharField(max_length=60)
    description = models.CharField(max_length=300, blank=True)
    order = models.PositiveIntegerField(default=0)
    color = models.CharField(
        max_length=7, default="#607d8b", validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #1e88e5.")]
    )
    category = models.CharField(max_length=10, choices=StatusCategory.choices, default=StatusCategory.OPEN)
    is_initial = models.BooleanField(default=False, help_text="New leads start here.")
    is_terminal = models.BooleanField(default=False, help_text="No transition leaves this status.")
    is_active = models.BooleanField(default=True, help_text="Retired statuses are kept for history only.")
    history = TrackedHistory()

    class Meta:
        ordering = ["order", "id"]
        verbose_name_plural = "lead statuses"
        constraints = [
            models.UniqueConstraint(fields=["company", "key"], name="leadstatus_unique_key"),
            models.UniqueConstraint(fields=["company", "name"], name="leadstatus_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class StatusTransition(models.Model):
    """One allowed move in a company's workflow. Empty ``allowed_roles`` means every role."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="status_transitions")
    from_status = models.ForeignKey(LeadStatus, on_delete=models.CASCADE, related_name="transitions_out")
    to_status = models.ForeignKey(LeadStatus, on_delete=models.CASCADE, related_name="transitions_in")
    allowed_roles = models.JSONField(default=list, blank=True)
    note_required = models.BooleanField(default=False)

    class Meta:
        ordering = ["from_status__order", "to_status__order"]
        constraints = [
            models.UniqueConstraint(fields=["from_status", "to_status"], name="transition_unique_pair"),
        ]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"

    def allows(self, role: str) -> bool:
        return not self.allowed_roles or role in self.allowed_roles


class Stage(models.TextChoices):
    AWARENESS = "awareness", "Awareness"
    CONSIDERATION = "consideration", "Consideration"
    DECISION = "decision", "Decision"
    CONVERTED = "converted", "Converted"


class Priority(models.TextChoices):
    HOT = "hot", "Hot"
    WARM = "warm", "Warm"
    COLD = "cold", "Cold"


class AuthorityLevel(models.TextChoices):
    DECISION_MAKER = "decision_maker", "Decision maker"
    INFLUENCER = "influencer", "Influencer"
    USER = "user", "User"
    GATEKEEPER = "gatekeeper", "Gatekeeper"


class ValidationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    VALID = "valid", "Valid"
    SUSPECT = "suspect", "Suspect"
    INVALID = "invalid", "Invalid"


class Lead(models.Model):
    # No index of its own: every index of the table below starts with the company.
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="leads", db_index=False)

    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 alpha-2; defaults to the company's.")
    job_title = models.CharField(max_length=200, blank=True)
    company_name = models.CharField(max_length=200, blank=True)
    profile_url = models.URLField(max_length=500, blank=True)
    profile_data = models.JSONField(default=dict, blank=True, help_text="The scraped profile, as received.")

    lead_source = models.CharField(max_length=100)
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="leads")
    medium = models.CharField(max_length=50, blank=True)
    term = models.CharField(max_length=200, blank=True)

    owner = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_leads")
    created_by = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.ForeignKey(LeadStatus, on_delete=models.PROTECT, related_name="leads")
    stage = models.CharField(max_length=15, choices=Stage.choices, default=Stage.AWARENESS)
    score = models.PositiveSmallIntegerField(default=0, validators=[MinValueValidator(0), MaxValueValidator(100)])
    score_breakdown = models.JSONField(default=list, blank=True)
    priority = models.CharField(max_length=4, choices=Priority.choices, default=Priority.COLD)

    interest_product = models.CharField(max_length=200, blank=True)
    budget_range = models.CharField(max_length=100, blank=True)
    authority_level = models.CharField(max_length=20, choices=AuthorityLevel.choices, blank=True)
    need = models.TextField(blank=True)
    timeline = models.CharField(max_length=100, blank=True)

    gdpr_consent = models.BooleanField(default=False)
    dnd = models.BooleanField("Do not disturb", default=False)
    opt_in_date = models.DateTimeField(null=True, blank=True)

    spam_score = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(100)])
    validation_status = models.CharField(
        max_length=10, choices=ValidationStatus.choices, default=ValidationStatus.PENDING
    )
    custom_fields = models.JSONField(default=dict, blank=True)

    email_key = models.CharField(max_length=254, blank=True, editable=False)
    phone_key = models.CharField(max_length=20, blank=True, editable=False)
    profile_url_key = models.CharField(max_length=500, blank=True, editable=False)
    company_key = models.CharField(max_length=200, blank=True, editable=False)
    name_key = models.CharField(max_length=200, blank=True, editable=False)

    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    is_deleted = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    assigned_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    converted_at = models.DateTimeField(null=True, blank=True)

    activities = GenericRelation("crm.Activity", related_query_name="lead")
    history = TrackedHistory(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["company", "status", "-created_at"], name="lead_company_status"),
            models.Index(fields=["company", "owner", "-created_at"], name="lead_company_owner"),
            # The list's sort orders. Each also holds the filters a team uses most (status, owner,
            # campaign, country), so a page walking it skips leads that do not match without
            # reading their rows (listing.SORT_INDEXES).
            models.Index(fields=["company", "-created_at", "-id", *LIST_FILTERS], name="lead_company_created"),
            models.Index(fields=["company", "-updated_at", "-id", *LIST_FILTERS], name="lead_company_updated"),
            models.Index(fields=["company", "-score", "-id", *LIST_FILTERS], name="lead_company_score"),
            models.Index(
                F("company"),
                ActivityKey().desc(),
                F("id").desc(),
                *map(F, LIST_FILTERS),
                name="lead_company_activity_key",
            ),  # fmt: skip
            models.Index(fields=["company", "-last_activity_at", "-id"], name="lead_company_activity"),
            models.Index(fields=["company", "country"], name="lead_company_country"),
            models.Index(fields=["company", "campaign"], name="lead_company_campaign"),
            models.Index(fields=["company", "email_key"], name="lead_email_key"),
            models.Index(fields=["company", "phone_key"], name="lead_phone_key"),
            models.Index(fields=["company", "profile_url_key"], name="lead_profile_url_key"),
            models.Index(fields=["company", "company_key", "name_key"], name="lead_company_name_block"),
            models.Index(fields=["company", "name_key"], name="lead_name_key"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.email or self.phone or self.profile_url or f"Lead #{self.pk}"


class StatusChange(models.Model):
    """Each status change of a lead, for time-in-status and the timeline."""

    # Indexed by (lead, changed_at) below, which serves the lead's own lookups as well.
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="status_changes", db_index=False)
    from_status = models.ForeignKey(LeadStatus, null=True, on_delete=models.PROTECT, related_name="+")
    to_status = models.ForeignKey(LeadStatus, on_delete=models.PROTECT, related_name="+")
    changed_by = models.ForeignKey(Membership, null=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField(default=timezone.now)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [models.Index(fields=["lead", "changed_at"])]

    def __str__(self) -> str:
        return f"{self.from_status_id} → {self.to_status_id} at {self.changed_at:%Y-%m-%d %H:%M}"


class LeadComment(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(Membership, null=True, on_delete=models.SET_NULL, related_name="+")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies")
    body = models.TextField(help_text="Sanitised HTML.")
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    is_deleted = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)
    history = TrackedHistory()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["lead", "created_at"])]

    def __str__(self) -> str:
        return f"Comment #{self.pk} on {self.lead_id}"
