"""Sending due sequence steps, each exactly once per (enrolment, step) — or, when a worker dies at
the worst moment, at most once.

One run (``send_due``):

1. **Claim** a batch of due enrolments of one company in one transaction that locks the company's
   ``NurturingSettings`` row (claimers of a company take turns, which also makes the per-minute rate
   limit exact across workers): check the gates on the fresh lead (stopping the enrolment when one
   fails), render each message (each step's template compiled and its HTML sanitised once:
   ``templating.compile_step``), insert its ``LeadEmailActivity`` row in state ``claimed`` with
   ``INSERT … ON CONFLICT DO NOTHING`` on the unique (enrolment, step) pair, keep only the rows this
   run inserted (its ``claim_token``) and advance those enrolments with one conditional ``UPDATE``
   per step (only rows still active at the step read); a row another writer moved meanwhile loses
   its claim.
2. **Send** the claimed messages outside any transaction over ``SMTP_CONNECTIONS`` connections,
   one per thread (each Django email backend is one connection). The threads only talk SMTP.
3. **Record**, in the calling thread as results come back, each accepted message as ``sent``, a
   refused recipient as ``bounced``, any other SMTP error as ``failed`` — never retried. The threads
   stay at most ``RECORD_EVERY`` (50) messages ahead of the recording.

A second run, a retried task or another cluster finds nothing to claim: the enrolment has moved on
and the (enrolment, step) row exists.

**A message interrupted mid-send** (the worker killed or the machine lost between claiming and
recording) stays ``claimed``: the SMTP server may or may not have taken it, nobody can know which,
and a duplicate is worse than a gap, so nothing ever re-sends a claimed row. ``claims_mark_stale``
(run by every scheduled run) turns claims older than ``NURTURING_STALE_CLAIM_MINUTES`` (15) into
``unknown``, which the sequence page and the admin list for review. A kill leaves the rest of the
worker's batch (up to ``BATCH_SIZE``, 500) ``claimed`` too; of those, at most ``RECORD_EVERY`` (50)
can have left, the others never did.
"""

from __future__ import annotations

import queue
import threading
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formataddr
from smtplib import SMTPRecipientsRefused

from django.conf import settings as django_settings
from django.contrib.contenttypes.models import ContentType
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.utils import timezone

from crm.models import Activity, ActivityKind
from leads.models import Lead
from nurturing import services, tracking
from nurturing.models import (
    EmailSequenceStep,
    Enrolment,
    EnrolmentState,
    LeadEmailActivity,
    MessageState,
    NurturingSettings,
    StopReason,
)
from nurturing.templating import links_in, merge_context, render

BATCH_SIZE = 500
SMTP_CONNECTIONS = 3  # senders in parallel: each waits on the server most of the time
RECORD_EVERY = 50  # the most messages sent and not yet recorded: what a killed worker can leave "claimed"


def stale_after() -> timedelta:
    return timedelta(minutes=django_settings.NURTURING_STALE_CLAIM_MINUTES)


@dataclass
class SendResult:
    claimed: int = 0
    sent: int = 0
    bounced: int = 0
    failed: int = 0
    stopped: int = 0
    completed: int = 0
    stale: int = 0

    def add(self, other: SendResult) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Outgoing:
    uid: str
    email: EmailMultiAlternatives
    row: LeadEmailActivity
    advance: dict = field(default_factory=dict)


def in_window(settings: NurturingSettings, now: datetime) -> bool:
    start, end = settings.window_start, settings.window_end
    if start is None or end is None:
        return True
    at = now.astimezone(UTC).time()
    return start <= at < end if start <= end else (at >= start or at < end)


def _steps_by_sequence(sequence_ids) -> dict[int, list[EmailSequenceStep]]:
    steps: dict[int, list[EmailSequenceStep]] = {}
    active = EmailSequenceStep.objects.filter(sequence_id__in=sequence_ids, is_active=True).order_by("step_number")
    for step in active:
        steps.setdefault(step.sequence_id, []).append(step)
    return steps


def _after(steps: list[EmailSequenceStep], number: int) -> tuple[EmailSequenceStep | None, EmailSequenceStep | None]:
    """The next step after ``number`` and the one following it."""
    later = [s for s in steps if s.step_number > number]
    return (later[0] if later else None), (later[1] if len(later) > 1 else None)


class SequenceEmail(EmailMultiAlternatives):
    """An email whose MIME boundary is chosen with it: the email package would otherwise compile a
    regular expression per message to pick one (a fifth of the cost of writing a message out)."""

    def __init__(self, *args, boundary: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.boundary = boundary

    def message(self):
        message = super().message()
        message.set_boundary(self.boundary)
        return message


def _boundary(*parts: str) -> str:
    """A random boundary found in no part (as the email package's own, which is also random)."""
    while True:
        boundary = f"=_{uuid.uuid4().hex}"
        if not any(boundary in part for part in parts):
            return boundary


def sender_of(sequence) -> tuple[str, str]:
    """(name, address) a sequence's emails come from."""
    return sequence.sender_name or sequence.company.name, sequence.sender_email or django_settings.DEFAULT_FROM_EMAIL


def compose(enrolment: Enrolment, step: EmailSequenceStep, *, uid: str) -> tuple[EmailMultiAlternatives, dict]:
    """The email of ``step`` for the enrolment's lead, with tracked links, open pixel, unsubscribe
    footer and RFC 8058 headers; plus the row fields it implies (subject, links, Message-ID)."""
    lead, sequence = enrolment.lead, enrolment.sequence
    sender_name, sender_email = sender_of(sequence)
    unsubscribe_url = tracking.unsubscribe_url(uid)
    context = merge_context(lead=lead, sender_name=sender_name, our_company=sequence.company.name,
                            unsubscribe_url=unsubscribe_url)  # fmt: skip
    rendered = render(subject=step.subject, body=step.body, context=context)
    links = [url for url in links_in(rendered.html) if url != unsubscribe_url]
    html, text = rendered.html, rendered.text
    for url in links:
        tracked = tracking.click_url(uid, url)
        html = html.replace(f'href="{_attr(url)}"', f'href="{tracked}"')
        text = text.replace(f"({url})", f"({tracked})")
    html += tracking.footer_html(uid, unsubscribe_url)
    text += f"\n\n--\nUnsubscribe: {unsubscribe_url}\n"
    message_id = f"<{uid}@{sender_email.rsplit('@', 1)[-1]}>"
    headers = {"Message-ID": message_id, "List-Unsubscribe": f"<{unsubscribe_url}>",
               "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}  # fmt: skip
    email = SequenceEmail(rendered.subject, text, formataddr((sender_name, sender_email)), [lead.email],
                          headers=headers, boundary=_boundary(text, html))  # fmt: skip
    email.attach_alternative(html, "text/html")
    return email, {"subject": rendered.subject[:300], "links": links, "message_id": message_id}


def _attr(url: str) -> str:
    return url.replace("&", "&amp;")


def _claim_one(enrolment: Enrolment, steps, now: datetime, token: str, result: SendResult) -> Outgoing | None:
    step, following = _after(steps.get(enrolment.sequence_id, []), enrolment.last_step_number)
    if step is None:  # every remaining step was deactivated
        _advance(enrolment, {"state": EnrolmentState.COMPLETED, "next_send_at": None, "finished_at": now})
        result.completed += 1
        return None
    uid = uuid.uuid4().hex
    email, fields = compose(enrolment, step, uid=uid)
    row = LeadEmailActivity(company_id=enrolment.company_id, enrolment=enrolment, lead_id=enrolment.lead_id,
                            sequence_id=enrolment.sequence_id, step=step, uid=uid, to_email=enrolment.lead.email,
                            state=MessageState.CLAIMED, claim_token=token, claimed_at=now, **fields)  # fmt: skip
    advance = {"last_step_number": step.step_number, "next_send_at": now + following.delay if following else None}
    if following is None:
        advance.update(state=EnrolmentState.COMPLETED, finished_at=now)
    return Outgoing(uid=uid, email=email, row=row, advance=advance)


def _advance(enrolment: Enrolment, values: dict) -> bool:
    """Move the enrolment on only if nobody else did (same state and last step as read)."""
    return bool(
        Enrolment.objects.filter(
            pk=enrolment.pk, state=EnrolmentState.ACTIVE, last_step_number=enrolment.last_step_number
        ).update(**values)
    )


# What the gates, the merge fields and the message read of a lead: the rest (the scraped profile,
# the score breakdown, …) is not worth loading and decoding for each of thousands of emails.
LEAD_FIELDS = ("company_id", "first_name", "last_name", "email", "job_title", "company_name", "dnd", "gdpr_consent",
               "is_deleted", "merged_into_id", "converted_at", "status__category", "owner__user__full_name",
               "owner__user__email")  # fmt: skip


def _due(company_id: int, now: datetime, limit: int) -> list[Enrolment]:
    return list(
        Enrolment.objects.filter(company_id=company_id, state=EnrolmentState.ACTIVE, next_send_at__lte=now,
                                 sequence__is_active=True)
        .select_related("lead__status", "lead__owner__user", "sequence__company")
        .only(*(f"lead__{name}" for name in LEAD_FIELDS), "company_id", "lead_id", "sequence", "state",
              "last_step_number", "next_send_at")
        .order_by("next_send_at", "id")[:limit]
    )  # fmt: skip


def _advance_all(claimed: list[tuple[Enrolment, Outgoing]]) -> set[int]:
    """Move the enrolments on as their messages say: one conditional UPDATE per distinct move (in a
    batch, about one per step), each only over rows still active at the step read. The ids of the
    enrolments that did not move (another writer got there first)."""
    moves: dict[tuple, list[int]] = defaultdict(list)
    for enrolment, message in claimed:
        moves[(enrolment.last_step_number, *sorted(message.advance.items()))].append(enrolment.pk)
    stuck: set[int] = set()
    for (read_step, *values), ids in moves.items():
        values = dict(values)
        rows = Enrolment.objects.filter(pk__in=ids, state=EnrolmentState.ACTIVE, last_step_number=read_step)
        if rows.update(**values) < len(ids):  # rare: find who moved, by where each row is now
            state = values.get("state", EnrolmentState.ACTIVE)
            moved = Enrolment.objects.filter(pk__in=ids, state=state, last_step_number=values["last_step_number"])
            stuck.update(set(ids) - set(moved.values_list("pk", flat=True)))
    return stuck


@transaction.atomic
def claim_batch(*, company_id: int, now: datetime, limit: int, token: str, result: SendResult) -> tuple[list, int]:
    """Claim up to ``limit`` due messages of one company; (claimed messages, enrolments handled)."""
    settings = NurturingSettings.objects.select_for_update().get(pk=services.settings_for(company_id).pk)
    if not in_window(settings, now):
        return [], 0
    recent = LeadEmailActivity.objects.filter(company_id=company_id, claimed_at__gt=now - timedelta(minutes=1))
    budget = min(limit, settings.rate_per_minute - recent.count())
    due = _due(company_id, now, budget) if budget > 0 else []
    if not due:
        return [], 0
    unsubscribed, bounced = services.lead_flags([e.lead_id for e in due])
    steps = _steps_by_sequence({e.sequence_id for e in due})
    outgoing = []
    for enrolment in due:
        reason = services.gate_for(enrolment.lead, settings, unsubscribed=enrolment.lead_id in unsubscribed,
                                   bounced=enrolment.lead_id in bounced)  # fmt: skip
        if reason is not None:
            services.enrolment_stop(actor=None, enrolment=enrolment, reason=reason)
            result.stopped += 1
            continue
        message = _claim_one(enrolment, steps, now, token, result)
        if message is not None:
            outgoing.append((enrolment, message))
    LeadEmailActivity.objects.bulk_create([m.row for _, m in outgoing], ignore_conflicts=True)
    uids = [m.uid for _, m in outgoing]
    mine = set(
        LeadEmailActivity.objects.filter(claim_token=token, uid__in=uids).order_by().values_list("uid", flat=True)
    )
    held = [(enrolment, message) for enrolment, message in outgoing if message.uid in mine]  # others: another run's
    stuck = _advance_all(held)
    if stuck:
        LeadEmailActivity.objects.filter(uid__in=[m.uid for e, m in held if e.pk in stuck]).delete()
    claimed = [message for enrolment, message in held if enrolment.pk not in stuck]
    result.claimed += len(claimed)
    return claimed, len(due)


def _record_sent(messages: list[Outgoing], now: datetime) -> None:
    if not messages:
        return
    uids = [m.uid for m in messages]
    with transaction.atomic():
        LeadEmailActivity.objects.filter(uid__in=uids, state=MessageState.CLAIMED).update(
            state=MessageState.SENT, sent_at=now
        )
        lead_type = ContentType.objects.get_for_model(Lead)
        Activity.objects.bulk_create(
            Activity(company_id=m.row.company_id, content_type=lead_type, object_id=m.row.lead_id,
                     kind=ActivityKind.SYSTEM, event="nurturing.email.sent", occurred_at=now,
                     subject=f"Sequence email sent: {m.row.subject}"[:200],
                     data={"message": m.uid, "sequence": m.row.sequence_id, "step": m.row.step_id})
            for m in messages
        )  # fmt: skip


def _record_error(message: Outgoing, state: str, error: Exception) -> None:
    LeadEmailActivity.objects.filter(uid=message.uid, state=MessageState.CLAIMED).update(
        state=state, error=f"{type(error).__name__}: {error}"[:500]
    )
    if state == MessageState.BOUNCED:
        services.enrolments_stop_for_lead(lead_id=message.row.lead_id, reason=StopReason.BOUNCED)


def _record(outcomes: list[tuple[Outgoing, Exception | None]], result: SendResult) -> None:
    """What the SMTP server said, onto the message rows (and the timeline); never a retry."""
    accepted = [message for message, error in outcomes if error is None]
    _record_sent(accepted, timezone.now())
    result.sent += len(accepted)
    for message, error in outcomes:
        if isinstance(error, SMTPRecipientsRefused):
            _record_error(message, MessageState.BOUNCED, error)
            result.bounced += 1
        elif error is not None:
            _record_error(message, MessageState.FAILED, error)
            result.failed += 1


def _send_one(message: Outgoing, connection) -> Exception | None:
    try:
        connection.send_messages([message.email])
    except Exception as error:  # noqa: BLE001 - any failure is recorded on the message, never re-sent
        return error
    return None


def _sender(connection, work: queue.SimpleQueue, done: queue.SimpleQueue, window: threading.Semaphore) -> None:
    """A sending thread: takes messages while the recording is less than RECORD_EVERY behind.
    No database access here."""
    while True:
        window.acquire()
        try:
            message = work.get_nowait()
        except queue.Empty:
            window.release()
            return
        done.put((message, _send_one(message, connection)))


def deliver(messages: list[Outgoing], *, connections: list, result: SendResult) -> None:
    """Send each claimed message once over the (open) ``connections``, one thread each; record the
    outcomes here as they come back, half of ``RECORD_EVERY`` per transaction (so that the senders
    go on while one is written)."""
    work: queue.SimpleQueue = queue.SimpleQueue()
    for message in messages:
        work.put(message)
    done: queue.SimpleQueue = queue.SimpleQueue()
    window, chunk = threading.Semaphore(RECORD_EVERY), max(RECORD_EVERY // 2, 1)
    threads = [threading.Thread(target=_sender, args=(connection, work, done, window), daemon=True)
               for connection in connections[: len(messages)]]  # fmt: skip
    for thread in threads:
        thread.start()
    try:
        waiting = len(messages)
        while waiting:
            outcomes = [done.get() for _ in range(min(chunk, waiting))]
            _record(outcomes, result)
            waiting -= len(outcomes)
            for _ in outcomes:
                window.release()
    finally:  # after an error while recording, the rest stays claimed, unsent: stop the threads
        while not work.empty():
            work.get_nowait()
        for _ in threads:
            window.release()
        for thread in threads:
            thread.join()


def claims_mark_stale(*, now: datetime | None = None) -> int:
    """Claims left by a worker that died mid-send become ``unknown`` (shown for review, not re-sent)."""
    cutoff = (now or timezone.now()) - stale_after()
    return LeadEmailActivity.objects.filter(state=MessageState.CLAIMED, claimed_at__lt=cutoff).update(
        state=MessageState.UNKNOWN,
        error="Interrupted while sending: it may or may not have been delivered, and is never re-sent automatically.",
    )


def companies_with_due(now: datetime) -> list[int]:
    due = Enrolment.objects.filter(state=EnrolmentState.ACTIVE, next_send_at__lte=now, sequence__is_active=True)
    return sorted(set(due.values_list("company_id", flat=True)))


def send_due(*, company_id: int | None = None, now: datetime | None = None, batch_size: int = BATCH_SIZE,
             connections: int = SMTP_CONNECTIONS) -> SendResult:  # fmt: skip
    """Claim and send every due step (of one company, or all), batch by batch, over ``connections``
    SMTP connections. Safe to run twice or concurrently: each (enrolment, step) is claimed by one
    run only."""
    now = now or timezone.now()
    result = SendResult(stale=claims_mark_stale(now=now))
    company_ids = [company_id] if company_id is not None else companies_with_due(now)
    if not company_ids:
        return result
    token = uuid.uuid4().hex
    backends = [get_connection() for _ in range(max(connections, 1))]
    try:
        for backend in backends:
            backend.open()  # fail before claiming anything when the mail server is unreachable
        for company in company_ids:
            while True:
                claimed, handled = claim_batch(company_id=company, now=now, limit=batch_size, token=token,
                                               result=result)  # fmt: skip
                deliver(claimed, connections=backends, result=result)
                if handled < batch_size:
                    break
    finally:
        for backend in backends:
            backend.close()
    return result
