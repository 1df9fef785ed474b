"""``manage.py seed_load``: the company a load test drives (``bench/scaleout.py``).

One fresh company: an admin, managers reporting to the admin, SDRs shared out between the managers'
teams, partner members with one API token each, and generated leads (``leads.generate``), each
given the initial status change a lead made by the app has (the generator writes none). Every
person gets the same password, hashed once. The logins, token keys, status and campaign ids, the
countries and surnames found in the leads are written to ``--plan`` (JSON, readable only by its
owner: it holds the keys), which ``bench/locustfile.py`` reads.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Count

from crm import services
from crm.models import Company, Membership, Role, User
from leads import vendor
from leads.generate import leads_generate
from leads.models import Campaign, Lead, LeadStatus, StatusChange

PLAN_COUNTRIES = 8
PLAN_SURNAMES = 40
PARTNER_TERRITORY = "partner"


class Command(BaseCommand):
    help = (
        "Create the company a load test drives: an admin, --managers managers, --sdrs SDRs in their "
        "teams, --partners partner members with an API token each, and --leads generated leads. "
        "Logins, token keys and the ids the load test needs go to --plan (JSON, mode 0600)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--company", default="load", metavar="SLUG", help="Slug of the new company (default load).")
        parser.add_argument("--plan", required=True, metavar="FILE", help="Where to write the plan (JSON).")
        parser.add_argument("--password", required=True, help="The password of every load user.")
        parser.add_argument("--sdrs", type=int, default=20, metavar="N", help="SDRs (default 20).")
        parser.add_argument("--managers", type=int, default=3, metavar="N", help="Managers (default 3).")
        parser.add_argument("--partners", type=int, default=2, metavar="N", help="Partner API members (default 2).")
        parser.add_argument("--leads", type=int, default=50_000, metavar="N", help="Generated leads (default 50,000).")
        parser.add_argument("--seed", type=int, default=17, help="Random seed of the generated leads (default 17).")

    def handle(self, *args, **options):
        self._check(options)
        plan_path = Path(options["plan"])
        if not plan_path.parent.is_dir():
            raise CommandError(f"--plan: the folder {plan_path.parent} does not exist.")
        people = self._people(options)
        company, keys = self._company(options["company"], people, options["password"])
        result = leads_generate(company=company, count=options["leads"], seed=options["seed"])
        initial_status_changes(company)
        vendor.refresh_statistics()  # the planner should know the tables it was just handed
        plan = load_plan(company, password=options["password"], keys=keys)
        _write_private(plan_path, json.dumps(plan, indent=2))
        self.stdout.write(
            f"{company.slug}: {len(plan['sdrs'])} SDRs, {len(plan['managers'])} managers, "
            f"{len(plan['partners'])} partners, {result.created} leads ({result.seconds:.1f} s); plan in {plan_path}"
        )

    def _check(self, options) -> None:
        for name, least in (("sdrs", 1), ("managers", 1), ("partners", 0), ("leads", 0)):
            if options[name] < least:
                raise CommandError(f"--{name} must be at least {least}.")
        if len(options["password"]) < 8:
            raise CommandError("--password must have at least 8 characters.")
        if Company.objects.filter(slug=options["company"]).exists():
            raise CommandError(
                f"A company {options['company']!r} already exists: seed_load fills a fresh database "
                "(or choose another --company)."
            )

    def _people(self, options) -> list[tuple[str, str, str]]:
        """(email, full name, role) of everyone, the admin first, then managers, SDRs, partners."""
        domain = f"{options['company']}.load.test"
        people = [(f"admin@{domain}", "Load Admin", Role.ADMIN)]
        people += [
            (f"manager{n:02}@{domain}", f"Manager {n:02}", Role.MANAGER) for n in range(1, options["managers"] + 1)
        ]
        people += [(f"sdr{n:02}@{domain}", f"SDR {n:02}", Role.SDR) for n in range(1, options["sdrs"] + 1)]
        people += [(f"partner{n:02}@{domain}", f"Partner {n:02}", "partner") for n in range(1, options["partners"] + 1)]
        taken = list(User.objects.filter(email__in=[email for email, _, _ in people]).values_list("email", flat=True))
        if taken:
            raise CommandError(f"These users already exist: {', '.join(sorted(taken))}. Use a fresh database.")
        return people

    @transaction.atomic
    def _company(self, slug: str, people: list[tuple[str, str, str]], password: str) -> tuple[Company, dict]:
        """The company and its members; returns the partners' token keys by membership id."""
        company = services.company_create(name=f"Load test {slug}", slug=slug)
        admin, managers, sdrs, keys = None, [], 0, {}
        for email, full_name, role in people:
            user = User.objects.create_user(email=email, full_name=full_name)
            if role == Role.ADMIN:
                admin = services.membership_create(company=company, user=user, role=Role.ADMIN)
            elif role == Role.MANAGER:
                managers.append(services.membership_create(company=company, user=user, role=role, manager=admin))
            elif role == Role.SDR:
                team_lead = managers[sdrs % len(managers)]
                services.membership_create(company=company, user=user, role=Role.SDR, manager=team_lead)
                sdrs += 1
            else:  # a partner system: an SDR-level member whose API token posts leads
                partner = services.membership_create(
                    company=company, user=user, role=Role.SDR, manager=admin, territory=PARTNER_TERRITORY
                )
                _token, keys[partner.pk] = services.api_token_create(user=user, name="load test partner")
        # One hash for all: hashing per user would cost a second of CPU each.
        User.objects.filter(email__in=[email for email, _, _ in people]).update(password=make_password(password))
        return company, keys


def load_plan(company: Company, *, password: str, keys: dict[int, str]) -> dict:
    """What the load test needs to know about ``company``; ``keys``: the partners' API token keys by
    membership id (a key exists only when its token is made)."""
    members = Membership.objects.filter(company=company).select_related("user").order_by("user__email")
    managers = [m for m in members if m.role == Role.MANAGER]
    partners = [m for m in members if m.territory == PARTNER_TERRITORY]
    return {
        "company": {"id": company.pk, "slug": company.slug},
        "password": password,
        "statuses": dict(LeadStatus.objects.filter(company=company).values_list("key", "pk")),
        "campaigns": list(
            Campaign.objects.filter(company=company, is_active=True).order_by("pk").values_list("pk", flat=True)
        ),
        "countries": _top_countries(company),
        "surnames": _surnames(company),
        "admin": next({"email": m.user.email, "membership": m.pk} for m in members if m.role == Role.ADMIN),
        "managers": [
            {"email": m.user.email, "membership": m.pk, "team": sorted(r.pk for r in members if r.manager_id == m.pk)}
            for m in managers
        ],
        "sdrs": [
            {"email": m.user.email, "membership": m.pk} for m in members if m.role == Role.SDR and m not in partners
        ],
        "partners": [{"email": m.user.email, "membership": m.pk, "token": keys[m.pk]} for m in partners],
    }


def initial_status_changes(company: Company) -> int:
    """Give each lead of ``company`` without one the status change a lead made by the app starts
    with (into its status, at its creation): generated leads are written without, and the lead
    page's time in status and timeline read them. Returns how many were added."""
    missing = Lead.objects.filter(company=company, status_changes__isnull=True)
    rows = missing.values_list("pk", "status_id", "created_at").order_by("pk")
    made = StatusChange.objects.bulk_create(
        (StatusChange(lead_id=pk, to_status_id=status, changed_at=created) for pk, status, created in rows.iterator()),
        batch_size=5000,
    )
    return len(made)


def _top_countries(company: Company) -> list[str]:
    rows = (
        Lead.objects.filter(company=company)
        .values("country")
        .annotate(n=Count("id"))
        .order_by("-n", "country")[:PLAN_COUNTRIES]
    )
    return [row["country"] for row in rows if row["country"]]


def _surnames(company: Company) -> list[str]:
    names = (
        Lead.objects.filter(company=company).exclude(last_name="").order_by("pk").values_list("last_name", flat=True)
    )
    return sorted(set(names[: PLAN_SURNAMES * 10]))[:PLAN_SURNAMES]


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file only its owner can read (it holds API keys and the password)."""
    if path.exists():
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
