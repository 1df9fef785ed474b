"""The demo cast, shared by ``seed_demo``: two companies, each with an admin, a manager and two SDRs
in two teams, one person who works for both, and an ops superuser."""

from __future__ import annotations

import bisect
import datetime as dt
import random
from dataclasses import dataclass

from django.apps import apps
from django.db import connection, models, transaction
from django.utils import timezone

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


# --- when things happened ----------------------------------------------------------------------------

DEMO_APPS = ("crm", "leads", "accounts", "nurturing")


def recent_moment(rng: random.Random, now: dt.datetime, days: int = 90) -> dt.datetime:
    """A working-hours moment of the last ``days``: recent days more often, weekends rarely."""
    moment = now - dt.timedelta(days=days * rng.random() ** 1.7)
    if moment.weekday() >= 5 and rng.random() < 0.85:  # a weekend day becomes the Friday before
        moment -= dt.timedelta(days=moment.weekday() - 4)
    moment = moment.replace(hour=rng.randint(8, 17), minute=rng.randint(0, 59), second=rng.randint(0, 59))
    # Moving to the Friday before or to a morning hour may cross the window's first day: a day later.
    while moment < now - dt.timedelta(days=days):
        moment += dt.timedelta(days=1)
    return min(moment, now - dt.timedelta(minutes=rng.randint(5, 90)))


def later(rng: random.Random, after: dt.datetime, now: dt.datetime) -> dt.datetime:
    """A follow-up: some way between ``after`` and ``now`` (so a lead's events stay in order)."""
    return after + (now - after) * rng.uniform(0.02, 0.3)


class DemoClock:
    """Says *when* each demo write happened, so the seeded data has a past.

    The services stamp every row with the real time. Inside ``with DemoClock() as clock``, call
    ``clock.at(moment)`` before a service call; on exit every datetime column of the demo apps
    stamped since then is moved to that moment (plus its few real microseconds, which keeps the
    order of one call's rows). Only rows written inside the block are touched, and only their
    timestamps: the rows themselves, with their history, come from the services."""

    def __init__(self) -> None:
        self.marks: list[tuple[dt.datetime, dt.datetime]] = []  # (real start, pretended moment)

    def __enter__(self) -> DemoClock:
        self.started = timezone.now()
        return self

    def at(self, moment: dt.datetime) -> None:
        self.marks.append((timezone.now(), moment))

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None and self.marks:
            self._rebase(self.started, timezone.now())

    def _moved(self, value: dt.datetime) -> dt.datetime:
        index = max(bisect.bisect_right(self._starts, value) - 1, 0)
        start, moment = self.marks[index]
        return moment + max(value - start, dt.timedelta(0))

    def _rebase(self, started: dt.datetime, ended: dt.datetime) -> None:
        self._starts = [real for real, _ in self.marks]
        for label in DEMO_APPS:
            for model in apps.get_app_config(label).get_models():
                for field in model._meta.concrete_fields:
                    if isinstance(field, models.DateTimeField):
                        self._rebase_column(model, field.attname, started, ended)

    def _rebase_column(self, model, name: str, started: dt.datetime, ended: dt.datetime) -> None:
        rows = list(model._base_manager.filter(**{f"{name}__range": (started, ended)}).values_list("pk", name))
        if not rows:
            return
        # One prepared statement for every row (``bulk_update`` builds a CASE per batch: slower).
        quote, adapt = connection.ops.quote_name, connection.ops.adapt_datetimefield_value
        sql = f"UPDATE {quote(model._meta.db_table)} SET {quote(name)} = %s WHERE {quote(model._meta.pk.column)} = %s"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.executemany(sql, [(adapt(self._moved(value)), pk) for pk, value in rows])
