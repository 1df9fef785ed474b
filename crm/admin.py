"""Django admin for managers and company admins (staff) and for ops (superusers).

``CompanyScopedAdmin`` is the base for every tenant model. A staff member uses the admin through
their admin and manager memberships, and each action needs the same permission the app asks for
(``crm.permissions``): an admin class names, per action, the app permission it needs
(``app_permissions``), and a membership may take the action on the rows of its company that the
app shows its role (``visible_to``). Another company's row, or one the app would not show, is
missing: 404, never 403. Superusers (ops) may do everything an admin class allows at all.
"""

from __future__ import annotations

import operator
from functools import reduce

from django import forms
from django.contrib import admin
from django.contrib.admin.options import TO_FIELD_VAR
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404
from simple_history.admin import SimpleHistoryAdmin
from simple_history.exceptions import NotHistoricalModelError
from simple_history.utils import get_history_model_for_model

from crm import services
from crm.models import Company, Membership, Role, User
from crm.permissions import permissions_for
from crm.queries import companies_administered_by, memberships_visible_to

OPS = "ops"  # an app_permissions value no role holds: superusers only
NOBODY = None  # not even ops: the rows are written elsewhere (the app, a service, a command)
# Historical models that remember where a change came from (``crm.history.TrackedHistory``) have
# these fields; the history pages show them as columns.
REQUEST_META_COLUMNS = (("ip_address", "IP address"), ("user_agent", "User agent"))
NOT_FOUND = "No such record, or it is not yours to see."


def role_covers(holder: str, role: str) -> bool:
    """Whether someone holding ``holder`` may grant (or change a member holding) ``role``: only
    when ``role`` allows nothing that ``holder`` does not."""
    return permissions_for(role) <= permissions_for(holder)


def history_model_of(model):
    try:
        return get_history_model_for_model(model)
    except NotHistoricalModelError:
        return None


def _missing_is_404(model_admin, request, opts, object_id):
    if not model_admin.has_view_or_change_permission(request):
        raise PermissionDenied  # no access to the model at all: the same 403 whatever the id
    raise Http404(NOT_FOUND)


# Django redirects a missing object's change, delete and history pages to the admin index; on every
# admin page (ours and the bundled apps': auth, django-q2, axes, DRF tokens) it is a plain 404.
admin.ModelAdmin._get_obj_does_not_exist_redirect = _missing_is_404


class CompanyScopedAdmin(SimpleHistoryAdmin):
    company_path: str = "company"
    # The app permission each admin action needs in the row's company, OPS or NOBODY.
    app_permissions: dict[str, str | None] = {"view": NOBODY, "add": NOBODY, "change": NOBODY, "delete": NOBODY}
    object_history_list_template = "admin/history_list.html"

    def __init__(self, model, admin_site):
        super().__init__(model, admin_site)
        self.history_model = history_model_of(model)
        if self.history_model is None:  # Django's own history page (admin log entries)
            self.object_history_template = None

    # --- who may do what, where ------------------------------------------------------------------

    def staff_memberships(self, request) -> list[Membership]:
        """The active memberships through which the user works in the admin (admin or manager roles)."""
        if not hasattr(request, "_admin_memberships"):
            request._admin_memberships = list(
                Membership.objects.filter(
                    user=request.user, is_active=True, company__in=companies_administered_by(request.user)
                ).select_related("company")
            )
        return request._admin_memberships

    def memberships_holding(self, request, permission: str | None) -> list[Membership]:
        """The user's staff memberships whose role holds the app ``permission``."""
        if permission is NOBODY or not (request.user.is_active and request.user.is_staff):
            return []
        return [m for m in self.staff_memberships(request) if permission in permissions_for(m.role)]

    def memberships_with(self, request, action: str) -> list[Membership]:
        """The user's staff memberships whose role holds the app permission ``action`` needs here."""
        return self.memberships_holding(request, self.app_permissions.get(action, NOBODY))

    def company_ids_with(self, request, action: str) -> set[int]:
        return {membership.company_id for membership in self.memberships_with(request, action)}

    def membership_in(self, request, company_id: int | None) -> Membership | None:
        """The user's staff membership in that company (None for ops without one)."""
        return next((m for m in self.staff_memberships(request) if m.company_id == company_id), None)

    def visible_to(self, membership: Membership) -> models.QuerySet:
        """The rows ``membership`` sees, as the app shows them to its role: by default its whole company."""
        return self.model._default_manager.filter(**{self.company_path: membership.company_id})

    def company_id_of(self, obj) -> int | None:
        return obj.pk if isinstance(obj, Company) else getattr(obj, "company_id", None)

    def _may(self, request, action: str, obj=None) -> bool:
        if not (request.user.is_active and request.user.is_staff):
            return False
        if request.user.is_superuser:
            return self.app_permissions.get(action, NOBODY) is not NOBODY
        companies = self.company_ids_with(request, action)
        if obj is None:
            return bool(companies)
        return self.company_id_of(obj) in companies and self._visible(request, obj)

    def _visible(self, request, obj) -> bool:
        cache = request.__dict__.setdefault("_admin_visible", {})
        key = (self.model._meta.label, obj.pk)
        if key not in cache:
            cache[key] = obj.pk is not None and self.get_queryset(request).filter(pk=obj.pk).exists()
        return cache[key]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        visible = [self.visible_to(membership) for membership in self.memberships_with(request, "view")]
        if not visible:
            return queryset.none()
        return queryset & reduce(operator.or_, visible)

    def has_module_permission(self, request):
        return self._may(request, "view")

    def has_view_permission(self, request, obj=None):
        return self._may(request, "view", obj)

    def has_add_permission(self, request):
        return self._may(request, "add")

    def has_change_permission(self, request, obj=None):
        return self._may(request, "change", obj)

    def has_delete_permission(self, request, obj=None):
        return self._may(request, "delete", obj)

    # --- choices --------------------------------------------------------------------------------

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if not request.user.is_superuser:
            if db_field.name == self.company_path and related is Company:
                kwargs["queryset"] = Company.objects.filter(pk__in=self.company_ids_with(request, "add"))
            elif related is User:
                companies = self.company_ids_with(request, "view")
                kwargs["queryset"] = User.objects.filter(memberships__company__in=companies).distinct()
            elif related is Company or "company" in {f.name for f in related._meta.get_fields()}:
                path = "pk" if related is Company else "company"
                companies = self.company_ids_with(request, "view")
                kwargs["queryset"] = related._default_manager.filter(**{f"{path}__in": companies})
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    # --- missing is 404 -------------------------------------------------------------------------

    def _404_unless_visible(self, request, object_id) -> None:
        """Another company's id, a row the app would not show, or no row at all: 404 before any
        permission check, so the answer says nothing about what exists. Someone with no access to
        this admin at all gets Django's 403 whatever the id."""
        if object_id is None or not self.has_module_permission(request):
            return
        if request.POST.get(TO_FIELD_VAR, request.GET.get(TO_FIELD_VAR)):
            return  # Django validates the field and answers missing rows through the redirect above
        if self.get_object(request, unquote(object_id)) is None:
            raise Http404(NOT_FOUND)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        self._404_unless_visible(request, object_id)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        self._404_unless_visible(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    # --- history --------------------------------------------------------------------------------

    def get_urls(self):
        if self.history_model is None:  # simple-history's version pages need a historical model
            return admin.ModelAdmin.get_urls(self)
        return super().get_urls()

    def history_view(self, request, object_id, extra_context=None):
        if not self.has_module_permission(request):
            raise PermissionDenied
        self._404_unless_visible(request, object_id)
        if self.history_model is None:
            return admin.ModelAdmin.history_view(self, request, object_id, extra_context)
        labels = dict(REQUEST_META_COLUMNS)
        columns = [(name, labels.get(name, name)) for name in self.get_history_list_display(request)]
        return super().history_view(request, object_id, {**(extra_context or {}), "history_columns": columns})

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        """A past version, to look at: reverting would write around the services."""
        if request.method != "GET" or not self.has_module_permission(request):
            raise PermissionDenied
        self._404_unless_visible(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)

    def get_history_list_display(self, request):
        fields = {field.name for field in self.history_model._meta.get_fields()}
        meta = [name for name, _ in REQUEST_META_COLUMNS if name in fields]
        return [*super().get_history_list_display(request), *meta]

    def revert_disabled(self, request, obj=None):
        return True

    def has_change_history_permission(self, request, obj=None):
        return False


# --- tenancy ---------------------------------------------------------------------------------------


@admin.register(Company)
class CompanyAdmin(CompanyScopedAdmin):
    """Ops create and delete tenants; a company admin edits their company's name and country, as on
    the company settings page; managers look."""

    company_path = "pk"
    app_permissions = {"view": "dashboard.view", "add": OPS, "change": "company.manage", "delete": OPS}
    list_display = ["name", "slug", "default_country", "created_at"]
    search_fields = ["name", "slug"]

    def get_prepopulated_fields(self, request, obj=None):
        return {"slug": ["name"]} if obj is None else {}

    def get_readonly_fields(self, request, obj=None):
        return ["slug"] if obj is not None and not request.user.is_superuser else []

    def save_model(self, request, obj, form, change):
        if change and "slug" not in form.changed_data:
            services.company_update(company=obj, name=obj.name, default_country=obj.default_country)
            return
        obj._change_reason = "crm.company.changed" if change else "crm.company.created"
        super().save_model(request, obj, form, change)


class MembershipAdminForm(forms.ModelForm):
    """Refuses a role the staff member does not hold themselves. ``get_form`` binds the admin and
    the request."""

    model_admin = None
    admin_request = None

    def clean(self):
        cleaned = super().clean()
        role = cleaned.get("role")
        company = self.instance.company if self.instance.pk else cleaned.get("company")
        if role and company is not None:
            problem = self.model_admin.grant_problem(self.admin_request, company.pk, role)
            if problem:
                self.add_error("role", problem)
        return cleaned


@admin.register(Membership)
class MembershipAdmin(CompanyScopedAdmin):
    """Company admins manage the memberships of their company, managers see their team. A role is
    granted only by someone who holds it (or a role above it); nobody changes their own role or
    deactivates or deletes themselves; a membership never moves to another company or user."""

    form = MembershipAdminForm
    app_permissions = {"view": "members.view", "add": "company.manage", "change": "company.manage",
                       "delete": "company.manage"}  # fmt: skip
    list_display = ["user", "company", "role", "manager", "territory", "capacity", "is_available", "is_active"]
    list_filter = ["role", "is_available", "is_active"]
    search_fields = ["user__email", "user__full_name", "territory"]
    list_select_related = ["user", "company", "manager__user"]
    formfield_overrides = {models.JSONField: {"help_text": 'A JSON list, e.g. ["en", "de"]'}}

    def visible_to(self, membership):
        return memberships_visible_to(membership)

    def _may(self, request, action, obj=None):
        if not super()._may(request, action, obj):
            return False
        if action in ("view", "add") or obj is None or request.user.is_superuser:
            return True
        if action == "delete" and obj.user_id == request.user.pk:
            return False
        holder = self.membership_in(request, obj.company_id)
        return role_covers(holder.role, obj.role)

    def grant_problem(self, request, company_id: int, role: str) -> str | None:
        if request.user.is_superuser:
            return None
        holder = self.membership_in(request, company_id)
        if holder is None or "company.manage" not in permissions_for(holder.role):
            return "You do not manage the memberships of this company."
        if not role_covers(holder.role, role):
            return f"You may grant only roles you hold yourself: you are {holder.get_role_display()}."
        return None

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.model_admin = self  # a fresh class per call: nothing is shared between requests
        form.admin_request = request
        if "role" in form.base_fields and not request.user.is_superuser:
            companies = [obj.company_id] if obj is not None else self.company_ids_with(request, "add")
            holders = [self.membership_in(request, company_id) for company_id in companies]
            form.base_fields["role"].choices = [
                (value, label)
                for value, label in Role.choices
                if any(holder is not None and role_covers(holder.role, value) for holder in holders)
            ]
        return form

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        own = ["role", "is_active"] if obj.user_id == request.user.pk else []
        return ["company", "user", *own]

    def save_model(self, request, obj, form, change):
        obj._change_reason = "crm.membership.changed" if change else "crm.membership.created"
        super().save_model(request, obj, form, change)


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
