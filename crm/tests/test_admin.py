import pytest
from django.urls import reverse

from crm.models import Membership
from crm.testing.factories import UserFactory


@pytest.fixture
def superuser(db):
    return UserFactory(email="ops@example.test", is_staff=True, is_superuser=True)


def changelist_ids(response):
    return sorted(obj.pk for obj in response.context["cl"].result_list)


def test_a_company_admin_sees_only_their_companys_memberships(cast, client_for):
    response = client_for(cast.a.admin).get(reverse("admin:crm_membership_changelist"))
    assert response.status_code == 200
    assert changelist_ids(response) == sorted(
        Membership.objects.filter(company=cast.a.company).values_list("pk", flat=True)
    )
    assert b"bravo.test" not in response.content


def test_a_manager_sees_only_their_company(cast, client_for):
    response = client_for(cast.a.manager).get(reverse("admin:crm_company_changelist"))
    assert changelist_ids(response) == [cast.a.company.pk]


def test_another_companys_row_is_not_found_in_the_admin(cast, client_for):
    client = client_for(cast.a.admin)
    url = reverse("admin:crm_membership_change", args=[cast.b.sdr1.pk])
    response = client.get(url)
    assert response.status_code == 302  # the admin redirects "object does not exist" to its index
    assert response["Location"] == reverse("admin:index")


def test_foreign_key_choices_are_limited_to_your_companies(cast, client_for):
    response = client_for(cast.a.admin).get(reverse("admin:crm_membership_add"))
    form = response.context["adminform"].form
    assert sorted(form.fields["company"].queryset.values_list("slug", flat=True)) == ["alpha"]
    assert set(form.fields["manager"].queryset) == set(Membership.objects.filter(company=cast.a.company))
    assert set(form.fields["user"].queryset.values_list("email", flat=True)) == {
        "admin@alpha.test",
        "manager@alpha.test",
        "sdr1@alpha.test",
        "sdr2@alpha.test",
    }


def test_a_manager_edits_a_membership_of_their_company_with_history(cast, client_for):
    client = client_for(cast.a.manager)
    url = reverse("admin:crm_membership_change", args=[cast.a.sdr1.pk])
    data = {
        "role": "sdr",
        "manager": cast.a.manager.pk,
        "territory": "Ireland",
        "skills": '["en", "ga"]',
        "capacity": 150,
        "is_available": "on",
        "is_active": "on",
    }
    response = client.post(url, data)
    assert response.status_code == 302
    cast.a.sdr1.refresh_from_db()
    assert (cast.a.sdr1.territory, cast.a.sdr1.skills, cast.a.sdr1.capacity) == ("Ireland", ["en", "ga"], 150)
    history = client.get(reverse("admin:crm_membership_history", args=[cast.a.sdr1.pk]))
    assert history.status_code == 200
    assert b"Alpha Manager" in history.content


def test_a_manager_cannot_point_a_membership_at_another_companys_manager(cast, client_for):
    client = client_for(cast.a.manager)
    url = reverse("admin:crm_membership_change", args=[cast.a.sdr1.pk])
    data = {"role": "sdr", "manager": cast.b.manager.pk, "capacity": 100, "skills": "[]", "is_active": "on"}
    response = client.post(url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["manager"] == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    cast.a.sdr1.refresh_from_db()
    assert cast.a.sdr1.manager == cast.a.manager


def test_only_company_admins_may_delete(cast, client_for):
    url = reverse("admin:crm_membership_delete", args=[cast.a.sdr2.pk])
    assert client_for(cast.a.manager).get(url).status_code == 403
    assert client_for(cast.a.admin).get(url).status_code == 200


def test_sdrs_cannot_use_the_admin(cast, client_for):
    response = client_for(cast.a.sdr1).get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_user_accounts_are_for_ops_only(cast, client_for, superuser):
    assert client_for(cast.a.admin).get(reverse("admin:crm_user_changelist")).status_code == 403
    response = client_for(cast.a.admin).get(reverse("admin:crm_user_changelist"))
    assert response.status_code == 403
    ops = client_for(cast.a.admin)
    ops.force_login(superuser)
    assert ops.get(reverse("admin:crm_user_changelist")).status_code == 200


def test_superusers_see_every_company(cast, client, superuser):
    client.force_login(superuser)
    response = client.get(reverse("admin:crm_membership_changelist"))
    assert changelist_ids(response) == sorted(Membership.objects.values_list("pk", flat=True))
    assert len(changelist_ids(response)) == 8
