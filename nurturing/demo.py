"""Demo nurturing for ``seed_demo``: one active two-step sequence per company, built by the manager,
with a few leads of the team enrolled over the last weeks; their emails were sent (through the
real sending code; ``seed_demo`` points the mail backend at an in-memory outbox), and some opened
and clicked.

Deterministic (seeded by the company's slug) and idempotent: a company that already has the demo
sequence is left alone.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from crm.demo import DemoClock
from crm.models import Company, Membership, Role
from leads.models import Lead
from leads.queries import leads_visible_to
from nurturing import sending, services, tracking
from nurturing.models import EmailSequence, Enrolment, LeadEmailActivity

SEQUENCE_NAME = "Welcome series"
STEP_DELAY = timedelta(days=3)
GUIDE_URL = "https://www.example.com/guides/first-90-days"
STEPS = [
    {"subject": "Welcome, {{ first_name }}", "delay_days": 0,
     "body": "<p>Hi {{ first_name }},</p><p>Thanks for your interest. Our <a href=\"" + GUIDE_URL + "\">guide to "
             "the first 90 days</a> shows how teams like {{ company_name }} get started.</p>"
             "<p>{{ owner_signature }}</p>"},
    {"subject": "{{ first_name }}, a question about {{ company_name }}", "delay_days": STEP_DELAY.days,
     "body": "<p>Hi {{ first_name }},</p><p>Would a 20-minute call next week help? Just reply to this email."
             "</p><p>{{ owner_signature }}</p>"},
]  # fmt: skip
# How far each enrolled lead got: (both steps sent, opened the first, clicked in it).
JOURNEYS = [(True, True, True), (True, True, False), (True, False, False), (False, True, True),
            (False, True, False), (False, False, False)]  # fmt: skip


@transaction.atomic
def seed_company_nurturing(company: Company) -> str:
    if EmailSequence.objects.filter(company=company, name=SEQUENCE_NAME).exists():
        return "demo sequence already present"
    manager = Membership.objects.filter(company=company, role=Role.MANAGER, is_active=True).order_by("id").first()
    sequence = _sequence(company, manager)
    now = timezone.now()
    leads = _candidates(manager, now)[: len(JOURNEYS)]
    rng = random.Random(f"nurturing:{company.slug}")
    with DemoClock() as clock:
        for lead, journey in zip(leads, JOURNEYS, strict=False):
            _journey(clock, rng, lead, sequence, manager, journey, now)
    sent = LeadEmailActivity.objects.filter(sequence=sequence).count()
    return f"sequence “{SEQUENCE_NAME}”: {len(leads)} enrolments, {sent} emails sent"


def _sequence(company: Company, manager: Membership) -> EmailSequence:
    sequence = services.sequence_create(actor=manager, company=company, data={
        "name": SEQUENCE_NAME, "description": "Two emails for new leads: a guide, then a call.",
    })  # fmt: skip
    for step in STEPS:
        services.step_create(actor=manager, sequence=sequence, data=step)
    return services.sequence_update(actor=manager, sequence=sequence, data={"is_active": True})


def _candidates(manager: Membership, now: datetime) -> list[Lead]:
    """Open leads of the manager's team that consented, arrived weeks ago and are not worked yet."""
    return list(
        leads_visible_to(manager)
        .filter(
            status__key__in=["new", "contacted"],
            gdpr_consent=True,
            dnd=False,
            owner__isnull=False,
            created_at__lt=now - timedelta(days=14),
        )  # fmt: skip
        .order_by("created_at", "id")
    )


def _journey(clock, rng, lead: Lead, sequence, manager: Membership, journey, now: datetime) -> None:
    both_steps, opened, clicked = journey
    if both_steps:  # enrolled weeks ago: done
        at = lead.created_at + (now - timedelta(days=5) - lead.created_at) * rng.uniform(0.2, 0.9)
    else:  # enrolled in the last days: the second email is still to come
        at = now - timedelta(hours=rng.randint(42, 70))  # opened and clicked (at most 40 hours later) before now
    clock.at(at)
    enrolment = services.enrolment_create(actor=manager, lead=lead, sequence=sequence, reason="New lead welcome")
    sending.send_due(company_id=lead.company_id)
    first = LeadEmailActivity.objects.get(enrolment=enrolment, step__step_number=1)
    if opened:
        clock.at(at + timedelta(hours=rng.randint(1, 20)))
        tracking.message_opened(message=first)
    if clicked:
        clock.at(at + timedelta(hours=rng.randint(21, 40)))
        tracking.message_clicked(message=first, url=GUIDE_URL)
    # The second step is due three days after the first (in the story's time, not the seeding's).
    Enrolment.objects.filter(pk=enrolment.pk).update(next_send_at=timezone.now() if both_steps else at + STEP_DELAY)
    if both_steps:
        clock.at(at + STEP_DELAY + timedelta(hours=rng.randint(0, 6)))
        sending.send_due(company_id=lead.company_id)


def seed_demo_receiver(sender, company, **kwargs) -> str:
    """``demo_seeded`` receiver (connected in ``NurturingConfig.ready``)."""
    return seed_company_nurturing(company)
