"""Nurturing in the Django admin: read-only and tenant-scoped. Sequences, steps and enrolments are
written through the app and the API (their services validate templates, gates and companies); the
admin is where managers and ops look, notably at messages left ``unknown`` by an interrupted send."""

from django.contrib import admin

from crm.admin import NOBODY, CompanyScopedAdmin
from leads.queries import leads_visible_to
from nurturing.models import EmailSequence, EmailSequenceStep, Enrolment, LeadEmailActivity, NurturingSettings

READ_ONLY = {"view": "nurturing.view", "add": NOBODY, "change": NOBODY, "delete": NOBODY}


class StepInline(admin.TabularInline):
    model = EmailSequenceStep
    fields = ["step_number", "subject", "delay_days", "delay_hours", "is_active"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_view_permission(self, request, obj=None):
        """Whoever may read the sequence reads its steps (Django's default asks for model permissions,
        which managers and company admins do not hold: they would see a sequence without steps)."""
        return self.admin_site._registry[EmailSequence].has_view_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(EmailSequence)
class EmailSequenceAdmin(CompanyScopedAdmin):
    app_permissions = READ_ONLY
    list_display = ["name", "company", "trigger", "is_active", "created_at"]
    list_filter = ["trigger", "is_active"]
    search_fields = ["name"]
    inlines = [StepInline]


@admin.register(Enrolment)
class EnrolmentAdmin(CompanyScopedAdmin):
    app_permissions = READ_ONLY
    list_display = ["lead", "sequence", "state", "stop_reason", "last_step_number", "next_send_at", "enrolled_at"]
    list_filter = ["state", "stop_reason"]
    list_select_related = ["lead", "sequence"]
    raw_id_fields = ["lead"]

    def visible_to(self, membership):
        return Enrolment.objects.filter(lead__in=leads_visible_to(membership))


@admin.register(LeadEmailActivity)
class LeadEmailActivityAdmin(CompanyScopedAdmin):
    app_permissions = READ_ONLY
    list_display = ["subject", "to_email", "state", "claimed_at", "sent_at", "opened_at", "clicked_at", "error"]
    list_filter = ["state"]
    search_fields = ["to_email", "subject", "message_id"]
    list_select_related = ["lead"]
    raw_id_fields = ["lead", "enrolment"]

    def visible_to(self, membership):
        return LeadEmailActivity.objects.filter(lead__in=leads_visible_to(membership))


@admin.register(NurturingSettings)
class NurturingSettingsAdmin(CompanyScopedAdmin):
    app_permissions = {**READ_ONLY, "view": "nurturing.manage"}
    list_display = ["company", "consent_policy", "rate_per_minute", "window_start", "window_end", "sweep_threshold"]
