"""Reads shared by the nurturing pages: sequences with their counts, per-step statistics and the
geometry of their server-rendered bar chart, and the messages left for review."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from crm.models import Company, Membership
from leads.queries import leads_visible_to
from nurturing.models import (
    EmailSequence,
    EmailSequenceStep,
    Enrolment,
    EnrolmentState,
    LeadEmailActivity,
    MessageState,
)

METRICS = (("sent", "Sent"), ("opened", "Opened"), ("clicked", "Clicked"), ("unsubscribed", "Unsubscribed"),
           ("bounced", "Bounced"))  # fmt: skip


def _count(queryset: QuerySet) -> Coalesce:
    """How many rows of ``queryset`` (filtered on ``sequence=OuterRef("pk")``), as a subquery."""
    counted = queryset.filter(sequence=OuterRef("pk")).order_by().values("sequence").annotate(n=Count("pk"))
    return Coalesce(Subquery(counted.values("n"), output_field=IntegerField()), Value(0))


def sequences_listed(company: Company) -> QuerySet[EmailSequence]:
    """The company's sequences with their active steps, running enrolments and sent emails counted
    in the same query (subqueries, not joins: the counts do not multiply each other)."""
    running = Enrolment.objects.filter(state__in=[EnrolmentState.ACTIVE, EnrolmentState.PAUSED])
    return (
        EmailSequence.objects.filter(company=company)
        .select_related("trigger_status")
        .annotate(
            step_count=_count(EmailSequenceStep.objects.filter(is_active=True)),
            running_count=_count(running),
            sent_count=_count(LeadEmailActivity.objects.filter(state=MessageState.SENT)),
        )
    )


@dataclass
class StepStats:
    step: EmailSequenceStep
    sent: int = 0
    opened: int = 0
    clicked: int = 0
    unsubscribed: int = 0
    bounced: int = 0
    failed: int = 0
    unknown: int = 0

    def _rate(self, count: int, of: int) -> float | None:
        return round(100 * count / of, 1) if of else None

    @property
    def rows(self) -> list[tuple[str, int, float | None]]:
        """(label, count, rate in %): opens, clicks and unsubscribes of the emails sent, bounces of
        the emails tried (sent + bounced)."""
        tried = self.sent + self.bounced
        return [
            ("Sent", self.sent, None),
            ("Opened", self.opened, self._rate(self.opened, self.sent)),
            ("Clicked", self.clicked, self._rate(self.clicked, self.sent)),
            ("Unsubscribed", self.unsubscribed, self._rate(self.unsubscribed, self.sent)),
            ("Bounced", self.bounced, self._rate(self.bounced, tried)),
        ]


def step_stats(sequence: EmailSequence) -> list[StepStats]:
    """One ``StepStats`` per step, in order: two queries whatever the number of steps and emails."""
    counts = (
        LeadEmailActivity.objects.filter(sequence=sequence)
        .values("step_id")
        .order_by()
        .annotate(
            sent=Count("pk", filter=Q(state=MessageState.SENT)),
            opened=Count("pk", filter=Q(opened_at__isnull=False)),
            clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
            unsubscribed=Count("pk", filter=Q(unsubscribed_at__isnull=False)),
            bounced=Count("pk", filter=Q(state=MessageState.BOUNCED)),
            failed=Count("pk", filter=Q(state=MessageState.FAILED)),
            unknown=Count("pk", filter=Q(state=MessageState.UNKNOWN)),
        )
    )
    by_step = {row.pop("step_id"): row for row in counts}
    return [StepStats(step, **by_step.get(step.pk, {})) for step in sequence.steps.order_by("step_number")]


CHART_WIDTH, CHART_HEIGHT, CHART_PAD, CHART_FOOT = 720, 240, 28, 22


def stats_chart(stats: list[StepStats]) -> dict:
    """Bar geometry for the SVG: per step, one bar per metric (sent, opened, clicked, unsubscribed,
    bounced), heights on one scale."""
    top = max([getattr(s, name) for s in stats for name, _ in METRICS] + [1])
    inner_w, inner_h = CHART_WIDTH - 2 * CHART_PAD, CHART_HEIGHT - 2 * CHART_PAD - CHART_FOOT
    slot = inner_w / max(len(stats), 1)
    bar = slot * 0.8 / len(METRICS)
    baseline = CHART_PAD + inner_h
    groups = []
    for index, item in enumerate(stats):
        left = CHART_PAD + index * slot + slot * 0.1
        bars = []
        for position, (name, label) in enumerate(METRICS):
            value = getattr(item, name)
            height = inner_h * value / top
            bars.append({"metric": name, "label": label, "value": value, "x": round(left + position * bar, 1),
                         "y": round(baseline - height, 1), "width": round(bar * 0.9, 1), "height": round(height, 1)})  # fmt: skip
        groups.append({"step": item.step.step_number, "subject": item.step.subject, "bars": bars,
                       "label_x": round(left + slot * 0.4, 1)})  # fmt: skip
    return {
        "width": CHART_WIDTH, "height": CHART_HEIGHT, "pad": CHART_PAD, "top": top, "groups": groups,
        "baseline": baseline, "right": CHART_WIDTH - CHART_PAD, "label_y": baseline + 16, "metrics": METRICS,
    }  # fmt: skip


def messages_to_review(sequence: EmailSequence, membership: Membership, limit: int = 50):
    """Emails to leads the member can see that were interrupted while sending (``unknown``: they may
    or may not have left) or failed."""
    states = [MessageState.UNKNOWN, MessageState.FAILED]
    messages = sequence.messages.filter(state__in=states, lead__in=leads_visible_to(membership))
    return messages.select_related("lead", "step").order_by("-claimed_at")[:limit]
