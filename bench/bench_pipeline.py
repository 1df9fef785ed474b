"""Pipeline benchmarks (issue 13): ``pipeline_board`` and ``forecast`` on the shared company ``bench``
filled by ``accounts.generate`` with ``size`` accounts (a primary contact each, some more) and
``size`` opportunities with their stage history (100,000 by default; targets < 100 ms and < 200 ms).

* ``pipeline_board``: our board page (``/c/bench/accounts/pipeline/``: per-stage counts and amount
  totals from one grouped query, the first 50 cards of each column, the average time in each stage)
  rendered by Django's test client for the company admin, who sees every opportunity. Baseline: the
  stock Django admin changelist of opportunities (default ``ModelAdmin``: full ``COUNT(*)``, 100 rows
  a page), opened once per stage, as one would follow the pipeline without a board; the single
  unfiltered changelist is reported beside it (``baseline_one_list_ms``).
* ``forecast``: our forecast page (four quarters from the current one, per category, owner and team,
  with the SVG chart) for the admin; ``figures_ms`` is ``accounts.forecast.forecast`` alone.
  Baseline: a Python loop over the same rows (``values_list(...).iterator()``) adding up the same
  period × category × owner figures; its totals are checked against ours.

``python bench/run.py pipeline_board --size 2000 --json``
"""

from __future__ import annotations

import sys
from decimal import Decimal

from bench_list import _median_ms

DEFAULT_SIZE = 100_000
SEED = 42


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _ensure_pipeline(company, size: int) -> int:
    """The bench company's opportunities, generated on first use (``size`` accounts and deals)."""
    from django.db import connection

    from accounts.generate import accounts_generate
    from accounts.models import Account, Contact, Opportunity, OpportunityStageChange

    existing = Opportunity.objects.filter(company=company).count()
    if existing:
        return existing
    _log(f"generating {size:,} accounts and {size:,} opportunities into {company.slug}")
    result = accounts_generate(company=company, accounts=size, opportunities=size, seed=SEED)
    _log(f"  … {result.stage_changes:,} stage changes, {result.contacts:,} contacts in {result.seconds:.1f} s")
    with connection.cursor() as cursor:  # current planner statistics, as a live database has
        for model in (Account, Contact, Opportunity, OpportunityStageChange):
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    return size


def _admin(company):
    from django.test import Client

    from crm.models import Membership, Role

    member = Membership.objects.filter(company=company, role=Role.ADMIN, is_active=True).select_related("user").first()
    client = Client(SERVER_NAME="localhost")
    client.force_login(member.user)
    return client, member


def _get(client, url: str, params: dict | None = None):
    def call():
        response = client.get(url, params or {})
        assert response.status_code == 200, response.status_code
        assert b'role="alert"' not in response.content, response.content[:2000]

    return call


def _stock_changelist():
    from django.contrib.admin import AdminSite, ModelAdmin
    from django.test import RequestFactory

    from accounts.models import Opportunity
    from crm.models import User

    superuser = User.objects.filter(is_superuser=True).first() or User.objects.create_superuser(
        email="bench-ops@example.test",
        password="bench-pass-123",  # noqa: S106 — local benchmark account
    )

    class StockOpportunityAdmin(ModelAdmin):
        list_display = ["name", "account", "stage", "amount", "currency", "close_date", "owner"]
        list_filter = ["stage", "forecast_category"]

    site = AdminSite(name="bench_pipeline_admin")
    site.register(Opportunity, StockOpportunityAdmin)
    stock, factory = site._registry[Opportunity], RequestFactory()

    def changelist(params: dict):
        request = factory.get("/admin/accounts/opportunity/", params)
        request.user = superuser
        response = stock.changelist_view(request)
        response.render()
        assert response.status_code == 200, response.status_code

    return changelist


def pipeline_board(company, size: int) -> dict:
    """Our pipeline board page vs the stock admin changelist opened per stage (ms)."""
    from accounts.queries import stages_of

    opportunities = _ensure_pipeline(company, size)
    client, _member = _admin(company)
    ours = _median_ms(_get(client, f"/c/{company.slug}/accounts/pipeline/"))
    changelist = _stock_changelist()
    stage_ids = list(stages_of(company.pk).values_list("pk", flat=True))

    def per_stage():
        for pk in stage_ids:
            changelist({"stage__id__exact": pk})

    baseline = _median_ms(per_stage, runs=3)
    one_list = _median_ms(lambda: changelist({}), runs=3)
    return {"name": "pipeline_board", "size": size, "ours": round(ours, 1), "baseline": round(baseline, 1),
            "unit": "ms", "opportunities": opportunities, "stages": len(stage_ids),
            "baseline_one_list_ms": round(one_list, 1)}  # fmt: skip


def _loop_forecast(company, currency: str, periods) -> dict:
    """The baseline: every row of the company through Python, summed per period × category × owner."""
    from accounts.models import ForecastCategory, Opportunity

    starts = [(p.start, p.end) for p in periods]
    figures: dict[tuple, list] = {}
    rows = Opportunity.objects.filter(company=company).values_list(
        "close_date", "forecast_category", "currency", "owner_id", "amount", "probability"
    )
    for close_date, category, row_currency, owner, amount, probability in rows.iterator(chunk_size=5000):
        if category == ForecastCategory.OMITTED or row_currency != currency:
            continue
        for start, end in starts:
            if start <= close_date < end:
                figure = figures.setdefault((start, category, owner), [0, Decimal(0), Decimal(0)])
                figure[0] += 1
                figure[1] += amount
                figure[2] += amount * probability
                break
    return {
        key: (n, amount, (weighted / 100).quantize(Decimal("0.01"))) for key, (n, amount, weighted) in figures.items()
    }


def forecast(company, size: int) -> dict:
    """Our forecast page (4 quarters) vs a Python loop over the rows adding up the same figures (ms)."""
    from django.utils import timezone

    from accounts.forecast import forecast as forecast_figures
    from accounts.forecast import period_start
    from accounts.queries import opportunities_visible_to
    from accounts.validation import default_currency

    opportunities = _ensure_pipeline(company, size)
    client, member = _admin(company)
    start = period_start(timezone.localdate(), "quarter")
    currency = default_currency(company.default_country)
    params = {"period": "quarter", "from": start.isoformat(), "periods": 4, "currency": currency}
    ours = _median_ms(_get(client, f"/c/{company.slug}/accounts/forecast/", params))

    def figures():
        return forecast_figures(opportunities_visible_to(member), period="quarter", start=start, count=4,
                                currency=currency)  # fmt: skip

    figures_ms = _median_ms(figures)
    result = figures()
    baseline_rows: dict = {}

    def loop():
        baseline_rows.update(_loop_forecast(company, currency, result.periods))

    baseline = _median_ms(loop, runs=3)
    loop_count = sum(n for n, _amount, _weighted in baseline_rows.values())
    loop_amount = sum((amount for _n, amount, _weighted in baseline_rows.values()), Decimal(0))
    assert (loop_count, loop_amount) == (result.total.count, result.total.amount), (loop_count, result.total)
    return {"name": "forecast", "size": size, "ours": round(ours, 1), "baseline": round(baseline, 1), "unit": "ms",
            "opportunities": opportunities, "figures_ms": round(figures_ms, 1), "in_forecast": result.total.count,
            "periods": f"4 quarters from {start:%Y-%m-%d}"}  # fmt: skip


BENCHMARKS = {"pipeline_board": pipeline_board, "forecast": forecast}
