"""Demo accounts, contacts and opportunities for ``seed_demo``.

About twenty believable accounts (plus one per company name of the demo's converted leads, with
their ``LeadConversion`` rows, and a few qualified demo leads put through the scorecard and the
conversion service), one to three contacts each with one primary, and opportunities in
every stage. Everything is written through the services, so keys, probabilities, stage-change rows
and history are real; the demo then moves the timestamps back over the last six months (stage
changes, history rows, created/closed times), as if the pipeline had been worked since then, so
the board's time in stage and the forecast look lived-in.

Deterministic (seeded by the company's slug) and idempotent: a company that already has the first
demo account is left alone.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import services
from accounts.conversion import account_matches, lead_convert
from accounts.models import Account, Contact, ForecastCategory, LeadConversion, Opportunity, Stage
from accounts.qualification import lead_qualify
from accounts.queries import accounts_matching
from accounts.validation import default_currency
from crm.demo import DemoClock, later
from crm.models import ActivityKind, ActivityOutcome, Company, Membership, Role
from leads.demo import FIRST, LAST
from leads.models import Lead
from leads.normalize import fold

HISTORY_DAYS = 180


@dataclass(frozen=True)
class DemoAccount:
    name: str
    domain: str
    industry: str
    size: str
    account_type: str = "prospect"
    lifecycle: str = "sqa"
    health: str = "green"
    country: str = ""  # empty: the company's
    gstin: str = ""
    parent: str = ""


ACCOUNTS = [
    DemoAccount("Northwind Traders Ltd", "northwind-traders.example", "Wholesale", "201-1000", "customer", "customer"),
    DemoAccount("Northwind Traders GmbH", "northwind-traders.de.example", "Wholesale", "51-200", "customer",
                "customer", country="DE", parent="Northwind Traders Ltd"),
    DemoAccount("Brightline Health", "brightline-health.example", "Healthcare", "1000+"),
    DemoAccount("Contoso Logistics", "contoso-logistics.example", "Logistics", "201-1000", "customer", "customer",
                "yellow"),
    DemoAccount("Fjord Analytics AS", "fjord-analytics.example", "Software", "11-50", country="NO"),
    DemoAccount("Initech Software", "initech.example", "Software", "51-200", health="red"),
    DemoAccount("Sahyadri Textiles Pvt Ltd", "sahyadri-textiles.example", "Manufacturing", "201-1000", country="IN",
                gstin="27AAPFU0939F1ZV"),
    DemoAccount("Umbrella Pharma plc", "umbrella-pharma.example", "Pharmaceuticals", "1000+", lifecycle="mqa"),
    DemoAccount("Vandelay Industries", "vandelay.example", "Import/export", "11-50", "partner", "customer"),
    DemoAccount("Harborview Capital", "harborview-capital.example", "Financial services", "51-200"),
    DemoAccount("Keystone Retail Group", "keystone-retail.example", "Retail", "1000+", lifecycle="mqa"),
    DemoAccount("Lumen Energy", "lumen-energy.example", "Energy", "201-1000", health="yellow"),
    DemoAccount("Mosaic Learning", "mosaic-learning.example", "Education", "11-50"),
    DemoAccount("Polaris Robotics", "polaris-robotics.example", "Manufacturing", "51-200", "customer", "customer"),
    DemoAccount("Redwood Insurance", "redwood-insurance.example", "Insurance", "1000+", health="black",
                lifecycle="churned", account_type="customer"),
    DemoAccount("Sapphire Media", "sapphire-media.example", "Media", "11-50", lifecycle="mqa"),
    DemoAccount("Tidewater Foods", "tidewater-foods.example", "Food & beverage", "201-1000"),
    DemoAccount("Zenith Telecom", "zenith-telecom.example", "Telecommunications", "1000+"),
    DemoAccount("Cobalt Security", "cobalt-security.example", "Cybersecurity", "51-200", "partner"),
    DemoAccount("Evergreen Clinics", "evergreen-clinics.example", "Healthcare", "201-1000"),
]  # fmt: skip
TITLES = [("CFO", "economic_buyer", "high"), ("Head of Sales", "decision_maker", "high"),
          ("Sales Ops Lead", "champion", "medium"), ("IT Manager", "influencer", "medium"),
          ("Executive Assistant", "gatekeeper", "low"), ("Account Executive", "user", "low")]  # fmt: skip
PRODUCTS = ["CRM Professional", "CRM Enterprise", "Analytics add-on", "Onboarding package", "API access"]
LOST_REASONS = ["Chose a competitor on price", "No budget this year", "Went quiet after the proposal",
                "Timing: they will look again next year", "Building it in-house"]  # fmt: skip
# (final stage index into the open stages, or "won"/"lost") and how many opportunities end there:
# the board gets every column, with fewer deals the further along.
PLAN = [(0, 10), (1, 9), (2, 8), (3, 6), ("won", 9), ("lost", 7)]
OPEN_CATEGORIES = [ForecastCategory.WORST_CASE, ForecastCategory.MOST_LIKELY, ForecastCategory.BEST_CASE,
                   ForecastCategory.COMMIT]  # fmt: skip


@transaction.atomic
def seed_company_accounts(company: Company) -> str:
    if Account.objects.filter(company=company, name=ACCOUNTS[0].name).exists():
        return "demo accounts already present"
    rng = random.Random(f"accounts:{company.slug}")
    members = list(Membership.objects.filter(company=company, is_active=True).order_by("id"))
    sellers = [m for m in members if m.role == Role.SDR] or members
    now = timezone.now()
    accounts = _accounts(company, rng, members, sellers, now)
    converted = _converted_leads(company, members, now) + _lead_conversions(company, now)
    stages = list(Stage.objects.filter(company=company, is_active=True))
    deals = _opportunities(company, rng, accounts, stages, now)
    _activities(rng, accounts, now)
    return (f"{len(accounts) + converted} demo accounts ({converted} from converted leads), "
            f"{Contact.objects.filter(company=company).count()} contacts, {deals} opportunities")  # fmt: skip


# --- accounts and contacts ----------------------------------------------------------------------------


def _accounts(company, rng, members, sellers, now) -> list[Account]:
    accounts: dict[str, Account] = {}
    for spec in ACCOUNTS:
        owner = rng.choice(sellers + members[:1])
        data = {
            "name": spec.name, "domain": spec.domain, "website": f"https://www.{spec.domain}",
            "industry": spec.industry, "company_size": spec.size, "account_type": spec.account_type,
            "lifecycle_stage": spec.lifecycle, "health_score": spec.health, "country": spec.country,
            "gstin": spec.gstin, "owner": owner,
            "annual_revenue": Decimal(round(rng.lognormvariate(16, 1.2), -3)).quantize(Decimal("0.01")),
        }  # fmt: skip
        if spec.parent:
            data["parent"] = accounts[spec.parent]
        account = services.account_create(actor=owner, company=company, data=data)
        _backdate(account, now - dt.timedelta(days=HISTORY_DAYS + rng.randint(5, 200)))
        accounts[spec.name] = account
        for n in range(rng.choice([1, 2, 2, 3])):
            _contact(account, owner, rng, primary=n == 0)
    return list(accounts.values())


def _contact(account: Account, owner: Membership, rng: random.Random, *, primary: bool, **data) -> Contact:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    title, role, influence = rng.choice(TITLES)
    email_local = "".join(ch for ch in fold(f"{first}.{last}") if ch.isascii() and (ch.isalnum() or ch == "."))
    defaults = {
        "account": account, "first_name": first, "last_name": last, "job_title": title, "role": role,
        "influence": influence, "email": f"{email_local}@{account.domain}", "is_primary": primary,
        "gdpr_consent": rng.random() < 0.7, "owner": owner,
    }  # fmt: skip
    contact = services.contact_create(actor=owner, company=account.company, data={**defaults, **data})
    _backdate(contact, account.created_at + dt.timedelta(days=rng.randint(0, 20)))
    return contact


def _converted_leads(company: Company, members, now) -> int:
    """An account, contact and opportunity for each converted demo lead that has none yet (grouped
    by the lead's company name), with its ``LeadConversion`` row."""
    leads = Lead.objects.filter(company=company, conversion__isnull=True).filter(
        Q(converted_at__isnull=False) | Q(status__key="converted")
    )
    created = 0
    for lead in leads.select_related("owner").order_by("id"):
        actor = lead.owner or members[0]
        account = accounts_matching(company, domain=lead.email, name=lead.company_name).first()
        if account is None:
            name = lead.company_name or f"{lead.display_name} (converted lead)"
            account = services.account_create(actor=actor, company=company, data={"name": name, "owner": actor,
                                                                                   "lifecycle_stage": "sqa"})  # fmt: skip
            created += 1
        contact = services.contact_create(actor=actor, company=company, data={
            "account": account, "first_name": lead.first_name, "last_name": lead.last_name or lead.email,
            "email": lead.email, "phone": lead.phone_key, "job_title": lead.job_title, "owner": actor,
            "is_primary": not account.contacts.filter(is_primary=True).exists(),
        })  # fmt: skip
        deal = services.opportunity_create(actor=actor, company=company, data={
            "name": f"{account.name} — first order", "account": account, "primary_contact": contact, "lead": lead,
            "source": lead.lead_source, "owner": actor, "amount": Decimal("5000.00"),
            "currency": default_currency(company.default_country), "close_date": now.date() + dt.timedelta(days=60),
        })  # fmt: skip
        LeadConversion.objects.create(company=company, lead=lead, account=account, contact=contact,
                                      opportunity=deal, converted_by=actor, converted_at=lead.converted_at or now)  # fmt: skip
    return created


CONVERSIONS = 4  # qualified demo leads that become an account, a contact and a deal
BANT_ANSWERS = {"budget": "About 40k a year", "authority": "Decision maker", "need": "One CRM for three SDR teams",
                "timeline": "Live this quarter"}  # fmt: skip
MEDDICC_ANSWERS = {"metrics": "Halve the time to first response", "champion": "Their head of sales ops"}


def _lead_conversions(company: Company, now) -> int:
    """A few qualified demo leads go the whole way: the owner fills in the scorecard, then converts
    the lead into a new account with a first deal (the conversion-rate figures count these)."""
    rng = random.Random(f"conversions:{company.slug}")
    leads, names = [], set()
    qualified = Lead.objects.filter(company=company, status__key="qualified", owner__isnull=False,
                                    conversion__isnull=True).select_related("owner", "status").order_by("id")  # fmt: skip
    for lead in qualified:
        # A company the demo already has an account for (owned by someone else) is left to a manager.
        if lead.company_name not in names and len(leads) < CONVERSIONS and not account_matches(lead, fuzzy=False):
            names.add(lead.company_name)
            leads.append(lead)
    with DemoClock() as clock:
        for lead in leads:
            at = later(rng, lead.status_changed_at, now)
            clock.at(at)
            lead_qualify(actor=lead.owner, lead=lead, bant=BANT_ANSWERS, meddicc=MEDDICC_ANSWERS)
            clock.at(later(rng, at, now))
            lead_convert(actor=lead.owner, lead=lead, opportunity={
                "name": f"{lead.company_name} — first order", "amount": str(rng.choice([6000, 12000, 24000])),
                "close_date": (now + dt.timedelta(days=rng.randint(20, 90))).date().isoformat(),
            })  # fmt: skip
    return len(leads)


# --- opportunities with six months of stage history ----------------------------------------------------


def _opportunities(company, rng, accounts: list[Account], stages: list[Stage], now) -> int:
    open_stages = [s for s in stages if not s.is_closed]
    won = next(s for s in stages if s.is_won)
    lost = next(s for s in stages if s.is_lost)
    currency = default_currency(company.default_country)
    count = 0
    for final, how_many in PLAN:
        for _ in range(how_many):
            account = rng.choice(accounts)
            if final == "won":
                path = [*open_stages, won]
            elif final == "lost":
                path = [*open_stages[: rng.randint(1, len(open_stages))], lost]
            else:
                path = open_stages[: final + 1]
            _opportunity(account, path, currency, rng, now)
            count += 1
    return count


def _timeline(rng: random.Random, steps: int, now: dt.datetime) -> list[dt.datetime]:
    """When the opportunity entered each of ``steps`` stages: spread over the last six months, the
    latest at least a day ago."""
    start = now - dt.timedelta(days=rng.uniform(steps * 6, HISTORY_DAYS))
    span = (now - dt.timedelta(days=1) - start).total_seconds()
    cuts = sorted(rng.uniform(0, span) for _ in range(steps - 1))
    return [start] + [start + dt.timedelta(seconds=cut) for cut in cuts]


def _opportunity(account: Account, path: list[Stage], currency: str, rng: random.Random, now) -> Opportunity:
    owner = account.owner
    times = _timeline(rng, len(path), now)
    closed = path[-1].is_closed
    close_date = times[-1].date() if closed else now.date() + dt.timedelta(days=rng.randint(-10, 170))
    contact = account.contacts.filter(is_primary=True).first()
    step = min(len(path) - 1, len(OPEN_CATEGORIES) - 1)
    opportunity = services.opportunity_create(actor=owner, company=account.company, data={
        "name": f"{account.name.split()[0]} — {rng.choice(PRODUCTS)} ({rng.choice([10, 25, 50, 120, 300])} seats)",
        "account": account, "primary_contact": contact, "owner": owner, "currency": currency,
        "amount": Decimal(round(rng.lognormvariate(9.6, 0.8), -2)).quantize(Decimal("0.01")) or Decimal("500.00"),
        "close_date": close_date, "stage": path[0], "source": rng.choice(["Referral", "Webinar", "Outbound", "Website"]),
        "forecast_category": OPEN_CATEGORIES[rng.randint(max(0, step - 1), step)],
        "next_step": "" if closed else rng.choice(["Send the proposal", "Book a demo for the team", "Call the CFO",
                                                   "Security review", "Agree the rollout plan"]),
    })  # fmt: skip
    for stage in path[1:]:
        lost_reason = rng.choice(LOST_REASONS) if stage.is_lost else None
        opportunity = services.opportunity_change_stage(actor=owner, opportunity=opportunity, stage=stage,
                                                        lost_reason=lost_reason)  # fmt: skip
    _backdate_stages(opportunity, times)
    return opportunity


def _backdate(record, at: dt.datetime) -> None:
    """Move a record's creation (its ``created_at`` and first history row) to ``at``."""
    type(record).objects.filter(pk=record.pk).update(created_at=at)
    record.created_at = at
    first = record.history.order_by("history_id").first()
    type(first).objects.filter(pk=first.pk).update(history_date=at)


def _backdate_stages(opportunity: Opportunity, times: list[dt.datetime]) -> None:
    """The n-th stage change (and the n-th history row: creation, then one per move) happened at
    ``times[n]``; each stay ends when the next begins."""
    changes = list(opportunity.stage_changes.order_by("id"))
    history = list(opportunity.history.order_by("history_id"))
    for n, (change, row) in enumerate(zip(changes, history, strict=True)):
        left = times[n + 1] if n + 1 < len(times) else None
        type(change).objects.filter(pk=change.pk).update(changed_at=times[n], left_at=left)
        type(row).objects.filter(pk=row.pk).update(history_date=times[n])
    Opportunity.objects.filter(pk=opportunity.pk).update(
        created_at=times[0], stage_changed_at=times[-1], closed_at=times[-1] if opportunity.closed_at else None
    )


def _activities(rng: random.Random, accounts: list[Account], now) -> None:
    """Calls, meetings and emails on deals and contacts, after each deal started."""
    kinds = [ActivityKind.CALL, ActivityKind.MEETING, ActivityKind.EMAIL, ActivityKind.WHATSAPP]
    subjects = {"call": "Discovery call", "meeting": "Demo with the team", "email": "Sent the proposal",
                "whatsapp": "Quick check-in"}  # fmt: skip
    opportunities = Opportunity.objects.filter(account__in=accounts).select_related("owner", "company")
    for opportunity in opportunities.order_by("id"):
        started, ended = opportunity.created_at, opportunity.closed_at or now
        for _ in range(rng.randint(0, 3)):
            kind = rng.choice(kinds)
            at = started + (ended - started) * rng.random()
            services.activity_log(actor=opportunity.owner, record=opportunity, kind=kind, subject=subjects[kind],
                                  outcome=rng.choice(ActivityOutcome.values), occurred_at=at)  # fmt: skip
    for contact in Contact.objects.filter(account__in=accounts, is_primary=True).select_related("owner", "company"):
        services.activity_log(actor=contact.owner, record=contact, kind=ActivityKind.NOTE, subject="Prefers email",
                              occurred_at=now - dt.timedelta(days=rng.randint(1, 90)))  # fmt: skip
