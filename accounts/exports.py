"""Exports of the three lists (CSV, XLSX, JSON) through the lead export machinery
(``leads.transfer.exports``: streamed CSV/JSON chunks, write-only XLSX, formula neutralisation). The rows
are the list's: the member's visible records through the list's FilterSet, in the list's order."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.utils import timezone

from accounts.listing import LISTINGS
from crm.forms import error_text
from crm.listing import filter_params
from crm.permissions import tenant_view
from leads.transfer.cells import CONTENT_TYPES, text_cell
from leads.transfer.writers import Counter, TemporaryExport, csv_chunks, json_chunks, write_xlsx

BATCH = 2000
# list → [(header, ORM path)]
COLUMNS: dict[str, list[tuple[str, str]]] = {
    "accounts": [("ID", "id"), ("Name", "name"), ("Domain", "domain"), ("Website", "website"),
                 ("Type", "account_type"), ("Industry", "industry"), ("Company size", "company_size"),
                 ("Annual revenue", "annual_revenue"), ("GSTIN", "gstin"), ("Health", "health_score"),
                 ("Lifecycle stage", "lifecycle_stage"), ("Active", "is_active"), ("Owner", "owner__user__email"),
                 ("Parent account", "parent__name"), ("Country", "country"), ("Created", "created_at")],
    "contacts": [("ID", "id"), ("Account", "account__name"), ("First name", "first_name"), ("Last name", "last_name"),
                 ("Job title", "job_title"), ("Role", "role"), ("Email", "email"), ("Phone", "phone"),
                 ("Preferred channel", "preferred_channel"), ("Influence", "influence"), ("Primary", "is_primary"),
                 ("GDPR consent", "gdpr_consent"), ("Do not disturb", "dnd"), ("Owner", "owner__user__email"),
                 ("Created", "created_at")],
    "opportunities": [("ID", "id"), ("Name", "name"), ("Account", "account__name"), ("Stage", "stage__name"),
                      ("Amount", "amount"), ("Currency", "currency"), ("Probability", "probability"),
                      ("Forecast category", "forecast_category"), ("Close date", "close_date"), ("Source", "source"),
                      ("Next step", "next_step"), ("Lost reason", "lost_reason"), ("Owner", "owner__user__email"),
                      ("Created", "created_at")],
}  # fmt: skip
FORMATS = ("csv", "xlsx", "json")


def _plain(value):
    """Decimals as exact text (the machinery writes numbers it knows; money is never a float)."""
    return str(value) if isinstance(value, Decimal) else value


def export_rows(kind: str, membership, params):
    """Headers and an iterator of rows for the ``kind`` list as ``membership`` sees it with ``params``."""
    record_list = LISTINGS[kind]
    rows, _ = record_list.filtered(membership, filter_params(params))
    sort = record_list.listing.parse_sort(params.get("sort", ""))
    ordered = record_list.listing.sorted(rows, sort)
    headers = [header for header, _ in COLUMNS[kind]]
    paths = [path for _, path in COLUMNS[kind]]
    values = ([_plain(v) for v in row] for row in ordered.values_list(*paths).iterator(chunk_size=BATCH))
    return headers, values


def _batches(rows, size: int = BATCH):
    batch = []
    for row in rows:
        batch.append([text_cell(value) for value in row])
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@tenant_view("accounts.export")
def export_view(request, company_slug):
    kind, file_format = request.GET.get("list", "accounts"), request.GET.get("format", "csv")
    try:
        if kind not in COLUMNS:
            raise ValidationError({"list": f"Choose one of {', '.join(COLUMNS)}."})
        if file_format not in FORMATS:
            raise ValidationError({"format": f"Choose one of {', '.join(FORMATS)}."})
        headers, rows = export_rows(kind, request.membership, request.GET)
    except ValidationError as error:
        messages.error(request, "Export not possible: " + error_text(error))
        return redirect("accounts:account_list", company_slug=company_slug)
    name = f"{kind}-{request.company.slug}-{timezone.now():%Y%m%d-%H%M%S}.{file_format}"
    if file_format == "xlsx":
        temporary = TemporaryExport(".xlsx")
        write_xlsx(headers, rows, temporary.path)
        return FileResponse(temporary.open(), as_attachment=True, filename=name, content_type=CONTENT_TYPES["xlsx"])
    chunks = csv_chunks(headers, _batches(rows), Counter()) if file_format == "csv" else json_chunks(headers, rows)
    response = StreamingHttpResponse(chunks, content_type=CONTENT_TYPES[file_format])
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
