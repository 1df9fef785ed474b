"""Reads of the duplicates area: the review queue and the merge records a member can see."""

from __future__ import annotations

from django.db.models import Q

from crm.models import Membership
from leads.models import CandidateStatus, DuplicateCandidate, Lead, MergeRecord
from leads.queries import leads_visible_to


def candidates_visible_to(membership: Membership):
    """Pending pairs of the member's company whose two leads the member can see (live ones)."""
    visible = leads_visible_to(membership).values("pk")
    return DuplicateCandidate.objects.filter(
        company_id=membership.company_id, status=CandidateStatus.PENDING, lead_a__in=visible, lead_b__in=visible
    )


def duplicates_of(lead: Lead, membership: Membership) -> list[tuple[DuplicateCandidate, Lead]]:
    """The lead's pending pairs, with the other lead, that the member can see; best first."""
    pairs = (
        candidates_visible_to(membership)
        .filter(Q(lead_a=lead) | Q(lead_b=lead))
        .select_related("lead_a__owner__user", "lead_b__owner__user")
    )
    found = [(pair, pair.lead_b if pair.lead_a_id == lead.pk else pair.lead_a) for pair in pairs]
    return sorted(found, key=lambda item: (-item[0].score, item[1].pk))


def merges_visible_to(membership: Membership):
    """Merge records of the company whose survivor the member can see (live or in the trash)."""
    survivors = leads_visible_to(membership).values("pk")
    trashed = leads_visible_to(membership, deleted=True).values("pk")
    return (
        MergeRecord.objects.filter(company_id=membership.company_id)
        .filter(Q(survivor_id__in=survivors) | Q(survivor_id__in=trashed))
        .select_related("survivor", "merged_by__user", "undone_by__user")
    )
