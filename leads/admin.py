"""Django admin for leads and their configuration, for managers, company admins and ops.

Every write goes through the services, like every other door: the admin form's last validation
step *is* the service call (inside the admin's transaction), so a business rule the service
refuses shows as a form error and nothing is written. ``save_model`` only picks up the saved row.
"""

from __future__ import annotations

import operator
from functools import reduce

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import HttpResponseRedirect
from django.urls import reverse

from crm.admin import NOBODY, CompanyScopedAdmin
from crm.forms import add_service_errors, error_text
from crm.models import Role
from crm.queries import memberships_visible_to
from leads import services
from leads.config import services as settings_services
from leads.models import Campaign, CustomField, Lead, LeadComment, LeadStatus, StatusTransition
from leads.queries import leads_visible_to
from leads.transfer.admin import LeadImportExportMixin


class ServiceForm(forms.ModelForm):
    """Runs ``model_admin.save_through_service`` once the form itself is valid and turns the
    service's ValidationError into form errors. ``get_form`` binds the admin and the request."""

    model_admin = None
    admin_request = None
    saved = None

    def _post_clean(self):
        super()._post_clean()
        if self._errors:
            return
        try:
            self.saved = self.model_admin.save_through_service(self.admin_request, self)
        except ValidationError as error:
            add_service_errors(self, error, rename=self.model_admin.service_error_names)
        except PermissionDenied:
            self.add_error(None, "You may not make this change.")


class ServiceAdmin(CompanyScopedAdmin):
    form = ServiceForm
    service_error_names: dict[str, str] = {}  # the service's field name → this admin form's

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.model_admin = self  # a fresh class per call: nothing is shared between requests
        form.admin_request = request
        return form

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "company"] if obj is not None else readonly

    def save_through_service(self, request, form):
        raise NotImplementedError

    def save_model(self, request, obj, form, change):
        obj.pk = form.saved.pk
        obj._state.adding = False
        obj.refresh_from_db()


class ConfigAdmin(ServiceAdmin):
    """Lead configuration: everyone who works leads may look, the roles that manage it in the app
    change it."""

    app_permissions = {"view": "leads.view", "add": "statuses.manage", "change": "statuses.manage",
                       "delete": "statuses.manage"}  # fmt: skip

    def _save(self, request, form, *, create, update, instance_kw: str):
        data = {name: value for name, value in form.cleaned_data.items() if name != "company"}
        if form.instance.pk is None:
            company = form.cleaned_data["company"]
            return create(company=company, actor=self.membership_in(request, company.pk), data=data)
        actor = self.membership_in(request, form.instance.company_id)
        return update(actor=actor, data=data, **{instance_kw: form.instance})


# --- configuration -------------------------------------------------------------------------------


@admin.register(LeadStatus)
class LeadStatusAdmin(ConfigAdmin):
    list_display = ["name", "key", "company", "order", "category", "color", "is_initial", "is_terminal", "is_active"]
    list_filter = ["category", "is_initial", "is_terminal", "is_active"]
    search_fields = ["name", "key"]
    list_select_related = ["company"]
    fields = ["company", "key", "name", "description", "color", "category", "order", "is_initial", "is_terminal"]
    actions = ["retire", "unretire"]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "key", "is_active"] if obj is not None else []

    def get_fields(self, request, obj=None):
        return [*self.fields, "is_active"] if obj is not None else self.fields

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # deleting goes one status at a time, through the service
        return actions

    def save_through_service(self, request, form):
        return self._save(
            request,
            form,
            create=settings_services.status_create,
            update=settings_services.status_update,
            instance_kw="status",
        )

    def _each(self, request, queryset, action, done: str):
        for status in queryset:
            try:
                action(actor=self.membership_in(request, status.company_id), status=status)
            except ValidationError as error:
                self.message_user(request, error_text(error, labelled=False), messages.ERROR)
            else:
                self.message_user(request, done.format(status=status), messages.SUCCESS)

    @admin.action(description="Retire selected statuses", permissions=["change"])
    def retire(self, request, queryset):
        self._each(request, queryset, settings_services.status_retire, "Status '{status.name}' retired.")

    @admin.action(description="Unretire selected statuses", permissions=["change"])
    def unretire(self, request, queryset):
        self._each(request, queryset, settings_services.status_unretire, "Status '{status.name}' is in use again.")

    def delete_view(self, request, object_id, extra_context=None):
        """Refuse (with the service's reason) before Django's own confirmation flow deletes anything."""
        if request.method == "POST":
            status = self.get_object(request, object_id)
            if status is not None and self.has_delete_permission(request, status):
                blocker = settings_services.status_delete_blocker(status)
                if blocker:
                    self.message_user(request, blocker, messages.ERROR)
                    return HttpResponseRedirect(reverse("admin:leads_leadstatus_change", args=[status.pk]))
        return super().delete_view(request, object_id, extra_context)

    def delete_model(self, request, obj):
        settings_services.status_delete(actor=self.membership_in(request, obj.company_id), status=obj)


class TransitionAdminForm(ServiceForm):
    allowed_roles = forms.MultipleChoiceField(
        choices=Role.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked to allow every role.",
    )


@admin.register(StatusTransition)
class StatusTransitionAdmin(ConfigAdmin):
    form = TransitionAdminForm
    list_display = ["__str__", "company", "allowed_roles", "note_required"]
    list_filter = ["note_required"]
    list_select_related = ["company", "from_status", "to_status"]
    fields = ["company", "from_status", "to_status", "allowed_roles", "note_required"]

    def save_through_service(self, request, form):
        return self._save(
            request,
            form,
            create=settings_services.transition_create,
            update=settings_services.transition_update,
            instance_kw="transition",
        )

    def delete_model(self, request, obj):
        settings_services.transition_delete(actor=self.membership_in(request, obj.company_id), transition=obj)

    def delete_queryset(self, request, queryset):
        for transition in queryset:
            self.delete_model(request, transition)


@admin.register(Campaign)
class CampaignAdmin(ConfigAdmin):
    # leads keep their attribution: a campaign is deactivated, never deleted
    app_permissions = {"view": "leads.view", "add": "company.manage", "change": "company.manage", "delete": NOBODY}
    list_display = ["name", "company", "source", "medium", "starts_on", "ends_on", "is_active"]
    list_filter = ["is_active", "medium"]
    search_fields = ["name", "source"]
    list_select_related = ["company"]
    fields = ["company", "name", "source", "medium", "starts_on", "ends_on", "is_active"]

    def save_through_service(self, request, form):
        return self._save(
            request,
            form,
            create=settings_services.campaign_create,
            update=settings_services.campaign_update,
            instance_kw="campaign",
        )


class CustomFieldAdminForm(ServiceForm):
    def clean_choices(self):
        choices = self.cleaned_data.get("choices")
        if choices in (None, ""):
            return []
        if not isinstance(choices, list):
            raise ValidationError('Give a JSON list, e.g. ["Retail", "Banking"].')
        return choices


@admin.register(CustomField)
class CustomFieldAdmin(ConfigAdmin):
    form = CustomFieldAdminForm
    # leads keep their values: a field is deactivated, never deleted
    app_permissions = {"view": "leads.view", "add": "fields.manage", "change": "fields.manage", "delete": NOBODY}
    list_display = ["label", "key", "company", "field_type", "required", "order", "is_active"]
    list_filter = ["field_type", "required", "is_active"]
    search_fields = ["label", "key"]
    list_select_related = ["company"]
    fields = ["company", "key", "label", "field_type", "choices", "required", "order", "is_active"]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "key"] if obj is not None else []

    def save_through_service(self, request, form):
        return self._save(
            request,
            form,
            create=settings_services.custom_field_create,
            update=settings_services.custom_field_update,
            instance_kw="field",
        )


# --- leads ---------------------------------------------------------------------------------------


class LeadAdminForm(ServiceForm):
    status_note = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Some status changes require a note.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "status" in self.fields and self.instance.pk is None:
            self.fields["status"].required = False
            self.fields["status"].help_text = "Empty: the company's initial status."
        if self.instance.pk is not None:  # choices from the lead's own company only
            for name in ("status", "campaign", "owner"):
                if name in self.fields:
                    field = self.fields[name]
                    field.queryset = field.queryset.filter(company_id=self.instance.company_id)


LEAD_FIELDSETS = [
    (None, {"fields": ["company", "first_name", "last_name", "email", "phone", "country", "job_title"]}),
    ("Their company", {"fields": ["company_name", "profile_url"]}),
    ("Attribution", {"fields": ["lead_source", "campaign", "medium", "term"]}),
    ("Work", {"fields": ["owner", "status", "status_note", "stage"]}),
    ("Qualification", {"fields": ["interest_product", "budget_range", "authority_level", "need", "timeline"]}),
    ("Consent", {"fields": ["gdpr_consent", "dnd", "opt_in_date"]}),
    ("Data", {"fields": ["custom_fields", "profile_data"], "classes": ["collapse"]}),
]
LEAD_COMPUTED = [
    "score", "priority", "score_breakdown", "spam_score", "validation_status", "created_by",
    "created_at", "updated_at", "assigned_at", "status_changed_at", "first_response_at", "last_activity_at",
    "converted_at",
]  # fmt: skip
LEAD_INPUT_FIELDS = (*services.EDITABLE_FIELDS, "status")
JSON_FIELDS = ("custom_fields", "profile_data")


@admin.register(Lead)
class LeadAdmin(LeadImportExportMixin, ServiceAdmin):
    # leads are soft-deleted through the "Move to trash" action, never deleted here
    app_permissions = {"view": "leads.view", "add": "leads.add", "change": "leads.change", "delete": NOBODY}
    form = LeadAdminForm
    list_display = ["name", "email", "company_name", "status", "owner_name", "score", "created_at"]
    list_filter = [("status", admin.RelatedOnlyFieldListFilter), "stage", "priority"]
    search_fields = ["first_name", "last_name", "email", "company_name"]
    list_select_related = ["status", "owner__user"]
    ordering = ["-created_at", "-id"]
    show_full_result_count = False
    actions = ["move_to_trash"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    service_error_names = {"note": "status_note"}  # custom_fields.<key> lands on custom_fields

    @admin.display(description="Name", ordering="last_name")
    def name(self, lead):
        return f"{lead.first_name} {lead.last_name}".strip() or "—"

    @admin.display(description="Owner", ordering="owner__user__full_name")
    def owner_name(self, lead):
        return str(lead.owner.user) if lead.owner_id else "—"

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return LEAD_FIELDSETS
        return [*LEAD_FIELDSETS, ("Computed", {"fields": LEAD_COMPUTED, "classes": ["collapse"]})]

    def get_readonly_fields(self, request, obj=None):
        return ["company", *LEAD_COMPUTED] if obj is not None else []

    def visible_to(self, membership):
        return leads_visible_to(membership)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        """Owners: the members the staff user assigns to in the app (a manager: their team)."""
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "owner" and not request.user.is_superuser:
            teams = [memberships_visible_to(m).values("pk") for m in self.memberships_holding(request, "leads.assign")]
            field.queryset = (
                field.queryset.filter(pk__in=reduce(operator.or_, teams)) if teams else field.queryset.none()
            )
        return field

    def save_through_service(self, request, form):
        cleaned = form.cleaned_data
        values = {name: cleaned[name] for name in LEAD_INPUT_FIELDS if name in cleaned}
        for name in JSON_FIELDS:
            if name in values and values[name] is None:
                values[name] = {}
        note = cleaned.get("status_note", "")
        if form.instance.pk is None:
            company = cleaned["company"]
            data = {name: value for name, value in values.items() if value not in (None, "")}
            data["status_note"] = note
            return services.lead_create(company=company, actor=self.membership_in(request, company.pk), data=data)
        lead = Lead.objects.get(pk=form.instance.pk)  # the form has already written onto its instance
        data = {name: value for name, value in values.items() if not self._same(lead, name, value)}
        if not data:
            return lead
        if "status" in data:
            data["status_note"] = note
        actor = self.membership_in(request, lead.company_id)
        if actor is None:
            raise ValidationError(f"Only a member of {lead.company} can change its leads.")
        return services.lead_update(actor=actor, lead=lead, data=data)

    @staticmethod
    def _same(lead: Lead, name: str, value) -> bool:
        field = Lead._meta.get_field(name)
        if field.is_relation:
            return getattr(lead, field.attname) == (value.pk if value is not None else None)
        return getattr(lead, name) == value

    @admin.action(description="Move selected leads to the trash", permissions=["change"])
    def move_to_trash(self, request, queryset):
        moved = 0
        for lead in queryset:
            actor = self.membership_in(request, lead.company_id)
            if actor is None:
                self.message_user(request, f"Only a member of {lead.company} can delete its leads.", messages.ERROR)
                continue
            try:
                services.lead_delete(actor=actor, lead=lead)
            except ValidationError as error:
                self.message_user(request, f"{lead}: {error_text(error)}", messages.ERROR)
            else:
                moved += 1
        self.message_user(request, f"{moved} lead(s) moved to the trash.", messages.SUCCESS)


@admin.register(LeadComment)
class LeadCommentAdmin(CompanyScopedAdmin):
    """Read-only: comments are written, edited and deleted by their authors in the app."""

    app_permissions = {"view": "leads.view", "add": NOBODY, "change": NOBODY, "delete": NOBODY}
    list_display = ["__str__", "lead", "author", "created_at", "edited_at", "is_deleted"]
    list_filter = ["is_deleted"]
    search_fields = ["body", "lead__email", "lead__last_name"]
    list_select_related = ["lead", "author__user", "author__company"]

    def visible_to(self, membership):
        return LeadComment.objects.filter(lead__in=leads_visible_to(membership).values("pk"))
