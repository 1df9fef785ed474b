"""Accounts, their contacts and opportunities; the company's pipeline stages, each opportunity's
stage changes, and the record of which lead became which account."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.contenttypes.fields import GenericRelation
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from crm.history import TrackedHistory
from crm.models import Company, Membership

MONEY = {"max_digits": 16, "decimal_places": 2}


class AccountType(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    PROSPECT = "prospect", "Prospect"
    PARTNER = "partner", "Partner"


class HealthScore(models.TextChoices):
    GREEN = "green", "Green"
    YELLOW = "yellow", "Yellow"
    RED = "red", "Red"
    BLACK = "black", "Black"


class LifecycleStage(models.TextChoices):
    MQA = "mqa", "MQA"
    SQA = "sqa", "SQA"
    CUSTOMER = "customer", "Customer"
    CHURNED = "churned", "Churned"


class CompanySize(models.TextChoices):
    MICRO = "1-10", "1–10"
    SMALL = "11-50", "11–50"
    MEDIUM = "51-200", "51–200"
    LARGE = "201-1000", "201–1,000"
    ENTERPRISE = "1000+", "More than 1,000"


class Account(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="accounts")
    name = models.CharField(max_length=200)
    domain = models.CharField(max_length=253, blank=True, help_text="example.com — found from a contact's email.")
    website = models.URLField(max_length=500, blank=True)
    account_type = models.CharField(max_length=10, choices=AccountType.choices, default=AccountType.PROSPECT)
    industry = models.CharField(max_length=100, blank=True)
    company_size = models.CharField(max_length=10, choices=CompanySize.choices, blank=True)
    annual_revenue = models.DecimalField(**MONEY, null=True, blank=True, validators=[MinValueValidator(Decimal(0))])
    gstin = models.CharField("GSTIN", max_length=15, blank=True, help_text="India's 15-character GST number.")
    health_score = models.CharField(max_length=6, choices=HealthScore.choices, default=HealthScore.GREEN)
    lifecycle_stage = models.CharField(max_length=8, choices=LifecycleStage.choices, default=LifecycleStage.MQA)
    is_active = models.BooleanField(default=True)
    owner = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_accounts"
    )
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 alpha-2; defaults to the company's.")

    domain_key = models.CharField(max_length=253, blank=True, editable=False)
    company_key = models.CharField(max_length=200, blank=True, editable=False)

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    activities = GenericRelation("crm.Activity", related_query_name="account")
    history = TrackedHistory(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["company", "name", "id"], name="account_company_name"),
            models.Index(fields=["company", "owner"], name="account_company_owner"),
            models.Index(fields=["company", "-created_at", "-id"], name="account_company_created"),
            models.Index(fields=["company", "domain_key"], name="account_domain_key"),
            models.Index(fields=["company", "company_key"], name="account_company_key"),
        ]

    def __str__(self) -> str:
        return self.name


class ContactRole(models.TextChoices):
    DECISION_MAKER = "decision_maker", "Decision maker"
    INFLUENCER = "influencer", "Influencer"
    USER = "user", "User"
    GATEKEEPER = "gatekeeper", "Gatekeeper"
    CHAMPION = "champion", "Champion"
    ECONOMIC_BUYER = "economic_buyer", "Economic buyer"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    WHATSAPP = "whatsapp", "WhatsApp"
    PHONE = "phone", "Phone"


class Influence(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class Contact(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="contacts")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contacts")
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    job_title = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=15, choices=ContactRole.choices, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    phone = models.CharField(max_length=40, blank=True, help_text="Stored in E.164 (+44…).")
    preferred_channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    influence = models.CharField(max_length=6, choices=Influence.choices, blank=True)
    is_primary = models.BooleanField("Primary contact", default=False)
    gdpr_consent = models.BooleanField(default=False)
    dnd = models.BooleanField("Do not disturb", default=False)
    opt_in_date = models.DateTimeField(null=True, blank=True)
    owner = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_contacts"
    )

    email_key = models.CharField(max_length=254, blank=True, editable=False)

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    activities = GenericRelation("crm.Activity", related_query_name="contact")
    history = TrackedHistory(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["account"], condition=Q(is_primary=True), name="contact_one_primary"),
        ]
        indexes = [
            models.Index(fields=["company", "last_name", "first_name", "id"], name="contact_company_name"),
            models.Index(fields=["company", "owner"], name="contact_company_owner"),
            models.Index(fields=["company", "email_key"], name="contact_email_key"),
            models.Index(fields=["company", "phone"], name="contact_phone"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email or f"Contact #{self.pk}"


class ForecastCategory(models.TextChoices):
    COMMIT = "commit", "Commit"
    BEST_CASE = "best_case", "Best case"
    MOST_LIKELY = "most_likely", "Most likely"
    WORST_CASE = "worst_case", "Worst case"
    OMITTED = "omitted", "Omitted"


class Stage(models.Model):
    """One column of the company's pipeline. Won and lost stages close an opportunity."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="pipeline_stages")
    name = models.CharField(max_length=60)
    order = models.PositiveIntegerField(default=0)
    probability = models.PositiveSmallIntegerField(validators=[MinValueValidator(0), MaxValueValidator(100)])
    is_won = models.BooleanField(default=False)
    is_lost = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True, help_text="Retired stages are kept for history only.")
    history = TrackedHistory()

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["company", "name"], name="stage_unique_name"),
            models.CheckConstraint(condition=~(Q(is_won=True) & Q(is_lost=True)), name="stage_not_won_and_lost"),
            models.CheckConstraint(condition=Q(probability__lte=100), name="stage_probability_range"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_closed(self) -> bool:
        return self.is_won or self.is_lost


class Opportunity(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="opportunities")
    name = models.CharField(max_length=200)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="opportunities")
    primary_contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="opportunities"
    )
    owner = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_opportunities"
    )
    amount = models.DecimalField(**MONEY, default=Decimal("0.00"), validators=[MinValueValidator(Decimal(0))])
    currency = models.CharField(max_length=3, help_text="ISO 4217, e.g. USD, INR.")
    close_date = models.DateField()
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="opportunities")
    probability = models.PositiveSmallIntegerField(validators=[MinValueValidator(0), MaxValueValidator(100)])
    forecast_category = models.CharField(
        max_length=12, choices=ForecastCategory.choices, default=ForecastCategory.MOST_LIKELY
    )
    source = models.CharField(max_length=100, blank=True)
    lead = models.ForeignKey(
        "leads.Lead", null=True, blank=True, on_delete=models.SET_NULL, related_name="opportunities"
    )
    next_step = models.CharField(max_length=300, blank=True)
    lost_reason = models.CharField(max_length=300, blank=True)

    stage_changed_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    activities = GenericRelation("crm.Activity", related_query_name="opportunity")
    history = TrackedHistory(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["close_date", "id"]
        verbose_name_plural = "opportunities"
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="opportunity_amount_not_negative"),
            models.CheckConstraint(condition=Q(probability__lte=100), name="opportunity_probability_range"),
        ]
        indexes = [
            # The board and the forecast read these columns only (covering indexes): the board's totals
            # group by stage and currency in index order; its cards are the first few by close date.
            models.Index(fields=["company", "stage", "currency", "owner", "amount", "probability"], name="opp_board"),
            models.Index(fields=["company", "stage", "close_date", "id"], name="opp_board_cards"),
            models.Index(
                fields=["company", "close_date", "forecast_category", "currency", "owner", "amount", "probability"],
                name="opp_forecast",
            ),
            models.Index(fields=["company", "owner", "close_date"], name="opp_company_owner"),
            models.Index(fields=["company", "-created_at", "-id"], name="opp_company_created"),
            models.Index(fields=["company", "name", "id"], name="opp_company_name"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def weighted_amount(self) -> Decimal:
        return (self.amount * self.probability / 100).quantize(Decimal("0.01"))


class OpportunityStageChange(models.Model):
    """Each stage an opportunity entered (the first row is where it started): time in stage and the
    board's history come from these."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    probability = models.PositiveSmallIntegerField()
    changed_by = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField(default=timezone.now)
    left_at = models.DateTimeField(null=True, blank=True, help_text="When the opportunity moved on from this stage.")
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [
            models.Index(fields=["opportunity", "changed_at"], name="stagechange_opportunity"),
            models.Index(fields=["company", "to_stage", "changed_at", "left_at"], name="stagechange_company_stage"),
        ]

    def __str__(self) -> str:
        return f"{self.opportunity} → {self.to_stage}"


class LeadConversion(models.Model):
    """One row per converted lead: the account (and contact, opportunity) it became."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="lead_conversions")
    lead = models.OneToOneField("leads.Lead", on_delete=models.CASCADE, related_name="conversion")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="conversions")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversions")
    opportunity = models.ForeignKey(
        Opportunity, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversions"
    )
    converted_by = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    converted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-converted_at", "-id"]

    def __str__(self) -> str:
        return f"Lead #{self.lead_id} → {self.account}"


from accounts.models_qualification import Qualification, QualificationSettings  # noqa: E402, F401
