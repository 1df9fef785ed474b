"""The Django admin for leads and their configuration: tenant scope, row-level security, and every
write going through the services."""

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.testing.factories import UserFactory
from leads.models import Campaign, CustomField, Lead, LeadStatus, StatusChange, StatusTransition
from leads.services import lead_transition
from leads.testing.factories import make_campaign, make_comment, make_custom_field, make_lead, status


@pytest.fixture
def superuser(db):
    return UserFactory(email="ops@example.test", is_staff=True, is_superuser=True)


@pytest.fixture
def leads(cast):
    """One lead per owner in each company, plus one unassigned: there is always something to leak."""
    made = {}
    for tenant in (cast.a, cast.b):
        for owner in ("admin", "manager", "sdr1", "sdr2", None):
            member = tenant.member(owner) if owner else None
            made[(tenant.company.slug, owner)] = make_lead(tenant.company, tenant.admin, owner=member)
    return made


def changelist_ids(response):
    return sorted(obj.pk for obj in response.context["cl"].result_list)


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def admin_form(response):
    return response.context["adminform"].form


def post_data(response, **overrides):
    """What the browser would post back for the change form in ``response``, with ``overrides``."""
    form = admin_form(response)
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if field.disabled or value in (None, False):
            continue
        data[name] = "on" if value is True else value
    data.update(overrides)
    return data


# --- leads: row-level security -------------------------------------------------------------------


def test_a_manager_sees_their_teams_and_the_unassigned_leads_only(cast, client_for, leads):
    response = client_for(cast.a.manager).get(reverse("admin:leads_lead_changelist"))
    assert response.status_code == 200
    expected = [leads[("alpha", owner)].pk for owner in ("manager", "sdr1", None)]
    assert changelist_ids(response) == sorted(expected)
    assert leads[("alpha", "sdr2")].email.encode() not in response.content
    assert leads[("bravo", None)].email.encode() not in response.content


def test_a_company_admin_sees_every_lead_of_their_company(cast, client_for, leads):
    response = client_for(cast.a.admin).get(reverse("admin:leads_lead_changelist"))
    assert changelist_ids(response) == sorted(lead.pk for (slug, _), lead in leads.items() if slug == "alpha")


def test_a_manager_of_two_companies_sees_each_companys_visible_leads(cast, client_for, leads):
    from crm.services import membership_create

    membership_create(company=cast.b.company, user=cast.a.manager.user, role="manager", manager=cast.b.admin)
    response = client_for(cast.a.manager).get(reverse("admin:leads_lead_changelist"))
    expected = [leads[("alpha", owner)].pk for owner in ("manager", "sdr1", None)] + [leads[("bravo", None)].pk]
    assert changelist_ids(response) == sorted(expected)


def test_the_lead_changelist_costs_the_same_queries_however_many_leads(cast, client_for):
    client = client_for(cast.a.manager)
    make_lead(cast.a.company, cast.a.admin, owner=cast.a.sdr1)
    client.get(reverse("admin:leads_lead_changelist"))  # warm the session
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("admin:leads_lead_changelist"))
    for _ in range(2):
        make_lead(cast.a.company, cast.a.admin, owner=cast.a.manager)
    with CaptureQueriesContext(connection) as three:
        response = client.get(reverse("admin:leads_lead_changelist"))
    assert len(response.context["cl"].result_list) == 3
    assert len(three) == len(one)


def test_superusers_see_every_lead(client, superuser, leads):
    client.force_login(superuser)
    response = client.get(reverse("admin:leads_lead_changelist"))
    assert changelist_ids(response) == sorted(lead.pk for lead in leads.values())


def test_a_lead_outside_the_managers_team_is_not_found(cast, client_for, leads):
    client = client_for(cast.a.manager)
    for lead in (leads[("alpha", "sdr2")], leads[("bravo", "sdr1")]):
        for page in ("change", "history", "delete"):
            response = client.get(reverse(f"admin:leads_lead_{page}", args=[lead.pk]))
            assert response.status_code == 404
            assert lead.email.encode() not in response.content


def test_the_status_filter_offers_only_statuses_of_visible_leads(cast, client_for, leads):
    lead_transition(actor=cast.a.sdr1, lead=leads[("alpha", "sdr1")], to_status=status(cast.a.company, "contacted"))
    hidden = status(cast.a.company, "unqualified")
    lead_transition(actor=cast.a.sdr2, lead=leads[("alpha", "sdr2")], to_status=hidden, note="No budget.")

    response = client_for(cast.a.manager).get(reverse("admin:leads_lead_changelist"))

    status_filter = next(f for f in response.context["cl"].filter_specs if f.field_path == "status")
    assert [label for _, label in status_filter.lookup_choices] == ["New", "Contacted"]
    assert {pk for pk, _ in status_filter.lookup_choices} == {
        status(cast.a.company, "new").pk,
        status(cast.a.company, "contacted").pk,
    }


# --- leads: writes through the services ----------------------------------------------------------


def test_lead_foreign_key_choices_are_limited_to_the_leads_company(cast, client_for, leads):
    make_campaign(cast.b.company, "Bravo launch")
    lead = leads[("alpha", "sdr1")]
    response = client_for(cast.a.manager).get(reverse("admin:leads_lead_change", args=[lead.pk]))
    form = admin_form(response)
    assert set(form.fields["status"].queryset) == set(LeadStatus.objects.filter(company=cast.a.company))
    assert set(form.fields["campaign"].queryset) == set(Campaign.objects.filter(company=cast.a.company))
    assert set(form.fields["owner"].queryset) == {cast.a.manager, cast.a.sdr1}  # the manager's team only


def test_the_add_form_offers_only_your_companies(cast, client_for):
    response = client_for(cast.a.manager).get(reverse("admin:leads_lead_add"))
    form = admin_form(response)
    assert list(form.fields["company"].queryset.values_list("slug", flat=True)) == ["alpha"]
    assert {s.company_id for s in form.fields["status"].queryset} == {cast.a.company.pk}


def test_a_forbidden_status_change_is_a_form_error_and_changes_nothing(cast, client_for, leads):
    lead = leads[("alpha", "sdr1")]
    client = client_for(cast.a.manager)
    url = reverse("admin:leads_lead_change", args=[lead.pk])
    data = post_data(client.get(url), status=status(cast.a.company, "converted").pk, job_title="CTO")

    response = client.post(url, data)

    assert response.status_code == 200
    assert admin_form(response).errors == {"status": ["A lead cannot move from New to Converted."]}
    lead.refresh_from_db()
    assert (lead.status.key, lead.job_title) == ("new", "")
    assert list(StatusChange.objects.filter(lead=lead).values_list("to_status__key", flat=True)) == ["new"]


def test_a_status_change_that_needs_a_note_asks_for_it(cast, client_for, leads):
    lead = leads[("alpha", "sdr1")]
    client = client_for(cast.a.manager)
    url = reverse("admin:leads_lead_change", args=[lead.pk])
    data = post_data(client.get(url), status=status(cast.a.company, "unqualified").pk)

    response = client.post(url, data)

    assert admin_form(response).errors == {"status_note": ["A note is required to move from New to Unqualified."]}
    assert StatusChange.objects.filter(lead=lead).count() == 1


def test_an_allowed_status_change_goes_through_the_workflow(cast, client_for, leads):
    lead = leads[("alpha", "sdr1")]
    client = client_for(cast.a.manager)
    url = reverse("admin:leads_lead_change", args=[lead.pk])
    data = post_data(client.get(url), status=status(cast.a.company, "contacted").pk, job_title="CTO")

    response = client.post(url, data)

    assert response.status_code == 302
    lead.refresh_from_db()
    assert (lead.status.key, lead.job_title) == ("contacted", "CTO")
    change = StatusChange.objects.filter(lead=lead).last()
    assert (change.from_status.key, change.to_status.key, change.changed_by) == ("new", "contacted", cast.a.manager)
    reasons = list(lead.history.values_list("history_change_reason", flat=True)[:2])
    assert reasons == ["leads.lead.status_changed", "leads.lead.changed"]
    assert lead.history.first().history_user == cast.a.manager.user


def test_a_service_rule_on_another_field_is_a_form_error(cast, client_for, leads):
    lead = leads[("alpha", "sdr1")]
    client = client_for(cast.a.manager)
    url = reverse("admin:leads_lead_change", args=[lead.pk])
    data = post_data(client.get(url), phone="12")

    response = client.post(url, data)

    assert admin_form(response).errors == {"phone": ["Enter a valid phone number for GB or in +country format."]}
    lead.refresh_from_db()
    assert lead.phone == ""


def test_a_lead_added_in_the_admin_is_created_by_the_service(cast, client_for):
    campaign = make_campaign(cast.a.company, "Spring webinar")
    data = {
        "company": cast.a.company.pk,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": " Ada@Example.COM ",
        "lead_source": "Admin",
        "campaign": campaign.pk,
        "owner": cast.a.sdr1.pk,
        "stage": "awareness",
        "custom_fields": "{}",
        "profile_data": "{}",
    }
    response = client_for(cast.a.manager).post(reverse("admin:leads_lead_add"), data)

    assert response.status_code == 302
    lead = Lead.objects.get(company=cast.a.company, email="ada@example.com")
    assert (lead.status.key, lead.owner, lead.created_by, lead.email_key, lead.country) == (
        "new",
        cast.a.sdr1,
        cast.a.manager,
        "ada@example.com",
        "GB",
    )
    assert lead.history.get().history_change_reason == "leads.lead.created"
    assert list(StatusChange.objects.filter(lead=lead).values_list("to_status__key", flat=True)) == ["new"]


def new_lead_data(cast, **overrides):
    return {
        "company": cast.a.company.pk,
        "email": "owner@example.com",
        "lead_source": "Admin",
        "campaign": make_campaign(cast.a.company, "Admin").pk,
        "stage": "awareness",
        "custom_fields": "{}",
        "profile_data": "{}",
        **overrides,
    }


def test_a_manager_assigns_only_within_their_team_in_the_admin(cast, client_for, leads):
    client = client_for(cast.a.manager)
    form = admin_form(client.get(reverse("admin:leads_lead_add")))
    assert set(form.fields["owner"].queryset) == {cast.a.manager, cast.a.sdr1}

    response = client.post(reverse("admin:leads_lead_add"), new_lead_data(cast, owner=cast.a.sdr2.pk))
    assert admin_form(response).errors == {
        "owner": ["Select a valid choice. That choice is not one of the available choices."]
    }
    assert not Lead.objects.filter(email="owner@example.com").exists()

    lead = leads[("alpha", "sdr1")]
    url = reverse("admin:leads_lead_change", args=[lead.pk])
    response = client.post(url, post_data(client.get(url), owner=cast.a.sdr2.pk))
    assert admin_form(response).errors == {
        "owner": ["Select a valid choice. That choice is not one of the available choices."]
    }
    lead.refresh_from_db()
    assert lead.owner == cast.a.sdr1


def test_an_owner_the_service_refuses_is_an_error_on_the_owner_field(cast, client_for, leads):
    cast.a.sdr1.is_available = False  # on leave: the assignment service refuses them
    cast.a.sdr1.save(update_fields=["is_available"])
    refusal = ["Alpha SDR One is unavailable (on leave) and receives no new leads."]
    client = client_for(cast.a.manager)

    response = client.post(reverse("admin:leads_lead_add"), new_lead_data(cast, owner=cast.a.sdr1.pk))
    assert (response.status_code, admin_form(response).errors) == (200, {"owner": refusal})
    assert not Lead.objects.filter(email="owner@example.com").exists()

    lead = leads[("alpha", "manager")]
    url = reverse("admin:leads_lead_change", args=[lead.pk])
    response = client.post(url, post_data(client.get(url), owner=cast.a.sdr1.pk, job_title="CTO"))
    assert (response.status_code, admin_form(response).errors) == (200, {"owner": refusal})
    lead.refresh_from_db()
    assert (lead.owner, lead.job_title) == (cast.a.manager, "")


def test_a_lead_cannot_be_added_with_another_companys_campaign(cast, client_for):
    data = {
        "company": cast.a.company.pk,
        "email": "x@example.com",
        "lead_source": "Admin",
        "campaign": make_campaign(cast.b.company, "Bravo launch").pk,
        "stage": "awareness",
    }
    response = client_for(cast.a.admin).post(reverse("admin:leads_lead_add"), data)
    assert admin_form(response).errors == {
        "campaign": ["Select a valid choice. That choice is not one of the available choices."]
    }
    assert not Lead.objects.filter(email="x@example.com").exists()


def test_the_lead_history_page_works(cast, client_for, leads):
    lead = leads[("alpha", "sdr1")]
    response = client_for(cast.a.manager).get(reverse("admin:leads_lead_history", args=[lead.pk]))
    assert response.status_code == 200
    assert b"leads.lead.created" in response.content


def test_leads_are_moved_to_the_trash_not_deleted(cast, client_for, leads):
    lead = leads[("alpha", "sdr1")]
    client = client_for(cast.a.manager)
    data = {"action": "move_to_trash", "_selected_action": [lead.pk]}
    response = client.post(reverse("admin:leads_lead_changelist"), data, follow=True)
    assert messages_of(response) == ["1 lead(s) moved to the trash."]
    lead.refresh_from_db()
    assert lead.is_deleted is True
    assert client.get(reverse("admin:leads_lead_delete", args=[lead.pk])).status_code == 404  # out of every list
    assert client.get(reverse("admin:leads_lead_delete", args=[leads[("alpha", None)].pk])).status_code == 403


# --- comments ------------------------------------------------------------------------------------


def test_a_manager_sees_comments_of_visible_leads_only(cast, client_for, leads):
    visible = make_comment(leads[("alpha", "sdr1")], cast.a.sdr1)
    make_comment(leads[("bravo", None)], cast.b.sdr1)
    hidden = make_comment(leads[("alpha", "sdr2")], cast.a.sdr2)
    client = client_for(cast.a.manager)
    response = client.get(reverse("admin:leads_leadcomment_changelist"))
    assert changelist_ids(response) == [visible.pk]
    assert client.get(reverse("admin:leads_leadcomment_history", args=[hidden.pk])).status_code == 404


# --- configuration -------------------------------------------------------------------------------


def test_statuses_are_scoped_to_the_company(cast, client_for):
    response = client_for(cast.a.admin).get(reverse("admin:leads_leadstatus_changelist"))
    assert changelist_ids(response) == sorted(
        LeadStatus.objects.filter(company=cast.a.company).values_list("pk", flat=True)
    )


def test_managers_may_look_at_the_workflow_but_not_change_it(cast, client_for):
    client = client_for(cast.a.manager)
    contacted = status(cast.a.company, "contacted")
    assert client.get(reverse("admin:leads_leadstatus_changelist")).status_code == 200
    assert client.get(reverse("admin:leads_leadstatus_add")).status_code == 403
    assert client.get(reverse("admin:leads_statustransition_add")).status_code == 403
    url = reverse("admin:leads_leadstatus_change", args=[contacted.pk])
    assert client.post(url, {"name": "Reached"}).status_code == 403
    contacted.refresh_from_db()
    assert contacted.name == "Contacted"


def test_an_admin_makes_another_status_initial_through_the_service(cast, client_for):
    client = client_for(cast.a.admin)
    contacted = status(cast.a.company, "contacted")
    url = reverse("admin:leads_leadstatus_change", args=[contacted.pk])

    response = client.post(url, post_data(client.get(url), is_initial="on"))

    assert response.status_code == 302
    initials = LeadStatus.objects.filter(company=cast.a.company, is_initial=True)
    assert list(initials.values_list("key", flat=True)) == ["contacted"]
    history = contacted.history.first()
    assert (history.history_change_reason, history.history_user) == ("leads.status.changed", cast.a.admin.user)


def test_a_status_rule_is_a_form_error_in_the_admin(cast, client_for):
    client = client_for(cast.a.admin)
    converted = status(cast.a.company, "converted")
    url = reverse("admin:leads_leadstatus_change", args=[converted.pk])
    data = post_data(client.get(url))
    del data["is_terminal"]

    response = client.post(url, data)

    assert admin_form(response).errors == {"is_terminal": ["Converted is final: it must stay terminal."]}
    converted.refresh_from_db()
    assert converted.is_terminal is True


def test_a_status_in_use_is_not_deleted_from_the_admin(cast, client_for):
    contacted = status(cast.a.company, "contacted")
    make_lead(cast.a.company, cast.a.sdr1, status=contacted)
    client = client_for(cast.a.admin)

    response = client.post(reverse("admin:leads_leadstatus_delete", args=[contacted.pk]), {"post": "yes"}, follow=True)

    assert response.redirect_chain == [(reverse("admin:leads_leadstatus_change", args=[contacted.pk]), 302)]
    assert messages_of(response) == ["Status 'Contacted' is used by 1 lead; retire it instead."]
    assert LeadStatus.objects.filter(pk=contacted.pk).exists()


def test_an_unused_status_is_deleted_from_the_admin_through_the_service(cast, client_for):
    client = client_for(cast.a.admin)
    recycled = status(cast.a.company, "recycled")

    response = client.post(reverse("admin:leads_leadstatus_delete", args=[recycled.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not LeadStatus.objects.filter(pk=recycled.pk).exists()
    deleted = LeadStatus.history.filter(id=recycled.pk).first()
    assert (deleted.history_type, deleted.history_change_reason) == ("-", "leads.status.deleted")


def test_statuses_are_retired_with_an_admin_action(cast, client_for):
    client = client_for(cast.a.admin)
    new, recycled = status(cast.a.company, "new"), status(cast.a.company, "recycled")
    data = {"action": "retire", "_selected_action": [new.pk, recycled.pk]}

    response = client.post(reverse("admin:leads_leadstatus_changelist"), data, follow=True)

    assert sorted(messages_of(response)) == [
        "Status 'New' is the initial status; make another status initial first.",
        "Status 'Recycled' retired.",
    ]
    assert list(LeadStatus.objects.filter(company=cast.a.company, is_active=False).values_list("key", flat=True)) == [
        "recycled"
    ]


def test_a_transition_between_companies_is_refused_in_the_admin(cast, client_for):
    client = client_for(cast.a.admin)
    before = StatusTransition.objects.count()
    data = {
        "company": cast.a.company.pk,
        "from_status": status(cast.a.company, "new").pk,
        "to_status": status(cast.b.company, "qualified").pk,
    }
    response = client.post(reverse("admin:leads_statustransition_add"), data)
    assert admin_form(response).errors == {
        "to_status": ["Select a valid choice. That choice is not one of the available choices."]
    }
    assert StatusTransition.objects.count() == before


def test_an_admin_adds_a_transition_in_the_admin(cast, client_for):
    data = {
        "company": cast.a.company.pk,
        "from_status": status(cast.a.company, "new").pk,
        "to_status": status(cast.a.company, "qualified").pk,
        "allowed_roles": ["manager"],
    }
    response = client_for(cast.a.admin).post(reverse("admin:leads_statustransition_add"), data)
    assert response.status_code == 302
    transition = StatusTransition.objects.get(
        from_status__key="new", to_status__key="qualified", company=cast.a.company
    )
    assert transition.allowed_roles == ["manager"]


def test_campaign_name_uniqueness_in_the_admin(cast, client_for):
    make_campaign(cast.a.company, "Spring webinar")
    data = {"company": cast.a.company.pk, "name": "Spring Webinar", "is_active": "on"}
    response = client_for(cast.a.admin).post(reverse("admin:leads_campaign_add"), data)
    assert admin_form(response).errors == {"name": ["A campaign named 'Spring Webinar' already exists."]}


def test_custom_field_choices_in_the_admin(cast, client_for):
    client = client_for(cast.a.admin)
    data = {
        "company": cast.a.company.pk,
        "key": "tier",
        "label": "Tier",
        "field_type": "choice",
        "choices": "[]",
        "order": "0",
    }
    response = client.post(reverse("admin:leads_customfield_add"), data)
    assert admin_form(response).errors == {"choices": ["A choice field needs at least one choice."]}

    response = client.post(reverse("admin:leads_customfield_add"), {**data, "choices": '["Gold", "Silver"]'})
    assert response.status_code == 302
    assert CustomField.objects.get(company=cast.a.company, key="tier").choices == ["Gold", "Silver"]


def test_custom_field_keys_are_read_only_once_created(cast, client_for):
    field = make_custom_field(cast.a.company, "industry")
    response = client_for(cast.a.admin).get(reverse("admin:leads_customfield_change", args=[field.pk]))
    assert "key" not in admin_form(response).fields
