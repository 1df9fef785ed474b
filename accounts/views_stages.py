"""The company admins' page for the pipeline stages: order, name, probability, won/lost flags.
Every write goes through ``accounts.services.stage_*``; stages are looked up through the company."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts import services
from accounts.forms import StageForm
from accounts.models import Stage
from accounts.queries import stages_of
from crm.forms import add_service_errors, error_text
from crm.permissions import tenant_view


def _stage(request, stage_id: int) -> Stage:
    return get_object_or_404(Stage, company=request.company, pk=stage_id)


def _to_list(request):
    return redirect("accounts:stage_list", company_slug=request.company.slug)


@tenant_view("stages.manage")
def stage_list(request, company_slug):
    stages = stages_of(request.company.pk, active_only=False).annotate(opportunity_count=Count("opportunities"))
    return render(request, "accounts/stage_list.html", {"stages": stages})


def _form_page(request, stage: Stage | None):
    form = StageForm(request.POST or None, stage=stage)
    if request.method == "POST" and form.is_valid():
        try:
            if stage is None:
                saved = services.stage_create(actor=request.membership, company=request.company,
                                              data=form.service_data())  # fmt: skip
            else:
                saved = services.stage_update(actor=request.membership, stage=stage, data=form.service_data())
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Stage “{saved.name}” saved.")
            return _to_list(request)
    return render(request, "accounts/stage_form.html", {"form": form, "stage": stage})


@tenant_view("stages.manage")
def stage_create(request, company_slug):
    return _form_page(request, None)


@tenant_view("stages.manage")
def stage_edit(request, company_slug, stage_id):
    return _form_page(request, _stage(request, stage_id))


@require_POST
@tenant_view("stages.manage")
def stage_delete(request, company_slug, stage_id):
    """Deletes an unused stage; one opportunities were ever in is retired (kept for their history)."""
    stage = _stage(request, stage_id)
    try:
        services.stage_delete(actor=request.membership, stage=stage)
    except ValidationError as error:
        messages.error(request, f"{stage.name}: {error_text(error)}")
    else:
        gone = not Stage.objects.filter(pk=stage.pk).exists()
        messages.success(request, f"Stage “{stage.name}” {'deleted' if gone else 'retired'}.")
    return _to_list(request)
