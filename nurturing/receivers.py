"""Wiring only: lead events → nurturing services, after the lead's transaction commits (an
enrolment must not follow a lead write that rolled back). The rules live in the services."""

from __future__ import annotations

from django.db import transaction

from nurturing import services


def lead_created(sender, lead, actor=None, **kwargs):
    lead_id = lead.pk
    transaction.on_commit(lambda: services.on_lead_created(lead_id=lead_id))


def lead_status_changed(sender, lead, from_status, to_status, actor=None, **kwargs):
    lead_id, status_id = lead.pk, to_status.pk
    transaction.on_commit(lambda: services.on_status_changed(lead_id=lead_id, to_status_id=status_id))


def lead_score_changed(sender, lead, old_score, new_score, **kwargs):
    lead_id = lead.pk
    transaction.on_commit(lambda: services.on_score_changed(lead_id=lead_id, old_score=old_score, new_score=new_score))


def activity_logged(sender, activity, lead, **kwargs):
    activity_id = activity.pk
    transaction.on_commit(lambda: services.on_activity_logged(activity_id=activity_id))


def connect() -> None:
    from leads import hooks

    hooks.lead_created.connect(lead_created, dispatch_uid="nurturing.lead_created")
    hooks.lead_status_changed.connect(lead_status_changed, dispatch_uid="nurturing.lead_status_changed")
    hooks.lead_score_changed.connect(lead_score_changed, dispatch_uid="nurturing.lead_score_changed")
    hooks.activity_logged.connect(activity_logged, dispatch_uid="nurturing.activity_logged")
