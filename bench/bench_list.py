"""Lead-list benchmarks on a generated company (DESIGN §7): list_first_page, list_deep_page, search
and bulk_status, each beside a baseline measured in the same run.

* list pages: our lead list view (LeadFilterSet, keyset pages, capped count) rendered by Django's
  test client, against the stock Django admin changelist for the same model and filters (default
  ModelAdmin: full COUNT(*)s and OFFSET pages).
* search: our FTS5-backed ``q`` against the stock admin's ``search_fields`` (LIKE %term%).
* bulk_status: our all-or-nothing bulk job over 10,000 leads (history rows + status changes) against
  a plain loop of ``save()`` with simple-history, measured on a 1,000-lead sample and scaled.
"""

from __future__ import annotations

import statistics
import time

RUNS = 7


def _median_ms(func, runs: int = RUNS) -> float:
    func()  # warm caches and the connection
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def _setup(company):
    from django.contrib.admin import AdminSite, ModelAdmin
    from django.test import Client, RequestFactory

    from crm.models import Membership, Role, User
    from leads.models import Lead, LeadStatus

    admin_membership = Membership.objects.filter(company=company, role=Role.ADMIN, is_active=True).first()
    superuser = User.objects.filter(is_superuser=True).first() or User.objects.create_superuser(
        email="bench-ops@example.test",
        password="bench-pass-123",  # noqa: S106 — local benchmark account
    )
    client = Client(SERVER_NAME="localhost")
    client.force_login(admin_membership.user)

    class StockLeadAdmin(ModelAdmin):
        list_display = ["first_name", "last_name", "email", "company_name", "status", "owner", "score", "created_at"]
        list_filter = ["status", "country"]
        search_fields = ["first_name", "last_name", "email", "company_name", "job_title"]

    site = AdminSite(name="bench_admin")
    site.register(Lead, StockLeadAdmin)
    stock = site._registry[Lead]
    factory = RequestFactory()
    status = LeadStatus.objects.get(company=company, key="new")
    return client, stock, factory, superuser, status


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


def _deep_cursor(company, status, per_page: int, page: int) -> str:
    from crm.models import Membership, Role
    from leads import listing
    from leads.filters import filter_leads
    from leads.queries import leads_visible_to

    member = Membership.objects.filter(company=company, role=Role.ADMIN).first()
    from django.http import QueryDict

    params = QueryDict(f"status={status.pk}&country={company.default_country}")
    leads, _ = filter_leads(leads_visible_to(member), params, membership=member)
    sort = listing.parse_sort("-score")
    ordered = listing.sorted_leads(leads, sort)
    anchor = ordered[(page - 1) * per_page - 1]  # the last row of the previous page (setup only)
    columns = listing._columns(sort)
    values = [listing._value_of(anchor, key) for key, _ in columns]
    return listing._encode({"v": values, "d": "n", "p": page})


def list_first_page(company, size: int) -> dict:
    client, stock, factory, superuser, status = _setup(company)
    filters = {"status": status.pk, "country": company.default_country}
    ours = _median_ms(_ours_get(client, company, {**filters, "sort": "-score"}))
    baseline = _median_ms(
        _admin_get(
            stock, factory, superuser, {"status__id__exact": status.pk, "country": company.default_country, "o": "-7"}
        )
    )
    return {
        "name": "list_first_page",
        "size": size,
        "ours": round(ours, 1),
        "baseline": round(baseline, 1),
        "unit": "ms",
    }


def list_deep_page(company, size: int, page: int = 2000) -> dict:
    client, stock, factory, superuser, status = _setup(company)
    cursor = _deep_cursor(company, status, 50, page)
    params = {"status": status.pk, "country": company.default_country, "sort": "-score", "cursor": cursor}
    ours = _median_ms(_ours_get(client, company, params))
    admin_params = {"status__id__exact": status.pk, "country": company.default_country, "o": "-7", "p": page - 1}
    baseline = _median_ms(_admin_get(stock, factory, superuser, admin_params), runs=3)
    return {"name": "list_deep_page", "size": size, "ours": round(ours, 1), "baseline": round(baseline, 1),
            "unit": "ms", "page": page}  # fmt: skip


def search(company, size: int, term: str | None = None) -> dict:
    from leads.models import Lead

    client, stock, factory, superuser, _status = _setup(company)
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
