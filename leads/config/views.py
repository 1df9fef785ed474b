"""Company-admin pages for the lead configuration: statuses, transitions, campaigns and custom fields.

The four kinds share one shape — a list, a create page and an edit page, each calling one function
of ``leads.config.services`` — so each is a ``Setting`` and its views are made from it (the URL
names stay ``status_list``, ``status_create``, ``status_edit`` …). Statuses also retire, unretire
and delete; transitions delete. Objects are always looked up through ``request.company``.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import copy
from dataclasses import dataclass, field
from functools import partial

from django.db.models import Count, QuerySet
from django.forms import ModelForm
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from crm.permissions import tenant_view
from crm.views_helpers import Confirm, act, confirm_flow, form_flow
from leads.config import services
from leads.config.forms import CampaignForm, CustomFieldForm, StatusForm, TransitionForm
from leads.models import Campaign, CustomField, LeadStatus, StatusTransition

NS = "leads:config"
# The retire/unretire buttons are the ``is_active`` field: their refusals need no "Is active:" label.
RETIRING = {"is_active": ""}


@dataclass(frozen=True)
class Setting:
    """One kind of lead setting: its model, form, services, pages and messages."""

    key: str  # the URL names' and templates' prefix: status → status_list, status_form.html
    name: str  # the edit page's context name and the update service's keyword: status, field …
    plural: str  # the list page's context name
    model: type
    form: type[ModelForm]
    permission: str
    listed: Callable[[object], QuerySet]  # company → the list page's rows
    create: Callable
    update: Callable
    created: str  # "Status '{obj.name}' created."
    saved: str
    form_kwargs: Callable[[object], dict] = field(default=lambda company: {})

    def list_url(self, request) -> str:
        return reverse(f"{NS}:{self.key}_list", kwargs={"company_slug": request.company.slug})

    def get(self, request, pk: int):
        return get_object_or_404(self.model, company=request.company, pk=pk)

    def form_page(self, request, obj=None):
        """Create (``obj`` None) or edit. The edit form gets a copy of ``obj``: validating writes
        the posted values onto the form's instance, and the page should describe ``obj`` as it is."""
        company, actor = request.company, request.membership
        form = self.form(request.POST or None, instance=copy(obj), **self.form_kwargs(company))
        if obj is None:
            save, success = partial(self.create, company=company, actor=actor), self.created
        else:
            save, success = partial(self.update, actor=actor, **{self.name: obj}), self.saved
        return form_flow(
            request, form, lambda: save(data=form.cleaned_data), success=lambda saved: success.format(obj=saved),
            next_url=self.list_url(request), template=f"leads/config/{self.key}_form.html",
            context={self.name: obj} if obj is not None else {},
        )  # fmt: skip


STATUS = Setting(
    "status", "status", "statuses", LeadStatus, StatusForm, "statuses.manage",
    lambda company: LeadStatus.objects.filter(company=company).annotate(lead_count=Count("leads")).order_by(
        "order", "id"),
    services.status_create, services.status_update, "Status '{obj.name}' created.", "Status '{obj.name}' saved.",
)  # fmt: skip
TRANSITION = Setting(
    "transition", "transition", "transitions", StatusTransition, TransitionForm, "statuses.manage",
    lambda company: StatusTransition.objects.filter(company=company).select_related("from_status", "to_status"),
    services.transition_create, services.transition_update, "Transition {obj} added.", "Transition {obj} saved.",
    form_kwargs=lambda company: {"company": company},
)  # fmt: skip
CAMPAIGN = Setting(
    "campaign", "campaign", "campaigns", Campaign, CampaignForm, "company.manage",
    lambda company: Campaign.objects.filter(company=company).annotate(lead_count=Count("leads")).order_by("name"),
    services.campaign_create, services.campaign_update,
    "Campaign '{obj.name}' created.", "Campaign '{obj.name}' saved.",
)  # fmt: skip
FIELD = Setting(
    "field", "field", "fields", CustomField, CustomFieldForm, "fields.manage",
    lambda company: CustomField.objects.filter(company=company).order_by("order", "key"),
    services.custom_field_create, services.custom_field_update,
    "Custom field '{obj.label}' created.", "Custom field '{obj.label}' saved.",
)  # fmt: skip


def _list_view(setting: Setting):
    @tenant_view(setting.permission)
    def view(request, company_slug):
        rows = setting.listed(request.company)
        return render(request, f"leads/config/{setting.key}_list.html", {setting.plural: rows})

    return view


def _create_view(setting: Setting):
    @tenant_view(setting.permission)
    def view(request, company_slug):
        return setting.form_page(request)

    return view


def _edit_view(setting: Setting):
    @tenant_view(setting.permission)
    def view(request, company_slug, **ids):
        return setting.form_page(request, setting.get(request, ids[f"{setting.name}_id"]))

    return view


@tenant_view("company.manage")
def index(request, company_slug):
    return render(request, "leads/config/index.html")


status_list, status_create, status_edit = _list_view(STATUS), _create_view(STATUS), _edit_view(STATUS)
transition_list, transition_create = _list_view(TRANSITION), _create_view(TRANSITION)
transition_edit = _edit_view(TRANSITION)
campaign_list, campaign_create, campaign_edit = _list_view(CAMPAIGN), _create_view(CAMPAIGN), _edit_view(CAMPAIGN)
field_list, field_create, field_edit = _list_view(FIELD), _create_view(FIELD), _edit_view(FIELD)


# --- what only statuses and transitions do ---------------------------------------------------------


@tenant_view("statuses.manage")
@require_POST
def status_retire(request, company_slug, status_id):
    status = STATUS.get(request, status_id)
    act(
        request,
        lambda: services.status_retire(actor=request.membership, status=status),
        f"Status '{status.name}' retired: leads can no longer move into it.",
        labels=RETIRING,
    )
    return redirect(STATUS.list_url(request))


@tenant_view("statuses.manage")
@require_POST
def status_unretire(request, company_slug, status_id):
    status = STATUS.get(request, status_id)
    act(
        request,
        lambda: services.status_unretire(actor=request.membership, status=status),
        f"Status '{status.name}' is in use again.",
        labels=RETIRING,
    )
    return redirect(STATUS.list_url(request))


@tenant_view("statuses.manage")
def status_delete(request, company_slug, status_id):
    status = STATUS.get(request, status_id)
    confirm = Confirm(
        what="status", name=status.name, cancel_url=STATUS.list_url(request),
        consequences="This cannot be undone. The transitions into and out of it are deleted with it.",
        blocker=services.status_delete_blocker(status),
    )  # fmt: skip
    return confirm_flow(
        request, confirm, lambda: services.status_delete(actor=request.membership, status=status),
        success=f"Status '{status.name}' deleted.", next_url=STATUS.list_url(request),
    )  # fmt: skip


@tenant_view("statuses.manage")
def transition_delete(request, company_slug, transition_id):
    transition = TRANSITION.get(request, transition_id)
    confirm = Confirm(
        what="the transition", name=str(transition), cancel_url=TRANSITION.list_url(request),
        consequences="This cannot be undone. Leads keep their statuses; this move is no longer offered.",
    )  # fmt: skip
    return confirm_flow(
        request, confirm, lambda: services.transition_delete(actor=request.membership, transition=transition),
        success=f"Transition {transition} deleted.", next_url=TRANSITION.list_url(request),
    )  # fmt: skip
