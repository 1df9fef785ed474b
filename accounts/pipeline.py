"""The pipeline board's figures and time in stage. Totals are computed by the database in one
grouped query over a covering index; cards and the average time in each stage read a bounded number
of rows per column, so the board costs the same at a hundred opportunities or a hundred thousand."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, QuerySet, Sum
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from accounts.models import Opportunity, OpportunityStageChange, Stage

CENT = Decimal("0.01")
CARDS_PER_COLUMN = 20
RECENT_STAYS = 200  # the average time in a stage is over its latest stays
CARD_FIELDS = ("id", "name", "amount", "currency", "close_date", "stage_id", "account__name", "owner__user__full_name",
               "owner__user__email")  # fmt: skip
WEIGHTED = ExpressionWrapper(F("amount") * F("probability"), output_field=DecimalField(max_digits=19, decimal_places=2))


def money(value) -> Decimal:
    return (value or Decimal(0)).quantize(CENT)


def weighted(raw_sum) -> Decimal:
    """Σ amount × probability → Σ amount × probability / 100, to the cent."""
    return money(Decimal(raw_sum or 0) / 100)


@dataclass
class Column:
    stage: Stage
    count: int = 0
    amounts: dict[str, Decimal] = field(default_factory=dict)  # currency → total
    weighted: dict[str, Decimal] = field(default_factory=dict)
    cards: list[Opportunity] = field(default_factory=list)
    average_days: float | None = None
    stage_options: str = ""  # the move form's <option>s, this column's stage selected (built once a column)

    @property
    def more(self) -> int:
        return max(self.count - len(self.cards), 0)


def board_totals(opportunities: QuerySet[Opportunity], stages: list[Stage]) -> list[Column]:
    """One column per stage with its count and amount totals (per currency), unweighted and weighted."""
    columns = {stage.pk: Column(stage) for stage in stages}
    rows = (
        opportunities.order_by()
        .values("stage_id", "currency")
        .annotate(n=Count("id"), total=Sum("amount"), weighted_total=Sum(WEIGHTED))
    )
    for row in rows:
        column = columns.get(row["stage_id"])
        if column is None:
            continue  # a retired stage: its opportunities are listed, not on the board
        column.count += row["n"]
        column.amounts[row["currency"]] = money(row["total"])
        column.weighted[row["currency"]] = weighted(row["weighted_total"])
    return list(columns.values())


def board(opportunities: QuerySet[Opportunity], stages: list[Stage], *, cards: int = CARDS_PER_COLUMN) -> list[Column]:
    """The board: totals, the first ``cards`` cards of each column (closing soonest first) and the
    average days opportunities spent in each stage."""
    columns = board_totals(opportunities, stages)
    averages = average_days_in_stage(stages[0].company_id, [s.pk for s in stages]) if stages else {}
    related = opportunities.select_related("account", "owner__user").only(*CARD_FIELDS).order_by("close_date", "id")
    for column in columns:
        column.average_days = averages.get(column.stage.pk)
        column.stage_options = format_html_join(
            "", '<option value="{}"{}>{}</option>',
            ((s.pk, mark_safe(" selected") if s.pk == column.stage.pk else "", s.name) for s in stages),
        )  # fmt: skip
        if column.count and cards:
            column.cards = list(related.filter(stage_id=column.stage.pk)[:cards])
    return columns


def average_days_in_stage(company_id: int, stage_ids: list[int], *, now: dt.datetime | None = None) -> dict[int, float]:
    """Average length of a stay in each stage, in days, over its latest ``RECENT_STAYS`` stays
    (ongoing ones count up to now): how long deals take there lately, read from at most
    ``RECENT_STAYS`` rows per stage (``stagechange_company_stage`` index) whatever the history's size."""
    now = now or timezone.now()
    averages = {}
    for stage_id in stage_ids:
        stays = (
            OpportunityStageChange.objects.filter(company_id=company_id, to_stage_id=stage_id)
            .order_by("-changed_at")
            .values_list("changed_at", "left_at")[:RECENT_STAYS]
        )
        seconds = [((left or now) - entered).total_seconds() for entered, left in stays]
        if seconds:
            averages[stage_id] = round(sum(seconds) / len(seconds) / 86400, 1)
    return averages


def time_in_stage(opportunity: Opportunity, *, now: dt.datetime | None = None) -> list[tuple[Stage, float]]:
    """Days this opportunity spent in each stage, in order of first visit (revisits add up)."""
    now = now or timezone.now()
    totals: dict[int, float] = {}
    stages: dict[int, Stage] = {}
    for row in opportunity.stage_changes.select_related("to_stage").order_by("changed_at", "id"):
        stages[row.to_stage_id] = row.to_stage
        seconds = ((row.left_at or now) - row.changed_at).total_seconds()
        totals[row.to_stage_id] = totals.get(row.to_stage_id, 0.0) + seconds
    return [(stages[pk], round(seconds / 86400, 1)) for pk, seconds in totals.items()]
