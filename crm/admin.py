"""Django admin for managers and company admins (staff) and for ops (superusers).

``CompanyScopedAdmin`` is the base for every tenant model: a staff member sees, edits and picks
foreign keys only within the companies where they are an admin or manager.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.db import models
from simple_history.admin import SimpleHistoryAdmin

from crm.models import Company, Membership, Role, User
from crm.queries import companies_administered_by


def _company_path(model) -> str | None:
    """The lookup from ``model`` to its Company, or None when it has no company."""
    if model is Company:
        return "pk"
    field_names = {f.name for f in model._meta.get_fields()}
    return "company" if "company" in field_names else None


class CompanyScopedAdmin(SimpleHistoryAdmin):
    company_path: str = "company"
    delete_roles = (Role.ADMIN,)

    def _companies(self, request):
        if not hasattr(request, "_admin_companies"):
            request._admin_companies = companies_administered_by(request.user)
        return request._admin_companies

    def _delete_companies(self, request):
        if request.user.is_superuser:
            return Company.objects.all()
        return Company.objects.filter(
            memberships__user=request.user, memberships__is_active=True, memberships__role__in=self.delete_roles
        )

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.company_path}__in": self._companies(request)})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        path = _company_path(db_field.related_model)
        if db_field.related_model is User:
            path = "memberships__company"
        if path and not request.user.is_superuser:
            kwargs["queryset"] = db_field.related_model._default_manager.filter(
                **{f"{path}__in": self._companies(request)}
            ).distinct()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        path = _company_path(db_field.related_model)
        if path and not request.user.is_superuser:
            kwargs["queryset"] = db_field.related_model._default_manager.filter(
                **{f"{path}__in": self._companies(request)}
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _in_scope(self, request, obj, companies) -> bool:
        if request.user.is_superuser:
            return True
        if obj is None:
            return companies.exists()
        company_id = obj.pk if isinstance(obj, Company) else getattr(obj, "company_id", None)
        return companies.filter(pk=company_id).exists()

    def has_module_permission(self, request):
        return (
            request.user.is_active and request.user.is_staff and self._in_scope(request, None, self._companies(request))
        )

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request) and self._in_scope(request, obj, self._companies(request))

    has_change_permission = has_view_permission

    def has_add_permission(self, request):
        return self.has_module_permission(request)

    def has_delete_permission(self, request, obj=None):
        return self.has_module_permission(request) and self._in_scope(request, obj, self._delete_companies(request))


@admin.register(Company)
class CompanyAdmin(CompanyScopedAdmin):
    company_path = "pk"
    list_display = ["name", "slug", "default_country", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def has_add_permission(self, request):
        return request.user.is_superuser  # tenants are created by ops

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(Membership)
class MembershipAdmin(CompanyScopedAdmin):
    list_display = ["user", "company", "role", "manager", "territory", "capacity", "is_available", "is_active"]
    list_filter = ["role", "is_available", "is_active"]
    search_fields = ["user__email", "user__full_name", "territory"]
    list_select_related = ["user", "company", "manager__user"]
    autocomplete_fields: list[str] = []
    formfield_overrides = {models.JSONField: {"help_text": 'A JSON list, e.g. ["en", "de"]'}}

    def get_readonly_fields(self, request, obj=None):
        return ["company", "user"] if obj is not None else []


class EmailUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name")


class EmailUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Accounts are managed by ops; company staff manage memberships instead."""

    form = EmailUserChangeForm
    add_form = EmailUserCreationForm

    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "full_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("full_name",)}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "full_name", "password1", "password2")}),)

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    has_change_permission = has_view_permission

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


admin.site.site_header = "CRM administration"
admin.site.site_title = "CRM admin"
