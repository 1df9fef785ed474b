"""Demo leads for ``seed_demo``: campaigns, a default round-robin rule, ~200 varied leads worked
over the last 90 days, planted near-duplicates in the review queue, a few leads in the pool, a saved
view per role, an import with errors (to revert) and a weekly export.

Everything goes through the services (history, assignment log, duplicate queue, scores); the demo
only tells ``DemoClock`` when each call happened. Deterministic (seeded by the company's slug) and
idempotent: each part is skipped when its first row exists.
"""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from crm.demo import DemoClock, later, recent_moment
from crm.models import Company, Membership, Role
from leads import services
from leads.assignment.rules import assignment_rule_create
from leads.assignment.services import lead_release
from leads.dedup import duplicates_scan
from leads.listing import saved_filter_create
from leads.models import (
    AssignmentRule,
    AssignmentStrategy,
    Campaign,
    CustomField,
    ImportJob,
    Lead,
    LeadStatus,
    SavedFilter,
    ScheduledExport,
    Visibility,
)
from leads.normalize import fold
from leads.transfer.jobs import import_job_create, import_job_start
from leads.transfer.mapping import ImportOptions
from leads.transfer.schedules import scheduled_export_save

CAMPAIGNS = [
    ("Spring webinar", "Webinar", "email"),
    ("Google Ads — CRM keywords", "Google Ads", "cpc"),
    ("LinkedIn outbound", "LinkedIn", "social"),
    ("Partner referrals", "Referral", "partner"),
    ("Website contact form", "Website", "organic"),
]
FIRST = ["Ana", "Ben", "Chloé", "Dev", "Elif", "Finn", "Grace", "Hiro", "Ines", "Jonas", "Kofi", "Lena", "Mateo",
         "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Uma", "Viktor", "Wen", "Yusuf", "Zoe"]  # fmt: skip
LAST = ["Souza", "Okafor", "Müller", "Patel", "Kowalski", "Nakamura", "García", "Smith", "Haddad", "Larsen",
        "Rossi", "Dubois", "Novak", "Kim", "Fischer", "O'Brien", "Silva", "Jensen", "Ivanova", "Chen"]  # fmt: skip
COMPANIES = ["Northwind Ltd", "Contoso GmbH", "Initech LLC", "Umbrella plc", "Hooli Inc.", "Vandelay Industries",
             "Stark Logistics", "Wayne Foods", "Tyrell Systems", "Cyberdyne AG", "Soylent Corp", "Globo SA"]  # fmt: skip
TITLES = ["Head of Sales", "VP Marketing", "CTO", "Operations Manager", "Founder", "Procurement Lead",
          "Growth Marketer", "IT Director", "CFO", "Sales Ops Analyst"]  # fmt: skip
COUNTRY_PHONES = {"GB": "+44 20 7946 {:04d}", "US": "+1 212 555 {:04d}", "DE": "+49 30 12345{:03d}"}
NOTES = [
    "Called, <b>interested</b> in a demo next week.",
    "Left a voicemail; will try again Thursday.",
    "Asked for pricing: <ul><li>50 seats</li><li>annual billing</li></ul>",
    "Not the right person — suggested their <i>Head of Ops</i>.",
]
# Where a lead's status goes after it arrives (most stay early in the funnel).
PATHS = [[], [], ["contacted"], ["contacted"], ["contacted", "qualified"], ["contacted", "recycled"],
         ["contacted", "unqualified"]]  # fmt: skip
NOTE_NEEDED = "No budget this year; revisit in Q1."
# Near-duplicates the entry check cannot block: the review queue's pairs. (first, last, email, phone,
# country, company) for each side; the phone pairs are exact matches a manager created anyway.
DUPLICATE_PAIRS = [
    (("Katarina", "Wojcik", "kasia.w@gmail.com", "", "PL", "Brightwave Media"),
     ("Katarina", "Wojick", "katarina.wojick@outlook.com", "", "PL", "Brightwave Media")),
    (("Jonathan", "Whitfield", "jon.whitfield@yahoo.com", "", "GB", "Alder & Finch"),
     ("Jonathon", "Whitfield", "jwhitfield@gmail.com", "", "GB", "Alder & Finch Ltd")),
    (("Mei", "Tanaka", "mei.tanaka@gmail.com", "", "JP", "Kumo Robotics"),
     ("Tanaka", "Mei", "tanaka.mei@hotmail.com", "", "JP", "Kumo Robotics")),
    (("Lars", "Eriksen", "lars.eriksen@gmail.com", "", "NO", "Fjellstad AS"),
     ("Eriksen", "Lars", "l.eriksen@outlook.com", "", "NO", "Fjellstad AS")),
    (("Tom", "Baker", "tom.baker@gmail.com", "+44 20 7946 0958", "GB", "Quill Publishing"),
     ("Thomas", "Baker", "thomas.baker@yahoo.com", "020 7946 0958", "GB", "Quill Publishing")),
    (("Dana", "Whitlock", "dana.whitlock@gmail.com", "+1 415 555 0134", "US", "Harbor Labs"),
     ("Dana", "Whitlock-Reyes", "dwr@outlook.com", "(415) 555-0134", "US", "Harbor Labs Inc")),
]  # fmt: skip
POOL_SIZE = 7  # leads their owners release back to the pool
RULE_NAME = "Round-robin over SDRs"
VIEW_NAMES = {Role.SDR: "My hot leads", Role.MANAGER: "Team – uncontacted this week", Role.ADMIN: "Unassigned pool"}
IMPORT_NAME = "trade-show-contacts.csv"
# Seven good rows, three bad ones (invalid email, no way to reach, a phone that is no phone).
IMPORT_CSV = """First name,Last name,Email,Phone,Country,Company,Job title
Aurelia,Brandt,aurelia.brandt@lindqvist-ag.example,,DE,Lindqvist AG,Head of Procurement
Basil,Oyelaran,basil@oyelaran-freight.example,+44 20 7946 0811,GB,Oyelaran Freight,COO
Celeste,Marchetti,celeste.marchetti@vetro.example,,IT,Vetro Design,Founder
Dmitri,Volkov,dmitri.volkov@,,DE,Volkov Consulting,Partner
Esme,Thornbury,esme@thornbury-hotels.example,,GB,Thornbury Hotels,Marketing Director
Felipe,Arroyo,,,ES,Arroyo Hermanos,Sales Manager
Greta,Halvorsen,greta@halvorsen-marine.example,,NO,Halvorsen Marine,CFO
Hamid,Qureshi,hamid.qureshi@qsolar.example,not a phone,GB,Q Solar,Engineer
Ilse,Vermeulen,ilse@vermeulen-bouw.example,,NL,Vermeulen Bouw,Project Lead
Jasper,Koenig,jasper.koenig@koenig-it.example,,DE,Koenig IT,IT Director
"""
IMPORT_BAD_ROWS = 3
EXPORT_NAME = "Weekly team leads (CSV)"


def _phone(country: str, n: int) -> str:
    pattern = COUNTRY_PHONES.get(country, COUNTRY_PHONES["GB"])
    return pattern.format(n % 1000) if country == "DE" else pattern.format(n % 10000)


def _cast(company: Company) -> dict[str, list[Membership]]:
    members = Membership.objects.filter(company=company, is_active=True).select_related("user").order_by("id")
    by_role: dict[str, list[Membership]] = {Role.ADMIN: [], Role.MANAGER: [], Role.SDR: []}
    for member in members:
        by_role[member.role].append(member)
    return by_role


@transaction.atomic
def seed_company_leads(company: Company, count: int = 200) -> str:
    cast = _cast(company)
    admin, manager = cast[Role.ADMIN][0], cast[Role.MANAGER][0]
    done = [seed_assignment_rule(company, admin, cast[Role.SDR])]
    if Campaign.objects.filter(company=company, name=CAMPAIGNS[0][0]).exists():
        done.append("demo leads already present")
    else:
        done.append(_seed_worked_leads(company, count, cast))
    done += [seed_saved_views(cast), seed_import(company, manager), seed_scheduled_export(manager)]
    return "; ".join(done)


def _seed_worked_leads(company: Company, count: int, cast: dict[str, list[Membership]]) -> str:
    rng = random.Random(company.slug)
    campaigns = [
        Campaign.objects.create(company=company, name=name, source=source, medium=medium)
        for name, source, medium in CAMPAIGNS
    ]
    CustomField.objects.get_or_create(
        company=company, key="industry",
        defaults={"label": "Industry", "field_type": "choice", "choices": ["SaaS", "Retail", "Finance", "Logistics"]},
    )  # fmt: skip
    members = [m for group in cast.values() for m in group]
    statuses = {s.key: s for s in LeadStatus.objects.filter(company=company)}
    names = rng.sample(list(itertools.product(FIRST, LAST)), count)  # unique names: no accidental duplicates
    now = timezone.now()
    with DemoClock() as clock:
        worked = [
            _worked_lead(clock, rng, n, first, last, company, campaigns, members, statuses, now)
            for n, (first, last) in enumerate(names)
        ]
        pairs = _plant_duplicates(clock, rng, company, campaigns, cast[Role.MANAGER][0], now)
        pooled = _release_to_pool(clock, rng, worked, now)
    return f"{count} demo leads in {len(campaigns)} campaigns, {pairs} duplicate pairs, {pooled} leads in the pool"


def _lead_data(rng: random.Random, n: int, first: str, last: str, company: Company, campaigns) -> dict:
    country = rng.choice([company.default_country] * 3 + ["US", "DE"])
    campaign = rng.choice(campaigns)
    company_name = rng.choice(COMPANIES)
    data = {
        "first_name": first, "last_name": last,
        "email": f"{slugify(fold(first))}.{slugify(fold(last))}{n}@{slugify(company_name)}.example",
        "phone": _phone(country, n) if rng.random() < 0.7 else "", "country": country,
        "job_title": rng.choice(TITLES), "company_name": company_name,
        "lead_source": campaign.source, "campaign": campaign, "medium": campaign.medium,
        "gdpr_consent": rng.random() < 0.6,
        "custom_fields": {"industry": rng.choice(["SaaS", "Retail", "Finance", "Logistics"])},
    }  # fmt: skip
    if rng.random() < 0.35:  # what discovery calls found out: these leads score higher
        data.update(budget_range=rng.choice(["10k-50k", "50k-100k", "100k+"]), authority_level="decision_maker",
                    need="Replace spreadsheets for a growing SDR team", timeline=rng.choice(["This quarter", "Q3"]))  # fmt: skip
    return data


def _worked_lead(clock, rng, n, first, last, company, campaigns, members, statuses, now) -> tuple[Lead, datetime]:
    """One lead: it arrives (from the web form and the round-robin rule, or entered by a member for
    themselves), then its owner works it: status changes, comments, calls."""
    data = _lead_data(rng, n, first, last, company, campaigns)
    creator = rng.choice(members) if rng.random() < 0.4 else None
    at = recent_moment(rng, now)
    clock.at(at)
    lead = services.lead_create(
        company=company, actor=creator, data={**data, "owner": creator}, reason="leads.lead.created_by_demo"
    )
    actor = lead.owner or members[0]
    for key in rng.choice(PATHS):
        at = later(rng, at, now)
        clock.at(at)
        note = NOTE_NEEDED if key == "unqualified" else ""
        lead = services.lead_transition(actor=actor, lead=lead, to_status=statuses[key], note=note)
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
        at = later(rng, at, now)
        clock.at(at)
        if rng.random() < 0.4:
            comment = services.comment_create(actor=actor, lead=lead, body=rng.choice(NOTES))
            if rng.random() < 0.5:
                services.comment_create(actor=rng.choice(members), lead=lead, body="Thanks — noted.", parent=comment)
        else:
            services.activity_log(
                actor=actor, lead=lead, kind=rng.choice(["call", "call", "email", "meeting"]),
                subject="Discovery call", outcome=rng.choice(["positive", "follow_up_required", "neutral"]),
                occurred_at=at,
            )  # fmt: skip
    return lead, at


def _plant_duplicates(clock, rng, company: Company, campaigns, manager: Membership, now: datetime) -> int:
    """The manager enters a trade fair's leads for their team, each pair's second lead later, through
    the same check as the lead form: the same phone written differently is an exact match, which
    the manager creates anyway; fuzzy matches queue themselves. The nightly scan then runs once (it
    also catches swapped first/last names, which the per-save check's name blocks miss). Both leads
    of a pair belong to the manager's team, so the manager can review and merge them."""
    campaign = campaigns[-1]
    team = Membership.objects.filter(manager=manager, role=Role.SDR, is_active=True).order_by("id").first()
    for first_side, second_side in DUPLICATE_PAIRS:
        at = recent_moment(rng, now, days=30)
        for side, (first, last, email, phone, country, company_name) in enumerate((first_side, second_side)):
            clock.at(at)
            services.lead_create(
                company=company, actor=manager, allow_duplicates=bool(side and phone),
                data={"first_name": first, "last_name": last, "email": email, "phone": phone, "country": country,
                      "company_name": company_name, "campaign": campaign, "lead_source": campaign.source,
                      "owner": team or manager},
            )  # fmt: skip
            at = later(rng, at, now)
    clock.at(now - timedelta(minutes=1))  # the scan ran just now
    duplicates_scan(company=company)
    return len(DUPLICATE_PAIRS)


def _release_to_pool(clock, rng, worked: list[tuple[Lead, datetime]], now: datetime) -> int:
    """A few untouched leads their owners hand back: the pool everyone can claim from."""
    last_event = {lead.pk: at for lead, at in worked}
    untouched = Lead.objects.filter(pk__in=last_event, owner__isnull=False, status__key="new",
                                    last_activity_at__isnull=True).select_related("owner").order_by("id")  # fmt: skip
    for lead in rng.sample(list(untouched), POOL_SIZE):
        clock.at(later(rng, last_event[lead.pk], now))
        lead_release(actor=lead.owner, lead=lead, reason="Not my territory")
    return POOL_SIZE


def seed_assignment_rule(company: Company, admin: Membership, sdrs: list[Membership]) -> str:
    """The data-flow guide's default (its step 3.4): round-robin over the company's SDRs, else
    over the admin who sets it up."""
    if AssignmentRule.objects.filter(company=company, name=RULE_NAME).exists():
        return "assignment rule already present"
    receivers = sdrs or [admin]
    assignment_rule_create(actor=admin, company=company, data={
        "name": RULE_NAME, "strategy": AssignmentStrategy.ROUND_ROBIN,
        "members": [{"membership": member.pk, "weight": 1} for member in receivers],
    })  # fmt: skip
    return f"round-robin rule over {len(receivers)} members"


def seed_saved_views(cast: dict[str, list[Membership]]) -> str:
    """One saved view per role, for every member of that role."""
    made = 0
    for role, members in cast.items():
        for member in members:
            if SavedFilter.objects.filter(owner=member, name=VIEW_NAMES[role]).exists():
                continue
            saved_filter_create(actor=member, name=VIEW_NAMES[role], **_view_spec(role, member))
            made += 1
    return f"{made} saved views"


def _view_spec(role: str, member: Membership) -> dict:
    if role == Role.SDR:
        return {"params": {"owner": ["me"], "priority": ["hot"]}, "sort": "-score", "visibility": Visibility.PRIVATE}
    if role == Role.MANAGER:
        new = LeadStatus.objects.get(company_id=member.company_id, key="new")
        return {"params": {"team": [str(member.pk)], "status": [str(new.pk)]}, "sort": "-created",
                "visibility": Visibility.TEAM}  # fmt: skip
    return {"params": {"owner": ["unassigned"]}, "sort": "created", "visibility": Visibility.COMPANY}


def seed_import(company: Company, manager: Membership) -> str:
    """A trade-show list the manager imported skipping its bad rows: "imported with errors", and
    revertable from the imports page."""
    if ImportJob.objects.filter(company=company, file_name=IMPORT_NAME).exists():
        return "demo import already present"
    campaign = Campaign.objects.filter(company=company).order_by("id").first()
    upload = ContentFile(IMPORT_CSV.encode(), name=IMPORT_NAME)
    options = ImportOptions(skip_invalid=True, campaign_id=campaign.pk, lead_source="Trade show")
    job = import_job_create(company=company, actor=manager, upload=upload, options=options)
    job = import_job_start(job=job, actor=manager, inline=True)
    return f"import #{job.pk}: {job.created_count} leads, {job.invalid_count} rows with errors"


def seed_scheduled_export(manager: Membership) -> str:
    """Every Monday at 07:00 UTC, the leads the manager sees (the team's and the pool) as CSV."""
    if ScheduledExport.objects.filter(company_id=manager.company_id, name=EXPORT_NAME).exists():
        return "scheduled export already present"
    scheduled_export_save(actor=manager, data={
        "name": EXPORT_NAME, "format": "csv", "frequency": "weekly", "weekday": 0, "time_of_day": "07:00",
        "recipients": [manager.user.email],
    })  # fmt: skip
    return "a weekly export"
