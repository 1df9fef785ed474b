"""Duplicates: finding them (the per-save check in ``matching``, the batch scan in ``scan``), the
review queue (``queue``, ``services``, ``queries``) and merging them (``merge``, ``undo``).

Contract used by ``leads.services`` on create and edit: ``check_before_save(lead, *, actor,
allow_duplicates)`` before save and ``after_save(lead, matches, *, actor)`` after it, in the same
transaction (see ``leads.dedup.matching``). Matching never compares all pairs: exact matches use
stored, indexed keys and fuzzy ones only the leads that share a blocking key (``leads.dedup.keys``,
``leads.dedup.names``). Leads created in bulk (an import) get the same treatment through
``queue_new_leads(company, lead_ids)``.

The merge modules are not imported here: they use ``leads.services``, which imports this package.
"""

from leads.dedup.keys import (
    FREE_MAIL_DOMAINS,
    SHARED_DOMAIN_COMPANIES,
    Keys,
    Match,
    Reason,
    can_create_anyway,
    company_core,
    contradiction,
    evaluate,
    exact_key_fields,
    free_mail_domains,
    rule_for,
)
from leads.dedup.matching import after_save, check_before_save, find_matches, matches_for_data, matches_of
from leads.dedup.queries import candidates_visible_to, duplicates_of, merges_visible_to
from leads.dedup.queue import (
    candidate_record,
    queue_created_since,
    queue_pairs,
    queue_restore,
    queue_snapshot,
    regroup,
)
from leads.dedup.scan import Pair, ScanResult, duplicates_scan, find_candidates, queue_new_leads
from leads.dedup.services import RULE_FIELDS, candidate_dismiss, duplicate_rule_update

__all__ = [
    "FREE_MAIL_DOMAINS",
    "RULE_FIELDS",
    "SHARED_DOMAIN_COMPANIES",
    "Keys",
    "Match",
    "Pair",
    "Reason",
    "ScanResult",
    "after_save",
    "can_create_anyway",
    "candidate_dismiss",
    "candidate_record",
    "candidates_visible_to",
    "check_before_save",
    "company_core",
    "contradiction",
    "duplicate_rule_update",
    "duplicates_of",
    "duplicates_scan",
    "evaluate",
    "exact_key_fields",
    "find_candidates",
    "find_matches",
    "free_mail_domains",
    "matches_for_data",
    "matches_of",
    "merges_visible_to",
    "queue_created_since",
    "queue_new_leads",
    "queue_pairs",
    "queue_restore",
    "queue_snapshot",
    "regroup",
    "rule_for",
]
