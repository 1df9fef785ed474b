"""Wiring only: per-company defaults on company creation and the demo data."""

from django.dispatch import receiver

from crm.signals import company_created, demo_seeded
from leads import scoring  # noqa: F401 — connects the default scoring rules to company_created
from leads.workflow import statuses_create_defaults


@receiver(company_created)
def create_company_defaults(sender, company, **kwargs):
    statuses_create_defaults(company)


@receiver(demo_seeded)
def seed_demo_leads(sender, company, **kwargs):
    from leads.demo import seed_company_leads

    return seed_company_leads(company)
