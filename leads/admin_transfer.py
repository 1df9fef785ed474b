"""django-import-export in the admin, for leads: a ``LeadResource`` and ``LeadImportExportMixin``.

The admin import does not save rows the ModelResource way: ``LeadResource.import_data`` hands the
whole dataset to ``leads.import_services`` as one ``ImportJob`` (dry run first, then the real
import after the admin's confirmation), so a row imported from the admin is validated, normalised,
deduplicated, scored, assigned and recorded exactly like one imported from the wizard, the API or
``import_leads`` — and one bad row imports nothing. The admin export is the changelist's queryset
(already limited to the leads the staff member may see) with the export's columns and formula
neutralisation.

Plug it into ``leads/admin.py``: ``class LeadAdmin(LeadImportExportMixin, ServiceAdmin)``
(importing this module also registers read-only admins for import jobs, export runs, export
templates and scheduled exports).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from import_export import fields, resources
from import_export.admin import ImportExportMixin
from import_export.forms import ConfirmImportForm, ImportForm
from import_export.results import Error, Result, RowResult

from crm.admin import CompanyScopedAdmin
from crm.models import Company, Membership, Role
from crm.queries import companies_administered_by
from leads import import_services as imports
from leads.exporting import neutralise
from leads.models import DuplicatePolicy, ExportRun, ExportTemplate, ImportJob, ImportStatus, Lead, ScheduledExport

# (model field or ORM path, header) — the headers the import recognises, so an admin export
# imports back without remapping.
RESOURCE_COLUMNS = [
    ("id", "ID"), ("first_name", "First name"), ("last_name", "Last name"), ("email", "Email"), ("phone", "Phone"),
    ("country", "Country"), ("job_title", "Job title"), ("company_name", "Company"), ("profile_url", "Profile URL"),
    ("lead_source", "Lead source"), ("campaign__name", "Campaign"), ("medium", "Medium"), ("term", "Term"),
    ("owner__user__email", "Owner"), ("status__name", "Status"), ("stage", "Stage"), ("score", "Score"),
    ("priority", "Priority"), ("interest_product", "Interest product"), ("budget_range", "Budget range"),
    ("authority_level", "Authority level"), ("need", "Need"), ("timeline", "Timeline"),
    ("gdpr_consent", "GDPR consent"), ("dnd", "Do not disturb"), ("opt_in_date", "Opt-in date"),
    ("created_at", "Created"),
]  # fmt: skip


def _field_name(path: str) -> str:
    return path.replace("__", "_")


class LeadResource(resources.ModelResource):
    """Leads for django-import-export. Import: through ``leads.import_services`` (see the module
    docstring); ``company``, ``actor`` and ``on_duplicate`` come from the admin's import form."""

    def __init__(self, company: Company | None = None, actor: Membership | None = None, on_duplicate: str = "skip"):
        super().__init__()
        self.company, self.actor, self.on_duplicate = company, actor, on_duplicate
        self.last_job = None

    locals().update(
        {
            _field_name(path): fields.Field(attribute=path, column_name=header, readonly=path in ("id", "created_at"))
            for path, header in RESOURCE_COLUMNS
        }
    )

    class Meta:
        model = Lead
        fields = tuple(_field_name(path) for path, _ in RESOURCE_COLUMNS)
        export_order = fields

    def export_field(self, field, instance, **kwargs):
        value = super().export_field(field, instance, **kwargs)
        if isinstance(value, bool):
            return "yes" if value else "no"
        return neutralise(value) if isinstance(value, str) else value

    def import_data(self, dataset, dry_run=False, raise_errors=False, **kwargs) -> Result:
        result = Result()
        result.diff_headers = list(dataset.headers or [])
        if self.company is None:
            result.append_base_error(Error(ValidationError("Choose the company to import into.")))
            return result
        upload = ContentFile(dataset.export("csv").encode("utf-8"), name=kwargs.get("file_name") or "admin-import.csv")
        options = imports.ImportOptions(on_duplicate=self.on_duplicate, dry_run=dry_run)
        try:
            job = imports.import_job_create(company=self.company, actor=self.actor, upload=upload, options=options)
            job = imports.import_job_start(job=job, actor=self.actor, inline=True)
        except ValidationError as error:
            result.append_base_error(Error(error))
            return result
        self.last_job = job
        self._fill(result, job, dataset)
        return result

    def _fill(self, result: Result, job, dataset) -> None:
        by_row: dict[int, dict[str, list[str]]] = {}
        for issue in job.errors:
            by_row.setdefault(issue["row"], {}).setdefault(issue["column"] or "__all__", []).append(issue["message"])
        headers = result.diff_headers
        for number, problems in sorted(by_row.items()):
            values = dataset[number - 2] if 0 <= number - 2 < len(dataset) else ()
            row = dict(zip(headers, values, strict=False))
            result.append_invalid_row(number, row, ValidationError(problems))
            result.totals[RowResult.IMPORT_TYPE_INVALID] += 1
        if job.status == ImportStatus.FAILED and not by_row:
            result.append_base_error(Error(ValidationError(job.error)))
        for kind, count in ((RowResult.IMPORT_TYPE_NEW, job.created_count),
                            (RowResult.IMPORT_TYPE_UPDATE, job.updated_count),
                            (RowResult.IMPORT_TYPE_SKIP, job.skipped_count)):  # fmt: skip
            result.totals[kind] = 0 if by_row else count
        result.total_rows = job.total_rows


def _companies(request):
    return companies_administered_by(request.user)


class LeadImportForm(ImportForm):
    company = forms.ModelChoiceField(queryset=Company.objects.none())
    on_duplicate = forms.ChoiceField(choices=DuplicatePolicy.choices, initial=DuplicatePolicy.SKIP)

    def __init__(self, *args, companies=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["company"].queryset = companies if companies is not None else Company.objects.none()


class LeadConfirmImportForm(ConfirmImportForm):
    company = forms.ModelChoiceField(queryset=Company.objects.all(), widget=forms.HiddenInput)
    on_duplicate = forms.ChoiceField(choices=DuplicatePolicy.choices, widget=forms.HiddenInput)


class LeadImportExportMixin(ImportExportMixin):
    """Import/export buttons on the Lead changelist, going through ``LeadResource``."""

    resource_classes = [LeadResource]
    import_form_class = LeadImportForm
    confirm_form_class = LeadConfirmImportForm
    skip_admin_log = True  # the ImportJob and the leads' history rows are the record

    def get_import_form_kwargs(self, request):
        return {**super().get_import_form_kwargs(request), "companies": _companies(request)}

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["company"] = import_form.cleaned_data["company"].pk
            initial["on_duplicate"] = import_form.cleaned_data["on_duplicate"]
        return initial

    def get_import_resource_kwargs(self, request, **kwargs):
        form = kwargs.get("form")
        data = getattr(form, "cleaned_data", {}) or {}
        company = data.get("company")
        if company is not None and not _companies(request).filter(pk=company.pk).exists():
            company = None
        actor = None
        if company is not None:
            actor = Membership.objects.filter(
                user=request.user, company=company, is_active=True, role__in=[Role.ADMIN, Role.MANAGER]
            ).first()
        return {"company": company, "actor": actor, "on_duplicate": data.get("on_duplicate", "skip")}

    def has_import_permission(self, request):
        return request.user.is_superuser or _companies(request).exists()

    def has_export_permission(self, request):
        return self.has_view_permission(request)


# --- the area's own records, read-only in the admin (they are written by the import and export
# services; a scheduled export is edited on the exports page, where its schedule row is kept in step)


class _ReadOnlyAdmin(CompanyScopedAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ImportJob)
class ImportJobAdmin(_ReadOnlyAdmin):
    list_display = ["id", "file_name", "company", "created_by", "status", "total_rows", "created_count",
                    "updated_count", "skipped_count", "invalid_count", "created_at"]  # fmt: skip
    list_filter = ["status", "file_format"]
    list_select_related = ["company", "created_by__user"]
    search_fields = ["file_name"]


@admin.register(ExportRun)
class ExportRunAdmin(_ReadOnlyAdmin):
    list_display = ["id", "company", "created_by", "scheduled_export", "format", "status", "row_count", "created_at"]
    list_filter = ["status", "format"]
    list_select_related = ["company", "created_by__user", "scheduled_export"]


@admin.register(ExportTemplate)
class ExportTemplateAdmin(_ReadOnlyAdmin):
    list_display = ["name", "company", "created_by", "updated_at"]
    list_select_related = ["company", "created_by__user"]


@admin.register(ScheduledExport)
class ScheduledExportAdmin(_ReadOnlyAdmin):
    list_display = ["name", "company", "owner", "format", "frequency", "is_active", "last_run_at"]
    list_filter = ["frequency", "format", "is_active"]
    list_select_related = ["company", "owner__user"]
