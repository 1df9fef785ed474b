"""Import wizard and export pages. Each view loads what the URL names through the caller's visible
objects (404 otherwise), parses a form, calls one service of ``leads.transfer.jobs`` or
``leads.transfer.exports``, then messages and redirects (or streams the download)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from crm.forms import add_service_errors, error_text
from crm.http import is_htmx
from crm.permissions import tenant_view
from crm.views_helpers import Confirm, confirm_flow, form_flow
from leads.models import ExportFormat, ExportTemplate, ImportJob, ImportStatus
from leads.transfer.cells import CONTENT_TYPES
from leads.transfer.exports import (
    export_run_start,
    export_runs_visible_to,
    export_template_create,
    export_template_delete,
    export_template_update,
    stream_export,
    template_for,
    xlsx_export,
)
from leads.transfer.forms import ExportTemplateForm, ImportMappingForm, ImportUploadForm, ScheduledExportForm
from leads.transfer.importer import import_progress as progress_of
from leads.transfer.jobs import (
    import_job_create,
    import_job_start,
    import_jobs_visible_to,
    import_preview,
)
from leads.transfer.mapping import IGNORE, mapping_errors
from leads.transfer.reading import DELIMITER_NAMES
from leads.transfer.revert import import_revert_start
from leads.transfer.schedules import (
    scheduled_export_delete,
    scheduled_export_run_now,
    scheduled_export_save,
    scheduled_exports_visible_to,
)

NS = "leads:transfer"
RECENT = 20
SHOWN_ERRORS = 200
NOT_SCHEDULE_OWNER = "Only the owner of a scheduled export (or an admin) can {verb} it."


def _job(request, job_id: int) -> ImportJob:
    return get_object_or_404(import_jobs_visible_to(request.membership).select_related("created_by__user"), pk=job_id)


def _job_url(request, job: ImportJob) -> str:
    return reverse(f"{NS}:import_job", kwargs={"company_slug": request.company.slug, "job_id": job.pk})


def _job_redirect(request, job: ImportJob):
    return redirect(_job_url(request, job))


def _client_meta(request) -> dict:
    return {"ip_address": request.META.get("REMOTE_ADDR") or None, "user_agent": request.headers.get("User-Agent", "")}


# --- import ------------------------------------------------------------------------------------------


@tenant_view("leads.import")
def import_upload(request, company_slug):
    form = ImportUploadForm(request.POST or None, request.FILES or None, company=request.company)

    def save():
        data = form.cleaned_data
        return import_job_create(company=request.company, actor=request.membership, upload=data["file"],
                                 file_format=data["file_format"] or None, options=form.options(),
                                 **_client_meta(request))  # fmt: skip

    return form_flow(
        request, form, save, next_url=lambda job: _job_url(request, job), template="leads/transfer/import_upload.html",
        success=lambda job: f"{job.file_name}: {job.total_rows:,} rows read. Check the columns below.",
        context={"jobs": import_jobs_visible_to(request.membership).select_related("created_by__user")[:RECENT]},
    )  # fmt: skip


@tenant_view("leads.import")
def import_job(request, company_slug, job_id):
    job = _job(request, job_id)
    if job.status != ImportStatus.UPLOADED:
        if request.method == "POST":
            messages.error(request, "This import has already been started.")
            return _job_redirect(request, job)
        return render(request, "leads/transfer/import_job.html", _job_context(job))
    form = ImportMappingForm(request.POST or None, job=job)
    preview, mapping_problems = None, []
    if request.method == "POST" and form.is_valid():
        mapping = form.mapping()
        if request.POST.get("action") == "start":
            try:
                job = import_job_start(job=job, actor=request.membership, mapping=mapping, options=form.options())
            except ValidationError as error:
                problems = dict(error.message_dict)
                mapping_problems = problems.pop("mapping", [])  # shown beside the columns, not the options
                add_service_errors(form, ValidationError(problems))
            else:
                _started_message(request, job)
                return _job_redirect(request, job)
        else:
            mapping_problems = mapping_errors(job.headers, mapping, job.company)
        preview = _preview(request, job, mapping)
    elif request.method != "POST":
        preview = _preview(request, job, job.mapping)
        mapping_problems = mapping_errors(job.headers, job.mapping, job.company)
    context = {"job": job, "form": form, "preview": preview, "mapping_problems": mapping_problems,
               "delimiter_name": DELIMITER_NAMES.get(job.delimiter, "")}  # fmt: skip
    return render(request, "leads/transfer/import_mapping.html", context)


def _started_message(request, job: ImportJob) -> None:
    if job.status == ImportStatus.SUCCEEDED:
        messages.success(
            request,
            f"Imported: {job.created_count:,} created, {job.updated_count:,} updated, {job.skipped_count:,} skipped.",
        )
    elif job.status == ImportStatus.CHECKED:
        messages.success(request, "Checked: nothing was written (dry run).")
    elif not job.is_finished:
        messages.success(request, "Import started: this page follows it.")


def _preview(request, job: ImportJob, mapping):
    """Rows as the import would treat them; columns without a mapping are previewed as ignored."""
    usable = [target if target is not None else IGNORE for target in mapping]
    try:
        return import_preview(job=job, actor=request.membership, mapping=usable)
    except ValidationError as error:
        messages.error(request, error_text(error))
        return []


def _job_context(job: ImportJob) -> dict:
    return {
        "job": job,
        "progress": progress_of(job),
        "errors": job.errors[:SHOWN_ERRORS],
        "more_errors": max(0, len(job.errors) - SHOWN_ERRORS) + max(0, job.invalid_count - len(job.errors)),
        "notes": job.notes[:SHOWN_ERRORS],
    }


@tenant_view("leads.import")
def import_progress(request, company_slug, job_id):
    job = _job(request, job_id)
    context = _job_context(job)
    if is_htmx(request):
        response = render(request, "leads/transfer/partials/import_status.html", context)
        if job.is_finished:
            response["HX-Refresh"] = "true"  # show the full result page once
        return response
    return _job_redirect(request, job)


@tenant_view("leads.import")
def import_errors_file(request, company_slug, job_id):
    job = _job(request, job_id)
    if not job.errors_file:
        raise Http404
    name = job.errors_file.name.rsplit("/", 1)[-1]
    return FileResponse(job.errors_file.open("rb"), as_attachment=True, filename=name)


@require_POST
@tenant_view("leads.import")
def import_revert(request, company_slug, job_id):
    job = _job(request, job_id)
    try:
        job = import_revert_start(job=job, actor=request.membership)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return _job_redirect(request, job)
    if job.status == ImportStatus.REVERTED:
        messages.success(request, _revert_message(job))
    else:
        messages.success(request, "Revert started; this page shows the result when it is done.")
    return _job_redirect(request, job)


def _revert_message(job: ImportJob) -> str:
    result = job.revert_result
    text = f"Import reverted: {result.get('deleted', 0):,} leads removed, {result.get('restored', 0):,} restored."
    if result.get("kept_count"):
        text += f" {result['kept_count']:,} leads were worked on since the import and were kept."
    return text


# --- export --------------------------------------------------------------------------------------------


@tenant_view("leads.export")
def export_download(request, company_slug):
    """The lead list's export: the same GET parameters as the list (filters, ``sort``, ``view``)
    plus ``format``, optional ``template`` and optional ``ids``; streamed as it is produced."""
    try:
        template = template_for(request.company, request.GET.get("template"))
        run, queryset, columns = export_run_start(
            membership=request.membership,
            params=request.GET,
            file_format=request.GET.get("format", ExportFormat.CSV),
            template=template,
            ids=request.GET.get("ids") or None,
            streamed=True,
        )
    except ValidationError as error:
        messages.error(request, f"Export not possible: {error_text(error)}")
        return redirect("leads:list", company_slug=company_slug)
    if run.format == ExportFormat.XLSX:
        temporary = xlsx_export(run, queryset, columns)
        return FileResponse(
            temporary.open(),
            as_attachment=True,
            filename=run.file_name,
            content_type=CONTENT_TYPES[run.format],
        )
    response = StreamingHttpResponse(stream_export(run, queryset, columns), content_type=CONTENT_TYPES[run.format])
    response["Content-Disposition"] = f'attachment; filename="{run.file_name}"'
    return response


@tenant_view("leads.export")
def export_list(request, company_slug):
    membership = request.membership
    context = {
        "templates": ExportTemplate.objects.filter(company=request.company),
        "schedules": scheduled_exports_visible_to(membership).select_related("owner__user", "saved_filter", "template"),
        "runs": export_runs_visible_to(membership).select_related("created_by__user", "scheduled_export")[:50],
    }
    return render(request, "leads/transfer/export_list.html", context)


@tenant_view("leads.export")
def export_run_download(request, company_slug, run_id):
    run = get_object_or_404(export_runs_visible_to(request.membership), pk=run_id)
    if not run.is_downloadable:
        raise Http404
    return FileResponse(
        run.file.open("rb"),
        as_attachment=True,
        filename=run.file_name,
        content_type=CONTENT_TYPES[run.format],
    )


def _exports_url(request) -> str:
    return reverse(f"{NS}:export_list", kwargs={"company_slug": request.company.slug})


def _template(request, template_id: int) -> ExportTemplate:
    return get_object_or_404(ExportTemplate, company=request.company, pk=template_id)


@tenant_view("leads.export")
def template_create(request, company_slug):
    return _template_form(request, None)


@tenant_view("leads.export")
def template_edit(request, company_slug, template_id):
    return _template_form(request, _template(request, template_id))


def _template_form(request, template: ExportTemplate | None):
    form = ExportTemplateForm(request.POST or None, company=request.company, template=template)

    def save():
        if template is None:
            return export_template_create(actor=request.membership, data=form.service_data())
        return export_template_update(actor=request.membership, template=template, data=form.service_data())

    return form_flow(
        request, form, save, success=lambda saved: f"Template “{saved.name}” saved.", next_url=_exports_url(request),
        template="leads/transfer/template_form.html", context={"template": template},
    )  # fmt: skip


@tenant_view("leads.export")
def template_delete(request, company_slug, template_id):
    template = _template(request, template_id)
    confirm = Confirm(
        what="the export template", name=template.name, cancel_url=_exports_url(request),
        consequences="This cannot be undone. Scheduled exports that use it fall back to the default columns.",
    )  # fmt: skip
    return confirm_flow(
        request, confirm, lambda: export_template_delete(actor=request.membership, template=template),
        success=f"Template “{template.name}” deleted.", next_url=_exports_url(request),
    )  # fmt: skip


def _schedule(request, schedule_id: int):
    return get_object_or_404(scheduled_exports_visible_to(request.membership), pk=schedule_id)


@tenant_view("leads.export")
def schedule_create(request, company_slug):
    return _schedule_form(request, None)


@tenant_view("leads.export")
def schedule_edit(request, company_slug, schedule_id):
    return _schedule_form(request, _schedule(request, schedule_id))


def _schedule_form(request, schedule):
    form = ScheduledExportForm(request.POST or None, membership=request.membership, schedule=schedule)
    return form_flow(
        request, form,
        lambda: scheduled_export_save(actor=request.membership, data=form.service_data(), schedule=schedule),
        success=lambda saved: f"Scheduled export “{saved.name}” saved.", next_url=_exports_url(request),
        template="leads/transfer/schedule_form.html", context={"schedule": schedule},
        refused=NOT_SCHEDULE_OWNER.format(verb="change"),
    )  # fmt: skip


@tenant_view("leads.export")
def schedule_delete(request, company_slug, schedule_id):
    schedule = _schedule(request, schedule_id)
    confirm = Confirm(
        what="the scheduled export", name=schedule.name, cancel_url=_exports_url(request),
        consequences="This cannot be undone. It stops running; files it already made stay on the exports page.",
    )  # fmt: skip
    return confirm_flow(
        request, confirm, lambda: scheduled_export_delete(actor=request.membership, schedule=schedule),
        success=f"Scheduled export “{schedule.name}” deleted.", next_url=_exports_url(request),
        refused=NOT_SCHEDULE_OWNER.format(verb="delete"),
    )  # fmt: skip


@require_POST
@tenant_view("leads.export")
def schedule_run(request, company_slug, schedule_id):
    """Run a scheduled export now, besides its schedule."""
    schedule = _schedule(request, schedule_id)
    try:
        run = scheduled_export_run_now(actor=request.membership, schedule=schedule)
    except ValidationError as error:
        messages.error(request, f"Export not possible: {error_text(error)}")
    except PermissionDenied:
        messages.error(request, NOT_SCHEDULE_OWNER.format(verb="run"))
    else:
        messages.success(request, f"Export of “{schedule.name}” {run.get_status_display().lower()}.")
    return redirect(_exports_url(request))
