"""The review queue: pending pairs of possible duplicates, grouped into connected groups; the
snapshot/restore pair lets a merge undo put back exactly what its re-check changed."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q
from django.utils import timezone

from leads.dedup.keys import Reason
from leads.models import CandidateStatus, DuplicateCandidate

# --- the review queue -----------------------------------------------------------------------------

QUEUE_FIELDS = ("group_key", "score", "reasons", "is_exact")


def _pending(company_id: int):
    return DuplicateCandidate.objects.filter(company_id=company_id, status=CandidateStatus.PENDING)


def queue_snapshot(company_id: int, lead_ids: list[int]) -> dict[str, dict]:
    """The pending pairs that queueing pairs among ``lead_ids`` may change (those touching them and
    every pair of their groups), as they are now: what ``queue_restore`` puts back."""
    pending = _pending(company_id)
    keys = pending.filter(Q(lead_a_id__in=lead_ids) | Q(lead_b_id__in=lead_ids)).values("group_key")
    rows = pending.filter(Q(group_key__in=keys) | Q(lead_a_id__in=lead_ids) | Q(lead_b_id__in=lead_ids))
    return {str(row["pk"]): {name: row[name] for name in QUEUE_FIELDS} for row in rows.values("pk", *QUEUE_FIELDS)}


def queue_created_since(company_id: int, lead_id: int, before: dict[str, dict]) -> list[int]:
    """The pending pairs of ``lead_id`` that were not in the ``before`` snapshot."""
    pairs = _pending(company_id).filter(Q(lead_a_id=lead_id) | Q(lead_b_id=lead_id))
    return sorted(pk for pk in pairs.values_list("pk", flat=True) if str(pk) not in before)


def queue_restore(company_id: int, before: dict[str, dict], created: list[int]) -> None:
    """Take back what queueing changed: drop the pairs it created and give the pairs it refreshed
    or regrouped their old values — only while they are still pending (a reviewed pair stays)."""
    _pending(company_id).filter(pk__in=created).delete()
    for pk, values in before.items():
        _pending(company_id).filter(pk=int(pk)).update(**values)


def candidate_record(
    *, company_id: int, lead_ids: tuple[int, int], reasons: list[Reason], source: str
) -> DuplicateCandidate | None:
    """Create or refresh the pending pair of two leads; a reviewed pair is left as it is."""
    a, b = sorted(lead_ids)
    score = max(r.score for r in reasons)
    exact = any(r.exact for r in reasons)
    candidate = DuplicateCandidate.objects.filter(lead_a_id=a, lead_b_id=b).first()
    if candidate is not None and candidate.status != CandidateStatus.PENDING:
        return None
    payload = {"score": score, "reasons": [r.as_dict() for r in reasons], "is_exact": exact}
    if candidate is None:
        candidate = DuplicateCandidate.objects.create(
            company_id=company_id, lead_a_id=a, lead_b_id=b, source=source, group_key=a, **payload
        )
        _join_groups(company_id, [a, b])
        return candidate
    DuplicateCandidate.objects.filter(pk=candidate.pk).update(**payload)
    return candidate


def queue_pairs(*, company_id: int, pairs: list[tuple[int, int, list[Reason]]], source: str) -> tuple[int, int]:
    """``candidate_record`` for many pairs ((a, b, reasons), a < b) in a fixed number of statements:
    new pairs created, pending ones refreshed, reviewed ones left as they are, and the groups of
    every pending pair they touch recomputed. Returns (created, refreshed)."""
    if not pairs:
        return 0, 0
    lead_ids = sorted({lead for a, b, _ in pairs for lead in (a, b)})
    wanted = {(a, b) for a, b, _ in pairs}
    known = DuplicateCandidate.objects.filter(company_id=company_id, lead_a_id__in=lead_ids)
    existing = {
        (a, b): (pk, status)
        for pk, a, b, status in known.values_list("pk", "lead_a_id", "lead_b_id", "status")
        if (a, b) in wanted
    }
    new, changed, now = [], [], timezone.now()
    for a, b, reasons in pairs:
        payload = {"score": max(r.score for r in reasons), "reasons": [r.as_dict() for r in reasons],
                   "is_exact": any(r.exact for r in reasons)}  # fmt: skip
        pk, status = existing.get((a, b), (None, CandidateStatus.PENDING))
        if pk is None:
            new.append(DuplicateCandidate(company_id=company_id, lead_a_id=a, lead_b_id=b, source=source,
                                          group_key=a, found_at=now, **payload))  # fmt: skip
        elif status == CandidateStatus.PENDING:
            changed.append(DuplicateCandidate(pk=pk, **payload))
    DuplicateCandidate.objects.bulk_create(new, batch_size=2000)
    DuplicateCandidate.objects.bulk_update(changed, ["score", "reasons", "is_exact"], batch_size=1000)
    touching = _pending(company_id).filter(Q(lead_a_id__in=lead_ids) | Q(lead_b_id__in=lead_ids))
    regroup(company_id, set(touching.values_list("group_key", flat=True)))
    return len(new), len(changed)


def _join_groups(company_id: int, lead_ids: list[int]) -> None:
    """Pending pairs touching any of ``lead_ids`` now form one group (the smallest key wins)."""
    pending = DuplicateCandidate.objects.filter(company_id=company_id, status=CandidateStatus.PENDING)
    touching = pending.filter(Q(lead_a_id__in=lead_ids) | Q(lead_b_id__in=lead_ids))
    keys = set(touching.values_list("group_key", flat=True))
    if len(keys) > 1:
        pending.filter(group_key__in=keys).update(group_key=min(keys | set(lead_ids)))


def components(pairs: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Lead id → the smallest lead id connected to it through ``pairs`` (union-find)."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in parent}


def regroup(company_id: int, group_keys: Iterable[int] | None = None) -> int:
    """Recompute the groups (connected pending pairs) of the given groups, or of the whole
    company; returns how many pairs changed group."""
    pending = DuplicateCandidate.objects.filter(company_id=company_id, status=CandidateStatus.PENDING)
    if group_keys is not None:
        pending = pending.filter(group_key__in=list(group_keys))
    rows = list(pending.values_list("id", "lead_a_id", "lead_b_id", "group_key"))
    group_of = components((a, b) for _, a, b, _ in rows)
    changed = [DuplicateCandidate(pk=pk, group_key=group_of[a]) for pk, a, _, key in rows if group_of[a] != key]
    DuplicateCandidate.objects.bulk_update(changed, ["group_key"], batch_size=1000)
    return len(changed)
