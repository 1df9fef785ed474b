"""Reads reused across doors. Every account, contact and opportunity list, detail, board, forecast,
export and API view starts here, and all of them start from ``memberships_visible_to``."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.models import Account, Contact, Opportunity, Stage
from accounts.services.records import domain_of
from crm.models import Company, Membership
from crm.queries import memberships_visible_to, sees_whole_company
from leads import normalize


def _owners(membership: Membership) -> QuerySet[Membership]:
    return memberships_visible_to(membership).values("id")


def opportunities_visible_to(membership: Membership) -> QuerySet[Opportunity]:
    """Admins: the company's; managers: their reporting tree's; SDRs/AEs: their own."""
    opportunities = Opportunity.objects.filter(company_id=membership.company_id)
    if sees_whole_company(membership):
        return opportunities
    return opportunities.filter(owner_id__in=_owners(membership))


def contacts_visible_to(membership: Membership) -> QuerySet[Contact]:
    """The contacts one owns (or one's team owns), and the people at the accounts one owns."""
    contacts = Contact.objects.filter(company_id=membership.company_id)
    if sees_whole_company(membership):
        return contacts
    owners = _owners(membership)
    return contacts.filter(Q(owner_id__in=owners) | Q(account__owner_id__in=owners))


def accounts_visible_to(membership: Membership) -> QuerySet[Account]:
    """The accounts one owns, plus those where one owns an opportunity or a contact."""
    accounts = Account.objects.filter(company_id=membership.company_id)
    if sees_whole_company(membership):
        return accounts
    owners = _owners(membership)
    company = membership.company_id
    via_opportunity = Opportunity.objects.filter(company_id=company, owner_id__in=owners).values("account_id")
    via_contact = Contact.objects.filter(company_id=company, owner_id__in=owners).values("account_id")
    return accounts.filter(Q(owner_id__in=owners) | Q(id__in=via_opportunity) | Q(id__in=via_contact))


def stages_of(company_id: int, *, active_only: bool = True) -> QuerySet[Stage]:
    stages = Stage.objects.filter(company_id=company_id)
    return stages.filter(is_active=True) if active_only else stages


def accounts_matching(company: Company, *, domain: str = "", name: str = "") -> QuerySet[Account]:
    """Accounts found again by their domain (from a website or an email address) or by a name that
    differs only in case, accents, punctuation or legal suffix ('ACME, Inc.' finds 'Acme')."""
    if "@" in (domain or ""):
        domain = normalize.email_domain(domain)
    condition = Q()
    if key := domain_of(domain):
        condition |= Q(domain_key=key)
    if key := normalize.company_key(name):
        condition |= Q(company_key=key)
    if not condition:
        return Account.objects.none()
    return Account.objects.filter(company=company).filter(condition)
