"""Demo leads for ``seed_demo``: campaigns, ~200 varied leads, statuses, comments and interactions.
Deterministic (fixed seed) and idempotent: a company that already has demo campaigns is left alone."""

from __future__ import annotations

import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from crm.models import Company, Membership
from leads import services
from leads.models import Campaign, CustomField, LeadStatus
from leads.normalize import fold

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


def _phone(country: str, n: int) -> str:
    pattern = COUNTRY_PHONES.get(country, COUNTRY_PHONES["GB"])
    return pattern.format(n % 1000) if country == "DE" else pattern.format(n % 10000)


@transaction.atomic
def seed_company_leads(company: Company, count: int = 200) -> str:
    if Campaign.objects.filter(company=company, name=CAMPAIGNS[0][0]).exists():
        return "demo leads already present"
    rng = random.Random(company.slug)
    campaigns = [
        Campaign.objects.create(company=company, name=name, source=source, medium=medium)
        for name, source, medium in CAMPAIGNS
    ]
    CustomField.objects.get_or_create(
        company=company, key="industry",
        defaults={"label": "Industry", "field_type": "choice", "choices": ["SaaS", "Retail", "Finance", "Logistics"]},
    )  # fmt: skip
    members = list(Membership.objects.filter(company=company, is_active=True).select_related("user"))
    statuses = {s.key: s for s in LeadStatus.objects.filter(company=company)}
    now = timezone.now()
    for n in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        country = rng.choice([company.default_country] * 3 + ["US", "DE"])
        campaign = rng.choice(campaigns)
        owner = rng.choice(members + [None, None])
        lead = services.lead_create(
            company=company,
            actor=owner,
            data={
                "first_name": first,
                "last_name": last,
                "email": f"{fold(first)}.{fold(last).replace(' ', '')}{n}@example.com",
                "phone": _phone(country, n) if rng.random() < 0.7 else "",
                "country": country,
                "job_title": rng.choice(TITLES),
                "company_name": rng.choice(COMPANIES),
                "lead_source": campaign.source,
                "campaign": campaign,
                "medium": campaign.medium,
                "owner": owner,
                "gdpr_consent": rng.random() < 0.6,
                "custom_fields": {"industry": rng.choice(["SaaS", "Retail", "Finance", "Logistics"])},
            },
            reason="leads.lead.created_by_demo",
        )
        actor = owner or members[0]
        path = rng.choice([[], ["contacted"], ["contacted", "qualified"], ["contacted", "recycled"]])
        for key in path:
            lead = services.lead_transition(actor=actor, lead=lead, to_status=statuses[key])
        if rng.random() < 0.3:
            comment = services.comment_create(actor=actor, lead=lead, body=rng.choice(NOTES))
            if rng.random() < 0.5:
                services.comment_create(actor=rng.choice(members), lead=lead, body="Thanks — noted.", parent=comment)
        if rng.random() < 0.3:
            services.activity_log(
                actor=actor, lead=lead, kind=rng.choice(["call", "email", "meeting"]),
                subject="Discovery call", outcome=rng.choice(["positive", "follow_up_required", "neutral"]),
                occurred_at=now - timedelta(hours=rng.randint(1, 300)),
            )  # fmt: skip
    return f"{count} demo leads in {len(campaigns)} campaigns"
