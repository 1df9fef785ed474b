"""django-q2 tasks of nurturing: thin wrappers that take ids and call a service, and the schedules
(every minute: send due steps; nightly: the sweep into default sequences, the engagement decay)."""

from __future__ import annotations

from dataclasses import asdict

from django.utils import timezone

from crm.models import Company
from crm.tasks import next_daily
from leads.models import LeadSettings
from leads.scoring.services import leads_rescore
from nurturing import sending, services
from nurturing.models import NurturingSettings

SEND_SCHEDULE = "nurturing.send-due"
SWEEP_SCHEDULE = "nurturing.nightly-sweep"
DECAY_SCHEDULE = "nurturing.nightly-decay"


def send_due(company_id: int | None = None, batch_size: int = sending.BATCH_SIZE) -> dict:
    """Claim and send every due step. Running it twice, or in two clusters, sends nothing twice."""
    return asdict(sending.send_due(company_id=company_id, batch_size=batch_size))


def sweep_company(company_id: int) -> int:
    company = Company.objects.filter(pk=company_id).first()
    return services.nurture_sweep(company=company) if company else 0


def sweep_all_companies() -> dict[int, int]:
    """Enrol eligible leads of every company that has a default nurture sequence."""
    ids = NurturingSettings.objects.filter(default_sequence__is_active=True).values_list("company_id", flat=True)
    return {company_id: sweep_company(company_id) for company_id in sorted(ids)}


def decay_all_companies() -> dict[int, int]:
    """Rescore the leads of companies whose engagement has a half-life, so scores fall with time
    even when nothing is recorded; how many leads changed per company."""
    ids = LeadSettings.objects.filter(engagement_half_life_days__gt=0).values_list("company_id", flat=True)
    return {company.pk: leads_rescore(company=company).changed for company in Company.objects.filter(pk__in=ids)}


def ensure_schedules() -> list:
    """Create (or update) the three django-q2 schedules; idempotent."""
    from django_q.models import Schedule

    specs = [
        (SEND_SCHEDULE, "nurturing.tasks.send_due", {"schedule_type": Schedule.MINUTES, "minutes": 1,
                                                     "next_run": timezone.now()}),
        (SWEEP_SCHEDULE, "nurturing.tasks.sweep_all_companies", {"schedule_type": Schedule.DAILY, "next_run": next_daily(3)}),
        (DECAY_SCHEDULE, "nurturing.tasks.decay_all_companies", {"schedule_type": Schedule.DAILY, "next_run": next_daily(4)}),
    ]  # fmt: skip
    return [
        Schedule.objects.update_or_create(name=name, defaults={"func": func, "repeats": -1, **extra})[0]
        for name, func, extra in specs
    ]
