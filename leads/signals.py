"""Wiring only: per-company defaults on company creation and request metadata on lead history."""

from django.dispatch import receiver
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record

from crm.signals import company_created, demo_seeded
from leads import scoring  # noqa: F401 — connects the default scoring rules to company_created
from leads.workflow import statuses_create_defaults


@receiver(company_created)
def create_company_defaults(sender, company, **kwargs):
    statuses_create_defaults(company)


@receiver(pre_create_historical_record)
def remember_request_meta(sender, history_instance, **kwargs):
    if not hasattr(history_instance, "user_agent"):
        return
    request = getattr(HistoricalRecords.context, "request", None)
    if request is None:
        return
    # REMOTE_ADDR only: X-Forwarded-For is set by the client unless a trusted proxy rewrites it.
    history_instance.ip_address = request.META.get("REMOTE_ADDR") or None
    history_instance.user_agent = request.META.get("HTTP_USER_AGENT", "")[:300]


@receiver(demo_seeded)
def seed_demo_leads(sender, company, **kwargs):
    from leads.demo import seed_company_leads

    return seed_company_leads(company)
