"""Export file writers with flat memory: CSV and JSON are streamed in small chunks as the rows are
read (CSV written by the database where it can, ``vendor.copy_csv_rows``), XLSX goes through XlsxWriter's
constant-memory workbook into a temporary file."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import os
import tempfile
from collections.abc import Iterable, Iterator

import xlsxwriter
from django.db.models import QuerySet
from django.utils import timezone

from crm.models import Company
from leads import vendor
from leads.models import (
    ExportFormat,
    Lead,
)
from leads.transfer.cells import BUFFER_BYTES, RowReader, json_value, text_cell, xlsx_cell

CRLF = b"\r\n"


class Counter:
    """Counts the rows that went through, for the run's record."""

    def __init__(self, rows: Iterable[list] = ()):
        self.rows, self.count = rows, 0

    def __iter__(self):
        try:
            for row in self.rows:
                self.count += 1
                yield row
        finally:
            _close(self.rows)  # a reader stopped early lets go of its cursor (and thread) now


def _close(rows: Iterable) -> None:
    close = getattr(rows, "close", None)
    if close is not None:
        close()


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


def lead_csv_chunks(reader: RowReader, queryset: QuerySet[Lead], counter: Counter) -> Iterator[bytes]:
    """The leads' CSV file: written by the database (``COPY … TO STDOUT``) where it can write it,
    else by ``csv_chunks``; the same bytes either way."""
    select = reader.copy_select(queryset) if vendor.copy_supported() else None
    if select is None:
        return csv_chunks(reader.headers, reader.text_batches(queryset), counter)
    return copied_csv_chunks(reader.headers, vendor.copy_csv_rows(*select), counter)


def copied_csv_chunks(headers: list[str], rows: Iterable[bytes], counter: Counter) -> Iterator[bytes]:
    """``csv_chunks`` from the rows of a ``COPY … TO STDOUT WITH (FORMAT csv)``, one per row ending
    in ``\\n`` (a newline inside a cell is in its quotes, before that one): the header by
    csv.writer, then the rows with csv.writer's ``\\r\\n`` line ends, in chunks of about 64 KB."""
    header = next(csv_chunks(headers, (), counter))
    yield header
    parts, size = [], 0
    for row in rows:
        parts.append(row[:-1])
        size += len(row)
        if size > BUFFER_BYTES:
            counter.count += len(parts)
            yield CRLF.join(parts) + CRLF
            parts, size = [], 0
    if parts:
        counter.count += len(parts)
        yield CRLF.join(parts) + CRLF


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


# XlsxWriter takes every cell as what it is: no text is read as a formula, a URL or a number.
XLSX_OPTIONS = {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                "strings_to_numbers": False}  # fmt: skip
XLSX_DATETIME, XLSX_DATE = "yyyy-mm-dd h:mm:ss", "yyyy-mm-dd"  # openpyxl's formats for the same cells
EXCEL_EPOCH = dt.datetime(1899, 12, 31)  # day 0 of Excel's 1900 date system (XlsxWriter's default)
DAY_SECONDS = 60 * 60 * 24


def write_xlsx(headers: list[str], rows: Iterable[list], path: str) -> None:
    """``write_xlsx_cells`` of values of any kind, each made a cell by ``xlsx_cell``."""
    write_xlsx_cells(headers, ([xlsx_cell(value) for value in row] for row in rows), path)


def write_xlsx_cells(headers: list[str], rows: Iterable[tuple | list], path: str) -> None:
    """XlsxWriter in constant-memory mode (each row goes to disk when the next one starts; faster
    than openpyxl's write-only workbook, see ``bench/bench_transfer.py``): bold header, frozen
    first row, then finished cells (``xlsx_cell``, ``RowReader.xlsx_rows``) as they come: text
    always as text, numbers as numbers, dates as dates, None as an empty cell. ``rows`` is closed
    when the writing ends, even by an error (a reader's thread stops before the error goes on)."""
    rows = iter(rows)
    try:
        with xlsxwriter.Workbook(path, XLSX_OPTIONS) as workbook:
            sheet = workbook.add_worksheet("Leads")
            sheet.freeze_panes(1, 0)
            bold = workbook.add_format({"bold": True})
            for x, header in enumerate(headers):
                sheet.write_string(0, x, xlsx_cell(header) or "", bold)
            write = _CellWriters(sheet, workbook)
            for y, row in enumerate(rows, start=1):
                for x, value in enumerate(row):
                    if value is not None:
                        write[type(value)](y, x, value)
    finally:
        _close(rows)


class _CellWriters(dict):
    """Type of a finished cell → the call that writes it (one dict lookup per cell); a subclass
    of one of those types is written as its base."""

    def __init__(self, sheet, workbook):
        self.sheet = sheet
        self.write_string, self.write_number = _by_position(sheet, "write_string"), _by_position(sheet, "write_number")
        self.stamp = workbook.add_format({"num_format": XLSX_DATETIME})
        day = workbook.add_format({"num_format": XLSX_DATE})
        super().__init__({
            str: self.write_string, int: self.write_number, float: self.number, dt.datetime: self.datetime,
            dt.date: lambda y, x, value: sheet.write_datetime(y, x, value, day),
        })  # fmt: skip

    def __missing__(self, kind: type):
        write = next((write for base, write in self.items() if issubclass(kind, base)), self.text)
        self[kind] = write
        return write

    def text(self, y: int, x: int, value) -> None:
        self.write_string(y, x, str(value))  # any other kind: its text, never a formula

    def number(self, y: int, x: int, value: float) -> None:
        if math.isfinite(value):
            self.write_number(y, x, value)
        else:
            self.write_string(y, x, str(value))  # Excel has no NaN or infinity

    def datetime(self, y: int, x: int, value: dt.datetime) -> None:
        # A date cell is its number with a date format (what write_datetime writes, for less work)
        self.write_number(y, x, excel_serial(value), self.stamp)


def _by_position(sheet, name: str):
    """``sheet.<name>`` without the decorator that also lets it take an "A1" cell reference (a
    ``try`` and an ``int()`` around every call: 7 % of a text cell's time); the cells here are
    given by row and column numbers. The method the decorator wraps is its ``__wrapped__``
    (``functools.wraps``); a method without a decorator is used as it is."""
    method = getattr(type(sheet), name)
    return getattr(method, "__wrapped__", method).__get__(sheet)


def excel_serial(value: dt.datetime) -> float:
    """The number Excel stores for a naive datetime: days since 1899-12-31 and the fraction of the
    day, as XlsxWriter's ``write_datetime`` computes it (the same float, so the same file): 1900-01-01
    is day 0 (a time alone) and days after 28 February 1900 count one more (Excel's 29 February
    1900, which never was)."""
    delta = value - EXCEL_EPOCH
    number = delta.days + (float(delta.seconds) + float(delta.microseconds) / 1e6) / DAY_SECONDS
    if delta.days == 1:
        number -= 1
    if number > 59:
        number += 1
    return number


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
        counter = Counter(reader.xlsx_rows(queryset))
        write_xlsx_cells(reader.headers, counter, path)
        return counter.count
    if file_format == ExportFormat.CSV:
        counter = Counter()
        chunks = lead_csv_chunks(reader, queryset, counter)
    else:
        counter = Counter(reader.rows(queryset))
        chunks = json_chunks(reader.headers, counter)
    with open(path, "wb") as out:
        for chunk in chunks:
            out.write(chunk)
    return counter.count
