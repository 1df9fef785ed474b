"""Assignment: who works which lead, and why.

Contracts used by other areas:

* ``assign_on_create(lead, *, actor)`` — called by ``leads.services.lead_create`` after the new lead
  is saved, in the same transaction, when it has no owner: the first active rule (in order) that
  matches the lead and has a member who can take it wins; inactive, unavailable and at-capacity
  members (and, per rule, members outside the lead's territory or without a required skill) are
  skipped; no rule → the lead stays in the pool. The rule, strategy and reason go to a
  ``LeadAssignment`` row and to the lead's history (``leads.lead.assigned: <reason>``); the owner
  is notified (in-app and by email) only after the transaction commits.
* ``assign_batch(leads, *, actor)`` — the same for saved, ownerless leads of one import: one bulk
  update, one bulk insert of the log, one email per new owner after commit.
* ``lead_assign(*, actor, lead, owner, reason="")``, ``leads_assign_many(*, actor, leads, owner,
  reason="")``, ``lead_claim(*, actor, lead)``, ``lead_release(*, actor, lead)`` — manual
  ownership changes (change reasons ``leads.lead.assigned: …`` / ``leads.lead.claimed`` /
  ``leads.lead.released``).
"""

from leads.assignment.engine import Placement, open_leads, open_loads, territory_countries, weighted_sequence
from leads.assignment.notify import notify_assignments
from leads.assignment.rules import (
    assignment_rule_create,
    assignment_rule_delete,
    assignment_rule_move,
    assignment_rule_update,
)
from leads.assignment.services import (
    ASSIGNED,
    CLAIMED,
    RELEASED,
    BatchResult,
    assign_batch,
    assign_on_create,
    lead_assign,
    lead_claim,
    lead_clear_spam,
    lead_release,
    leads_assign_many,
    member_assignment_update,
    pool_assign,
    pool_leads,
    receiver_check,
)

__all__ = [
    "ASSIGNED",
    "CLAIMED",
    "RELEASED",
    "BatchResult",
    "Placement",
    "assign_batch",
    "assign_on_create",
    "assignment_rule_create",
    "assignment_rule_delete",
    "assignment_rule_move",
    "assignment_rule_update",
    "lead_assign",
    "lead_claim",
    "lead_clear_spam",
    "lead_release",
    "leads_assign_many",
    "member_assignment_update",
    "receiver_check",
    "notify_assignments",
    "open_leads",
    "open_loads",
    "pool_assign",
    "pool_leads",
    "territory_countries",
    "weighted_sequence",
]
