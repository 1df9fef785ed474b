"""Nurturing pages: the sequence list, the builder (sequence, steps, order, activation, deletion),
per-step statistics, preview and test send, bulk enrolment, the company's sending settings, and
the lead page's enrol / unenrol buttons.
Each view parses, calls one service, then messages and redirects (or re-renders with field errors)."""

from __future__ import annotations

from functools import partial

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from crm.forms import add_service_errors, error_text
from crm.http import safe_next
from crm.ids import is_valid_id
from crm.models import Role
from crm.permissions import tenant_view
from crm.views_helpers import Confirm, act, confirm_flow, form_flow
from leads.bulk import job_progress
from leads.models import BulkJob, Lead
from leads.queries import leads_visible_to
from nurturing import bulk, preview, queries, services
from nurturing.forms import BulkEnrolForm, NurturingSettingsForm, PreviewForm, SequenceForm, StepForm
from nurturing.models import EmailSequence, EmailSequenceStep, Enrolment

PREVIEW_CHOICES = 20
# The up/down buttons are the ``direction``: their refusals need no "Direction:" label.
MOVING = {"direction": ""}
BULK_FIELDS = ("view", "filter", "ids")


def _sequence(request, sequence_id: int) -> EmailSequence:
    sequences = EmailSequence.objects.filter(company=request.company).select_related("company", "trigger_status")
    return get_object_or_404(sequences, pk=sequence_id)


def _step(request, sequence_id: int, step_id: int) -> EmailSequenceStep:
    sequence = _sequence(request, sequence_id)
    step = get_object_or_404(sequence.steps.all(), pk=step_id)
    step.sequence = sequence
    return step


def _detail_url(sequence: EmailSequence) -> str:
    return reverse("nurturing:sequence_detail", kwargs={"company_slug": sequence.company.slug,
                                                        "sequence_id": sequence.pk})  # fmt: skip


# --- sequences -----------------------------------------------------------------------------------


@tenant_view("nurturing.view")
def sequence_list(request, company_slug):
    sequences = queries.sequences_listed(request.company)
    return render(request, "nurturing/sequence_list.html", {"sequences": sequences})


@tenant_view("nurturing.manage")
def sequence_create(request, company_slug):
    form = SequenceForm(request.POST or None, company=request.company)
    return form_flow(
        request, form,
        lambda: services.sequence_create(actor=request.membership, company=request.company, data=form.service_data()),
        success=lambda sequence: f"Sequence “{sequence.name}” created: add its first step, then activate it.",
        next_url=_detail_url, template="nurturing/sequence_form.html", context={"sequence": None},
    )  # fmt: skip


@tenant_view("nurturing.manage")
def sequence_edit(request, company_slug, sequence_id):
    sequence = _sequence(request, sequence_id)
    form = SequenceForm(request.POST or None, company=request.company, sequence=sequence)
    return form_flow(
        request, form,
        lambda: services.sequence_update(actor=request.membership, sequence=sequence, data=form.service_data()),
        success="Sequence saved.", next_url=_detail_url(sequence), template="nurturing/sequence_form.html",
        context={"sequence": sequence},
    )  # fmt: skip


def _detail_context(request, sequence: EmailSequence, **extra) -> dict:
    stats = queries.step_stats(sequence)
    states = dict(sequence.enrolments.order_by().values_list("state").annotate(n=Count("pk")))
    return {
        "sequence": sequence,
        "stats": stats,
        "chart": queries.stats_chart(stats),
        "states": states,
        "review": queries.messages_to_review(sequence, request.membership),
        "bulk_form": BulkEnrolForm(membership=request.membership),
        **extra,
    }


@tenant_view("nurturing.view")
def sequence_detail(request, company_slug, sequence_id):
    sequence = _sequence(request, sequence_id)
    return render(request, "nurturing/sequence_detail.html", _detail_context(request, sequence))


@require_POST
@tenant_view("nurturing.manage")
def sequence_activation(request, company_slug, sequence_id):
    sequence = _sequence(request, sequence_id)
    change = partial(services.sequence_update, actor=request.membership, sequence=sequence)
    return _set_active(request, change, "Sequence", _detail_url(sequence))


def _set_active(request, change, label: str, url: str):
    """(De)activate through ``change(data=…)``, the service's refusal as a message."""
    active = request.POST.get("is_active") == "1"
    act(request, lambda: change(data={"is_active": active}), f"{label} {'activated' if active else 'deactivated'}.")
    return redirect(url)


# --- steps ---------------------------------------------------------------------------------------


@tenant_view("nurturing.manage")
def step_create(request, company_slug, sequence_id):
    sequence = _sequence(request, sequence_id)
    form = StepForm(request.POST or None)
    return form_flow(
        request, form,
        lambda: services.step_create(actor=request.membership, sequence=sequence, data=form.service_data()),
        success=lambda step: f"Step {step.step_number} added.", next_url=_detail_url(sequence),
        template="nurturing/step_form.html", context={"sequence": sequence, "step": None},
    )  # fmt: skip


@tenant_view("nurturing.manage")
def step_edit(request, company_slug, sequence_id, step_id):
    step = _step(request, sequence_id, step_id)
    form = StepForm(request.POST or None, step=step)
    return form_flow(
        request, form, lambda: services.step_update(actor=request.membership, step=step, data=form.service_data()),
        success=f"Step {step.step_number} saved.", next_url=_detail_url(step.sequence),
        template="nurturing/step_form.html", context={"sequence": step.sequence, "step": step},
    )  # fmt: skip


@require_POST
@tenant_view("nurturing.manage")
def step_move(request, company_slug, sequence_id, step_id):
    step = _step(request, sequence_id, step_id)
    direction = request.POST.get("direction", "")
    try:
        services.step_move(actor=request.membership, step=step, direction=direction)
    except ValidationError as error:
        messages.error(request, error_text(error, labels=MOVING))
    return redirect(_detail_url(step.sequence))


@require_POST
@tenant_view("nurturing.manage")
def step_activation(request, company_slug, sequence_id, step_id):
    step = _step(request, sequence_id, step_id)
    change = partial(services.step_update, actor=request.membership, step=step)
    return _set_active(request, change, f"Step {step.step_number}", _detail_url(step.sequence))


@require_http_methods(["GET", "POST"])
@tenant_view("nurturing.manage")
def step_delete(request, company_slug, sequence_id, step_id):
    """GET: confirm (or say why it cannot go); POST: delete through the service."""
    step = _step(request, sequence_id, step_id)
    back = _detail_url(step.sequence)
    confirm = Confirm(
        what=f"step {step.step_number}", name=step.subject, cancel_url=back, parent=(step.sequence.name, back),
        consequences="This cannot be undone. The steps after it move up one place; leads waiting for this step "
        "get the next one instead, after that step's delay.",
        blocker=services.STEP_SENT_STAYS if request.method != "POST" and step.messages.exists() else None,
        testid="step-delete",
    )  # fmt: skip
    return confirm_flow(
        request, confirm, lambda: services.step_delete(actor=request.membership, step=step),
        success=f"Step {step.step_number} deleted; the steps after it moved up.", next_url=back,
    )  # fmt: skip


# --- preview and test send -----------------------------------------------------------------------


def _preview_lead(request, form: PreviewForm) -> Lead | None:
    """The chosen lead when the viewer can see it; otherwise a field error on ``lead`` and None."""
    if not form.is_valid() or form.cleaned_data["lead"] is None:
        return None
    visible = leads_visible_to(request.membership).select_related("owner__user")
    lead = visible.filter(pk=form.cleaned_data["lead"]).first()
    if lead is None:
        form.add_error("lead", "Choose a lead you can see.")
    return lead


def _preview_page(request, step: EmailSequenceStep, form: PreviewForm, lead: Lead | None, status: int = 200):
    choices = leads_visible_to(request.membership).exclude(email="").order_by("-updated_at", "-id")[:PREVIEW_CHOICES]
    context = {"step": step, "sequence": step.sequence, "form": form, "lead": lead, "lead_choices": choices,
               "rendered": preview.step_render(step=step, lead=lead)}  # fmt: skip
    return render(request, "nurturing/step_preview.html", context, status=status)


@tenant_view("nurturing.view")
def step_preview(request, company_slug, sequence_id, step_id):
    step = _step(request, sequence_id, step_id)
    form = PreviewForm(request.GET or None)
    return _preview_page(request, step, form, _preview_lead(request, form))


@require_POST
@tenant_view("nurturing.manage")
def step_test_send(request, company_slug, sequence_id, step_id):
    step = _step(request, sequence_id, step_id)
    form = PreviewForm(request.POST)
    lead = _preview_lead(request, form)
    if not form.errors:
        try:
            address = preview.step_test_send(actor=request.membership, step=step, lead=lead)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Test email sent to {address}.")
            query = f"?lead={lead.pk}" if lead else ""
            return redirect(reverse("nurturing:step_preview", kwargs={
                "company_slug": company_slug, "sequence_id": sequence_id, "step_id": step_id}) + query)  # fmt: skip
    return _preview_page(request, step, form, None)


# --- settings ------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@tenant_view("company.manage")
def settings_edit(request, company_slug):
    settings = services.settings_for(request.company)
    form = NurturingSettingsForm(request.POST or None, settings=settings)
    return form_flow(
        request, form,
        lambda: services.nurturing_settings_update(actor=request.membership, settings=settings, **form.service_data()),
        success="Sending settings saved: the next run uses them.", template="nurturing/settings_form.html",
        next_url=reverse("nurturing:settings", kwargs={"company_slug": company_slug}),
    )  # fmt: skip


# --- enrolment -----------------------------------------------------------------------------------


def _bulk_errors(form: BulkEnrolForm, error: ValidationError) -> None:
    """Errors of the job's request on the form's fields, the sequence's above them, and a lead-list
    filter's own errors on ``filter``, named by the parameter as typed there ("score_min: …")."""
    own = {name: ms for name, ms in error.message_dict.items() if name in (*BULK_FIELDS, "sequence", "__all__")}
    typed = [f"{name}: {m}" for name, ms in error.message_dict.items() if name not in own for m in ms]
    if typed:
        own["filter"] = [*own.get("filter", []), *typed]
    add_service_errors(form, ValidationError(own), rename={"sequence": "__all__"})


@require_POST
@tenant_view("nurturing.enrol")
def sequence_enrol_bulk(request, company_slug, sequence_id):
    """Enrol a selection, a view's or a filter's leads: one all-or-nothing bulk job."""
    sequence = _sequence(request, sequence_id)
    form = BulkEnrolForm(request.POST, membership=request.membership)
    if form.is_valid():
        data = form.cleaned_data
        try:
            filter_params = None
            if data["ids"] is None:
                filter_params = bulk.filter_of(membership=request.membership, view=data["view"], query=data["filter"])
            job = bulk.bulk_enrol(actor=request.membership, sequence=sequence, lead_ids=data["ids"],
                                  filter_params=filter_params)  # fmt: skip
        except ValidationError as error:
            _bulk_errors(form, error)
        else:
            return redirect("nurturing:bulk_job", company_slug=company_slug, sequence_id=sequence.pk,
                            bulk_job_id=job.pk)  # fmt: skip
    return render(request, "nurturing/sequence_detail.html", _detail_context(request, sequence, bulk_form=form))


@tenant_view("nurturing.enrol")
def bulk_job_detail(request, company_slug, sequence_id, bulk_job_id):
    sequence = _sequence(request, sequence_id)
    jobs = BulkJob.objects.filter(company=request.company, operation=bulk.OPERATION, params__sequence=sequence.pk)
    if request.membership.role != Role.ADMIN:
        jobs = jobs.filter(created_by=request.membership)
    job = get_object_or_404(jobs, pk=bulk_job_id)
    progress = job_progress(job)
    return render(request, "nurturing/bulk_job.html", {"sequence": sequence, "job": job, "progress": progress})


def _lead_url(lead: Lead) -> str:
    return reverse("leads:detail", kwargs={"company_slug": lead.company.slug, "lead_id": lead.pk})


@require_POST
@tenant_view("nurturing.enrol")
def lead_enrol(request, company_slug, lead_id):
    lead = get_object_or_404(leads_visible_to(request.membership).select_related("company"), pk=lead_id)
    raw = request.POST.get("sequence", "")
    sequence = EmailSequence.objects.filter(company=request.company, pk=raw).first() if is_valid_id(raw) else None
    try:
        if sequence is None:
            raise ValidationError({"sequence": "Choose a sequence of this company."})
        services.enrolment_create(actor=request.membership, lead=lead, sequence=sequence, reason="Manual enrolment")
    except ValidationError as error:
        messages.error(request, error_text(error))
    else:
        messages.success(request, f"Enrolled in “{sequence.name}”.")
    return redirect(_lead_url(lead))


def _enrolment_action(request, enrolment_id: int, service, success: str):
    """Stop, pause or resume an enrolment of a lead the member sees; back to the lead (or ``next``)."""
    visible = Enrolment.objects.filter(lead__in=leads_visible_to(request.membership)).select_related("lead__company")
    enrolment = get_object_or_404(visible, pk=enrolment_id)
    act(request, lambda: service(actor=request.membership, enrolment=enrolment), success)
    return redirect(safe_next(request, _lead_url(enrolment.lead)))


@require_POST
@tenant_view("nurturing.enrol")
def enrolment_stop(request, company_slug, enrolment_id):
    return _enrolment_action(request, enrolment_id, services.enrolment_stop,
                             "Unenrolled: no more emails of this sequence.")  # fmt: skip


@require_POST
@tenant_view("nurturing.enrol")
def enrolment_pause(request, company_slug, enrolment_id):
    return _enrolment_action(request, enrolment_id, services.enrolment_pause,
                             "Paused: no email of this sequence until it is resumed.")  # fmt: skip


@require_POST
@tenant_view("nurturing.enrol")
def enrolment_resume(request, company_slug, enrolment_id):
    return _enrolment_action(request, enrolment_id, services.enrolment_resume,
                             "Resumed: the next email goes at its planned time (or now, if that has passed).")  # fmt: skip
