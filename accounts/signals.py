"""Wiring only: pipeline stages for each new company, and the demo accounts."""

from django.dispatch import receiver

from crm.signals import company_created, demo_seeded


@receiver(company_created)
def create_company_stages(sender, company, **kwargs):
    from accounts.services import stages_create_defaults

    stages_create_defaults(company)


@receiver(demo_seeded)
def seed_demo_accounts(sender, company, **kwargs):
    from accounts.demo import seed_company_accounts

    return seed_company_accounts(company)
