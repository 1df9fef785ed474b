"""Bulk enrolment: a selection of leads, or every lead matching a lead-list filter or saved view,
enrolled in one sequence as one all-or-nothing job. It is the leads app's bulk job (``leads.bulk``:
the exact set of leads fixed when the job starts, visibility checked, chunks locked, a worker for
large jobs, progress) with one more operation, ``enrol``, whose rules are
``services.enrolments_create_many``: one lead failing a gate, or already in the sequence, and the
job fails listing them, with nothing enrolled."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import QueryDict

from crm.models import Membership
from leads import bulk, listing
from leads.models import BulkJob, Lead
from nurturing import services
from nurturing.models import EmailSequence

OPERATION = "enrol"


def _clean(actor: Membership, params: dict) -> dict:
    sequence = EmailSequence.objects.filter(company_id=actor.company_id, pk=params.get("sequence") or 0).first()
    if sequence is None:
        raise bulk.BulkError({"sequence": "Choose a sequence of this company."})
    try:
        services.check_sequence_open(sequence, actor.company_id)
    except ValidationError as error:
        raise bulk.BulkError(error.message_dict) from None
    return {"sequence": sequence.pk}


def _apply(job: BulkJob, actor: Membership, leads: list[Lead], reason: str) -> list[str]:
    sequence = EmailSequence.objects.get(pk=job.params["sequence"])
    return services.enrolments_create_many(actor=actor, sequence=sequence, leads=leads,
                                           reason=f"Bulk enrolment #{job.pk}")  # fmt: skip


def register() -> None:
    bulk.EXTRA_OPERATIONS[OPERATION] = bulk.ExtraOperation(
        label="Enrol in an email sequence", permission="nurturing.enrol", clean=_clean, apply=_apply
    )


def filter_of(*, membership: Membership, view: str = "", query: str = "") -> QueryDict:
    """The lead-list filter a saved or built-in view (``saved:7``, ``builtin:mine``) or a list query
    string (``status=3&owner=me``) stands for. Never the member's default view: an empty choice is
    an error here, not "every lead"."""
    if not view and not query.strip():
        raise ValidationError({"view": "Choose a view, give a filter or list lead ids."})
    source = QueryDict(mutable=True)
    if view:
        source["view"] = view
    else:
        source = QueryDict(query.strip().lstrip("?"))
    params, _sort, _key, errors = listing.resolve_view(source, membership)
    if errors:
        raise ValidationError(errors)
    if not view and not any(params.values()):
        raise ValidationError({"filter": "This filter names no lead-list filter (for example status=3&owner=me)."})
    return params


def bulk_enrol(*, actor: Membership, sequence: EmailSequence, lead_ids=None, filter_params=None) -> BulkJob:
    """Start the job (inline when small, else queued for a worker); ``BulkError`` for a bad request."""
    job = bulk.bulk_job_create(actor=actor, operation=OPERATION, params={"sequence": sequence.pk},
                               lead_ids=lead_ids, filter_params=filter_params)  # fmt: skip
    return bulk.bulk_job_start(job)
