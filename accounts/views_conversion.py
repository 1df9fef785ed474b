"""Pages of qualification and conversion: the scorecard (posted from the lead page's panel), the
conversion page (proposed accounts with their scores, pick one or create one), the managers' bulk
conversion and the admins' qualification settings. Leads are fetched through ``leads_visible_to``."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.conversion import (
    BULK_OPERATION,
    AlreadyConverted,
    account_matches,
    conversion_eligibility,
    lead_convert,
)
from accounts.forms_conversion import (
    BulkConversionForm,
    ConversionForm,
    QualificationForm,
    QualificationSettingsForm,
    put_service_errors,
)
from accounts.models import LeadConversion, Qualification
from accounts.qualification import lead_qualify, qualification_settings_update, settings_for
from crm.permissions import tenant_view
from leads import bulk
from leads.models import Lead
from leads.queries import leads_visible_to


def _lead(request, lead_id: int) -> Lead:
    visible = leads_visible_to(request.membership).select_related("status", "company", "owner__user", "campaign")
    return get_object_or_404(visible, pk=lead_id)


def _lead_url(lead: Lead) -> str:
    return reverse("leads:detail", kwargs={"company_slug": lead.company.slug, "lead_id": lead.pk})


def _account_url(conversion: LeadConversion) -> str:
    return reverse("accounts:account_detail", kwargs={"company_slug": conversion.account.company.slug,
                                                      "account_id": conversion.account_id})  # fmt: skip


# --- qualify ----------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@tenant_view("leads.qualify")
def lead_qualify_page(request, company_slug, lead_id):
    """The scorecard. The lead page's panel posts here; a bad answer re-renders it with the field's
    error (and changes nothing), a good one goes back to the lead."""
    lead = _lead(request, lead_id)
    qualification = Qualification.objects.filter(lead=lead).first()
    form = QualificationForm(request.POST or None, initial=QualificationForm.initial_for(lead, qualification))
    if request.method == "POST" and form.is_valid():
        try:
            outcome = lead_qualify(actor=request.membership, lead=lead, **form.service_data())
        except ValidationError as error:
            put_service_errors(form, error)
        else:
            result = outcome.result
            summary = f"Scored {result.qualification_score}: {outcome.qualification.get_recommendation_display()}."
            if outcome.status_error:
                messages.warning(request, f"{summary} The status stays {outcome.lead.status.name}: "
                                          f"{outcome.status_error}")  # fmt: skip
            else:
                messages.success(request, f"{summary} Status: {outcome.lead.status.name}.")
            return redirect(_lead_url(lead))
    status = 400 if request.method == "POST" else 200
    context = {"lead": lead, "form": form, "qualification": qualification, "settings": settings_for(lead.company_id)}
    return render(request, "accounts/conversion_qualify.html", context, status=status)


# --- convert ----------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@tenant_view("leads.convert")
def lead_convert_page(request, company_slug, lead_id):
    lead = _lead(request, lead_id)
    existing = LeadConversion.objects.filter(lead=lead).select_related("account__company").first()
    if existing is not None:
        messages.info(request, f"{lead.display_name} was converted into {existing.account.name} already.")
        return redirect(_account_url(existing))
    eligibility = conversion_eligibility(lead)
    matches = account_matches(lead, membership=request.membership)
    may_override = "leads.convert_override" in request.permissions
    form = ConversionForm(request.POST or None, matches=matches, may_override=may_override)
    if request.method == "POST" and form.is_valid():
        try:
            result = lead_convert(actor=request.membership, lead=lead, **form.service_data())
        except ValidationError as error:
            put_service_errors(form, error, rename={"account_id": "account", "new_account": "account"})
        except AlreadyConverted as refused:
            messages.info(request, str(refused))
            return redirect(_account_url(refused.conversion))
        else:
            account = result.conversion.account
            verb = "a new account" if result.account_created else "the existing account"
            messages.success(request, f"{lead.display_name} converted into {verb} {account.name}.")
            return redirect(_account_url(result.conversion))
    context = {"lead": lead, "form": form, "eligibility": eligibility, "matches": matches,
               "hidden_matches": sum(1 for m in matches if not m.visible), "may_override": may_override}  # fmt: skip
    return render(request, "accounts/conversion_form.html", context, status=400 if request.method == "POST" else 200)


@require_http_methods(["GET", "POST"])
@tenant_view("leads.convert_override")
def bulk_convert_page(request, company_slug):
    """Managers convert selected leads as one all-or-nothing job (a worker for large selections),
    followed on the bulk job's progress page."""
    form = BulkConversionForm(request.POST or None, initial={"ids": request.GET.get("ids", "")})
    if request.method == "POST" and form.is_valid():
        try:
            job = bulk.bulk_job_create(actor=request.membership, operation=BULK_OPERATION,
                                       lead_ids=form.cleaned_data["ids"])  # fmt: skip
        except ValidationError as error:
            put_service_errors(form, error)
        else:
            job = bulk.bulk_job_start(job)
            return redirect("leads:bulk_job", company_slug=company_slug, bulk_job_id=job.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/conversion_bulk.html", {"form": form}, status=status)


# --- settings ---------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@tenant_view("qualification.manage")
def qualification_settings_page(request, company_slug):
    form = QualificationSettingsForm(request.POST or None, instance=settings_for(request.company))
    if request.method == "POST" and form.is_valid():
        try:
            qualification_settings_update(actor=request.membership, company=request.company,
                                          data=form.service_data())  # fmt: skip
        except ValidationError as error:
            put_service_errors(form, error)
        else:
            messages.success(request, "Qualification settings saved: new scorecards use them.")
            return redirect("accounts:qualification_settings", company_slug=company_slug)
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/conversion_settings.html", {"form": form}, status=status)
