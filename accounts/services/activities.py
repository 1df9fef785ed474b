"""Calls, emails, meetings, notes and WhatsApp messages logged on an account, contact or opportunity."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from accounts.models import Account, Contact, Opportunity
from accounts.services.common import Errors, add_error, check_actor, raise_if
from crm.models import Activity, ActivityKind, ActivityOutcome, Membership
from crm.sanitize import sanitize_html

INTERACTIONS = [kind for kind in ActivityKind.values if kind != ActivityKind.SYSTEM]


@transaction.atomic
def activity_log(
    *,
    actor: Membership | None,
    record: Account | Contact | Opportunity,
    kind: str,
    subject: str,
    notes: str = "",
    outcome: str = "",
    occurred_at=None,
) -> Activity:
    """Log an interaction on ``record``; ``outcome`` is one of the guide's (positive, negative,
    neutral, follow_up_required) or empty."""
    check_actor(actor, record.company_id)
    errors: Errors = {}
    subject, outcome = (subject or "").strip(), (outcome or "").strip()
    if kind not in INTERACTIONS:
        add_error(errors, "kind", f"Choose one of {', '.join(INTERACTIONS)}.")
    if not subject:
        add_error(errors, "subject", "Say what the interaction was about.")
    if outcome and outcome not in ActivityOutcome.values:
        add_error(errors, "outcome", f"Choose one of {', '.join(ActivityOutcome.values)}.")
    raise_if(errors)
    return Activity.objects.create(
        company_id=record.company_id, content_type=ContentType.objects.get_for_model(record), object_id=record.pk,
        kind=kind, subject=subject[:200], notes=sanitize_html(notes or ""), outcome=outcome, owner=actor,
        occurred_at=occurred_at or timezone.now(),
    )  # fmt: skip
