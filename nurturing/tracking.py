"""Open and click tracking and unsubscribe, through signed per-message tokens.

A token is ``django.core.signing`` over the message's random ``uid`` (and, for a click, the target
URL), salted per purpose: it cannot be forged or turned into another message's token without the
secret key, and a tampered one is refused with the same 404 as a missing message. A click
redirects only to a URL that the message itself contains. Each event is recorded once per message
(conditional updates, engagement keys), so reloading a pixel or a link changes nothing.
"""

from __future__ import annotations

from django.core import signing
from django.db import transaction
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from simple_history.utils import bulk_update_with_history

from crm.history import bulk_history_kwargs
from crm.http import absolute_url
from leads.models import Lead
from leads.scoring.services import engagement_record
from nurturing import services
from nurturing.models import LeadEmailActivity, StopReason

OPEN_SALT = "nurturing.open"
CLICK_SALT = "nurturing.click"
UNSUBSCRIBE_SALT = "nurturing.unsubscribe"


def open_url(uid: str) -> str:
    return absolute_url(reverse("nurturing_public:open", args=[signing.dumps({"m": uid}, salt=OPEN_SALT)]))


def click_url(uid: str, url: str) -> str:
    token = signing.dumps({"m": uid, "u": url}, salt=CLICK_SALT, compress=True)
    return absolute_url(reverse("nurturing_public:click", args=[token]))


def unsubscribe_url(uid: str) -> str:
    return absolute_url(
        reverse("nurturing_public:unsubscribe", args=[signing.dumps({"m": uid}, salt=UNSUBSCRIBE_SALT)])
    )


def footer_html(uid: str, unsubscribe: str) -> str:
    return (
        '<p style="font-size:12px;color:#666">You receive this email because you are in touch with us. '
        f'<a href="{escape(unsubscribe)}">Unsubscribe</a></p>'
        f'<img src="{escape(open_url(uid))}" width="1" height="1" alt="">'
    )


def message_for(token: str, salt: str) -> tuple[LeadEmailActivity, dict]:
    """The message a token names and the token's payload; ``Http404`` for anything else."""
    try:
        payload = signing.loads(token, salt=salt)
    except signing.BadSignature:
        raise Http404 from None
    if not isinstance(payload, dict) or not isinstance(payload.get("m"), str):
        raise Http404
    message = LeadEmailActivity.objects.select_related("lead", "sequence").filter(uid=payload["m"]).first()
    if message is None:
        raise Http404
    return message, payload


def _first(message: LeadEmailActivity, field: str, now) -> bool:
    """Set ``field`` to ``now`` unless already set; True when this call set it."""
    updated = LeadEmailActivity.objects.filter(pk=message.pk, **{f"{field}__isnull": True}).update(**{field: now})
    return bool(updated)


def _engagement(message: LeadEmailActivity, kind: str, now) -> None:
    engagement_record(lead=message.lead, kind=kind, occurred_at=now, source="nurturing",
                      key=f"nurturing:{message.uid}:{kind}")  # fmt: skip


@transaction.atomic
def message_opened(*, message: LeadEmailActivity) -> bool:
    now = timezone.now()
    if not _first(message, "opened_at", now):
        return False
    _engagement(message, "email_open", now)
    services.timeline_event(lead_id=message.lead_id, company_id=message.company_id, event="nurturing.email.opened",
                            subject=f"Opened the sequence email “{message.subject}”"[:200], message=message.uid)  # fmt: skip
    return True


@transaction.atomic
def message_clicked(*, message: LeadEmailActivity, url: str) -> bool:
    """Record a click on ``url`` (which must be in the message: ``Http404`` otherwise)."""
    if url not in (message.links or []):
        raise Http404
    now = timezone.now()
    message_opened(message=message)  # a click proves the email was opened, images or not
    if not _first(message, "clicked_at", now):
        return False
    _engagement(message, "email_click", now)
    services.timeline_event(lead_id=message.lead_id, company_id=message.company_id, event="nurturing.email.clicked",
                            subject=f"Clicked {url} in “{message.subject}”"[:200], message=message.uid, url=url)  # fmt: skip
    return True


@transaction.atomic
def lead_unsubscribe(*, lead: Lead, message: LeadEmailActivity | None = None) -> bool:
    """The lead said stop: do-not-disturb on the lead (with a history row), every enrolment stopped,
    an entry on the timeline. Idempotent; True when this call unsubscribed the lead."""
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    now = timezone.now()
    newly_marked = message is not None and _first(message, "unsubscribed_at", now)
    if lead.dnd and not newly_marked:
        return False
    if not lead.dnd:
        lead.dnd, lead.updated_at = True, now
        bulk_update_with_history(
            [lead], Lead, ["dnd", "updated_at"], **bulk_history_kwargs(Lead, None, "nurturing.lead.unsubscribed")
        )
    services.enrolments_stop_for_lead(lead_id=lead.pk, reason=StopReason.UNSUBSCRIBED)
    subject = f"Unsubscribed from “{message.sequence.name}” emails" if message else "Unsubscribed from emails"
    services.timeline_event(lead_id=lead.pk, company_id=lead.company_id, event="nurturing.unsubscribed",
                            subject=subject, message=message.uid if message else "")  # fmt: skip
    return True
