"""Every write on sequences, steps, settings and enrolments. Views, API, admin, commands, tasks and
the lead-event receivers call these; each validates, is atomic and leaves a history row whose
change reason names the action. Sending lives in ``nurturing.sending``, tracking and unsubscribe
in ``nurturing.tracking``."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from crm.history import bulk_history_kwargs
from crm.history import record as _record
from crm.models import Activity, ActivityKind, Company, Membership
from crm.permissions import permissions_for
from leads.models import Lead, LeadStatus
from leads.queries import leads_visible_to
from leads.workflow import is_disqualified, is_won
from nurturing.models import (
    ConsentPolicy,
    EmailSequence,
    EmailSequenceStep,
    Enrolment,
    EnrolmentState,
    LeadEmailActivity,
    MessageState,
    NurturingSettings,
    StopReason,
    Trigger,
)
from nurturing.templating import validate_template

GATE_MESSAGES = {
    StopReason.DELETED: "This lead is deleted or merged.",
    StopReason.CONVERTED: "This lead is converted.",
    StopReason.DISQUALIFIED: "This lead is disqualified.",
    StopReason.UNSUBSCRIBED: "This lead unsubscribed: it receives no more emails.",
    StopReason.DND: "This lead is marked do-not-disturb.",
    StopReason.BOUNCED: "Email to this lead bounced.",
    StopReason.NO_EMAIL: "This lead has no email address.",
    StopReason.NO_CONSENT: "This lead has not given consent (the company requires it).",
}


RUNNING = (EnrolmentState.ACTIVE, EnrolmentState.PAUSED)  # an enrolment that has not ended


def check_actor(actor: Membership | None, company_id: int, permission: str) -> None:
    if actor is None:
        return
    if actor.company_id != company_id or not actor.is_active or permission not in permissions_for(actor.role):
        raise PermissionDenied


def timeline_event(*, lead_id: int, company_id: int, event: str, subject: str, actor=None, **data) -> Activity:
    """A system entry on the lead's timeline (system, not ``email``: a logged email earns
    engagement points, and our own sending must not raise a lead's score)."""
    return Activity.objects.create(
        company_id=company_id, content_type=ContentType.objects.get_for_model(Lead), object_id=lead_id,
        kind=ActivityKind.SYSTEM, event=event, subject=subject[:200], owner=actor, data=data,
    )  # fmt: skip


def _unknown(data: dict[str, Any], allowed) -> None:
    unknown = set(data) - set(allowed)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "Unknown field."))


# --- settings ------------------------------------------------------------------------------------

SETTINGS_FIELDS = ("consent_policy", "rate_per_minute", "window_start", "window_end", "default_sequence",
                   "sweep_threshold")  # fmt: skip
SETTINGS_MINIMUMS = {"rate_per_minute": (1, "Give at least 1 email per minute."),
                     "sweep_threshold": (0, "Give a threshold from 0 to 100.")}  # fmt: skip


def settings_for(company: Company | int) -> NurturingSettings:
    company_id = getattr(company, "pk", company)
    settings, _ = NurturingSettings.objects.get_or_create(company_id=company_id)
    return settings


def _check_default_sequence(settings: NurturingSettings, sequence: EmailSequence | None) -> None:
    if sequence is None or sequence.pk == settings.default_sequence_id:
        return  # unchanged: a sequence deactivated since stays chosen until someone picks another
    if sequence.company_id != settings.company_id:
        raise ValidationError({"default_sequence": "Choose a sequence of this company."})
    if not sequence.is_active:
        raise ValidationError({"default_sequence": "Choose an active sequence: the sweep enrols only into those."})


def _check_window(start, end) -> None:
    if (start is None) != (end is None):
        raise ValidationError({"window_end": "Give both ends of the sending window, or neither."})
    if start is not None and start == end:
        raise ValidationError({"window_end": "The sending window must end at another time than it starts."})


@transaction.atomic
def nurturing_settings_update(*, actor: Membership | None, settings: NurturingSettings, **fields: Any
                              ) -> NurturingSettings:  # fmt: skip
    """Change a company's sending rules (company admins). ``fields``: any of ``SETTINGS_FIELDS``.
    The window is in UTC; it may run past midnight (22:00–06:00)."""
    check_actor(actor, settings.company_id, "company.manage")
    _unknown(fields, SETTINGS_FIELDS)
    for name, (least, message) in SETTINGS_MINIMUMS.items():
        if isinstance(fields.get(name), int) and fields[name] < least:
            raise ValidationError({name: message})
    settings = NurturingSettings.objects.select_for_update().get(pk=settings.pk)
    if "default_sequence" in fields:
        _check_default_sequence(settings, fields["default_sequence"])
    for name, value in fields.items():
        setattr(settings, name, value)
    _check_window(settings.window_start, settings.window_end)
    settings.full_clean(exclude=["company"])
    _record(settings, actor, "nurturing.settings.changed")
    settings.save()
    return settings


# --- sequences and steps -------------------------------------------------------------------------

SEQUENCE_FIELDS = ("name", "description", "trigger", "trigger_score", "trigger_status", "is_active", "sender_name",
                   "sender_email")  # fmt: skip
STEP_FIELDS = ("step_number", "subject", "body", "delay_days", "delay_hours", "is_active")


def _validated_sequence(sequence: EmailSequence, data: dict[str, Any]) -> EmailSequence:
    _unknown(data, SEQUENCE_FIELDS)
    for name in SEQUENCE_FIELDS:
        if name in data:
            value = data[name]
            setattr(sequence, name, value.strip() if isinstance(value, str) else value)
    status = sequence.trigger_status
    if status is not None and status.company_id != sequence.company_id:
        raise ValidationError({"trigger_status": "Choose a status of this company."})
    if sequence.trigger == Trigger.SCORE_THRESHOLD and sequence.trigger_score is None:
        raise ValidationError({"trigger_score": "Give the score that enrols a lead."})
    if sequence.trigger == Trigger.STATUS_CHANGED and status is None:
        raise ValidationError({"trigger_status": "Choose the status that enrols a lead."})
    duplicate = EmailSequence.objects.filter(company_id=sequence.company_id, name__iexact=sequence.name)
    if sequence.name and duplicate.exclude(pk=sequence.pk).exists():
        raise ValidationError({"name": "A sequence with this name already exists."})
    sequence.full_clean(exclude=["company", "created_by"])
    if sequence.is_active and sequence.pk and not sequence.steps.filter(is_active=True).exists():
        raise ValidationError({"is_active": "Add an active step before activating the sequence."})
    return sequence


@transaction.atomic
def sequence_create(*, actor: Membership | None, company: Company, data: dict[str, Any]) -> EmailSequence:
    check_actor(actor, company.pk, "nurturing.manage")
    data = {**data, "is_active": False}  # activated once it has a step
    sequence = _validated_sequence(EmailSequence(company=company, created_by=actor), data)
    _record(sequence, actor, "nurturing.sequence.created")
    sequence.save()
    return sequence


@transaction.atomic
def sequence_update(*, actor: Membership | None, sequence: EmailSequence, data: dict[str, Any]) -> EmailSequence:
    check_actor(actor, sequence.company_id, "nurturing.manage")
    sequence = _validated_sequence(EmailSequence.objects.select_for_update().get(pk=sequence.pk), data)
    _record(sequence, actor, "nurturing.sequence.changed")
    sequence.save()
    return sequence


@transaction.atomic
def sequence_delete(*, actor: Membership | None, sequence: EmailSequence) -> None:
    check_actor(actor, sequence.company_id, "nurturing.manage")
    if LeadEmailActivity.objects.filter(sequence=sequence).exists():
        raise ValidationError({"__all__": "This sequence has sent emails: deactivate it instead of deleting it."})
    _record(sequence, actor, "nurturing.sequence.deleted")
    sequence.delete()


def _validated_step(step: EmailSequenceStep, data: dict[str, Any]) -> EmailSequenceStep:
    _unknown(data, STEP_FIELDS)
    errors: dict[str, list[str]] = {}
    for name in ("delay_days", "delay_hours", "step_number"):
        value = data.get(name)
        if isinstance(value, int) and value < 0:
            errors[name] = ["A delay cannot be negative." if name != "step_number" else "Steps are numbered from 1."]
    for name in STEP_FIELDS:
        if name in data and name not in errors:
            setattr(step, name, data[name])
    for name in ("subject", "body"):
        try:
            validate_template(getattr(step, name), name)
        except ValidationError as error:
            errors.setdefault(name, []).extend(error.message_dict[name])
    try:
        step.full_clean(exclude=["company", "sequence", *errors])
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    taken = EmailSequenceStep.objects.filter(sequence_id=step.sequence_id, step_number=step.step_number)
    if "step_number" not in errors and taken.exclude(pk=step.pk).exists():
        errors["step_number"] = [f"Step {step.step_number} already exists in this sequence."]
    if "step_number" not in errors and _renumbered_after_sending(step):
        errors["step_number"] = [SENT_STEP_STAYS]
    if not step.is_active and _last_active_step(step):
        errors.setdefault("is_active", []).append(
            "This is the active sequence's last active step: deactivate the sequence first."
        )
    if errors:
        raise ValidationError(errors)
    return step


SENT_STEP_STAYS = "This step has been sent already: it keeps its place (deactivate it and add a new step instead)."


def _renumbered_after_sending(step: EmailSequenceStep) -> bool:
    """Enrolments follow step numbers: a sent step that moved would be due again for leads past it."""
    if step.pk is None:
        return False
    stored = EmailSequenceStep.objects.filter(pk=step.pk).values_list("step_number", flat=True).first()
    return stored != step.step_number and step.messages.exists()


def _last_active_step(step: EmailSequenceStep) -> bool:
    others = EmailSequenceStep.objects.filter(sequence_id=step.sequence_id, is_active=True).exclude(pk=step.pk)
    return step.sequence.is_active and not others.exists()


@transaction.atomic
def step_create(*, actor: Membership | None, sequence: EmailSequence, data: dict[str, Any]) -> EmailSequenceStep:
    check_actor(actor, sequence.company_id, "nurturing.manage")
    data = dict(data)
    if data.get("step_number") in (None, ""):
        last = sequence.steps.order_by("-step_number").values_list("step_number", flat=True).first()
        data["step_number"] = (last or 0) + 1
    step = _validated_step(EmailSequenceStep(company_id=sequence.company_id, sequence=sequence), data)
    _record(step, actor, "nurturing.step.created")
    step.save()
    return step


@transaction.atomic
def step_update(*, actor: Membership | None, step: EmailSequenceStep, data: dict[str, Any]) -> EmailSequenceStep:
    check_actor(actor, step.company_id, "nurturing.manage")
    step = _validated_step(EmailSequenceStep.objects.select_for_update().get(pk=step.pk), data)
    _record(step, actor, "nurturing.step.changed")
    step.save()
    return step


STEP_SENT_STAYS = "This step has sent emails: deactivate it instead of deleting it."


@transaction.atomic
def step_delete(*, actor: Membership | None, step: EmailSequenceStep) -> None:
    """Delete a step no email went out for; the later steps move up one place. Enrolments follow:
    one that was waiting for this step gets the next step instead, due after that step's delay
    rather than this one's, and those past it keep their place in the renumbered steps."""
    check_actor(actor, step.company_id, "nurturing.manage")
    # Senders of the company take this lock before reading steps: none sees half a renumbering.
    NurturingSettings.objects.select_for_update().get(pk=settings_for(step.company_id).pk)
    step = EmailSequenceStep.objects.select_for_update().select_related("sequence").get(pk=step.pk)
    if step.messages.exists():
        raise ValidationError({"__all__": STEP_SENT_STAYS})
    sequence, number = step.sequence, step.step_number
    if step.is_active:
        _enrolments_skip(step)
    _record(step, actor, "nurturing.step.deleted")
    step.delete()
    _steps_close_gap(sequence, number, actor)
    if sequence.is_active and not sequence.steps.filter(is_active=True).exists():
        sequence.is_active = False
        _record(sequence, actor, "nurturing.sequence.deactivated")
        sequence.save(update_fields=["is_active", "updated_at"])


def _enrolments_skip(step: EmailSequenceStep) -> None:
    """Enrolments due to get ``step`` next get the following active step, at the time their
    previous step (or enrolment) plus that step's delay: ``next_send_at`` was that base + ``step``'s."""
    following = next_step(step.sequence_id, step.step_number)
    previous = (
        EmailSequenceStep.objects.filter(sequence_id=step.sequence_id, is_active=True, step_number__lt=step.step_number)
        .order_by("-step_number").values_list("step_number", flat=True).first()
    )  # fmt: skip
    if following is None:
        return  # nothing after it: the sender completes them when they fall due
    waiting = Enrolment.objects.filter(sequence_id=step.sequence_id, state__in=RUNNING,
                                       last_step_number__gte=previous or 0, last_step_number__lt=step.step_number)  # fmt: skip
    waiting.update(next_send_at=F("next_send_at") + (following.delay - step.delay))


def _steps_close_gap(sequence: EmailSequence, number: int, actor: Membership | None) -> None:
    """Steps after ``number`` move up one, and so does every enrolment's last step past it (the
    number is how an enrolment knows where it is)."""
    Enrolment.objects.filter(sequence=sequence, last_step_number__gt=number).update(
        last_step_number=F("last_step_number") - 1
    )
    for later in sequence.steps.filter(step_number__gt=number).order_by("step_number"):
        later.step_number -= 1  # ascending: each takes the number just freed (they are unique)
        _record(later, actor, "nurturing.step.renumbered")
        later.save(update_fields=["step_number"])


@transaction.atomic
def step_move(*, actor: Membership | None, step: EmailSequenceStep, direction: str) -> EmailSequenceStep:
    """Swap ``step`` with its neighbour above (``up``) or below (``down``); steps already sent stay."""
    check_actor(actor, step.company_id, "nurturing.manage")
    if direction not in ("up", "down"):
        raise ValidationError({"direction": "Move a step up or down."})
    steps = list(EmailSequenceStep.objects.select_for_update().filter(sequence_id=step.sequence_id))
    index = [s.pk for s in steps].index(step.pk)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(steps):
        raise ValidationError({"direction": f"This step is already the {'first' if direction == 'up' else 'last'}."})
    moved, neighbour = steps[index], steps[other]
    if LeadEmailActivity.objects.filter(step__in=[moved, neighbour]).exists():
        raise ValidationError({"direction": SENT_STEP_STAYS})
    numbers = (moved.step_number, neighbour.step_number)
    EmailSequenceStep.objects.filter(pk=moved.pk).update(
        step_number=0
    )  # frees its number: (sequence, number) is unique
    for item, number in ((neighbour, numbers[0]), (moved, numbers[1])):
        item.step_number = number
        _record(item, actor, "nurturing.step.moved")
        item.save(update_fields=["step_number"])
    return moved


def next_step(sequence_id: int, after: int) -> EmailSequenceStep | None:
    return (
        EmailSequenceStep.objects.filter(sequence_id=sequence_id, is_active=True, step_number__gt=after)
        .order_by("step_number")
        .first()
    )


# --- gates ---------------------------------------------------------------------------------------


def gate_for(lead: Lead, settings: NurturingSettings, *, unsubscribed: bool, bounced: bool) -> str | None:
    """Why ``lead`` may not be emailed now (a ``StopReason``), or None. ``lead.status`` is read."""
    checks = (
        (lead.is_deleted or lead.merged_into_id is not None, StopReason.DELETED),
        (lead.converted_at is not None or is_won(lead.status), StopReason.CONVERTED),
        (is_disqualified(lead.status), StopReason.DISQUALIFIED),
        (unsubscribed, StopReason.UNSUBSCRIBED),
        (lead.dnd, StopReason.DND),
        (bounced, StopReason.BOUNCED),
        (not lead.email, StopReason.NO_EMAIL),
        (settings.consent_policy == ConsentPolicy.CONSENT and not lead.gdpr_consent, StopReason.NO_CONSENT),
    )
    return next((reason for failed, reason in checks if failed), None)


def says_stop() -> Q:
    """The messages that stop a lead's emails: an unsubscribe, or a bounce of the address the lead
    still has (once a person corrects a bounced address, the new one may be emailed)."""
    return Q(unsubscribed_at__isnull=False) | Q(state=MessageState.BOUNCED, to_email=F("lead__email"))


def lead_flags(lead_ids: list[int]) -> tuple[set[int], set[int]]:
    """(unsubscribed lead ids, ids of leads whose current address bounced) among ``lead_ids``: one query."""
    rows = LeadEmailActivity.objects.filter(says_stop(), lead_id__in=lead_ids)
    unsubscribed, bounced = set(), set()
    for lead_id, at, state, sent_to, address in rows.values_list("lead_id", "unsubscribed_at", "state", "to_email",
                                                                  "lead__email"):  # fmt: skip
        if at is not None:
            unsubscribed.add(lead_id)
        if state == MessageState.BOUNCED and sent_to == address:
            bounced.add(lead_id)
    return unsubscribed, bounced


def check_gates(lead: Lead, settings: NurturingSettings) -> str | None:
    unsubscribed, bounced = lead_flags([lead.pk])
    return gate_for(lead, settings, unsubscribed=lead.pk in unsubscribed, bounced=lead.pk in bounced)


# --- enrolments ----------------------------------------------------------------------------------


def _check_enrollable(actor: Membership | None, lead: Lead, sequence: EmailSequence) -> None:
    check_actor(actor, lead.company_id, "nurturing.enrol")
    check_sequence_open(sequence, lead.company_id)
    if actor is not None and not leads_visible_to(actor).filter(pk=lead.pk).exists():
        raise ValidationError({"lead": "Choose a lead you can see."})
    reason = check_gates(lead, settings_for(lead.company_id))
    if reason is not None:
        raise ValidationError({"lead": GATE_MESSAGES[reason]})


@transaction.atomic
def enrolment_create(*, actor: Membership | None, lead: Lead, sequence: EmailSequence, reason: str) -> Enrolment:
    """Enrol ``lead`` in ``sequence`` (``actor`` None for automatic triggers). A lead unenrolled by a
    person may be enrolled again and continues after the last step it was sent."""
    lead = Lead.objects.select_related("status").get(pk=lead.pk)
    _check_enrollable(actor, lead, sequence)
    enrolment = Enrolment.objects.select_for_update().filter(lead=lead, sequence=sequence).first()
    if enrolment is not None and not (
        enrolment.state == EnrolmentState.STOPPED and enrolment.stop_reason == StopReason.MANUAL
    ):
        raise ValidationError({"lead": f"Already enrolled in this sequence ({enrolment.get_state_display().lower()})."})
    enrolment = enrolment or Enrolment(company_id=lead.company_id, lead=lead, sequence=sequence)
    step = next_step(sequence.pk, enrolment.last_step_number)
    if step is None:
        raise ValidationError({"sequence": "This sequence has no step left to send to this lead."})
    now = timezone.now()
    enrolment.state, enrolment.stop_reason, enrolment.finished_at = EnrolmentState.ACTIVE, "", None
    enrolment.reason, enrolment.enrolled_by, enrolment.enrolled_at = reason[:200], actor, now
    enrolment.next_send_at = now + step.delay
    _record(enrolment, actor, "nurturing.enrolment.started")
    enrolment.save()
    timeline_event(lead_id=lead.pk, company_id=lead.company_id, event="nurturing.enrolment.started",
                   subject=f"Enrolled in the email sequence “{sequence.name}”", actor=actor,
                   sequence=sequence.pk, reason=enrolment.reason)  # fmt: skip
    return enrolment


def enrol_automatically(*, lead: Lead, sequence: EmailSequence, reason: str) -> Enrolment | None:
    """A trigger's enrolment: a lead that cannot be enrolled is skipped, not an error."""
    try:
        return enrolment_create(actor=None, lead=lead, sequence=sequence, reason=reason)
    except ValidationError:
        return None


@transaction.atomic
def enrolment_stop(*, actor: Membership | None, enrolment: Enrolment, reason: str = StopReason.MANUAL) -> Enrolment:
    check_actor(actor, enrolment.company_id, "nurturing.enrol")
    enrolment = Enrolment.objects.select_for_update().select_related("sequence").get(pk=enrolment.pk)
    if enrolment.state not in RUNNING:
        raise ValidationError({"__all__": f"This enrolment is already {enrolment.get_state_display().lower()}."})
    enrolment.state, enrolment.stop_reason = EnrolmentState.STOPPED, reason
    enrolment.next_send_at, enrolment.finished_at = None, timezone.now()
    _record(enrolment, actor, "nurturing.enrolment.stopped")
    enrolment.save()
    timeline_event(lead_id=enrolment.lead_id, company_id=enrolment.company_id, event="nurturing.enrolment.stopped",
                   subject=f"Left the email sequence “{enrolment.sequence.name}”: {StopReason(reason).label.lower()}",
                   actor=actor, sequence=enrolment.sequence_id, reason=reason)  # fmt: skip
    return enrolment


def _enrolment_hold(actor, enrolment: Enrolment, *, to: str, event: str, subject: str) -> Enrolment:
    """Move a locked, running enrolment to ``to`` (paused or active), with history and a timeline entry."""
    enrolment.state = to
    _record(enrolment, actor, event)
    enrolment.save(update_fields=["state", "next_send_at"])
    timeline_event(lead_id=enrolment.lead_id, company_id=enrolment.company_id, event=event, actor=actor,
                   subject=f"{subject} “{enrolment.sequence.name}”", sequence=enrolment.sequence_id)  # fmt: skip
    return enrolment


def _locked(enrolment: Enrolment, expected: str, verb: str) -> Enrolment:
    enrolment = Enrolment.objects.select_for_update().select_related("sequence", "lead__status").get(pk=enrolment.pk)
    if enrolment.state != expected:
        raise ValidationError({"__all__": f"Only {'an active' if expected == EnrolmentState.ACTIVE else 'a paused'} "
                                          f"enrolment can be {verb}: this one is {enrolment.get_state_display().lower()}."})  # fmt: skip
    return enrolment


@transaction.atomic
def enrolment_pause(*, actor: Membership | None, enrolment: Enrolment) -> Enrolment:
    """Hold an active enrolment: nothing is sent until it is resumed (a sender that read it as active
    loses its claim: ``sending._advance_all`` moves only rows still active)."""
    check_actor(actor, enrolment.company_id, "nurturing.enrol")
    enrolment = _locked(enrolment, EnrolmentState.ACTIVE, "paused")
    return _enrolment_hold(actor, enrolment, to=EnrolmentState.PAUSED, event="nurturing.enrolment.paused",
                           subject="Paused the email sequence")  # fmt: skip


@transaction.atomic
def enrolment_resume(*, actor: Membership | None, enrolment: Enrolment) -> Enrolment:
    """Go on with a paused enrolment: the gates are checked again, and the next email goes at its
    planned time, or at the next run when that time passed during the pause."""
    check_actor(actor, enrolment.company_id, "nurturing.enrol")
    enrolment = _locked(enrolment, EnrolmentState.PAUSED, "resumed")
    reason = check_gates(enrolment.lead, settings_for(enrolment.company_id))
    if reason is not None:
        raise ValidationError({"lead": GATE_MESSAGES[reason]})
    enrolment.next_send_at = max(enrolment.next_send_at or timezone.now(), timezone.now())
    return _enrolment_hold(actor, enrolment, to=EnrolmentState.ACTIVE, event="nurturing.enrolment.resumed",
                           subject="Resumed the email sequence")  # fmt: skip


def enrolments_stop_for_lead(*, lead_id: int, reason: str, actor: Membership | None = None) -> int:
    """Stop every running enrolment of a lead (unsubscribe, conversion, reply); how many."""
    running = Enrolment.objects.filter(lead_id=lead_id, state__in=RUNNING)
    stopped = 0
    for enrolment in running:
        enrolment_stop(actor=actor, enrolment=enrolment, reason=reason)
        stopped += 1
    return stopped


# --- triggers (called by the lead-event receivers, after commit) ---------------------------------


def _active_sequences(company_id: int, trigger: str, **extra):
    return EmailSequence.objects.filter(company_id=company_id, trigger=trigger, is_active=True, **extra)


def _lead(lead_id: int) -> Lead | None:
    return Lead.objects.select_related("status").filter(pk=lead_id).first()


def on_lead_created(*, lead_id: int) -> list[Enrolment]:
    lead = _lead(lead_id)
    if lead is None:
        return []
    sequences = _active_sequences(lead.company_id, Trigger.LEAD_CREATED)
    found = [enrol_automatically(lead=lead, sequence=s, reason="Trigger: lead created") for s in sequences]
    return [e for e in found if e]


def on_status_changed(*, lead_id: int, to_status_id: int) -> list[Enrolment]:
    lead = _lead(lead_id)
    if lead is None:
        return []
    status = LeadStatus.objects.get(pk=to_status_id)
    if is_won(status):
        enrolments_stop_for_lead(lead_id=lead_id, reason=StopReason.CONVERTED)
    elif is_disqualified(status):
        enrolments_stop_for_lead(lead_id=lead_id, reason=StopReason.DISQUALIFIED)
    sequences = _active_sequences(lead.company_id, Trigger.STATUS_CHANGED, trigger_status_id=to_status_id)
    found = [enrol_automatically(lead=lead, sequence=s, reason=f"Trigger: status {status.name}") for s in sequences]
    return [e for e in found if e]


def on_score_changed(*, lead_id: int, old_score: int, new_score: int) -> list[Enrolment]:
    """Enrol in sequences whose threshold the score rose to or through."""
    lead = _lead(lead_id)
    if lead is None or new_score <= old_score:
        return []
    sequences = _active_sequences(
        lead.company_id, Trigger.SCORE_THRESHOLD, trigger_score__gt=old_score, trigger_score__lte=new_score
    )
    found = [enrol_automatically(lead=lead, sequence=s, reason=f"Trigger: score reached {s.trigger_score}")
             for s in sequences]  # fmt: skip
    return [e for e in found if e]


def on_nurture_more(*, lead: Lead, actor: Membership | None = None) -> list[Enrolment]:
    """The qualification recommended nurturing: enrol in the company's "nurture more" sequences."""
    sequences = _active_sequences(lead.company_id, Trigger.NURTURE_MORE)
    found = [enrol_automatically(lead=lead, sequence=s, reason="Trigger: qualification recommends nurturing")
             for s in sequences]  # fmt: skip
    return [e for e in found if e]


def is_reply(activity: Activity) -> bool:
    """A logged email whose subject starts "Re:" is the lead's answer (outcomes are a fixed list
    with no "replied" in it)."""
    return activity.kind == ActivityKind.EMAIL and activity.subject.lower().lstrip().startswith("re:")


def on_activity_logged(*, activity_id: int) -> int:
    """A logged email reply stops the lead's sequences; how many stopped."""
    activity = Activity.objects.filter(pk=activity_id).first()
    if activity is None or not is_reply(activity):
        return 0
    return enrolments_stop_for_lead(lead_id=activity.object_id, reason=StopReason.REPLIED)


# --- the nightly sweep (guide 4.3) -----------------------------------------------------------------

SWEEP_STATUS_KEYS = ("new", "contacted")
SWEEP_CHUNK = 1000


def sweep_candidates(company_id: int, settings: NurturingSettings, sequence: EmailSequence):
    """New and contacted leads under the threshold, never in ``sequence``, passing every gate."""
    flagged = LeadEmailActivity.objects.filter(says_stop(), company_id=company_id).values("lead_id")
    leads = Lead.objects.filter(
        company_id=company_id, status__key__in=SWEEP_STATUS_KEYS, score__lt=settings.sweep_threshold,
        is_deleted=False, merged_into__isnull=True, converted_at__isnull=True, dnd=False,
    ).exclude(email="").exclude(pk__in=flagged).exclude(enrolments__sequence=sequence)  # fmt: skip
    if settings.consent_policy == ConsentPolicy.CONSENT:
        leads = leads.filter(gdpr_consent=True)
    return leads


def nurture_sweep(*, company: Company, now=None) -> int:
    """Enrol the company's eligible leads in its default sequence, in chunks; how many enrolled."""
    settings = settings_for(company)
    sequence = settings.default_sequence
    step = next_step(sequence.pk, 0) if sequence is not None and sequence.is_active else None
    if step is None:
        return 0
    now = now or timezone.now()
    ids = list(sweep_candidates(company.pk, settings, sequence).order_by("pk").values_list("pk", flat=True))
    reason = f"Nightly sweep: score under the threshold, into “{sequence.name}”"
    for start in range(0, len(ids), SWEEP_CHUNK):
        with transaction.atomic():
            _enrol_many(sequence, ids[start : start + SWEEP_CHUNK], send_at=now + step.delay, now=now, reason=reason)
    return len(ids)


def _enrol_many(sequence: EmailSequence, lead_ids: list[int], *, send_at, now, reason: str, actor=None) -> None:
    """New enrolments (with history) and their timeline entries, a few statements for any number."""
    from simple_history.utils import bulk_create_with_history

    reason = reason[:200]
    enrolments = [Enrolment(company_id=sequence.company_id, lead_id=lead_id, sequence=sequence, reason=reason,
                            next_send_at=send_at, enrolled_at=now, enrolled_by=actor) for lead_id in lead_ids]  # fmt: skip
    bulk_create_with_history(
        enrolments, Enrolment, **bulk_history_kwargs(Enrolment, actor, "nurturing.enrolment.started")
    )
    lead_type = ContentType.objects.get_for_model(Lead)
    Activity.objects.bulk_create(
        Activity(company_id=sequence.company_id, content_type=lead_type, object_id=lead_id, kind=ActivityKind.SYSTEM,
                 event="nurturing.enrolment.started", subject=f"Enrolled in the email sequence “{sequence.name}”",
                 occurred_at=now, owner=actor, data={"sequence": sequence.pk, "reason": reason})
        for lead_id in lead_ids
    )  # fmt: skip


# --- enrolling many leads at once (the bulk job "enrol", nurturing.bulk) -------------------------


def check_sequence_open(sequence: EmailSequence, company_id: int) -> EmailSequenceStep:
    """The first step of a sequence leads may be enrolled in, or a ``ValidationError`` on ``sequence``."""
    if sequence.company_id != company_id:
        raise ValidationError({"sequence": "Choose a sequence of this company."})
    if not sequence.is_active:
        raise ValidationError({"sequence": "This sequence is inactive: activate it first."})
    step = next_step(sequence.pk, 0)
    if step is None:
        raise ValidationError({"sequence": "This sequence has no active step."})
    return step


def _why_not(lead: Lead, settings, flags, existing: Enrolment | None) -> str | None:
    unsubscribed, bounced = flags
    gate = gate_for(lead, settings, unsubscribed=lead.pk in unsubscribed, bounced=lead.pk in bounced)
    if gate is not None:
        return StopReason(gate).label.lower()
    if existing is not None and not (
        existing.state == EnrolmentState.STOPPED and existing.stop_reason == StopReason.MANUAL
    ):
        return f"already in this sequence: {existing.get_state_display().lower()}"
    return None


@transaction.atomic
def enrolments_create_many(*, actor: Membership | None, sequence: EmailSequence, leads: list[Lead], reason: str
                           ) -> list[str]:  # fmt: skip
    """Enrol every one of ``leads`` (with ``status`` loaded) or none. Returns the leads that cannot be
    enrolled as "#id name (why)" — a gate, or already in the sequence — and then writes nothing.
    A lead unenrolled by a person is enrolled again, as ``enrolment_create`` does."""
    check_actor(actor, sequence.company_id, "nurturing.enrol")
    step = check_sequence_open(sequence, sequence.company_id)
    ids = [lead.pk for lead in leads]
    outside = [lead for lead in leads if lead.company_id != sequence.company_id]
    if outside or (actor is not None and leads_visible_to(actor).filter(pk__in=ids).count() != len(ids)):
        raise ValidationError({"ids": "Choose leads you can see."})
    settings, flags = settings_for(sequence.company_id), lead_flags(ids)
    existing = {e.lead_id: e for e in Enrolment.objects.filter(sequence=sequence, lead_id__in=ids)}
    offenders = []
    for lead in leads:
        why = _why_not(lead, settings, flags, existing.get(lead.pk))
        if why is not None:
            offenders.append(f"#{lead.pk} {lead.display_name} ({why})")
    if offenders:
        return offenders
    for lead in leads:
        if lead.pk in existing:
            enrolment_create(actor=actor, lead=lead, sequence=sequence, reason=reason)
    now = timezone.now()
    fresh = [lead_id for lead_id in ids if lead_id not in existing]
    _enrol_many(sequence, fresh, send_at=now + step.delay, now=now, reason=reason, actor=actor)
    return []
