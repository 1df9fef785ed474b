"""Writes on accounts and contacts."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import transaction

from accounts.models import (
    Account,
    AccountType,
    Channel,
    CompanySize,
    Contact,
    ContactRole,
    HealthScore,
    Influence,
    LifecycleStage,
)
from accounts.services.common import (
    Errors,
    add_error,
    apply_flags,
    apply_owner,
    apply_text,
    check_actor,
    check_choice,
    check_known,
    company_object,
    exclude_self,
    model_errors,
    raise_if,
    record,
)
from accounts.validation import gstin_problem, parse_amount
from crm.models import Company, Membership
from leads import normalize

ACCOUNT_TEXT = ("name", "domain", "website", "account_type", "industry", "company_size", "gstin", "health_score",
                "lifecycle_stage", "country")  # fmt: skip
ACCOUNT_FIELDS = (*ACCOUNT_TEXT, "annual_revenue", "is_active", "owner", "parent")
CONTACT_TEXT = ("first_name", "last_name", "job_title", "role", "email", "phone", "preferred_channel", "influence")
CONTACT_FIELDS = (*CONTACT_TEXT, "account", "is_primary", "gdpr_consent", "dnd", "opt_in_date", "owner")
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_validate_url = URLValidator(schemes=["http", "https"])


# --- accounts ---------------------------------------------------------------------------------------


def domain_of(value: str) -> str:
    """'https://www.Example.com/about' → 'example.com' (the account's match key)."""
    value = (value or "").strip().lower()
    if not value:
        return ""
    host = urlsplit(value if "://" in value else f"//{value}").hostname or ""
    return host.removeprefix("www.").rstrip(".")


def _account_fields(account: Account, data: dict[str, Any], errors: Errors) -> None:
    apply_text(account, data, ACCOUNT_TEXT)
    apply_flags(account, data, ("is_active",), errors)
    if "annual_revenue" in data:
        account.annual_revenue = parse_amount(data["annual_revenue"], "annual_revenue", errors)
    account.country = account.country.upper() or account.company.default_country
    account.gstin = account.gstin.upper().replace(" ", "")
    if not account.name:
        add_error(errors, "name", "Give the account a name.")
    if account.website:
        try:
            _validate_url(account.website)
        except ValidationError:
            add_error(errors, "website", "Enter a valid http(s) URL.")
    account.domain = domain_of(account.domain or ("" if "website" in errors else account.website))
    if account.domain and not DOMAIN.match(account.domain):
        add_error(errors, "domain", "Enter a domain such as example.com.")
    if account.gstin and (problem := gstin_problem(account.gstin)):
        add_error(errors, "gstin", problem)
    if not re.fullmatch(r"[A-Z]{2}", account.country):
        add_error(errors, "country", "Use a two-letter ISO 3166 country code such as IN or GB.")
    check_choice(account, "account_type", AccountType, errors)
    check_choice(account, "company_size", CompanySize, errors, blank=True)
    check_choice(account, "health_score", HealthScore, errors)
    check_choice(account, "lifecycle_stage", LifecycleStage, errors)


def _account_parent(account: Account, data: dict[str, Any], errors: Errors) -> None:
    if "parent" not in data:
        return
    parents = Account.objects.filter(company=account.company).filter(exclude_self(account))
    parent = company_object(parents, data["parent"], "parent", errors, label="parent account")
    seen = {account.pk}
    ancestor = parent
    while ancestor is not None and account.pk is not None:
        if ancestor.pk in seen:
            add_error(errors, "parent", "This would make the account its own parent.")
            return
        seen.add(ancestor.pk)
        ancestor = ancestor.parent
    if "parent" not in errors:
        account.parent = parent


def _save_account(account: Account, data: dict[str, Any], actor: Membership | None, *, creating: bool) -> None:
    errors: Errors = {}
    check_known(data, ACCOUNT_FIELDS, errors)
    _account_fields(account, data, errors)
    apply_owner(account, data, actor, errors, creating=creating)
    _account_parent(account, data, errors)
    model_errors(account, errors, exclude=["company", "owner", "parent", "website", "domain"])
    raise_if(errors)
    account.domain_key = account.domain
    account.company_key = normalize.company_key(account.name)
    account.save()


@transaction.atomic
def account_create(*, actor: Membership | None, company: Company, data: dict[str, Any]) -> Account:
    check_actor(actor, company.pk)
    account = Account(company=company)
    record(account, actor, "accounts.account.created")
    _save_account(account, data, actor, creating=True)
    return account


@transaction.atomic
def account_update(*, actor: Membership | None, account: Account, data: dict[str, Any]) -> Account:
    check_actor(actor, account.company_id)
    account = Account.objects.select_for_update().get(pk=account.pk)
    record(account, actor, "accounts.account.changed")
    _save_account(account, data, actor, creating=False)
    return account


@transaction.atomic
def account_delete(*, actor: Membership | None, account: Account) -> None:
    """Deletes the account and its contacts; refused while opportunities or converted leads point
    at it (their history would lose its anchor)."""
    check_actor(actor, account.company_id)
    opportunities = account.opportunities.count()
    if opportunities:
        raise ValidationError(
            {"__all__": [f"This account has {opportunities} opportunities: delete or move them first."]}
        )
    if account.conversions.exists():
        raise ValidationError({"__all__": ["Leads were converted into this account; deactivate it instead."]})
    for contact in account.contacts.all():
        record(contact, actor, "accounts.contact.deleted")
        contact.delete()
    record(account, actor, "accounts.account.deleted")
    account.delete()


# --- contacts ---------------------------------------------------------------------------------------


def _contact_fields(contact: Contact, data: dict[str, Any], errors: Errors) -> None:
    apply_text(contact, data, CONTACT_TEXT)
    apply_flags(contact, data, ("is_primary", "gdpr_consent", "dnd"), errors)
    if "opt_in_date" in data:
        contact.opt_in_date = data["opt_in_date"] or None
    contact.email = contact.email.lower()
    if not (contact.first_name or contact.last_name):
        add_error(errors, "last_name", "Give the contact a name.")
    if contact.email:
        try:
            validate_email(contact.email)
        except ValidationError:
            add_error(errors, "email", "Enter a valid email address.")
    check_choice(contact, "role", ContactRole, errors, blank=True)
    check_choice(contact, "preferred_channel", Channel, errors)
    check_choice(contact, "influence", Influence, errors, blank=True)


def _contact_phone(contact: Contact, errors: Errors) -> None:
    if not contact.phone:
        if contact.preferred_channel in (Channel.PHONE, Channel.WHATSAPP):
            label = Channel(contact.preferred_channel).label
            add_error(errors, "preferred_channel", f"Add a phone number to reach this contact by {label}.")
        return
    country = contact.account.country if contact.account_id else contact.company.default_country
    e164 = normalize.phone_key(contact.phone, country)
    if not e164:
        add_error(errors, "phone", f"Enter a valid phone number for {country} or in +country format.")
    else:
        contact.phone = e164


def _contact_primary(contact: Contact, errors: Errors) -> None:
    if not contact.is_primary or contact.account_id is None:
        return
    other = Contact.objects.filter(account_id=contact.account_id, is_primary=True).filter(exclude_self(contact))
    current = other.first()
    if current is not None:
        add_error(errors, "is_primary", f"{current.display_name} is already this account's primary contact.")


def _save_contact(contact: Contact, data: dict[str, Any], actor: Membership | None, *, creating: bool) -> None:
    errors: Errors = {}
    check_known(data, CONTACT_FIELDS, errors)
    moved = False
    if "account" in data or creating:
        accounts = Account.objects.filter(company=contact.company)
        account = company_object(accounts, data.get("account"), "account", errors)
        if account is None and "account" not in errors:
            add_error(errors, "account", "Choose the contact's account.")
        moved = account is not None and contact.account_id not in (None, account.pk)
        contact.account = account
    _contact_fields(contact, data, errors)
    _contact_phone(contact, errors)
    _contact_primary(contact, errors)
    apply_owner(contact, data, actor, errors, creating=creating)
    model_errors(contact, errors, exclude=["company", "account", "owner", "phone", "email"])
    raise_if(errors)
    contact.email_key = normalize.email_key(contact.email)
    contact.save()
    if moved:  # the contact left the account: its deals there lose their primary contact
        for opportunity in contact.opportunities.exclude(account_id=contact.account_id):
            opportunity.primary_contact = None
            record(opportunity, actor, "accounts.opportunity.primary_contact_left")
            opportunity.save(update_fields=["primary_contact", "updated_at"])


@transaction.atomic
def contact_create(*, actor: Membership | None, company: Company, data: dict[str, Any]) -> Contact:
    check_actor(actor, company.pk)
    contact = Contact(company=company)
    record(contact, actor, "accounts.contact.created")
    _save_contact(contact, data, actor, creating=True)
    return contact


@transaction.atomic
def contact_update(*, actor: Membership | None, contact: Contact, data: dict[str, Any]) -> Contact:
    check_actor(actor, contact.company_id)
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    record(contact, actor, "accounts.contact.changed")
    _save_contact(contact, data, actor, creating=False)
    return contact


@transaction.atomic
def contact_make_primary(*, actor: Membership | None, contact: Contact) -> Contact:
    """Make ``contact`` its account's primary contact, demoting the current one."""
    check_actor(actor, contact.company_id)
    for current in Contact.objects.filter(account_id=contact.account_id, is_primary=True).exclude(pk=contact.pk):
        current.is_primary = False
        record(current, actor, "accounts.contact.primary_unset")
        current.save(update_fields=["is_primary", "updated_at"])
    contact.is_primary = True
    record(contact, actor, "accounts.contact.primary_set")
    contact.save(update_fields=["is_primary", "updated_at"])
    return contact


@transaction.atomic
def contact_delete(*, actor: Membership | None, contact: Contact) -> None:
    check_actor(actor, contact.company_id)
    record(contact, actor, "accounts.contact.deleted")
    contact.delete()
