from io import StringIO

from django.core.management import call_command

from crm.models import Company, Membership, User


def snapshot():
    return (
        sorted(Company.objects.values_list("slug", "name", "default_country")),
        sorted(User.objects.values_list("email", "password", "is_staff", "is_superuser")),
        sorted(Membership.objects.values_list("company__slug", "user__email", "role", "manager__user__email")),
        Company.history.count() + Membership.history.count(),
    )


def test_seed_demo_creates_the_cast_and_prints_logins(db):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert Company.objects.count() == 2
    assert Membership.objects.filter(user__email="sara@acme.test").count() == 2
    assert User.objects.get(email="ops@demo.test").is_superuser is True
    assert "admin@acme.test        Company admin at Acme Corp" in out.getvalue()
    assert "password for all: demo-pass-2026" in out.getvalue()


def test_seed_demo_twice_changes_nothing(db):
    call_command("seed_demo", stdout=StringIO())
    first = snapshot()
    call_command("seed_demo", stdout=StringIO())
    assert snapshot() == first
