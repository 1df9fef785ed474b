"""Telling new owners: one in-app notification and one email per owner, after commit only.

Services call ``queue(assignment_ids)`` inside their transaction. The ids gather in one outbox per
transaction (per connection), flushed by a single ``on_commit`` callback, so a bulk operation that assigns 300 leads
to Ana sends Ana one email — and a rolled-back transaction sends nothing. A savepoint that rolls
back removes its rows; the notifier reads the rows that exist, so their ids simply find nothing.

``notify_assignments`` claims the rows with a conditional UPDATE of ``notified_at`` before it
writes anything: run twice (a retried task), it finds nothing left to claim and sends nothing.
"""

from __future__ import annotations

import logging
import weakref
from collections import defaultdict

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from crm.http import absolute_url
from crm.models import Notification
from crm.tasks import enqueue
from leads.models import LeadAssignment

logger = logging.getLogger(__name__)
VERB = "leads.lead.assigned"
EMAIL_LIST_LIMIT = 50


# The flush callback of each connection's open transaction. Django holds the only strong reference
# (in its on_commit list), so a rollback of the transaction, or of the savepoint that registered the
# callback, drops it and the entry vanishes with it: the next queue() starts a fresh outbox.
_flushes: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def queue(assignment_ids: list[int]) -> None:
    """Notify the owners of these assignments once the current transaction commits."""
    if not assignment_ids:
        return
    if not connection.in_atomic_block:
        dispatch(list(assignment_ids))
        return
    _outbox().extend(assignment_ids)


def _outbox() -> list[int]:
    wrapper = transaction.get_connection()
    flush = _flushes.get(wrapper)
    if flush is None:
        flush = _new_flush()
        transaction.on_commit(flush, robust=True)
        _flushes[wrapper] = flush
    return flush.ids


def _new_flush():
    ids: list[int] = []

    def flush_assignment_notifications() -> None:
        pending = list(ids)
        ids.clear()
        if pending:
            dispatch(pending)

    flush_assignment_notifications.ids = ids
    return flush_assignment_notifications


def dispatch(assignment_ids: list[int]) -> None:
    """In the request by default; through django-q2 when ``ASSIGNMENT_NOTIFY_ASYNC`` is true."""
    if settings.ASSIGNMENT_NOTIFY_ASYNC:
        enqueue("leads.assignment.tasks.notify_assignments", assignment_ids)
    else:
        notify_assignments(assignment_ids)


def notify_assignments(assignment_ids: list[int]) -> int:
    """Claim the unnotified rows among ``assignment_ids`` and notify each owner once. Returns how
    many owners were notified."""
    now = timezone.now()
    with transaction.atomic():
        claimable = LeadAssignment.objects.filter(pk__in=assignment_ids, notified_at__isnull=True)
        claimed = list(claimable.select_for_update(skip_locked=True).values_list("pk", flat=True))
        LeadAssignment.objects.filter(pk__in=claimed, notified_at__isnull=True).update(notified_at=now)
    rows = (
        LeadAssignment.objects.filter(pk__in=claimed, owner__isnull=False, owner__is_active=True)
        .select_related("owner__user", "actor__user", "lead", "company")
        .order_by("pk")
    )
    by_owner = defaultdict(list)
    for row in rows:
        if row.owner_id != row.actor_id:  # nobody is told about what they did themselves
            by_owner[row.owner_id].append(row)
    for group in by_owner.values():
        _notify_owner(group)
    return len(by_owner)


def _notify_owner(rows: list[LeadAssignment]) -> None:
    owner, company = rows[0].owner, rows[0].company
    actors = {str(row.actor.user) if row.actor else "Assignment rules" for row in rows}
    by = actors.pop() if len(actors) == 1 else "Several people"
    if len(rows) == 1:
        text = f"{by} assigned you {rows[0].lead.display_name}"
        url = reverse("leads:detail", kwargs={"company_slug": company.slug, "lead_id": rows[0].lead_id})
    else:
        text = f"{by} assigned you {len(rows)} leads"
        url = reverse("leads:assignment:queue", kwargs={"company_slug": company.slug})
    Notification.objects.create(company=company, recipient=owner, verb=VERB, text=text[:300], url=url)
    body = render_to_string(
        "leads/assignment/emails/assigned.txt",
        {
            "owner": owner,
            "company": company,
            "rows": rows[:EMAIL_LIST_LIMIT],
            "more": max(0, len(rows) - EMAIL_LIST_LIMIT),
            "site_url": settings.SITE_URL.rstrip("/"),
            "queue_url": absolute_url(reverse("leads:assignment:queue", kwargs={"company_slug": company.slug})),
        },
    )
    try:
        send_mail(f"[{company.name}] {text}", body, None, [owner.user.email])
    except Exception:  # the in-app notification stands; a mail outage must not fail the request
        logger.exception("Could not email %s about %d assigned leads", owner.user.email, len(rows))
