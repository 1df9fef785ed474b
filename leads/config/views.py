"""Company-admin pages for the lead configuration: statuses, transitions, campaigns and custom fields.

Each view parses a form, calls one function of ``leads.config.services``, says what happened
and redirects. Objects are always looked up through ``request.company``.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import copy

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from crm.permissions import tenant_view
from leads.config import services
from leads.config.forms import CampaignForm, CustomFieldForm, StatusForm, TransitionForm, add_service_errors
from leads.models import Campaign, CustomField, LeadStatus, StatusTransition

NS = "leads:config"


def _to(name: str, request):
    return redirect(f"{NS}:{name}", company_slug=request.company.slug)


def _form_page(request, form, save: Callable, *, success: str, next_name: str, template: str, **context):
    """POST: validate, save through the service, message and redirect; otherwise (re)show the form.

    Edit forms get a copy of the object: validating writes the posted values onto the form's
    instance, and the page should still describe the object as it is.
    """
    if request.method == "POST" and form.is_valid():
        try:
            obj = save(form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, success.format(obj=obj))
            return _to(next_name, request)
    return render(request, f"leads/config/{template}", {"form": form, **context})


def _act(request, action: Callable, success: str) -> None:
    """Run a one-click action (retire, delete, …) and report its outcome as a message."""
    try:
        action()
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, success)


@tenant_view("company.manage")
def index(request, company_slug):
    return render(request, "leads/config/index.html")


# --- statuses ----------------------------------------------------------------------------------


@tenant_view("statuses.manage")
def status_list(request, company_slug):
    statuses = LeadStatus.objects.filter(company=request.company).annotate(lead_count=Count("leads"))
    return render(request, "leads/config/status_list.html", {"statuses": statuses.order_by("order", "id")})


@tenant_view("statuses.manage")
def status_create(request, company_slug):
    def save(data):
        return services.status_create(company=request.company, actor=request.membership, data=data)

    form = StatusForm(request.POST or None)
    return _form_page(
        request,
        form,
        save,
        success="Status '{obj.name}' created.",
        next_name="status_list",
        template="status_form.html",
    )


@tenant_view("statuses.manage")
def status_edit(request, company_slug, status_id):
    status = get_object_or_404(LeadStatus, company=request.company, pk=status_id)

    def save(data):
        return services.status_update(actor=request.membership, status=status, data=data)

    form = StatusForm(request.POST or None, instance=copy(status))
    return _form_page(
        request,
        form,
        save,
        success="Status '{obj.name}' saved.",
        next_name="status_list",
        template="status_form.html",
        status=status,
    )


@tenant_view("statuses.manage")
@require_POST
def status_retire(request, company_slug, status_id):
    status = get_object_or_404(LeadStatus, company=request.company, pk=status_id)
    _act(
        request,
        lambda: services.status_retire(actor=request.membership, status=status),
        f"Status '{status.name}' retired: leads can no longer move into it.",
    )
    return _to("status_list", request)


@tenant_view("statuses.manage")
@require_POST
def status_unretire(request, company_slug, status_id):
    status = get_object_or_404(LeadStatus, company=request.company, pk=status_id)
    _act(
        request,
        lambda: services.status_unretire(actor=request.membership, status=status),
        f"Status '{status.name}' is in use again.",
    )
    return _to("status_list", request)


@tenant_view("statuses.manage")
def status_delete(request, company_slug, status_id):
    status = get_object_or_404(LeadStatus, company=request.company, pk=status_id)
    if request.method == "POST":
        _act(
            request,
            lambda: services.status_delete(actor=request.membership, status=status),
            f"Status '{status.name}' deleted.",
        )
        return _to("status_list", request)
    context = {
        "object": status,
        "kind": "status",
        "blocker": services.status_delete_blocker(status),
        "cancel_url": reverse(f"{NS}:status_list", kwargs={"company_slug": request.company.slug}),
    }
    return render(request, "leads/config/confirm_delete.html", context)


# --- transitions -------------------------------------------------------------------------------


@tenant_view("statuses.manage")
def transition_list(request, company_slug):
    transitions = StatusTransition.objects.filter(company=request.company).select_related("from_status", "to_status")
    return render(request, "leads/config/transition_list.html", {"transitions": transitions})


@tenant_view("statuses.manage")
def transition_create(request, company_slug):
    def save(data):
        return services.transition_create(company=request.company, actor=request.membership, data=data)

    form = TransitionForm(request.POST or None, company=request.company)
    return _form_page(
        request,
        form,
        save,
        success="Transition {obj} added.",
        next_name="transition_list",
        template="transition_form.html",
    )


@tenant_view("statuses.manage")
def transition_edit(request, company_slug, transition_id):
    transition = get_object_or_404(StatusTransition, company=request.company, pk=transition_id)

    def save(data):
        return services.transition_update(actor=request.membership, transition=transition, data=data)

    form = TransitionForm(request.POST or None, instance=copy(transition), company=request.company)
    return _form_page(
        request,
        form,
        save,
        success="Transition {obj} saved.",
        next_name="transition_list",
        template="transition_form.html",
        transition=transition,
    )


@tenant_view("statuses.manage")
def transition_delete(request, company_slug, transition_id):
    transition = get_object_or_404(StatusTransition, company=request.company, pk=transition_id)
    if request.method == "POST":
        _act(
            request,
            lambda: services.transition_delete(actor=request.membership, transition=transition),
            f"Transition {transition} deleted.",
        )
        return _to("transition_list", request)
    context = {
        "object": transition,
        "kind": "transition",
        "cancel_url": reverse(f"{NS}:transition_list", kwargs={"company_slug": request.company.slug}),
    }
    return render(request, "leads/config/confirm_delete.html", context)


# --- campaigns ---------------------------------------------------------------------------------


@tenant_view("company.manage")
def campaign_list(request, company_slug):
    campaigns = Campaign.objects.filter(company=request.company).annotate(lead_count=Count("leads"))
    return render(request, "leads/config/campaign_list.html", {"campaigns": campaigns.order_by("name")})


@tenant_view("company.manage")
def campaign_create(request, company_slug):
    def save(data):
        return services.campaign_create(company=request.company, actor=request.membership, data=data)

    form = CampaignForm(request.POST or None)
    return _form_page(
        request,
        form,
        save,
        success="Campaign '{obj.name}' created.",
        next_name="campaign_list",
        template="campaign_form.html",
    )


@tenant_view("company.manage")
def campaign_edit(request, company_slug, campaign_id):
    campaign = get_object_or_404(Campaign, company=request.company, pk=campaign_id)

    def save(data):
        return services.campaign_update(actor=request.membership, campaign=campaign, data=data)

    form = CampaignForm(request.POST or None, instance=copy(campaign))
    return _form_page(
        request,
        form,
        save,
        success="Campaign '{obj.name}' saved.",
        next_name="campaign_list",
        template="campaign_form.html",
        campaign=campaign,
    )


# --- custom fields -----------------------------------------------------------------------------


@tenant_view("fields.manage")
def field_list(request, company_slug):
    fields = CustomField.objects.filter(company=request.company).order_by("order", "key")
    return render(request, "leads/config/field_list.html", {"fields": fields})


@tenant_view("fields.manage")
def field_create(request, company_slug):
    def save(data):
        return services.custom_field_create(company=request.company, actor=request.membership, data=data)

    form = CustomFieldForm(request.POST or None)
    return _form_page(
        request,
        form,
        save,
        success="Custom field '{obj.label}' created.",
        next_name="field_list",
        template="field_form.html",
    )


@tenant_view("fields.manage")
def field_edit(request, company_slug, field_id):
    field = get_object_or_404(CustomField, company=request.company, pk=field_id)

    def save(data):
        return services.custom_field_update(actor=request.membership, field=field, data=data)

    form = CustomFieldForm(request.POST or None, instance=copy(field))
    return _form_page(
        request,
        form,
        save,
        success="Custom field '{obj.label}' saved.",
        next_name="field_list",
        template="field_form.html",
        field=field,
    )
