"""Naming an owner on any door is an assignment: managers stay within their team on the form, the
API and /assign alike; SDRs trash only their own leads, in bulk or one by one."""

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from rest_framework.test import APIClient

from leads import bulk, services
from leads.models import Lead, LeadAssignment
from leads.testing.factories import make_campaign, make_lead

OUTSIDE = {"owner": ["Alpha SDR Two is not in your team: managers assign leads within their team."]}


def api_for(membership) -> APIClient:
    client = APIClient()
    client.force_authenticate(membership.user)
    return client


def api_url(company, path: str) -> str:
    return f"/api/companies/{company.pk}/{path}"


@pytest.fixture
def pool_lead(cast):
    return make_lead(cast.a.company, None, first_name="Pia", last_name="Pool")


def test_assign_refuses_a_member_outside_the_managers_team(cast, pool_lead):
    response = api_for(cast.a.manager).post(
        api_url(cast.a.company, f"leads/{pool_lead.pk}/assign"), {"owner": cast.a.sdr2.pk}, format="json"
    )

    assert (response.status_code, response.json()) == (400, OUTSIDE)


def test_patch_with_an_owner_outside_the_team_refuses_like_assign(cast, pool_lead):
    response = api_for(cast.a.manager).patch(
        api_url(cast.a.company, f"leads/{pool_lead.pk}"), {"owner": cast.a.sdr2.pk, "job_title": "CTO"}, format="json"
    )

    assert (response.status_code, response.json()) == (400, OUTSIDE)
    pool_lead.refresh_from_db()
    assert (pool_lead.owner_id, pool_lead.job_title) == (None, "")


def test_post_with_an_owner_outside_the_team_creates_nothing(cast):
    data = {"first_name": "Ana", "email": "ana@acme.example", "lead_source": "Partner",
            "campaign": make_campaign(cast.a.company).pk, "owner": cast.a.sdr2.pk}  # fmt: skip

    response = api_for(cast.a.manager).post(api_url(cast.a.company, "leads"), data, format="json")

    assert (response.status_code, response.json()) == (400, OUTSIDE)
    assert Lead.objects.filter(email="ana@acme.example").count() == 0


def test_patch_within_the_team_is_logged_and_notified_like_assign(cast, pool_lead):
    response = api_for(cast.a.manager).patch(
        api_url(cast.a.company, f"leads/{pool_lead.pk}"), {"owner": cast.a.sdr1.pk}, format="json"
    )

    assert (response.status_code, response.json()["owner"]) == (200, cast.a.sdr1.pk)
    entry = LeadAssignment.objects.get(lead=pool_lead)
    assert (entry.owner_id, entry.previous_owner_id, entry.actor_id, entry.reason) == (
        cast.a.sdr1.pk,
        None,
        cast.a.manager.pk,
        "Assigned to Alpha SDR One by Alpha Manager.",
    )


def test_an_owner_at_capacity_is_refused_on_patch_as_on_assign(cast, pool_lead):
    cast.a.sdr1.capacity = 0
    cast.a.sdr1.save(update_fields=["capacity"])

    response = api_for(cast.a.admin).patch(
        api_url(cast.a.company, f"leads/{pool_lead.pk}"), {"owner": cast.a.sdr1.pk}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()) == ["owner"]
    assert Lead.objects.get(pk=pool_lead.pk).owner_id is None


def test_the_edit_form_offers_and_accepts_only_the_managers_team(cast, pool_lead, client_for):
    client = client_for(cast.a.manager)
    edit = reverse("leads:edit", kwargs={"company_slug": cast.a.company.slug, "lead_id": pool_lead.pk})
    form = client.get(edit).context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(owner=cast.a.sdr2.pk, campaign=pool_lead.campaign_id)

    response = client.post(edit, data)

    assert sorted(m.pk for m in form.fields["owner"].queryset) == sorted([cast.a.manager.pk, cast.a.sdr1.pk])
    assert response.status_code == 200
    assert response.context["form"].errors["owner"] == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert Lead.objects.get(pk=pool_lead.pk).owner_id is None


# --- the trash -----------------------------------------------------------------------------------


def test_an_sdr_cannot_trash_pool_leads_in_bulk_and_nothing_changes(cast, pool_lead):
    own = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1)

    with pytest.raises(bulk.BulkError) as refused:
        bulk.bulk_job_create(actor=cast.a.sdr1, operation="delete", lead_ids=[own.pk, pool_lead.pk])

    assert refused.value.message_dict == {
        "ids": [f"1 lead(s) are not yours to delete: #{pool_lead.pk}. Nothing was changed."]
    }
    assert Lead.objects.filter(is_deleted=True).count() == 0


def test_a_filter_selection_trashes_only_what_the_sdr_owns(cast, pool_lead):
    own = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1)

    job = bulk.bulk_job_create(actor=cast.a.sdr1, operation="delete", filter_params={})
    bulk.bulk_job_start(job)

    assert job.lead_ids == [own.pk]
    assert list(Lead.objects.filter(is_deleted=True).values_list("pk", flat=True)) == [own.pk]


def test_a_manager_trashes_the_teams_leads_but_not_another_teams_or_the_pool(cast, pool_lead):
    team = make_lead(cast.a.company, cast.a.admin, owner=cast.a.sdr1)
    make_lead(cast.a.company, cast.a.admin, owner=cast.a.sdr2)  # another team: invisible to the manager

    job = bulk.bulk_job_create(actor=cast.a.manager, operation="delete", filter_params={})

    assert job.lead_ids == [team.pk]


def test_an_admin_trashes_pool_leads(cast, pool_lead):
    services.lead_delete(actor=cast.a.admin, lead=pool_lead)

    assert Lead.objects.get(pk=pool_lead.pk).is_deleted is True


def test_an_sdr_cannot_trash_a_pool_lead_one_by_one_either(cast, pool_lead):
    with pytest.raises(PermissionDenied):
        services.lead_delete(actor=cast.a.sdr1, lead=pool_lead)

    assert Lead.objects.get(pk=pool_lead.pk).is_deleted is False
