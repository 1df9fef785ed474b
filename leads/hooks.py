"""Lead events other apps react to (nurturing triggers, for example).

The lead services send these inside their transaction, after the write: a receiver that must not
run when the transaction rolls back (an email, a task) defers itself with
``transaction.on_commit``. Receivers are wiring only: they call their own app's services, which
hold the rules. Bulk jobs and imports do not send them per lead; periodic sweeps cover those.
"""

from django.dispatch import Signal

# sender=Lead; kwargs: lead, actor (Membership or None)
lead_created = Signal()
# sender=Lead; kwargs: lead, from_status, to_status, actor
lead_status_changed = Signal()
# sender=Lead; kwargs: lead, old_score, new_score
lead_score_changed = Signal()
# sender=Lead; kwargs: activity (crm.Activity), lead
activity_logged = Signal()
