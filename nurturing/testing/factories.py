"""Nurturing test data, built through the real services, and the URL-walk object makers."""

from __future__ import annotations

import itertools

from crm.models import Membership, Role
from crm.testing.urlwalk import register_object_maker
from leads.testing.factories import make_lead
from nurturing import services
from nurturing.models import ConsentPolicy

_counter = itertools.count(1)

STEP_ONE = {
    "subject": "Hello {{ first_name }}",
    "body": '<p>Hi {{ first_name|default:"there" }}, read <a href="https://example.com/guide?a=1&b=2">our guide</a>.'
    "</p><p>{{ owner_signature }}</p>",
    "delay_days": 0,
    "delay_hours": 0,
}
STEP_TWO = {"subject": "Still there, {{ first_name }}?", "body": "<p>A second note.</p>", "delay_days": 2}


def _admin(company) -> Membership:
    return Membership.objects.filter(company=company, role=Role.ADMIN).first()


def make_sequence(company, *, steps=(STEP_ONE, STEP_TWO), active: bool = True, **data):
    actor = _admin(company)
    data.setdefault("name", f"Welcome {next(_counter)}")
    sequence = services.sequence_create(actor=actor, company=company, data=data)
    for step in steps:
        services.step_create(actor=actor, sequence=sequence, data=dict(step))
    if active:
        sequence = services.sequence_update(actor=actor, sequence=sequence, data={"is_active": True})
    return sequence


def make_consenting_lead(company, **data):
    data.setdefault("gdpr_consent", True)
    return make_lead(company, **data)


def legitimate_interest(company) -> None:
    services.nurturing_settings_update(
        actor=None, settings=services.settings_for(company), consent_policy=ConsentPolicy.LEGITIMATE_INTEREST
    )


def make_enrolment(company, sequence=None, lead=None):
    sequence = sequence or make_sequence(company)
    lead = lead or make_consenting_lead(company)
    return services.enrolment_create(actor=None, lead=lead, sequence=sequence, reason="test")


@register_object_maker("sequence_id")
def _sequence_of(company):
    return make_sequence(company).pk


@register_object_maker("step_id")
def _step_of(company):
    return make_sequence(company).steps.first().pk


@register_object_maker("enrolment_id")
def _enrolment_of(company):
    return make_enrolment(company).pk
