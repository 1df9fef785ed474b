"""The demo cast, shared by ``seed_demo``: two companies, each with an admin, a manager and two SDRs
in two teams, one person who works for both, and an ops superuser."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from crm import services
from crm.models import Company, Membership, Role, User

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 — printed for the demo on purpose


@dataclass(frozen=True)
class DemoPerson:
    email: str
    full_name: str
    role: str
    reports_to: str | None  # email of the manager in the same company
    territory: str = ""
    skills: tuple[str, ...] = ()
    is_staff: bool = False


DEMO_COMPANIES = {
    ("acme", "Acme Corp", "GB"): [
        DemoPerson("admin@acme.test", "Ada Admin", Role.ADMIN, None, "EMEA", ("en",), True),
        DemoPerson("manager@acme.test", "Max Manager", Role.MANAGER, "admin@acme.test", "EMEA", ("en", "de"), True),
        DemoPerson("sara@acme.test", "Sara SDR", Role.SDR, "manager@acme.test", "UK", ("en",)),
        DemoPerson("sam@acme.test", "Sam SDR", Role.SDR, "admin@acme.test", "DACH", ("de", "en")),
    ],
    ("globex", "Globex Inc", "US"): [
        DemoPerson("admin@globex.test", "Gail Admin", Role.ADMIN, None, "AMER", ("en",), True),
        DemoPerson("manager@globex.test", "Gus Manager", Role.MANAGER, "admin@globex.test", "AMER", ("en", "es"), True),
        DemoPerson("tina@globex.test", "Tina SDR", Role.SDR, "manager@globex.test", "US East", ("en",)),
        DemoPerson("sara@acme.test", "Sara SDR", Role.SDR, "admin@globex.test", "US West", ("en", "es")),
    ],
}
OPS_EMAIL = "ops@demo.test"


def _user(email: str, full_name: str, *, is_staff: bool = False) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=DEMO_PASSWORD, full_name=full_name, is_staff=is_staff)
    elif is_staff and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return user


@transaction.atomic
def seed_cast() -> list[Company]:
    """Create the demo companies and people; a second run changes nothing."""
    companies = []
    for (slug, name, country), people in DEMO_COMPANIES.items():
        company = Company.objects.filter(slug=slug).first() or services.company_create(
            name=name, slug=slug, default_country=country
        )
        companies.append(company)
        by_email: dict[str, Membership] = {}
        for person in people:
            user = _user(person.email, person.full_name, is_staff=person.is_staff)
            membership = Membership.objects.filter(company=company, user=user).first()
            if membership is None:
                membership = services.membership_create(
                    company=company,
                    user=user,
                    role=person.role,
                    manager=by_email.get(person.reports_to),
                    territory=person.territory,
                    skills=list(person.skills),
                )
            by_email[person.email] = membership
    if not User.objects.filter(email=OPS_EMAIL).exists():
        User.objects.create_superuser(email=OPS_EMAIL, password=DEMO_PASSWORD, full_name="Olive Ops")
    return companies


def demo_logins() -> list[tuple[str, str]]:
    rows = [(OPS_EMAIL, "superuser (Django admin for ops)")]
    seen: dict[str, list[str]] = {}
    for (_slug, name, _country), people in DEMO_COMPANIES.items():
        for person in people:
            seen.setdefault(person.email, []).append(f"{Role(person.role).label} at {name}")
    rows += [(email, ", ".join(roles)) for email, roles in seen.items()]
    return rows
