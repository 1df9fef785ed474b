"""Lead factories. ``LeadFactory`` builds valid leads through the real service, so keys, status and
history are exactly as in production."""

from __future__ import annotations

import itertools

from crm.testing.urlwalk import register_object_maker
from leads import services
from leads.models import Campaign, CustomField, Lead, LeadComment, LeadStatus

_counter = itertools.count(1)


def make_campaign(company, name: str = "Spring webinar", **extra) -> Campaign:
    campaign, _ = Campaign.objects.get_or_create(
        company=company, name=name, defaults={"source": "Webinar", "medium": "email", **extra}
    )
    return campaign


def make_lead(company, actor=None, **data) -> Lead:
    n = next(_counter)
    defaults = {
        "first_name": "Lena",
        "last_name": f"Lead{n}",
        "email": f"lena{n}@example.com",
        "lead_source": "Website",
        "campaign": make_campaign(company),
    }
    defaults.update(data)
    return services.lead_create(company=company, actor=actor, data=defaults)


def make_comment(lead, author, body: str = "Called, left a voicemail.", parent=None) -> LeadComment:
    return services.comment_create(actor=author, lead=lead, body=body, parent=parent)


def make_custom_field(company, key: str, field_type: str = "text", **extra) -> CustomField:
    return CustomField.objects.create(
        company=company, key=key, label=key.replace("_", " ").title(), field_type=field_type, **extra
    )


def status(company, key: str) -> LeadStatus:
    return LeadStatus.objects.get(company=company, key=key)


# Object makers for the URL-walking isolation test (crm/tests/test_isolation.py).
@register_object_maker("lead_id")
def _lead_of(company):
    return make_lead(company).pk


@register_object_maker("comment_id")
def _comment_of(company):
    from crm.models import Membership

    author = Membership.objects.filter(company=company).first()
    return make_comment(make_lead(company), author).pk


@register_object_maker("status_id")
def _status_of(company):
    return LeadStatus.objects.filter(company=company).first().pk


@register_object_maker("transition_id")
def _transition_of(company):
    from leads.models import StatusTransition

    return StatusTransition.objects.filter(company=company).first().pk
