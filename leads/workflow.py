"""The status workflow: the seed's seven statuses, their default transitions, and the engine that
every door (UI, API, admin, bulk, import) uses to move a lead."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Q

from crm.models import Company, Membership, Role
from leads.models import Lead, LeadStatus, Stage, StatusCategory, StatusTransition

CONVERTED = "converted"

# key, name, category, colour, initial, terminal, description
DEFAULT_STATUSES = [
    ("new", "New", StatusCategory.OPEN, "#1e88e5", True, False, "Not contacted yet."),
    ("contacted", "Contacted", StatusCategory.OPEN, "#8e24aa", False, False, "First touch made."),
    ("qualified", "Qualified", StatusCategory.OPEN, "#43a047", False, False, "Fits and wants to talk."),
    ("unqualified", "Unqualified", StatusCategory.LOST, "#757575", False, False, "Not a fit for now."),
    (CONVERTED, "Converted", StatusCategory.WON, "#2e7d32", False, True, "Became an account, contact and deal."),
    ("recycled", "Recycled", StatusCategory.OPEN, "#f9a825", False, False, "Back to nurturing."),
    ("disqualified", "Disqualified", StatusCategory.CLOSED, "#c62828", False, False, "Spam, fake or out of scope."),
]
MANAGERS = [Role.ADMIN, Role.MANAGER]
# from, to, roles (empty: everyone), note required
DEFAULT_TRANSITIONS = [
    ("new", "contacted", [], False),
    ("new", "unqualified", [], True),
    ("new", "disqualified", [], True),
    ("contacted", "qualified", [], False),
    ("contacted", "unqualified", [], True),
    ("contacted", "disqualified", [], True),
    ("contacted", "recycled", [], False),
    ("qualified", CONVERTED, [], False),
    ("qualified", "unqualified", [], True),
    ("qualified", "recycled", [], False),
    ("unqualified", "recycled", [], False),
    ("unqualified", "disqualified", MANAGERS, True),
    ("recycled", "contacted", [], False),
    ("disqualified", "recycled", MANAGERS, True),
]


def statuses_create_defaults(company: Company) -> None:
    by_key = {}
    for order, (key, name, category, color, initial, terminal, description) in enumerate(DEFAULT_STATUSES):
        by_key[key] = LeadStatus.objects.create(
            company=company,
            key=key,
            name=name,
            category=category,
            color=color,
            is_initial=initial,
            is_terminal=terminal,
            description=description,
            order=order * 10,
        )
    StatusTransition.objects.bulk_create(
        StatusTransition(
            company=company,
            from_status=by_key[src],
            to_status=by_key[dst],
            allowed_roles=list(roles),
            note_required=note,
        )
        for src, dst, roles, note in DEFAULT_TRANSITIONS
    )


# A won, terminal status ("converted") is reached only by running the conversion
# (``accounts.conversion.lead_convert``), never by a plain status change on any door.
CONVERSION_TARGET = Q(category=StatusCategory.WON, is_terminal=True)  # ``is_conversion_target`` as a query
CONVERT_INSTEAD = "{status} is reached by converting the lead: use Convert (on its page, in bulk or in the API)."


def is_conversion_target(status: LeadStatus) -> bool:
    """The one test of "this status means converted" (``CONVERSION_TARGET`` is the same as a query)."""
    return status.category == StatusCategory.WON and status.is_terminal


def is_won(status: LeadStatus) -> bool:
    """Selling to the lead is over because it was won: converted, or a won status of the company's
    own (a won status need not be terminal). Nurturing stops its email here."""
    return status.category == StatusCategory.WON


def is_disqualified(status: LeadStatus) -> bool:
    """The lead was closed without a sale (lost, disqualified, bad data)."""
    return status.category == StatusCategory.CLOSED


def status_values(status: LeadStatus, at) -> dict:
    """The fields a lead entering ``status`` at ``at`` takes: what every door that moves leads writes
    (one lead, a bulk job's single UPDATE, an import's rows). A conversion target also stamps the
    conversion and the converted stage."""
    values = {"status": status, "status_changed_at": at}
    if is_conversion_target(status):
        values.update(converted_at=at, stage=Stage.CONVERTED)
    return values


def status_enter(lead: Lead, status: LeadStatus, *, at) -> None:
    """Put ``lead`` in ``status`` in memory (``status_values``); the caller saves and records it."""
    for name, value in status_values(status, at).items():
        setattr(lead, name, value)


def initial_status(company_id: int) -> LeadStatus:
    status = LeadStatus.objects.filter(company_id=company_id, is_initial=True, is_active=True).first()
    if status is None:
        raise ValidationError({"status": "The company has no active initial status; ask an admin to set one."})
    return status


def check_transition(
    *, lead: Lead, to_status: LeadStatus, actor: Membership, note: str, conversion: bool = False
) -> StatusTransition:
    """The rule that allows this move, or a ValidationError naming why it is refused. A move to a
    conversion target is refused unless the conversion service makes it (``conversion=True``)."""
    current = lead.status
    if to_status.company_id != lead.company_id:
        raise ValidationError({"status": "Choose a status of this company."})
    if to_status.pk == current.pk:
        raise ValidationError({"status": f"The lead is already {current.name}."})
    if current.is_terminal:
        raise ValidationError({"status": f"{current.name} is final: the lead cannot change status any more."})
    if not to_status.is_active:
        raise ValidationError({"status": f"{to_status.name} is retired and cannot be used."})
    rule = StatusTransition.objects.filter(from_status=current, to_status=to_status).first()
    if rule is None:
        raise ValidationError({"status": f"A lead cannot move from {current.name} to {to_status.name}."})
    if is_conversion_target(to_status) and not conversion:
        raise ValidationError({"status": CONVERT_INSTEAD.format(status=to_status.name)})
    if not rule.allows(actor.role):
        role = actor.get_role_display()
        raise ValidationError(
            {"status": f"Your role ({role}) may not move a lead from {current.name} to {to_status.name}."}
        )
    if rule.note_required and not note.strip():
        raise ValidationError({"note": f"A note is required to move from {current.name} to {to_status.name}."})
    return rule


class TransitionCheck:
    """``check_transition`` for many leads moved by one actor, asked once per distinct move (from,
    to, with or without a note): bulk jobs and imports keep the workflow's one rule without a query
    per lead. The verdicts depend on the statuses only, never on the lead, so they can be shared."""

    def __init__(self, actor: Membership, *, conversion: bool = False):
        self.actor, self.conversion = actor, conversion
        self._verdicts: dict[tuple, ValidationError | None] = {}

    def problem(self, lead: Lead, to_status: LeadStatus, note: str = "") -> ValidationError | None:
        """Why ``lead`` may not move to ``to_status`` (None: it may)."""
        key = (lead.company_id, lead.status_id, to_status.pk, bool(note.strip()))
        if key not in self._verdicts:
            try:
                check_transition(lead=lead, to_status=to_status, actor=self.actor, note=note,
                                 conversion=self.conversion)  # fmt: skip
            except ValidationError as error:
                self._verdicts[key] = error
            else:
                self._verdicts[key] = None
        return self._verdicts[key]
