"""Lead-list benchmarks on a generated company (DESIGN §7): list_first_page, list_deep_page, search
and bulk_status, each beside a baseline measured in the same run.

* list pages: our lead list view (LeadFilterSet, keyset pages, capped count) rendered by Django's
  test client, for the filter/sort combinations a real team uses (``combinations``): a status and
  the home country by score (an admin), my open leads by score (the SDR who owns the most leads),
  the unassigned pool newest first (that SDR), one campaign by last activity (the biggest
  campaign; an admin) and a rare country by score (the least common country; an admin). Each is
  timed on its first page (``list_first_page``) and on page 2,000, or its last page when it has
  fewer (``list_deep_page``, reached by a keyset cursor as Next would). The headline figure is the
  worst combination; every combination's median is reported beside it. Baseline: the stock Django
  admin changelist (default ModelAdmin: full COUNT(*)s and OFFSET pages) for the worst combination.
* search: our FTS5-backed ``q`` against the stock admin's ``search_fields`` (LIKE %term%).
* bulk_status: our all-or-nothing bulk job over 10,000 leads (history rows + status changes) against
  a plain loop of ``save()`` with simple-history, measured on a 1,000-lead sample and scaled.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

RUNS = 7


def _median_ms(func, runs: int = RUNS) -> float:
    func()  # warm caches and the connection
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


PER_PAGE = 50
DEEP_PAGE = 2000


@dataclass(frozen=True)
class Combination:
    """One filter/sort a real team uses: who looks, our list's parameters, and the stock admin
    changelist's equivalent (``o`` counts the columns of ``StockLeadAdmin.list_display`` from 1,
    after the action checkbox)."""

    label: str
    member: object  # the Membership whose list it is
    params: dict
    sort: str
    admin: dict


def combinations(company) -> list[Combination]:
    from django.db.models import Count

    from crm.models import Membership, Role
    from leads.models import Lead, LeadStatus, StatusCategory

    admin = Membership.objects.get(company=company, role=Role.ADMIN, is_active=True)
    leads = Lead.objects.filter(company=company).order_by()
    busiest = leads.filter(owner__role=Role.SDR).values("owner").annotate(n=Count("id")).order_by("-n", "owner")[0]
    sdr = Membership.objects.get(pk=busiest["owner"])
    new = LeadStatus.objects.get(company=company, key="new")
    open_ids = list(
        LeadStatus.objects.filter(company=company, category=StatusCategory.OPEN, is_active=True).values_list(
            "pk", flat=True
        )
    )
    campaign = leads.values("campaign").annotate(n=Count("id")).order_by("-n", "campaign")[0]["campaign"]
    rare = leads.values("country").annotate(n=Count("id")).order_by("n", "country")[0]["country"]
    home = company.default_country
    return [
        Combination("status + home country by score", admin, {"status": new.pk, "country": home}, "-score",
                    {"status__id__exact": new.pk, "country": home, "o": "-7"}),
        Combination("my open leads by score", sdr, {"owner": "me", "status": open_ids}, "-score",
                    {"owner__id__exact": sdr.pk, "status__id__in": ",".join(map(str, open_ids)), "o": "-7"}),
        Combination("unassigned newest first", sdr, {"owner": "unassigned"}, "-created",
                    {"owner__isnull": "True", "o": "-8"}),
        Combination("one campaign by last activity", admin, {"campaign": campaign}, "-activity",
                    {"campaign__id__exact": campaign, "o": "-9"}),
        Combination(f"rare country ({rare}) by score", admin, {"country": rare}, "-score",
                    {"country": rare, "o": "-7"}),
    ]  # fmt: skip


def _stock_admin():
    from django.contrib.admin import AdminSite, ModelAdmin
    from django.test import RequestFactory

    from crm.models import User
    from leads.models import Lead

    superuser = User.objects.filter(is_superuser=True).first() or User.objects.create_superuser(
        email="bench-ops@example.test",
        password="bench-pass-123",  # noqa: S106 — local benchmark account
    )

    class StockLeadAdmin(ModelAdmin):
        list_display = ["first_name", "last_name", "email", "company_name", "status", "owner", "score", "created_at",
                        "last_activity_at"]  # fmt: skip
        list_filter = ["status", "country"]
        list_per_page = PER_PAGE  # as many rows as our page
        search_fields = ["first_name", "last_name", "email", "company_name", "job_title"]

    site = AdminSite(name="bench_admin")
    site.register(Lead, StockLeadAdmin)
    return site._registry[Lead], RequestFactory(), superuser


def _client(member):
    from django.test import Client

    client = Client(SERVER_NAME="localhost")
    client.force_login(member.user)
    return client


def _admin_get(stock, factory, superuser, params: dict):
    def call():
        request = factory.get("/admin/leads/lead/", params)
        request.user = superuser
        response = stock.changelist_view(request)
        response.render()
        assert response.status_code == 200, response.status_code

    return call


def _ours_get(client, company, params: dict):
    url = f"/c/{company.slug}/leads/"

    def call():
        response = client.get(url, params)
        assert response.status_code == 200, response.status_code
        assert b'data-testid="list-errors"' not in response.content, response.content[:2000]

    return call


def _deep_page(company, combination: Combination, page: int = DEEP_PAGE) -> tuple[int, str | None]:
    """Page ``page`` of the combination, or its last page when it has fewer, and the cursor that
    Next would have led to it with (None for page 1). Setup only: counts and reads rows freely."""
    from django.http import QueryDict

    from leads import listing
    from leads.filters import filter_leads
    from leads.queries import leads_visible_to

    params = QueryDict(mutable=True)
    for key, value in combination.params.items():
        params.setlist(key, [str(v) for v in value] if isinstance(value, list) else [str(value)])
    member = combination.member
    leads, _ = filter_leads(leads_visible_to(member), params, membership=member)
    page = min(page, max(1, -(-leads.count() // PER_PAGE)))
    if page == 1:
        return page, None
    sort = listing.parse_sort(combination.sort)
    anchor = listing.sorted_leads(leads, sort)[(page - 1) * PER_PAGE - 1]  # the last row of the page before
    values = [listing._value_of(anchor, key) for key, _ in listing._columns(sort)]
    return page, listing._encode({"v": values, "d": "n", "p": page})


def _each(company, measure) -> tuple[dict[str, float], dict[str, object], Combination]:
    """Time every combination with ``measure(combination) -> (ours in ms, extra)``: the medians
    and the extras by label, and the worst combination."""
    found = combinations(company)
    timings, extras = {}, {}
    for combination in found:
        timings[combination.label], extras[combination.label] = measure(combination)
    return timings, extras, max(found, key=lambda c: timings[c.label])


def _result(name: str, size: int, timings: dict[str, float], worst: Combination, baseline: float) -> dict:
    return {"name": name, "size": size, "ours": round(timings[worst.label], 1), "baseline": round(baseline, 1),
            "unit": "ms", "worst": worst.label,
            "combinations": {label: round(ms, 1) for label, ms in timings.items()}}  # fmt: skip


def list_first_page(company, size: int) -> dict:
    """First page, worst of the realistic filter/sort combinations: our list vs the stock admin (ms)."""
    stock, factory, superuser = _stock_admin()

    def measure(combination):
        params = {**combination.params, "sort": combination.sort}
        return _median_ms(_ours_get(_client(combination.member), company, params)), None

    timings, _, worst = _each(company, measure)
    baseline = _median_ms(_admin_get(stock, factory, superuser, worst.admin))
    return _result("list_first_page", size, timings, worst, baseline)


def list_deep_page(company, size: int, page: int = DEEP_PAGE) -> dict:
    """Page 2,000 (or the last), worst of the realistic combinations: keyset vs the admin's OFFSET (ms)."""
    stock, factory, superuser = _stock_admin()

    def measure(combination):
        number, cursor = _deep_page(company, combination, page)
        params = {**combination.params, "sort": combination.sort, **({"cursor": cursor} if cursor else {})}
        return _median_ms(_ours_get(_client(combination.member), company, params)), number

    timings, pages, worst = _each(company, measure)
    admin_params = {**worst.admin, "p": pages[worst.label]}
    baseline = _median_ms(_admin_get(stock, factory, superuser, admin_params), runs=3)
    return {**_result("list_deep_page", size, timings, worst, baseline), "pages": pages}


def search(company, size: int, term: str | None = None) -> dict:
    from crm.models import Membership, Role
    from leads.models import Lead

    stock, factory, superuser = _stock_admin()
    client = _client(Membership.objects.get(company=company, role=Role.ADMIN, is_active=True))
    term = term or Lead.objects.filter(company=company).values_list("last_name", flat=True)[12345 % max(size, 1)]
    ours = _median_ms(_ours_get(client, company, {"q": term}))
    baseline = _median_ms(_admin_get(stock, factory, superuser, {"q": term}), runs=3)
    return {"name": "search", "size": size, "ours": round(ours, 1), "baseline": round(baseline, 1), "unit": "ms",
            "term": term}  # fmt: skip


def bulk_status(company, size: int, count: int = 10_000, sample: int = 1_000) -> dict:
    """Ours: one bulk job over ``count`` leads. Baseline: ``save()`` per lead, on a sample, scaled."""
    from django.db import transaction

    from crm.models import Membership, Role
    from leads import bulk as bulk_ops
    from leads.models import Lead, LeadStatus

    actor = Membership.objects.filter(company=company, role=Role.ADMIN).first()
    new = LeadStatus.objects.get(company=company, key="new")
    contacted = LeadStatus.objects.get(company=company, key="contacted")
    ids = list(
        Lead.objects.filter(company=company, status=new).order_by("id").values_list("id", flat=True)[: count + sample]
    )
    ours_ids, base_ids = ids[:count], ids[count:]

    start = time.perf_counter()
    job = bulk_ops.bulk_job_create(actor=actor, operation="status", params={"status": contacted.pk}, lead_ids=ours_ids)
    job = bulk_ops.bulk_job_run(job_id=job.pk)
    ours_s = time.perf_counter() - start
    assert job.status == "succeeded", job.error

    start = time.perf_counter()
    with transaction.atomic():
        for lead in Lead.objects.filter(pk__in=base_ids):
            lead.status = contacted
            lead._change_reason = "bench.naive_loop"
            lead.save()
    baseline_s = (time.perf_counter() - start) * count / max(len(base_ids), 1)
    return {"name": "bulk_status", "size": size, "ours": round(ours_s, 2), "baseline": round(baseline_s, 2),
            "unit": "s", "leads": count, "baseline_sample": len(base_ids)}  # fmt: skip


BENCHMARKS = {
    "list_first_page": list_first_page,
    "list_deep_page": list_deep_page,
    "search": search,
    "bulk_status": bulk_status,
}
