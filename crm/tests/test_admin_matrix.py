"""The admin's permission matrix: every registered model × role × action, asked of the model admin
(``has_*_permission`` with a real request) and over HTTP (changelist, add, change, delete pages).

The object of every row belongs to Alpha (and is one the Alpha manager's team can see); "other" is
Bravo's company admin, for whom Alpha's objects do not exist (404). "sdr" is an Alpha SDR who was
given ``is_staff``: the admin is for managers and company admins, so they may do nothing.
"""

from __future__ import annotations

import datetime
import uuid

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone
from django_q.models import Failure, OrmQ, Schedule, Success
from django_q.signing import SignedPackage

from accounts.models import Account, Contact, LeadConversion, Opportunity, OpportunityStageChange, Stage
from accounts.testing.factories import make_account, make_contact, make_opportunity
from crm.admin import CompanyScopedAdmin
from crm.models import Company, Membership, User
from crm.testing.factories import UserFactory
from leads.models import (
    Campaign,
    CustomField,
    ExportRun,
    ExportTemplate,
    ImportJob,
    Lead,
    LeadComment,
    LeadStatus,
    ScheduledExport,
    StatusTransition,
)
from leads.testing.factories import (
    make_comment,
    make_custom_field,
    make_export_run,
    make_export_template,
    make_import_job,
    make_lead,
    make_scheduled_export,
    status,
)
from nurturing.models import EmailSequence, Enrolment, LeadEmailActivity, NurturingSettings
from nurturing.services import settings_for
from nurturing.testing.factories import make_consenting_lead, make_enrolment, make_sequence

ROLES = ("superuser", "admin", "manager", "sdr", "other")


def _task(success: bool):
    now = timezone.now()
    model = Success if success else Failure
    return model.objects.create(id=uuid.uuid4().hex, name=f"task-{success}", func="math.floor", started=now,
                                stopped=now, success=success, result=None)  # fmt: skip


def _queued():
    payload = SignedPackage.dumps({"id": uuid.uuid4().hex, "name": "queued", "func": "math.floor", "args": (),
                                   "kwargs": {}, "group": None})  # fmt: skip
    return OrmQ.objects.create(key="default", payload=payload, lock=timezone.now())


ACCESS = {"username": "admin@alpha.test", "ip_address": "203.0.113.9", "user_agent": "curl", "http_accept": "*/*",
          "path_info": "/admin/login/"}  # fmt: skip


def _sent_email(cast):
    enrolment = make_enrolment(cast.a.company, lead=make_consenting_lead(cast.a.company, owner=cast.a.sdr1))
    return LeadEmailActivity.objects.create(
        company=cast.a.company, enrolment=enrolment, lead=enrolment.lead, sequence=enrolment.sequence,
        step=enrolment.sequence.steps.first(), uid=uuid.uuid4().hex, message_id="<1@crm.test>",
        to_email=enrolment.lead.email, subject="Hello", claim_token=uuid.uuid4().hex,
    )  # fmt: skip


def _opportunity(cast):
    return make_opportunity(make_account(cast.a.company, owner=cast.a.sdr1), owner=cast.a.sdr1)


def _conversion(cast):
    opportunity = _opportunity(cast)
    lead = make_lead(cast.a.company, owner=cast.a.sdr1)
    return LeadConversion.objects.create(company=cast.a.company, lead=lead, account=opportunity.account,
                                         opportunity=opportunity, converted_by=cast.a.sdr1)  # fmt: skip


# How to make Alpha's object for each registered model (ops-only models: any object).
OBJECTS = {
    Company: lambda cast: cast.a.company,
    Membership: lambda cast: cast.a.sdr1,
    User: lambda cast: cast.a.sdr1.user,
    LeadStatus: lambda cast: status(cast.a.company, "recycled"),
    StatusTransition: lambda cast: StatusTransition.objects.filter(company=cast.a.company).first(),
    Campaign: lambda cast: make_lead(cast.a.company).campaign,
    CustomField: lambda cast: make_custom_field(cast.a.company, "industry"),
    Lead: lambda cast: make_lead(cast.a.company, cast.a.admin, owner=cast.a.sdr1),
    LeadComment: lambda cast: make_comment(make_lead(cast.a.company, owner=cast.a.sdr1), cast.a.sdr1),
    ImportJob: lambda cast: make_import_job(cast.a.company, actor=cast.a.manager),
    ExportRun: lambda cast: make_export_run(cast.a.company, cast.a.manager),
    ExportTemplate: lambda cast: make_export_template(cast.a.company),
    ScheduledExport: lambda cast: make_scheduled_export(cast.a.company, owner=cast.a.manager),
    Group: lambda cast: Group.objects.create(name="Ops"),
    Schedule: lambda cast: Schedule.objects.create(name="nightly", func="math.floor", schedule_type=Schedule.DAILY),
    Success: lambda cast: _task(True),
    Failure: lambda cast: _task(False),
    OrmQ: lambda cast: _queued(),
    AccessAttempt: lambda cast: AccessAttempt.objects.create(
        get_data="", post_data="", failures_since_start=1, **ACCESS
    ),
    AccessLog: lambda cast: AccessLog.objects.create(**ACCESS),
    AccessFailureLog: lambda cast: AccessFailureLog.objects.create(locked_out=False, **ACCESS),
    EmailSequence: lambda cast: make_sequence(cast.a.company),
    Enrolment: lambda cast: make_enrolment(
        cast.a.company, lead=make_consenting_lead(cast.a.company, owner=cast.a.sdr1)
    ),
    LeadEmailActivity: _sent_email,
    NurturingSettings: lambda cast: settings_for(cast.a.company),
    Account: lambda cast: make_account(cast.a.company, owner=cast.a.sdr1),
    Contact: lambda cast: make_contact(make_account(cast.a.company, owner=cast.a.sdr1), owner=cast.a.sdr1),
    Opportunity: _opportunity,
    Stage: lambda cast: Stage.objects.filter(company=cast.a.company).first(),
    OpportunityStageChange: lambda cast: _opportunity(cast).stage_changes.first(),
    LeadConversion: _conversion,
}

# Per model and role, the HTTP status of: changelist (GET), view (GET change page), add (GET add
# page), change (POST the change form unchanged), delete (GET the confirmation page). 200/302 mean
# the admin's has_*_permission answers True for that action, anything else False.
OPS_ONLY = {"admin": "403 403 403 403 403", "manager": "403 403 403 403 403", "sdr": "403 403 403 403 403",
            "other": "403 403 403 403 403"}  # fmt: skip
READ_ONLY = {"superuser": "200 200 403 403 403", "admin": "200 200 403 403 403", "manager": "200 200 403 403 403",
             "sdr": "403 403 403 403 403", "other": "200 404 403 404 404"}  # fmt: skip
RECORDS = {"superuser": "200 200 200 302 200", "admin": "200 200 200 302 200", "manager": "200 200 200 302 200",
           "sdr": "403 403 403 403 403", "other": "200 404 200 404 404"}  # fmt: skip
MATRIX = {
    # each cell: changelist view add change delete; "sdr" is an SDR with is_staff, "other" Bravo's admin
    Company:         {"superuser": "200 200 200 302 200", "admin": "200 200 403 302 403", "manager": "200 200 403 403 403",
                      "sdr": "403 403 403 403 403", "other": "200 404 403 404 404"},
    Membership:      {"superuser": "200 200 200 302 200", "admin": "200 200 200 302 200", "manager": "200 200 403 403 403",
                      "sdr": "403 403 403 403 403", "other": "200 404 200 404 404"},
    LeadStatus:      {"superuser": "200 200 200 302 200", "admin": "200 200 200 302 200", "manager": "200 200 403 403 403",
                      "sdr": "403 403 403 403 403", "other": "200 404 200 404 404"},
    StatusTransition: {"superuser": "200 200 200 302 200", "admin": "200 200 200 302 200", "manager": "200 200 403 403 403",
                      "sdr": "403 403 403 403 403", "other": "200 404 200 404 404"},
    Campaign:        {"superuser": "200 200 200 302 403", "admin": "200 200 200 302 403", "manager": "200 200 403 403 403",
                      "sdr": "403 403 403 403 403", "other": "200 404 200 404 404"},
    CustomField:     {"superuser": "200 200 200 302 403", "admin": "200 200 200 302 403", "manager": "200 200 403 403 403",
                      "sdr": "403 403 403 403 403", "other": "200 404 200 404 404"},
    Lead:            {"superuser": "200 200 200 302 403", "admin": "200 200 200 302 403", "manager": "200 200 200 302 403",
                      "sdr": "403 403 403 403 403", "other": "200 404 200 404 404"},
    LeadComment:     READ_ONLY,
    ImportJob:       READ_ONLY,
    ExportRun:       READ_ONLY,
    ExportTemplate:  READ_ONLY,
    ScheduledExport: READ_ONLY,
    Account:         RECORDS,
    Contact:         RECORDS,
    Opportunity:     RECORDS,
    Stage:           {"superuser": "200 200 200 302 200", "admin": "200 200 200 302 200", "manager": "200 200 403 403 403",
                      "sdr": "403 403 403 403 403", "other": "200 404 200 404 404"},
    OpportunityStageChange: READ_ONLY,
    LeadConversion:  READ_ONLY,
    EmailSequence:   READ_ONLY,
    Enrolment:       READ_ONLY,
    LeadEmailActivity: READ_ONLY,
    NurturingSettings: READ_ONLY,
    User:            {"superuser": "200 200 200 302 200", **OPS_ONLY},
    Group:           {"superuser": "200 200 200 302 200", **OPS_ONLY},
    Schedule:        {"superuser": "200 200 200 302 200", **OPS_ONLY},
    Success:         {"superuser": "200 200 403 302 200", **OPS_ONLY},
    Failure:         {"superuser": "200 200 403 302 200", **OPS_ONLY},
    OrmQ:            {"superuser": "200 200 403 302 200", **OPS_ONLY},
    AccessAttempt:   {"superuser": "200 200 403 302 200", **OPS_ONLY},
    AccessLog:       {"superuser": "200 200 403 302 200", **OPS_ONLY},
    AccessFailureLog: {"superuser": "200 200 403 302 200", **OPS_ONLY},
}  # fmt: skip
ALLOWED = {200, 302}


def test_the_matrix_covers_every_registered_admin_model():
    assert set(MATRIX) == set(admin.site._registry) == set(OBJECTS)


@pytest.fixture
def users(cast):
    sdr = cast.a.sdr1.user
    sdr.is_staff = True
    sdr.save(update_fields=["is_staff"])
    superuser = UserFactory(email="ops@example.test", is_staff=True, is_superuser=True)
    return {"superuser": superuser, "admin": cast.a.admin.user, "manager": cast.a.manager.user, "sdr": sdr,
            "other": cast.b.admin.user}  # fmt: skip


def url(model, page: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}", args=args)


def resubmitted(response) -> dict:
    """What a browser posts back for the change form in ``response``, unchanged."""
    if response.status_code != 200 or "adminform" not in response.context:
        return {}
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if field.disabled or value is None or value is False:
            continue
        if isinstance(field, forms.SplitDateTimeField):
            moment = timezone.localtime(value) if isinstance(value, datetime.datetime) else value
            data[f"{name}_0"], data[f"{name}_1"] = moment.date().isoformat(), moment.time().isoformat()
        else:
            data[name] = "on" if value is True else value
    return data


def http_row(client, model, obj) -> str:
    pk = obj.pk
    change = url(model, "change", pk)
    view = client.get(change)
    statuses = [
        client.get(url(model, "changelist")).status_code,
        view.status_code,
        client.get(url(model, "add")).status_code,
        client.post(change, resubmitted(view)).status_code,
        client.get(url(model, "delete", pk)).status_code,
    ]
    return " ".join(str(code) for code in statuses)


def permission_row(model_admin, request, obj) -> list[bool]:
    return [
        model_admin.has_module_permission(request),
        model_admin.has_view_permission(request, obj),
        model_admin.has_add_permission(request),
        model_admin.has_change_permission(request, obj),
        model_admin.has_delete_permission(request, obj),
    ]


@pytest.mark.parametrize("model", list(MATRIX), ids=lambda model: model._meta.label)
def test_permission_matrix(model, cast, users, client, rf):
    obj = OBJECTS[model](cast)
    model_admin = admin.site._registry[model]
    for role in ROLES:
        expected = MATRIX[model][role]
        request = rf.get("/admin/")
        request.user = users[role]
        assert permission_row(model_admin, request, obj) == [int(code) in ALLOWED for code in expected.split()], role
        client.force_login(users[role])
        assert http_row(client, model, obj) == expected, role


MISSING = "999999"


def is_company_scoped(model) -> bool:
    return isinstance(admin.site._registry[model], CompanyScopedAdmin)


@pytest.mark.parametrize("model", list(MATRIX), ids=lambda model: model._meta.label)
def test_every_admin_page_renders_or_refuses_deliberately(model, cast, users, client):
    """Changelist (with a search), history and each past version: never a 500."""
    obj = OBJECTS[model](cast)
    model_admin = admin.site._registry[model]
    history_model = getattr(model_admin, "history_model", None)
    for role in ("superuser", "admin", "manager"):
        client.force_login(users[role])
        listing, view = (int(code) for code in MATRIX[model][role].split()[:2])
        assert client.get(url(model, "changelist"), {"q": "a"}).status_code == listing, role
        history = client.get(url(model, "history", obj.pk))
        assert history.status_code == view, role
        if view != 200 or history_model is None:
            continue
        latest = history_model.objects.filter(**{model._meta.pk.attname: obj.pk}).first()
        assert [row.history_id for row in history.context["page_obj"]][0] == latest.history_id
        fields = {field.name for field in history_model._meta.get_fields()}  # where the change came from
        shown = [
            label for name, label in (("ip_address", "IP address"), ("user_agent", "User agent")) if name in fields
        ]
        assert [label for _, label in history.context["history_columns"]] == shown
        version = url(model, "simple_history", obj.pk, latest.history_id)
        assert client.get(version).status_code == 200, role
        assert client.post(version, {}).status_code == 403, role  # past versions are looked at, not restored


@pytest.mark.parametrize("model", list(MATRIX), ids=lambda model: model._meta.label)
def test_history_of_another_companys_or_a_missing_id_is_not_found(model, cast, users, client):
    obj = OBJECTS[model](cast)
    client.force_login(users["other"])
    # Bravo's admin: Alpha's row is missing; an ops-only model is forbidden whatever the id
    assert client.get(url(model, "history", obj.pk)).status_code == (404 if is_company_scoped(model) else 403)
    for role in ("superuser", "admin", "other"):
        client.force_login(users[role])
        expected = 404 if role == "superuser" or is_company_scoped(model) else 403
        assert client.get(url(model, "history", MISSING)).status_code == expected, role
        assert client.get(url(model, "history", "not-an-id")).status_code == expected, role


@pytest.mark.parametrize(
    "model", [model for model, row in MATRIX.items() if row["other"].split()[2] == "200"], ids=lambda m: m._meta.label
)
def test_another_companys_admin_adds_only_in_their_own_company(model, cast, users, client):
    OBJECTS[model](cast)  # something of Alpha's to offer by mistake
    client.force_login(users["other"])
    form = client.get(url(model, "add")).context["adminform"].form
    assert list(form.fields["company"].queryset) == [cast.b.company]
    for name, field in form.fields.items():
        choices = getattr(field, "queryset", None)
        if choices is None or name == "company":
            continue
        if choices.model is User:
            assert set(choices) <= {m.user for m in Membership.objects.filter(company=cast.b.company)}, name
        else:
            assert {row.company_id for row in choices} <= {cast.b.company.pk}, name
