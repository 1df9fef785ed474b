"""The visibility matrix per role: admins see the company, managers their reporting tree, SDRs their
own; an account is also visible to whoever owns one of its opportunities or contacts."""

import pytest

from accounts.queries import accounts_visible_to, contacts_visible_to, opportunities_visible_to
from accounts.testing.factories import make_account, make_contact, make_opportunity


@pytest.fixture
def world(cast):
    """In each company: one account per member (owned by them, with a contact and a deal they own),
    plus an admin-owned account where sdr2 owns only a contact and sdr1 only a deal."""
    made = {}
    for tenant in (cast.a, cast.b):
        for role in ("admin", "manager", "sdr1", "sdr2"):
            member = tenant.member(role)
            account = make_account(tenant.company, owner=member, name=f"{tenant.company.slug}-{role}")
            made[(tenant.company.slug, role)] = (
                account, make_contact(account, owner=member), make_opportunity(account, owner=member),
            )  # fmt: skip
        shared = make_account(tenant.company, owner=tenant.admin, name=f"{tenant.company.slug}-shared")
        made[(tenant.company.slug, "shared")] = (
            shared, make_contact(shared, owner=tenant.sdr2), make_opportunity(shared, owner=tenant.sdr1),
        )  # fmt: skip
    return made


EXPECTED_ACCOUNTS = {
    "admin": {"admin", "manager", "sdr1", "sdr2", "shared"},
    "manager": {"manager", "sdr1", "shared"},
    "sdr1": {"sdr1", "shared"},
    "sdr2": {"sdr2", "shared"},
}
EXPECTED_OPPORTUNITIES = {
    "admin": {"admin", "manager", "sdr1", "sdr2", "shared"},
    "manager": {"manager", "sdr1", "shared"},
    "sdr1": {"sdr1", "shared"},
    "sdr2": {"sdr2"},
}
EXPECTED_CONTACTS = {
    "admin": {"admin", "manager", "sdr1", "sdr2", "shared"},
    "manager": {"manager", "sdr1"},
    "sdr1": {"sdr1"},
    "sdr2": {"sdr2", "shared"},
}


def _keys(world, index, queryset):
    by_pk = {objects[index].pk: key[1] for key, objects in world.items() if key[0] == "alpha"}
    foreign = {objects[index].pk for key, objects in world.items() if key[0] == "bravo"}
    pks = set(queryset.values_list("pk", flat=True))
    assert not pks & foreign
    return {by_pk[pk] for pk in pks}


@pytest.mark.parametrize("role", ["admin", "manager", "sdr1", "sdr2"])
def test_each_role_sees_exactly_its_records(cast, world, role):
    member = cast.a.member(role)
    assert _keys(world, 0, accounts_visible_to(member)) == EXPECTED_ACCOUNTS[role]
    assert _keys(world, 1, contacts_visible_to(member)) == EXPECTED_CONTACTS[role]
    assert _keys(world, 2, opportunities_visible_to(member)) == EXPECTED_OPPORTUNITIES[role]


def test_the_people_at_an_account_one_owns_are_visible(cast):
    account = make_account(cast.a.company, owner=cast.a.sdr2)
    contact = make_contact(account, owner=cast.a.admin)
    assert list(contacts_visible_to(cast.a.sdr2)) == [contact]
    assert list(contacts_visible_to(cast.a.sdr1)) == []
