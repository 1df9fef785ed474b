"""Export file writers with flat memory: CSV and JSON are streamed in small chunks as the rows are
read, XLSX goes through openpyxl's write-only workbook into a temporary file."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator

from django.db.models import QuerySet
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from crm.models import Company
from leads.models import (
    ExportFormat,
    Lead,
)
from leads.transfer.cells import BUFFER_BYTES, RowReader, json_value, text_cell, xlsx_cell


class Counter:
    """Counts the rows that went through, for the run's record."""

    def __init__(self, rows: Iterable[list] = ()):
        self.rows, self.count = rows, 0

    def __iter__(self):
        for row in self.rows:
            self.count += 1
            yield row


def csv_chunks(headers: list[str], batches: Iterable[list], counter: Counter) -> Iterator[bytes]:
    """UTF-8 CSV with a byte-order mark (so Excel reads accents right), in chunks of about 64 KB,
    from batches of finished rows (``RowReader.text_batches``); ``counter`` counts the rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([text_cell(h) for h in headers])
    yield ("\ufeff" + buffer.getvalue()).encode()
    buffer.seek(0)
    buffer.truncate()
    for batch in batches:
        counter.count += len(batch)
        writer.writerows(batch)
        if buffer.tell() > BUFFER_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def json_chunks(headers: list[str], rows: Iterable[list]) -> Iterator[bytes]:
    """A JSON list of objects keyed by the column labels, streamed."""
    parts, size, first = ["["], 1, True
    for row in rows:
        text = json.dumps(dict(zip(headers, map(json_value, row), strict=True)), ensure_ascii=False, default=str)
        parts.append(("\n" if first else ",\n") + text)
        size += len(text) + 2
        first = False
        if size > BUFFER_BYTES:
            yield "".join(parts).encode()
            parts, size = [], 0
    parts.append("\n]\n")
    yield "".join(parts).encode()


def write_xlsx(headers: list[str], rows: Iterable[list], path: str) -> None:
    """A write-only workbook (rows go to disk as they come), bold header, frozen first row."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Leads")
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header_cells = []
    for header in headers:
        cell = WriteOnlyCell(sheet, value=xlsx_cell(header))
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    for row in rows:
        sheet.append([xlsx_cell(value) for value in row])
    workbook.save(path)


def file_name(company: Company, file_format: str, *, stamp: dt.datetime | None = None) -> str:
    stamp = stamp or timezone.now()
    return f"leads-{company.slug}-{stamp:%Y%m%d-%H%M%S}.{file_format}"


class TemporaryExport:
    """A file under the temp directory that deletes itself when closed (XLSX downloads)."""

    def __init__(self, suffix: str):
        handle, self.path = tempfile.mkstemp(suffix=suffix, prefix="crm-export-")
        os.close(handle)

    def open(self):
        path = self.path

        class _SelfDeleting(io.FileIO):
            def close(self):
                super().close()
                if os.path.exists(path):
                    os.unlink(path)

        return _SelfDeleting(path, "rb")

    def discard(self) -> None:
        if os.path.exists(self.path):
            os.unlink(self.path)


def write_file(file_format: str, reader: RowReader, queryset: QuerySet[Lead], path: str) -> int:
    """Write the export to ``path``; returns the number of leads written."""
    if file_format == ExportFormat.XLSX:
        counter = Counter(reader.rows(queryset))
        write_xlsx(reader.headers, counter, path)
        return counter.count
    if file_format == ExportFormat.CSV:
        counter = Counter()
        chunks = csv_chunks(reader.headers, reader.text_batches(queryset), counter)
    else:
        counter = Counter(reader.rows(queryset))
        chunks = json_chunks(reader.headers, counter)
    with open(path, "wb") as out:
        for chunk in chunks:
            out.write(chunk)
    return counter.count
