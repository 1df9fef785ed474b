"""Scheduled exports: their django-q2 schedules (``Schedule.func`` names
``leads.transfer.tasks.run_scheduled_export``), each due run and the e-mail with its link."""

from __future__ import annotations

import datetime as dt
import re

from croniter import croniter
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from crm.history import record
from crm.http import absolute_url
from crm.models import Membership, Role
from crm.queries import team_member_ids
from leads import listing
from leads.models import (
    ExportRun,
    ExportRunStatus,
    ScheduledExport,
    ScheduleFrequency,
)
from leads.transfer.exports import (
    check_format,
    enqueue_export,
    export_run_start,
    export_run_store,
    querydict_of,
    record_activity,
    require_export,
    template_for,
)

# --- scheduled exports -------------------------------------------------------------------------------


SCHEDULE_FUNC = "leads.transfer.tasks.run_scheduled_export"


def _clean_recipients(value) -> list[str]:
    if isinstance(value, str):
        value = [part for part in re.split(r"[\s,;]+", value) if part]
    recipients = []
    for address in value or []:
        address = str(address).strip().lower()
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError({"recipients": [f"“{address}” is not a valid email address."]}) from None
        if address not in recipients:
            recipients.append(address)
    if len(recipients) > 20:
        raise ValidationError({"recipients": ["Send to at most 20 addresses."]})
    return recipients


def _clean_schedule(schedule: ScheduledExport, actor: Membership, data: dict) -> None:
    errors: dict[str, list[str]] = {}
    name = str(data.get("name", schedule.name) or "").strip()
    if not name:
        errors["name"] = ["Give the scheduled export a name."]
    elif ScheduledExport.objects.filter(company_id=actor.company_id, name__iexact=name).exclude(pk=schedule.pk):
        errors["name"] = [f"There is already a scheduled export called “{name}”."]
    schedule.name = name[:100]
    saved = data.get("saved_filter", schedule.saved_filter)
    if saved not in (None, ""):
        found = listing.saved_filters_visible_to(actor).filter(pk=getattr(saved, "pk", saved)).first()
        if found is None:
            errors["saved_filter"] = ["Choose one of your saved views."]
        schedule.saved_filter = found
    else:
        schedule.saved_filter = None
    template = data.get("template", schedule.template)
    try:
        schedule.template = template_for(actor.company, template)
    except ValidationError as error:
        errors.update(error.message_dict)
    try:
        schedule.format = check_format(data.get("format", schedule.format))
    except ValidationError as error:
        errors.update(error.message_dict)
    _clean_timing(schedule, data, errors)
    try:
        schedule.recipients = _clean_recipients(data.get("recipients", schedule.recipients))
    except ValidationError as error:
        errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)


def _clean_timing(schedule: ScheduledExport, data: dict, errors: dict) -> None:
    frequency = data.get("frequency", schedule.frequency)
    if frequency not in ScheduleFrequency.values:
        errors["frequency"] = [f"Choose one of {', '.join(ScheduleFrequency.values)}."]
        return
    schedule.frequency = frequency
    schedule.time_of_day = data.get("time_of_day", schedule.time_of_day) or dt.time(6, 0)
    if isinstance(schedule.time_of_day, str):
        try:
            schedule.time_of_day = dt.time.fromisoformat(schedule.time_of_day)
        except ValueError:
            errors["time_of_day"] = ["Enter a time as HH:MM."]
    weekday = data.get("weekday", schedule.weekday)
    if frequency == ScheduleFrequency.WEEKLY and (not str(weekday).isdecimal() or not 0 <= int(weekday) <= 6):
        errors["weekday"] = ["Choose a day of the week."]
    else:
        schedule.weekday = int(weekday or 0)
    schedule.cron = str(data.get("cron", schedule.cron) or "").strip()
    if frequency == ScheduleFrequency.CRON:
        problem = _cron_problem(schedule.cron)
        if problem:
            errors["cron"] = [problem]


def _cron_problem(expression: str) -> str:
    if len(expression.split()) != 5:
        return "Give five fields: minute hour day-of-month month day-of-week (e.g. “0 7 * * 1-5”)."
    try:
        croniter.expand(expression)
    except (ValueError, KeyError):
        return f"“{expression}” is not a valid cron expression."
    return ""


def next_run_of(schedule: ScheduledExport, now: dt.datetime | None = None) -> dt.datetime:
    """The first slot after ``now`` (UTC) for a daily or weekly schedule."""
    now = now or timezone.now()
    today = now.astimezone(dt.UTC).date()
    moment = dt.datetime.combine(today, schedule.time_of_day, tzinfo=dt.UTC)
    if schedule.frequency == ScheduleFrequency.WEEKLY:
        moment += dt.timedelta(days=(schedule.weekday - today.weekday()) % 7)
        return moment if moment > now else moment + dt.timedelta(days=7)
    return moment if moment > now else moment + dt.timedelta(days=1)


def _sync_q_schedule(schedule: ScheduledExport) -> None:
    """Create, update or remove the django-q2 Schedule row that runs this export."""
    existing = Schedule.objects.filter(pk=schedule.schedule_id).first() if schedule.schedule_id else None
    if not schedule.is_active:
        if existing is not None:
            existing.delete()
        schedule.schedule_id = None
        return
    kinds = {
        ScheduleFrequency.DAILY: Schedule.DAILY,
        ScheduleFrequency.WEEKLY: Schedule.WEEKLY,
        ScheduleFrequency.CRON: Schedule.CRON,
    }
    row = existing or Schedule(func=SCHEDULE_FUNC)
    row.name = f"Scheduled export #{schedule.pk}: {schedule.name}"[:100]
    row.args = repr(schedule.pk)
    row.schedule_type = kinds[schedule.frequency]
    row.repeats = -1
    row.intended_date_kwarg = "due_at"
    if schedule.frequency == ScheduleFrequency.CRON:
        row.cron = schedule.cron
        row.next_run = row.calculate_next_run()
    else:
        row.cron = None
        row.next_run = next_run_of(schedule)
    row.save()
    schedule.schedule_id = row.pk


def _require_schedule_rights(actor: Membership, schedule: ScheduledExport) -> None:
    require_export(actor, actor.company)
    if schedule.pk and schedule.owner_id != actor.pk and actor.role != Role.ADMIN:
        raise PermissionDenied


@transaction.atomic
def scheduled_export_save(*, actor: Membership, data: dict, schedule: ScheduledExport | None = None) -> ScheduledExport:
    """Create (``schedule`` None) or change a scheduled export and its django-q2 Schedule row."""
    schedule = schedule or ScheduledExport(company=actor.company, owner=actor)
    _require_schedule_rights(actor, schedule)
    if "is_active" in data:
        schedule.is_active = bool(data["is_active"])
    _clean_schedule(schedule, actor, data)
    record(schedule, actor, "leads.scheduled_export.changed" if schedule.pk else "leads.scheduled_export.created")
    schedule.save()
    _sync_q_schedule(schedule)
    schedule.save_without_historical_record(update_fields=["schedule_id"])
    return schedule


@transaction.atomic
def scheduled_export_delete(*, actor: Membership, schedule: ScheduledExport) -> None:
    _require_schedule_rights(actor, schedule)
    schedule.is_active = False
    _sync_q_schedule(schedule)
    record(schedule, actor, "leads.scheduled_export.deleted")
    schedule.delete()


def scheduled_export_run(*, schedule_id: int, due_at: dt.datetime | None = None) -> ExportRun | None:
    """One slot of a schedule: at most one run (and one email) per slot, however often the task
    is retried. The export runs with the owner's visibility and their saved view."""
    schedule = (
        ScheduledExport.objects.select_related("company", "owner__company", "saved_filter", "template")
        .filter(pk=schedule_id)
        .first()
    )
    if schedule is None or not schedule.is_active:
        return None
    due_at = due_at or timezone.now().replace(microsecond=0)
    params = schedule_params(schedule)
    try:
        with transaction.atomic():
            run, _, _ = export_run_start(
                membership=schedule.owner,
                params=querydict_of(params),
                file_format=schedule.format,
                template=schedule.template,
                streamed=False,
                scheduled=schedule,
                due_at=due_at,
            )
    except IntegrityError:
        return ExportRun.objects.filter(scheduled_export=schedule, due_at=due_at).first()
    except (ValidationError, PermissionDenied) as error:
        run = ExportRun.objects.create(
            company=schedule.company, created_by=schedule.owner, scheduled_export=schedule, format=schedule.format,
            template=schedule.template, params=params, due_at=due_at, status=ExportRunStatus.FAILED,
            error=" ".join(getattr(error, "messages", ["The owner may no longer export leads."])),
        )  # fmt: skip
        record_activity(run, schedule.owner, f"Scheduled export failed: {run.error}"[:200])
        _mail(schedule, run)
        return run
    run = export_run_store(run_id=run.pk)
    ScheduledExport.objects.filter(pk=schedule.pk).update(last_run_at=timezone.now())
    _mail(schedule, run)
    return run


def schedule_params(schedule: ScheduledExport) -> dict:
    """The list parameters of a schedule: its saved view's filters and sort (none: everything)."""
    params = dict(schedule.saved_filter.query) if schedule.saved_filter else {}
    if schedule.saved_filter and schedule.saved_filter.sort:
        params["sort"] = [schedule.saved_filter.sort]
    return params


def scheduled_export_run_now(*, actor: Membership, schedule: ScheduledExport) -> ExportRun:
    """Queue an extra run of a schedule now ("Run now"): same owner, view, template and format."""
    require_export(actor, schedule.company)
    run, _, _ = export_run_start(
        membership=schedule.owner,
        params=querydict_of(schedule_params(schedule)),
        file_format=schedule.format,
        template=schedule.template,
        streamed=False,
        scheduled=schedule,
    )
    enqueue_export(run.pk)
    run.refresh_from_db()
    return run


def download_path(run: ExportRun) -> str:
    return reverse("leads:transfer:export_download", kwargs={"company_slug": run.company.slug, "run_id": run.pk})


def _mail(schedule: ScheduledExport, run: ExportRun) -> None:
    recipients = schedule.recipients or [schedule.owner.user.email]
    if run.status == ExportRunStatus.SUCCEEDED:
        subject = f"Export ready: {schedule.name}"
        body = (
            f"The scheduled export “{schedule.name}” is ready: {run.row_count:,} leads as {run.format.upper()}.\n\n"
            f"Download it (log in first): {absolute_url(download_path(run))}\n"
        )
    else:
        subject = f"Export failed: {schedule.name}"
        body = f"The scheduled export “{schedule.name}” failed: {run.error}\n"
    send_mail(subject, body, None, recipients, fail_silently=True)


def scheduled_exports_visible_to(membership: Membership) -> QuerySet[ScheduledExport]:
    schedules = ScheduledExport.objects.filter(company_id=membership.company_id)
    if membership.role == Role.ADMIN:
        return schedules
    return schedules.filter(Q(owner=membership) | Q(owner_id__in=team_member_ids(membership)))
