"""Tenancy: companies, users and the memberships that join them with a role."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from crm.history import RequestMetaFields, TrackedHistory


class Company(models.Model):
    """The tenant. Every business row belongs to exactly one company."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    default_country = models.CharField(
        max_length=2, default="US", help_text="ISO 3166 alpha-2 code used for new leads and phone numbers."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = TrackedHistory()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "companies"

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in with their email address."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May log into the Django admin.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.full_name or self.email

    def clean(self):
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email.split("@")[0]


class Role(models.TextChoices):
    ADMIN = "admin", "Company admin"
    MANAGER = "manager", "Manager"
    SDR = "sdr", "SDR"


class Membership(models.Model):
    """A user's place in one company: role, reporting line and assignment attributes."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.SDR)
    manager = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports")
    territory = models.CharField(max_length=100, blank=True)
    skills = models.JSONField(default=list, blank=True, help_text="Languages, products, …")
    capacity = models.PositiveIntegerField(
        default=200, validators=[MinValueValidator(0)], help_text="Maximum open leads."
    )
    is_available = models.BooleanField(default=True, help_text="Off while on leave: receives no new leads.")
    is_active = models.BooleanField(default=True, help_text="Off when the person leaves the company.")
    created_at = models.DateTimeField(auto_now_add=True)
    history = TrackedHistory()

    class Meta:
        ordering = ["company", "user__email"]
        constraints = [
            models.UniqueConstraint(fields=["company", "user"], name="membership_unique_company_user"),
        ]
        indexes = [models.Index(fields=["company", "manager"])]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}, {self.company})"

    @property
    def display_name(self) -> str:
        return str(self.user)

    def clean(self):
        super().clean()
        if not isinstance(self.skills, list) or not all(isinstance(s, str) for s in self.skills):
            raise ValidationError({"skills": "Skills must be a list of words."})
        if self.manager_id is None:
            return
        if self.manager.company_id != self.company_id:
            raise ValidationError({"manager": "The manager must belong to the same company."})
        if self.pk and self._manager_chain_contains(self.pk):
            raise ValidationError({"manager": "This would make the member their own manager."})

    def _manager_chain_contains(self, membership_id: int) -> bool:
        seen, current = set(), self.manager
        while current is not None and current.pk not in seen:
            if current.pk == membership_id:
                return True
            seen.add(current.pk)
            current = current.manager
        return False


class ActivityKind(models.TextChoices):
    CALL = "call", "Call"
    EMAIL = "email", "Email"
    MEETING = "meeting", "Meeting"
    NOTE = "note", "Note"
    WHATSAPP = "whatsapp", "WhatsApp"
    SYSTEM = "system", "System event"


class ActivityOutcome(models.TextChoices):
    """The data-flow guide's outcomes (8.1)."""

    POSITIVE = "positive", "Positive"
    NEGATIVE = "negative", "Negative"
    NEUTRAL = "neutral", "Neutral"
    FOLLOW_UP_REQUIRED = "follow_up_required", "Follow-up required"


class Activity(RequestMetaFields):
    """One entry on a record's timeline: an interaction (call, email, …) or a system event."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="activities")
    content_type = models.ForeignKey("contenttypes.ContentType", on_delete=models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=10, choices=ActivityKind.choices)
    event = models.CharField(max_length=80, blank=True, help_text="Dotted action name for system events.")
    subject = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    outcome = models.CharField(max_length=100, blank=True, choices=ActivityOutcome.choices)
    owner = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    occurred_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name_plural = "activities"
        indexes = [
            models.Index(fields=["content_type", "object_id", "-occurred_at"]),
            models.Index(fields=["company", "-occurred_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject or self.event}"


class Notification(models.Model):
    """An in-app message to one member (mention, assignment, …)."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="notifications")
    recipient = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="notifications")
    verb = models.CharField(max_length=60)
    text = models.CharField(max_length=300)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "read_at"])]

    def __str__(self) -> str:
        return self.text


class ApiToken(RequestMetaFields):
    """A member's key to the REST API (``Authorization: Token <key>``).

    Only the key's SHA-256 is stored: a copy of the database lets nobody call the API. The owner
    sees the key once, when it is made; afterwards the first characters (``prefix``) tell tokens
    apart. A revoked token stays as the record of what existed; it never authenticates again.
    The IP address and user agent are where it was created from.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. the partner system's name.")
    prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "name"], condition=models.Q(revoked_at__isnull=True), name="api_token_unique_live_name"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
