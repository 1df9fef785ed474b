"""django-import-export in the admin, for leads: a ``LeadResource`` and ``LeadImportExportMixin``.

The admin import does not save rows the ModelResource way: ``LeadResource.import_data`` hands the
whole dataset to ``leads.transfer.jobs`` as one ``ImportJob`` (dry run first, then the real
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

import os

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.http import HttpResponseRedirect
from django.urls import reverse
from import_export import fields, resources
from import_export.admin import ImportExportMixin
from import_export.forms import ConfirmImportForm, ImportForm
from import_export.results import Error, Result, RowResult

from crm.admin import NOBODY, CompanyScopedAdmin
from crm.models import Company, Membership
from leads.models import DuplicatePolicy, ExportRun, ExportTemplate, ImportJob, ImportStatus, Lead, ScheduledExport
from leads.transfer.cells import neutralise
from leads.transfer.exports import export_runs_visible_to
from leads.transfer.jobs import import_job_create, import_job_start, import_jobs_visible_to
from leads.transfer.mapping import ImportOptions
from leads.transfer.schedules import scheduled_exports_visible_to

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
    """Leads for django-import-export. Import: through ``leads.transfer.jobs`` (see the module
    docstring); ``company``, ``actor`` and ``on_duplicate`` come from the admin's import form."""

    def __init__(
        self, company: Company | None = None, actor: Membership | None = None, on_duplicate: str = "skip", **kwargs
    ):
        super().__init__(**kwargs)  # the admin passes its own keywords (export_form, encoding, …) through
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
        options = ImportOptions(on_duplicate=self.on_duplicate, dry_run=dry_run)
        try:
            job = import_job_create(company=self.company, actor=self.actor, upload=upload, options=options)
            job = import_job_start(job=job, actor=self.actor, inline=True)
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


UPLOADS = "leads.admin_imports"  # session key: the uploads this session may confirm
KEPT_UPLOADS = 10
NOT_YOUR_UPLOAD = "This import cannot be confirmed: the file was not uploaded by you for this company. Upload it again."
BAD_CONFIRMATION = "This import cannot be confirmed: the confirmation is incomplete ({fields}). Upload the file again."


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

    def _import_companies(self, request):
        if request.user.is_superuser:
            return Company.objects.all()
        return Company.objects.filter(pk__in=[m.company_id for m in self.memberships_holding(request, "leads.import")])

    def get_import_form_kwargs(self, request):
        return {**super().get_import_form_kwargs(request), "companies": self._import_companies(request)}

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            company = import_form.cleaned_data["company"]
            initial["company"] = company.pk
            initial["on_duplicate"] = import_form.cleaned_data["on_duplicate"]
            self._remember_upload(request, initial["import_file_name"], company.pk)
        return initial

    def get_import_resource_kwargs(self, request, **kwargs):
        form = kwargs.get("form")
        data = getattr(form, "cleaned_data", {}) or {}
        company = data.get("company")
        if company is not None and not self._import_companies(request).filter(pk=company.pk).exists():
            company = None
        actor = self.membership_in(request, company.pk) if company is not None else None
        return {"company": company, "actor": actor, "on_duplicate": data.get("on_duplicate", "skip")}

    # The confirmation names the temporary file of the dry run. The client sends that name back,
    # so it is only accepted when this session uploaded it, as this user, for that company.
    @staticmethod
    def _upload_key(name: str) -> str:
        return os.path.basename(name)

    def _remember_upload(self, request, name: str, company_id: int) -> None:
        uploads = request.session.get(UPLOADS, {})
        uploads[self._upload_key(name)] = [request.user.pk, company_id]
        request.session[UPLOADS] = dict(list(uploads.items())[-KEPT_UPLOADS:])

    def _confirmed_upload(self, request) -> tuple[str | None, str]:
        """The temporary file's name the confirmation may use, or None and why not."""
        form = self.create_confirm_form(request)
        if not form.is_valid():
            return None, BAD_CONFIRMATION.format(fields=", ".join(sorted(form.errors)))
        name = self._upload_key(form.cleaned_data["import_file_name"])
        company = form.cleaned_data["company"]
        if request.session.get(UPLOADS, {}).get(name) != [request.user.pk, company.pk]:
            return None, NOT_YOUR_UPLOAD
        return name, ""

    def process_import(self, request, **kwargs):
        if request.method != "POST" or not self.has_import_permission(request):
            return super().process_import(request, **kwargs)  # 405 / 403
        name, problem = self._confirmed_upload(request)
        if name is None:
            self.message_user(request, problem, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:leads_lead_import"))
        uploads = request.session[UPLOADS]
        del uploads[name]  # one confirmation per upload
        request.session[UPLOADS] = uploads
        try:
            return super().process_import(request, **kwargs)
        except FileNotFoundError:
            self.message_user(request, "The uploaded file has expired. Upload it again.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:leads_lead_import"))

    def has_import_permission(self, request):
        return request.user.is_superuser or bool(self.memberships_holding(request, "leads.import"))

    def has_export_permission(self, request):
        return request.user.is_superuser or bool(self.memberships_holding(request, "leads.export"))


# --- the area's own records, read-only in the admin (they are written by the import and export
# services; a scheduled export is edited on the exports page, where its schedule row is kept in step)


@admin.register(ImportJob)
class ImportJobAdmin(CompanyScopedAdmin):
    """Import jobs hold the file's data: admins see all of the company's, managers their team's."""

    app_permissions = {"view": "leads.import", "add": NOBODY, "change": NOBODY, "delete": NOBODY}
    list_display = ["id", "file_name", "company", "created_by", "status", "total_rows", "created_count",
                    "updated_count", "skipped_count", "invalid_count", "created_at"]  # fmt: skip
    list_filter = ["status", "file_format"]
    list_select_related = ["company", "created_by__user"]
    search_fields = ["file_name"]

    def visible_to(self, membership):
        return import_jobs_visible_to(membership)


EXPORTS_READ_ONLY = {"view": "leads.export", "add": NOBODY, "change": NOBODY, "delete": NOBODY}


@admin.register(ExportRun)
class ExportRunAdmin(CompanyScopedAdmin):
    app_permissions = EXPORTS_READ_ONLY
    list_display = ["id", "company", "created_by", "scheduled_export", "format", "status", "row_count", "created_at"]
    list_filter = ["status", "format"]
    list_select_related = ["company", "created_by__user", "scheduled_export"]

    def visible_to(self, membership):
        return export_runs_visible_to(membership)


@admin.register(ExportTemplate)
class ExportTemplateAdmin(CompanyScopedAdmin):
    app_permissions = EXPORTS_READ_ONLY
    list_display = ["name", "company", "created_by", "updated_at"]
    list_select_related = ["company", "created_by__user"]


@admin.register(ScheduledExport)
class ScheduledExportAdmin(CompanyScopedAdmin):
    app_permissions = EXPORTS_READ_ONLY
    list_display = ["name", "company", "owner", "format", "frequency", "is_active", "last_run_at"]
    list_filter = ["frequency", "format", "is_active"]
    list_select_related = ["company", "owner__user"]

    def visible_to(self, membership):
        return scheduled_exports_visible_to(membership)
