"""Django admin for accounts, contacts, opportunities and pipeline stages. Scoped like every tenant
model (``crm.admin.CompanyScopedAdmin``: the staff member's companies, the rows their role sees in
the app), and every write goes through ``accounts.services`` (the admin form's last validation step
is the service call, as in ``leads.admin``)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models

from accounts import services
from accounts.models import Account, Contact, LeadConversion, Opportunity, OpportunityStageChange, Stage
from accounts.queries import accounts_visible_to, contacts_visible_to, opportunities_visible_to, stages_of
from crm.admin import NOBODY, CompanyScopedAdmin
from leads.admin import ServiceAdmin

RECORD_PERMISSIONS = {"view": "accounts.view", "add": "accounts.add", "change": "accounts.change",
                      "delete": "accounts.delete"}  # fmt: skip


class RecordAdmin(ServiceAdmin):
    """Create, update and delete through the record's services; ``fields`` are the service's fields."""

    app_permissions = RECORD_PERMISSIONS
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    create = update = delete = staticmethod(lambda **kwargs: None)
    instance_kw = ""

    def get_fields(self, request, obj=None):
        return ["company", *self.editable] if obj is None else self.editable

    def get_readonly_fields(self, request, obj=None):
        return ["company"] if obj is not None else []

    def save_through_service(self, request, form):
        data = {name: form.cleaned_data[name] for name in self.editable if name in form.cleaned_data}
        if form.instance.pk is None:
            company = form.cleaned_data["company"]
            return type(self).create(actor=self.membership_in(request, company.pk), company=company, data=data)
        current = self.model.objects.get(pk=form.instance.pk)  # the form has already written onto its instance
        actor = self.membership_in(request, current.company_id)
        return type(self).update(actor=actor, data=data, **{self.instance_kw: current})

    def delete_model(self, request, obj):
        type(self).delete(actor=self.membership_in(request, obj.company_id), **{self.instance_kw: obj})

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            try:
                self.delete_model(request, obj)
            except (ValidationError, PermissionDenied) as error:
                self.message_user(request, f"{obj}: {' '.join(getattr(error, 'messages', [str(error)]))}",
                                  messages.ERROR)  # fmt: skip


@admin.register(Account)
class AccountAdmin(RecordAdmin):
    editable = ["name", "domain", "website", "account_type", "industry", "company_size", "annual_revenue", "gstin",
                "health_score", "lifecycle_stage", "is_active", "owner", "parent", "country"]  # fmt: skip
    create, update, delete = (staticmethod(services.account_create), staticmethod(services.account_update),
                              staticmethod(services.account_delete))  # fmt: skip
    instance_kw = "account"
    list_display = ["name", "domain", "account_type", "health_score", "lifecycle_stage", "owner", "company"]
    list_filter = ["account_type", "health_score", "lifecycle_stage", "is_active"]
    search_fields = ["name", "domain"]
    list_select_related = ["owner__user", "company"]
    show_full_result_count = False

    def visible_to(self, membership):
        return accounts_visible_to(membership)


@admin.register(Contact)
class ContactAdmin(RecordAdmin):
    editable = ["account", "first_name", "last_name", "job_title", "role", "email", "phone", "preferred_channel",
                "influence", "is_primary", "gdpr_consent", "dnd", "opt_in_date", "owner"]  # fmt: skip
    create, update, delete = (staticmethod(services.contact_create), staticmethod(services.contact_update),
                              staticmethod(services.contact_delete))  # fmt: skip
    instance_kw = "contact"
    list_display = ["__str__", "account", "email", "phone", "role", "is_primary", "owner"]
    list_filter = ["role", "influence", "is_primary"]
    search_fields = ["first_name", "last_name", "email"]
    list_select_related = ["account", "owner__user"]
    show_full_result_count = False

    def visible_to(self, membership):
        return contacts_visible_to(membership)


@admin.register(Opportunity)
class OpportunityAdmin(RecordAdmin):
    editable = ["name", "account", "primary_contact", "owner", "amount", "currency", "close_date", "stage",
                "forecast_category", "source", "lead", "next_step", "lost_reason"]  # fmt: skip
    create, update, delete = (staticmethod(services.opportunity_create), staticmethod(services.opportunity_update),
                              staticmethod(services.opportunity_delete))  # fmt: skip
    instance_kw = "opportunity"
    list_display = ["name", "account", "stage", "amount", "currency", "probability", "close_date", "owner"]
    list_filter = [("stage", admin.RelatedOnlyFieldListFilter), "forecast_category", "currency"]
    search_fields = ["name", "account__name"]
    list_select_related = ["account", "stage", "owner__user"]
    raw_id_fields = ["lead"]
    show_full_result_count = False

    def visible_to(self, membership):
        return opportunities_visible_to(membership)


@admin.register(Stage)
class StageAdmin(RecordAdmin):
    app_permissions = {"view": "pipeline.view", "add": "stages.manage", "change": "stages.manage",
                       "delete": "stages.manage"}  # fmt: skip
    editable = ["name", "order", "probability", "is_won", "is_lost", "is_active"]
    create, update, delete = (staticmethod(services.stage_create), staticmethod(services.stage_update),
                              staticmethod(services.stage_delete))  # fmt: skip
    instance_kw = "stage"
    list_display = ["name", "company", "order", "probability", "is_won", "is_lost", "is_active"]
    list_filter = ["is_won", "is_lost", "is_active"]

    def visible_to(self, membership):
        return stages_of(membership.company_id, active_only=False)


class ReadOnlyAdmin(CompanyScopedAdmin):
    """Written by the services only (stage changes, conversions): looked at here, never edited."""

    app_permissions = {"view": "accounts.view", "add": NOBODY, "change": NOBODY, "delete": NOBODY}


@admin.register(OpportunityStageChange)
class OpportunityStageChangeAdmin(ReadOnlyAdmin):
    list_display = ["opportunity", "from_stage", "to_stage", "probability", "changed_by", "changed_at", "left_at"]
    list_select_related = ["opportunity", "from_stage", "to_stage", "changed_by__user"]

    def visible_to(self, membership):
        return OpportunityStageChange.objects.filter(opportunity__in=opportunities_visible_to(membership).values("pk"))


@admin.register(LeadConversion)
class LeadConversionAdmin(ReadOnlyAdmin):
    list_display = ["lead", "account", "contact", "opportunity", "converted_by", "converted_at"]
    list_select_related = ["lead", "account", "contact", "opportunity", "converted_by__user"]

    def visible_to(self, membership):
        return LeadConversion.objects.filter(account__in=accounts_visible_to(membership).values("pk"))
