"""Scores for generated rows from the company's own scoring rules (``leads.scoring``).

A generated lead has no engagement events, so its score is what the company's field rules give
for its fields: the same ``Scorer`` call ``lead_rescore`` makes, with no events. Rules read only a
few fields (the default ones: lead source, authority, budget, timeline), and generated leads
share a few hundred combinations of them, so each combination is scored once and remembered.
The key is what the rules read: the row's own values of the fields a rule tests (for
``campaign``, ``timeline_days`` and ``email_domain`` the campaign id, timeline and e-mail they are
derived from), or, when a rule tests a custom or profile field, ``LeadValues.get`` of every
field; either way a remembered score is exactly the one the scorer would give.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from leads.models import Priority
from leads.scoring import Scorer

MEMO_LIMIT = 200_000  # distinct rule inputs remembered (rules on near-unique fields stop there)
_RULE_ENTRY_KINDS = ("field", "cap")  # the score's own entries; a spam hold depends on the lead's data
# A rule field read from another column of the row (``LeadValues.get`` derives it from that alone).
_SOURCE_COLUMN = {"campaign": "campaign_id", "timeline_days": "timeline", "email_domain": "email"}


class RowScorer:
    """``(score, priority, breakdown as a database value)`` of a row, by ``scorer``. The priority
    is the band the score earns (generated leads are never held for spam review: their spam
    scores stay below the hold). ``view(row, profile)`` makes the lead-like object the scorer
    reads; ``columns`` name the row's values."""

    def __init__(
        self,
        scorer: Scorer,
        adapt_json: Callable[[object, object], object],
        columns: Sequence[str],
        view: Callable[[list, dict], object],
    ):
        self.scorer, self.adapt_json, self.view = scorer, adapt_json, view
        self.fields = sorted({rule.condition.field for rule in scorer.field_rules})
        position = {name: index for index, name in enumerate(columns)}
        sources = [_SOURCE_COLUMN.get(name, name) for name in self.fields]
        self.positions = [position[s] for s in sources] if all(s in position for s in sources) else None
        self.memo: dict[tuple, tuple[int, str, object]] = {}

    def warm(self, campaign_ids: list[int]) -> None:
        """Read the campaign names a rule on ``campaign`` needs now, in the calling thread (the
        scorer reads them on first use, and the rows are built in another thread)."""
        if "campaign" in self.fields and campaign_ids:
            self.scorer.values.campaign_name(_CampaignOnly(campaign_ids[0]))

    def __call__(self, row: list, profile: dict) -> tuple[int, str, object]:
        lead = None
        if self.positions is not None:
            key = tuple([row[index] for index in self.positions])
        else:
            lead, get = self.view(row, profile), self.scorer.values.get
            key = tuple(_hashable(get(lead, name)) for name in self.fields)
        found = self.memo.get(key)
        if found is None:
            found = self._score(lead or self.view(row, profile))
            if len(self.memo) < MEMO_LIMIT:
                self.memo[key] = found
        return found

    def _score(self, lead) -> tuple[int, str, object]:
        self.scorer(lead, engagement={})
        entries = [entry for entry in lead.score_breakdown if entry.get("kind") in _RULE_ENTRY_KINDS]
        return lead.score, Priority(self.scorer.band(lead.score)).value, self.adapt_json(entries, None)


def _hashable(value):
    if isinstance(value, list):
        return tuple(_hashable(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((key, _hashable(item)) for key, item in value.items()))
    return value


class _CampaignOnly:
    __slots__ = ("campaign_id",)

    def __init__(self, campaign_id: int):
        self.campaign_id = campaign_id
