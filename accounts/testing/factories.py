"""Account, contact and opportunity makers. They go through the real services, so keys, stage
probability, stage-change rows and history are exactly as in production."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from accounts import services
from accounts.models import Account, Contact, Opportunity, Stage
from crm.testing.urlwalk import register_object_maker

_counter = itertools.count(1)


def stage(company, name: str) -> Stage:
    return Stage.objects.get(company=company, name=name)


def make_account(company, actor=None, **data) -> Account:
    data.setdefault("name", f"Account {next(_counter)}")
    return services.account_create(actor=actor, company=company, data=data)


def make_contact(account: Account, actor=None, **data) -> Contact:
    n = next(_counter)
    data = {"account": account, "first_name": "Cara", "last_name": f"Contact{n}",
            "email": f"cara{n}@example.com", **data}  # fmt: skip
    return services.contact_create(actor=actor, company=account.company, data=data)


def make_opportunity(account: Account, actor=None, **data) -> Opportunity:
    data = {"account": account, "name": f"Deal {next(_counter)}", "amount": Decimal("1000.00"),
            "currency": "USD", "close_date": dt.date(2026, 3, 31), **data}  # fmt: skip
    return services.opportunity_create(actor=actor, company=account.company, data=data)


# Object makers for the URL-walking isolation test (crm/tests/test_isolation.py).
@register_object_maker("account_id")
def _account_of(company):
    return make_account(company).pk


@register_object_maker("contact_id")
def _contact_of(company):
    return make_contact(make_account(company)).pk


@register_object_maker("opportunity_id")
def _opportunity_of(company):
    return make_opportunity(make_account(company)).pk


@register_object_maker("stage_id")
def _stage_of(company):
    return Stage.objects.filter(company=company).first().pk
