"""The fixed test cast (STYLE.md): two companies, each with an admin, a manager and two SDRs in two
teams — sdr1 reports to the manager, sdr2 directly to the admin."""

from __future__ import annotations

from dataclasses import dataclass

from crm import services
from crm.models import Company, Membership, Role
from crm.testing.factories import UserFactory

ROLES = ("admin", "manager", "sdr1", "sdr2")


@dataclass
class Tenant:
    company: Company
    admin: Membership
    manager: Membership
    sdr1: Membership
    sdr2: Membership

    def member(self, role_name: str) -> Membership:
        return getattr(self, role_name)


@dataclass
class Cast:
    a: Tenant
    b: Tenant


def build_tenant(slug: str, name: str) -> Tenant:
    company = services.company_create(name=name, slug=slug, default_country="GB")

    def member(local: str, full_name: str, role: str, manager=None, **extra) -> Membership:
        user = UserFactory(email=f"{local}@{slug}.test", full_name=full_name, is_staff=role != Role.SDR)
        return services.membership_create(company=company, user=user, role=role, manager=manager, **extra)

    admin = member("admin", f"{name} Admin", Role.ADMIN)
    manager = member("manager", f"{name} Manager", Role.MANAGER, admin, territory="EMEA")
    sdr1 = member("sdr1", f"{name} SDR One", Role.SDR, manager, territory="UK", skills=["en"])
    sdr2 = member("sdr2", f"{name} SDR Two", Role.SDR, admin, territory="DACH", skills=["de"])
    return Tenant(company, admin, manager, sdr1, sdr2)


def build_cast() -> Cast:
    return Cast(a=build_tenant("alpha", "Alpha"), b=build_tenant("bravo", "Bravo"))
