import pytest
from django.core.exceptions import ValidationError

from crm import services
from crm.models import Role
from crm.queries import memberships_visible_to, team_member_ids
from crm.testing.factories import CompanyFactory, UserFactory


@pytest.fixture
def hierarchy(db):
    """admin → head (manager) → lead (manager) → rep (sdr); head → solo (sdr); other → stranger."""
    company = CompanyFactory(slug="tree")

    def add(name, role, manager=None):
        user = UserFactory(email=f"{name}@tree.test")
        return services.membership_create(company=company, user=user, role=role, manager=manager)

    admin = add("admin", Role.ADMIN)
    head = add("head", Role.MANAGER, admin)
    lead = add("lead", Role.MANAGER, head)
    rep = add("rep", Role.SDR, lead)
    solo = add("solo", Role.SDR, head)
    other = add("other", Role.MANAGER, admin)
    stranger = add("stranger", Role.SDR, other)
    return {m.user.email.split("@")[0]: m for m in (admin, head, lead, rep, solo, other, stranger)}


def names(queryset):
    return sorted(m.user.email.split("@")[0] for m in queryset.select_related("user"))


def test_a_manager_sees_their_whole_reporting_tree_at_any_depth(hierarchy):
    assert names(memberships_visible_to(hierarchy["head"])) == ["head", "lead", "rep", "solo"]


def test_a_middle_manager_sees_only_the_tree_below_them(hierarchy):
    assert names(memberships_visible_to(hierarchy["lead"])) == ["lead", "rep"]


def test_an_sdr_sees_only_themselves(hierarchy):
    assert names(memberships_visible_to(hierarchy["rep"])) == ["rep"]


def test_a_company_admin_sees_everyone_in_the_company(hierarchy, cast):
    assert names(memberships_visible_to(hierarchy["admin"])) == [
        "admin",
        "head",
        "lead",
        "other",
        "rep",
        "solo",
        "stranger",
    ]


def test_team_ids_cost_one_query_whatever_the_depth(hierarchy, django_assert_num_queries):
    head = hierarchy["head"]
    with django_assert_num_queries(1):
        ids = team_member_ids(head)
        team_member_ids(head)
    assert ids == {hierarchy[n].pk for n in ("head", "lead", "rep", "solo")}


def test_a_manager_of_another_company_is_refused(hierarchy, cast):
    rep = hierarchy["rep"]
    rep.manager = cast.b.manager
    with pytest.raises(ValidationError) as error:
        rep.full_clean()
    assert error.value.message_dict == {"manager": ["The manager must belong to the same company."]}


def test_a_reporting_cycle_is_refused(hierarchy):
    head = hierarchy["head"]
    head.manager = hierarchy["rep"]
    with pytest.raises(ValidationError) as error:
        head.full_clean()
    assert error.value.message_dict == {"manager": ["This would make the member their own manager."]}


def test_membership_create_refuses_a_manager_from_another_company(cast):
    user = UserFactory(email="new@alpha.test")
    with pytest.raises(ValidationError) as error:
        services.membership_create(company=cast.a.company, user=user, manager=cast.b.manager)
    assert error.value.message_dict == {"manager": ["The manager must belong to the same company."]}
    assert not user.memberships.exists()
