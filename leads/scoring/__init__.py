"""Explainable scoring, priority bands and the spam hold; the field/operator vocabulary that scoring
rules and assignment rules share.

Contract used by ``leads.services``: ``apply_scores(lead)`` is called on every write, after the
lead's fields are validated and normalised and before it is saved. It sets, in memory only,
``score`` (0–100), ``score_breakdown`` (which rule gave what), ``priority`` (hot / warm / cold by
the company's thresholds; never hot while held for spam review), ``spam_score`` and
``validation_status`` (from ``leads.scoring.quality``).

It runs no query when called again for the same company: ``scorer_for(company)`` keeps each
company's compiled rules in the process, re-checks the settings' ``version`` at most every
``CACHE_SECONDS`` and is invalidated at once by the services below. Batch code calls
``scorer_for(company)`` once and then the returned ``Scorer`` per lead.

Engagement points (opens, clicks, form submits, calls, meetings) are read from the lead's events
only by ``lead_rescore`` / ``leads_rescore``; a plain write carries the engagement entries of the
previous breakdown over unchanged, so ``apply_scores`` never needs the event tables.
"""

from __future__ import annotations

from leads.scoring.engine import (
    CACHE_SECONDS,
    DEFAULT_RULES,
    Scorer,
    apply_scores,
    forget,
    is_held,
    is_reviewed,
    scorer_for,
    scoring_rules_create_defaults,
    settings_for,
)
from leads.scoring.rules import (
    ASSIGNMENT_FIELDS,
    FIELDS,
    OPERATORS,
    Condition,
    LeadValues,
    clean_condition,
    field_choices,
    field_label,
    norm,
    timeline_days,
)
from leads.scoring.services import (
    SCORE_FIELDS,
    RescoreResult,
    engagement_of,
    engagement_record,
    lead_rescore,
    lead_settings_update,
    leads_rescore,
    scoring_rule_create,
    scoring_rule_delete,
    scoring_rule_update,
)

__all__ = [
    "ASSIGNMENT_FIELDS",
    "CACHE_SECONDS",
    "DEFAULT_RULES",
    "FIELDS",
    "OPERATORS",
    "SCORE_FIELDS",
    "Condition",
    "LeadValues",
    "RescoreResult",
    "Scorer",
    "apply_scores",
    "clean_condition",
    "engagement_of",
    "engagement_record",
    "field_choices",
    "field_label",
    "forget",
    "is_held",
    "is_reviewed",
    "lead_rescore",
    "lead_settings_update",
    "leads_rescore",
    "norm",
    "scorer_for",
    "scoring_rule_create",
    "scoring_rule_delete",
    "scoring_rule_update",
    "scoring_rules_create_defaults",
    "settings_for",
    "timeline_days",
]
