import json

import pytest
from django.urls import reverse

from crm.admin import role_covers
from crm.models import Membership, Role
from crm.services import membership_create
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
    for name in ("change", "delete", "history"):
        response = client.get(reverse(f"admin:crm_membership_{name}", args=[cast.b.sdr1.pk]))
        assert response.status_code == 404
        assert b"bravo.test" not in response.content


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


def test_a_company_admin_edits_a_membership_of_their_company_with_history(cast, client_for):
    client = client_for(cast.a.admin)
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
    assert b"Alpha Admin" in history.content
    assert cast.a.sdr1.history.first().history_change_reason == "crm.membership.changed"


def test_an_admin_cannot_point_a_membership_at_another_companys_manager(cast, client_for):
    client = client_for(cast.a.admin)
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
    url = reverse("admin:crm_membership_delete", args=[cast.a.sdr1.pk])
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


# --- escalation: a manager has exactly their app rights in the admin ------------------------------


def membership_form(membership, **overrides):
    data = {
        "role": membership.role,
        "manager": membership.manager_id or "",
        "territory": membership.territory,
        "skills": json.dumps(membership.skills),
        "capacity": membership.capacity,
        "is_available": "on",
        "is_active": "on",
    }
    data.update(overrides)
    return {name: value for name, value in data.items() if value is not None}


def test_a_manager_cannot_make_themselves_admin(cast, client_for):
    manager = cast.a.manager
    client = client_for(manager)
    url = reverse("admin:crm_membership_change", args=[manager.pk])
    view = client.get(url)
    assert (view.status_code, view.context["has_change_permission"]) == (200, False)  # read-only
    response = client.post(url, membership_form(manager, role="admin", manager=None))
    assert response.status_code == 403
    manager.refresh_from_db()
    assert (manager.role, manager.manager) == ("manager", cast.a.admin)
    assert manager.history.count() == 1


def test_a_manager_cannot_deactivate_the_company_admin(cast, client_for):
    admin_membership = cast.a.admin
    client = client_for(cast.a.manager)
    url = reverse("admin:crm_membership_change", args=[admin_membership.pk])
    response = client.post(url, membership_form(admin_membership, is_active=None))
    assert response.status_code == 404  # above the manager: not in their team, not theirs to see
    admin_membership.refresh_from_db()
    assert admin_membership.is_active is True
    # nor their own team's memberships: managers do not manage memberships in the app
    url = reverse("admin:crm_membership_change", args=[cast.a.sdr1.pk])
    assert client.post(url, membership_form(cast.a.sdr1, is_active=None)).status_code == 403
    cast.a.sdr1.refresh_from_db()
    assert cast.a.sdr1.is_active is True


def test_a_manager_cannot_add_memberships(cast, client_for):
    outsider = UserFactory(email="new@example.test", is_staff=True)
    client = client_for(cast.a.manager)
    assert client.get(reverse("admin:crm_membership_add")).status_code == 403
    data = {"company": cast.a.company.pk, "user": outsider.pk, "role": "admin", "capacity": 10, "skills": "[]"}
    assert client.post(reverse("admin:crm_membership_add"), data).status_code == 403
    assert not Membership.objects.filter(user=outsider).exists()


def test_a_manager_cannot_rename_the_company(cast, client_for):
    client = client_for(cast.a.manager)
    url = reverse("admin:crm_company_change", args=[cast.a.company.pk])
    data = {"name": "Hijacked", "slug": "alpha", "default_country": "GB"}
    assert client.post(url, data).status_code == 403
    cast.a.company.refresh_from_db()
    assert cast.a.company.name == "Alpha"


def test_a_company_admin_renames_the_company_through_the_service_but_not_its_address(cast, client_for):
    client = client_for(cast.a.admin)
    url = reverse("admin:crm_company_change", args=[cast.a.company.pk])
    response = client.post(url, {"name": " Alpha Ltd ", "slug": "hijacked", "default_country": "ie"})
    assert response.status_code == 302
    cast.a.company.refresh_from_db()
    assert (cast.a.company.name, cast.a.company.slug, cast.a.company.default_country) == ("Alpha Ltd", "alpha", "IE")
    latest = cast.a.company.history.first()
    assert (latest.history_change_reason, latest.history_user) == ("crm.company.changed", cast.a.admin.user)


def test_nobody_changes_their_own_role_or_deactivates_themselves(cast, client_for):
    own = cast.a.admin
    client = client_for(own)
    url = reverse("admin:crm_membership_change", args=[own.pk])
    form = client.get(url).context["adminform"].form
    assert "role" not in form.fields
    assert "is_active" not in form.fields
    response = client.post(url, membership_form(own, role="sdr", is_active=None, territory="HQ"))
    assert response.status_code == 302
    own.refresh_from_db()
    assert (own.role, own.is_active, own.territory) == ("admin", True, "HQ")
    assert client.get(reverse("admin:crm_membership_delete", args=[own.pk])).status_code == 403


def test_a_company_admin_grants_any_role_they_hold(cast, client_for):
    client = client_for(cast.a.admin)
    url = reverse("admin:crm_membership_change", args=[cast.a.sdr2.pk])
    assert [value for value, _ in client.get(url).context["adminform"].form.fields["role"].choices] == [
        "admin",
        "manager",
        "sdr",
    ]
    assert client.post(url, membership_form(cast.a.sdr2, role="manager")).status_code == 302
    cast.a.sdr2.refresh_from_db()
    assert cast.a.sdr2.role == "manager"
    assert cast.a.sdr2.history.first().history_user == cast.a.admin.user


def test_a_role_is_granted_only_by_someone_holding_it_or_above():
    assert [(holder, role) for holder in Role.values for role in Role.values if role_covers(holder, role)] == [
        ("admin", "admin"),
        ("admin", "manager"),
        ("admin", "sdr"),
        ("manager", "manager"),
        ("manager", "sdr"),
        ("sdr", "sdr"),
    ]


def test_a_membership_never_moves_to_another_company_or_user(cast, client_for):
    client = client_for(cast.a.admin)
    url = reverse("admin:crm_membership_change", args=[cast.a.sdr1.pk])
    data = membership_form(cast.a.sdr1, company=cast.b.company.pk, user=cast.a.admin.user.pk)
    assert client.post(url, data).status_code == 302
    cast.a.sdr1.refresh_from_db()
    assert (cast.a.sdr1.company, cast.a.sdr1.user.email) == (cast.a.company, "sdr1@alpha.test")


def test_a_company_admin_adds_a_membership_in_their_company_only(cast, client_for):
    newcomer = UserFactory(email="newcomer@example.test")
    membership_create(company=cast.b.company, user=newcomer, role="sdr")
    client = client_for(cast.a.admin)
    form = client.get(reverse("admin:crm_membership_add")).context["adminform"].form
    assert list(form.fields["company"].queryset.values_list("slug", flat=True)) == ["alpha"]
    data = {"company": cast.b.company.pk, "user": cast.a.sdr1.user.pk, "role": "admin", "capacity": 10, "skills": "[]"}
    response = client.post(reverse("admin:crm_membership_add"), data)
    assert response.context["adminform"].form.errors["company"] == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert Membership.objects.filter(company=cast.b.company).count() == 5


def test_superusers_keep_every_right(cast, client, superuser):
    client.force_login(superuser)
    url = reverse("admin:crm_membership_change", args=[cast.a.sdr1.pk])
    assert client.post(url, membership_form(cast.a.sdr1, role="admin")).status_code == 302
    cast.a.sdr1.refresh_from_db()
    assert cast.a.sdr1.role == "admin"
    response = client.post(reverse("admin:crm_membership_delete", args=[cast.a.sdr1.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=cast.a.sdr1.pk).exists()
