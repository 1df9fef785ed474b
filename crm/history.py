"""Who did it, why, and from where: the one home for history rows.

Every write names its action (``history_change_reason``, a dotted name such as
``leads.lead.assigned``) and its actor. **No actor** (``actor=None``) means: the user of the request
being served, when there is one (a superuser editing in the Django admin has no membership but is
still the one who did it), else nobody (a scheduled task). Where a change came from (IP address and
user agent) is taken from the request, or — for work a django-q2 worker does on someone's behalf
(bulk jobs, imports, exports) — from the job, which kept its request's values: run the job inside
``acting_from(job_meta)``.

Three ways rows are written, one helper each:

* a single ``save()``: ``record(instance, actor, reason)`` before saving; the IP address and user
  agent are filled by the ``pre_create_historical_record`` receiver below;
* simple-history's bulk helpers: ``**bulk_history_kwargs(model, actor, reason)``;
* raw multi-row inserts (``leads.bulkwrite.RawInserter``): ``raw_history_fields(...)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from django.db import models
from django.db.models.signals import pre_save
from django.dispatch import receiver
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record

USER_AGENT_MAX = 300


class RequestMetaFields(models.Model):
    """Where a change came from. A base for historical models (``TrackedHistory``) and a mixin for
    records that are themselves the audit entry (activities, bulk jobs, merges, exports)."""

    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=USER_AGENT_MAX, blank=True)

    class Meta:
        abstract = True


class _UnindexedForeignKeys(HistoricalRecords):
    """Historical rows are read only by the tracked object's id (its history, newest or oldest
    first) and by who wrote them; their copies of the object's foreign keys are never looked up
    (nothing cascades to them: simple-history makes them ``DO_NOTHING`` without a constraint). So
    they get no index of their own — a lead's history row would otherwise maintain six — and every
    write that records history (each save, imports, bulk changes) is that much cheaper. The id,
    ``history_date`` and ``history_user`` keep theirs."""

    def copy_fields(self, model):
        fields = super().copy_fields(model)
        for field in fields.values():
            if isinstance(field, models.ForeignKey):
                field.db_index = False
        return fields


def TrackedHistory(**kwargs) -> HistoricalRecords:  # noqa: N802 — used like the field class it builds
    """``HistoricalRecords`` whose rows also keep the IP address and user agent, without indexes
    on their copies of the object's foreign keys (``_UnindexedForeignKeys``)."""
    return _UnindexedForeignKeys(bases=[RequestMetaFields], **kwargs)


@dataclass(frozen=True)
class RequestMeta:
    ip_address: str | None = None
    user_agent: str = ""

    @classmethod
    def of(cls, request) -> RequestMeta:
        if request is None:
            return cls()
        # REMOTE_ADDR only: X-Forwarded-For is set by the client unless a trusted proxy rewrites it.
        return cls(request.META.get("REMOTE_ADDR") or None, request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX])

    @classmethod
    def of_record(cls, record: RequestMetaFields) -> RequestMeta:
        return cls(record.ip_address, record.user_agent)

    def as_fields(self) -> dict:
        return {"ip_address": self.ip_address, "user_agent": self.user_agent}


_acting: ContextVar[RequestMeta | None] = ContextVar("crm_history_acting", default=None)


def _request():
    return getattr(HistoricalRecords.context, "request", None)


def current_meta() -> RequestMeta:
    """The job's meta inside ``acting_from``, else the current request's, else empty."""
    return _acting.get() or RequestMeta.of(_request())


@contextmanager
def acting_from(meta: RequestMeta) -> Iterator[None]:
    token = _acting.set(meta)
    try:
        yield
    finally:
        _acting.reset(token)


def history_user(actor):
    """The user a history row names: the actor's, else the request's (see the module docstring)."""
    if actor is not None:
        return actor.user
    user = getattr(_request(), "user", None)
    return user if getattr(user, "is_authenticated", False) else None


def record(instance, actor, reason: str) -> None:
    """Name the action and the actor of the next ``save()`` of ``instance``."""
    instance._change_reason = reason
    instance._history_user = history_user(actor)


def has_meta(model) -> bool:
    return issubclass(model, RequestMetaFields)


def bulk_history_kwargs(model, actor, reason: str) -> dict:
    """Keyword arguments for simple-history's ``bulk_*_with_history`` / ``bulk_history_create``."""
    history_model = model if hasattr(model, "instance_type") else model.history.model
    kwargs = {"default_user": history_user(actor), "default_change_reason": reason}
    if has_meta(history_model):
        kwargs["custom_historical_attrs"] = current_meta().as_fields()
    return kwargs


def raw_history_fields(actor, reason: str, *, at: datetime, kind: str = "~") -> dict:
    """The fixed columns of raw history rows: when, why, who and from where."""
    user = history_user(actor)
    return {
        "history_date": at,
        "history_change_reason": reason,
        "history_type": kind,
        "history_user_id": user.pk if user is not None else None,
        **current_meta().as_fields(),
    }


@receiver(pre_create_historical_record)
def fill_request_meta(sender, history_instance, **kwargs):
    if has_meta(type(history_instance)):
        for name, value in current_meta().as_fields().items():
            setattr(history_instance, name, value)


@receiver(pre_save)
def fill_record_meta(sender, instance, **kwargs):
    """A new audit record (activity, bulk job, merge, import, export) remembers where it came from,
    unless its creator already said (a job carrying its request's values)."""
    if instance._state.adding and has_meta(sender) and instance.ip_address is None and not instance.user_agent:
        for name, value in current_meta().as_fields().items():
            setattr(instance, name, value)
