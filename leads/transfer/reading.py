"""Reading real-world import files into rows of text, with every problem named by row and column.

What is accepted, and how:

* **CSV** (also semicolon, tab or pipe separated). The encoding is detected: a UTF-8, UTF-16 or
  UTF-32 byte-order mark wins; UTF-16 without a mark is recognised by its zero bytes; otherwise
  strict UTF-8. A file that is none of these is 8-bit text in some code page: charset-normalizer
  judges the lines that hold non-ASCII bytes (``detect_8bit``) among the code pages Windows, Excel
  and older systems write (Windows-1250 … 1258, KOI8-R/U, ISO-8859-2/5/7/9/13/15), so Polish,
  Cyrillic, Greek or Turkish text keeps its letters. Windows-1252 (Western European) stays the
  answer whenever it fits the text as well as the detector's pick, or the detector is not sure
  (a handful of accented letters says little); Latin-1 reads what nothing else can. The delimiter
  is the one of ``, ; TAB |`` that occurs most often, outside quotes, in the header line. Quoted
  values may hold delimiters, quotes and newlines.
* **XLSX**: the first worksheet, read with openpyxl's read-only mode. Dates become ``YYYY-MM-DD``
  (or ``YYYY-MM-DD HH:MM:SS`` when they have a time), whole numbers lose their ``.0`` (a phone
  number typed as a number stays ``447700900123``), booleans become ``true``/``false``.
  **Formulas are an error**, reported per cell: a file written by a program often has no cached
  value for them (so reading it would silently import blanks), and a formula is never what a
  person means to import; paste values instead. Before openpyxl sees the file, the sizes its zip
  members declare are checked (zipfile never inflates a member beyond its declared size), so a
  zip bomb is refused without being unpacked.
* **JSON**: a list of objects; each object is one row and its keys are the columns (nested values
  are kept as JSON text). **JSON Lines**: one scraped profile (a JSON object) per line, mapped by
  ``leads.profiles`` exactly like a single profile.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first lead row 2 (a CSV
value with a newline in it still counts as one row); JSON items and JSON Lines lines are numbered
from 1. Header names are trimmed and matched case-insensitively; two columns with the same name
are reported. A row with more values than the header has columns (other than empty trailing
cells) or with fewer values is reported as ragged. Rows whose cells are all empty are ignored.

Formula neutralisation (see ``leads.transfer.cells``): an exported text value that starts with ``=``,
``+``, ``-``, ``@``, TAB or CR (or with an apostrophe) is written with one more leading apostrophe;
CSV and XLSX imports remove exactly one apostrophe when it precedes one of those characters, so
``+44 20 7946 0000`` (and any other text) survives an export → import round trip.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from typing import IO

from charset_normalizer import from_bytes
from django.conf import settings
from django.core.exceptions import ValidationError
from openpyxl import load_workbook

from leads.transfer.cells import unneutralise

MB = 1024 * 1024
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
SAMPLE_BYTES = 64 * 1024
MAX_CELL_CHARS = 100_000


MAX_COMPRESSION_RATIO = 100
MAX_COLUMNS = 300


class FileProblem(ValidationError):
    """The file as a whole cannot be read; ``messages[0]`` says why, for a person."""

    def __init__(self, message: str):
        super().__init__({"file": [message]})

    @property
    def text(self) -> str:
        return self.message_dict["file"][0]


@dataclass
class Issue:
    """One problem in one row (and column): row number as the user sees it, column name, value."""

    row: int
    column: str
    value: str
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "value": self.value, "message": self.message}


@dataclass
class ParsedFile:
    format: str
    headers: list[str] = field(default_factory=list)
    rows: list[tuple[int, list]] = field(default_factory=list)  # (row number, cells or profile dict)
    issues: list[Issue] = field(default_factory=list)
    header_notes: list[str] = field(default_factory=list)
    encoding: str = ""
    delimiter: str = ""
    row_noun: str = "row"

    @property
    def duplicate_headers(self) -> dict[str, list[int]]:
        """Header name (case-folded) → 0-based positions, for names used more than once."""
        seen: dict[str, list[int]] = {}
        for position, name in enumerate(self.headers):
            if name:
                seen.setdefault(name.casefold(), []).append(position)
        return {name: positions for name, positions in seen.items() if len(positions) > 1}


def column_name(headers: list[str], position: int) -> str:
    name = headers[position] if position < len(headers) else ""
    return name or f"column {position + 1}"


# --- format and encoding ------------------------------------------------------------------------


def detect_format(name: str, head: bytes) -> str:
    """csv, xlsx, json or jsonl from the file's first bytes, then its name."""
    lower = (name or "").lower()
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if lower.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if lower.endswith(".json"):
        return "json"
    if lower.endswith((".xlsx", ".xlsm")):
        return "xlsx"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"["):
        return "json"
    if stripped.startswith(b"{"):
        return "jsonl"
    return "csv"


def _utf16_without_bom(sample: bytes) -> str | None:
    if len(sample) < 4:
        return None
    even_zeros, odd_zeros = sample[0::2].count(0), sample[1::2].count(0)
    half = len(sample) // 2
    if odd_zeros > half * 0.3 and even_zeros == 0:
        return "utf-16-le"
    if even_zeros > half * 0.3 and odd_zeros == 0:
        return "utf-16-be"
    return None


BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding name). Refuses binary data."""
    encoding = next((name for bom, name in BOMS if data.startswith(bom)), None)
    encoding = encoding or _utf16_without_bom(data[:SAMPLE_BYTES])
    if encoding is not None:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as error:
            raise FileProblem(f"The file says it is {encoding.upper()} but byte {error.start} is not.") from None
    else:
        if b"\x00" in data[:SAMPLE_BYTES]:
            raise FileProblem("This is not a text file (it contains binary data). Upload CSV, XLSX, JSON or JSONL.")
        text, encoding = _decode_8bit(data)
    if "\x00" in text[:SAMPLE_BYTES] or _mostly_control(text[:SAMPLE_BYTES]):
        raise FileProblem("This is not a text file (it contains binary data). Upload CSV, XLSX, JSON or JSONL.")
    return text, encoding


def _decode_8bit(data: bytes) -> tuple[str, str]:
    """UTF-8, else the detected code page, else Windows-1252, else Latin-1 (which reads anything)."""
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    detected = detect_8bit(data)
    for encoding in (detected, WESTERN) if detected else (WESTERN,):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


# The code pages a spreadsheet or an older system writes a "CSV" in. Not DOS or Mac code pages:
# on a short sample they fit Western text as well as Windows-1252 does and only add wrong answers.
CODE_PAGES = (
    "cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258",
    "koi8_r", "koi8_u", "iso8859_2", "iso8859_5", "iso8859_7", "iso8859_9", "iso8859_13", "iso8859_15",
)  # fmt: skip
WESTERN = "cp1252"
# charset-normalizer's coherence is how well the letters' frequencies fit a language; a few
# accented names score 0 (no language recognised) and then nothing says cp1252 is wrong.
MIN_COHERENCE = 0.1
SAMPLE_CONTEXT = 120  # bytes of the line kept on each side of a non-ASCII byte
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")


def detect_8bit(data: bytes) -> str | None:
    """The code page of 8-bit text that is not Windows-1252 (Python's codec name, e.g. ``cp1250``,
    ``koi8-r``), or None: Windows-1252 fits as well as anything, or there is too little to tell."""
    matches = from_bytes(_high_byte_sample(data), cp_isolation=list(CODE_PAGES))
    best = matches.best()
    if best is None or best.coherence < MIN_COHERENCE:
        return None
    if any(WESTERN in match.could_be_from_charset and match.chaos <= best.chaos for match in matches):
        return None
    return codecs.lookup(best.encoding).name


def _high_byte_sample(data: bytes) -> bytes:
    """Up to ``SAMPLE_BYTES`` of the text around non-ASCII bytes (wherever in the file they are):
    ASCII tells nothing about a code page, and a big file's first rows may hold none."""
    parts, size, position = [], 0, 0
    while size < SAMPLE_BYTES and (found := _HIGH_BYTE.search(data, position)):
        at = found.start()
        start = max(data.rfind(b"\n", max(0, at - SAMPLE_CONTEXT), at) + 1, at - SAMPLE_CONTEXT, 0)
        end = data.find(b"\n", at, at + SAMPLE_CONTEXT)
        end = at + SAMPLE_CONTEXT if end < 0 else end
        parts.append(data[start:end])
        size += end - start + 1
        position = end
    return b"\n".join(parts)


def _mostly_control(sample: str) -> bool:
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\r\n\f\v")
    return controls > max(8, len(sample) // 100)


def sniff_delimiter(text: str) -> str:
    """The candidate occurring most often outside quotes in the first line (comma on a tie)."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in text[:SAMPLE_BYTES]:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "\r\n":
            if any(counts.values()):
                break
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: (counts[d], -DELIMITERS.index(d)))
    return best if counts[best] else ","


# --- tabular files ------------------------------------------------------------------------------


def _is_blank(cells) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def _clean_header(name) -> str:
    text = "" if name is None else str(name)
    return text.replace("\ufeff", "").replace("\u200b", "").strip()


def _tabulate(records, parsed: ParsedFile, *, pad_short: bool = False) -> None:
    """Fill ``parsed`` from (row number, cells) records: header, ragged rows, blank rows, limits.
    ``pad_short``: a short row is normal (a worksheet does not store empty trailing cells)."""
    header_cells = None
    limit = settings.IMPORT_MAX_ROWS
    for number, cells in records:
        if header_cells is None:
            if _is_blank(cells):
                continue
            header_cells = [_clean_header(c) for c in cells]
            if len(header_cells) > MAX_COLUMNS:
                raise FileProblem(f"The header has {len(header_cells)} columns; at most {MAX_COLUMNS} are read.")
            continue
        if _is_blank(cells):
            continue
        if len(parsed.rows) >= limit:
            raise FileProblem(f"The file has more than {limit:,} rows; split it into smaller files.")
        parsed.rows.append((number, cells))
    if header_cells is None:
        raise FileProblem("The file is empty: it has no header row and no data.")
    _drop_unnamed_empty_columns(header_cells, parsed)
    if pad_short:
        width = len(parsed.headers)
        parsed.rows = [(n, cells + [""] * (width - len(cells))) for n, cells in parsed.rows]
    _check_ragged(parsed)
    for positions in parsed.duplicate_headers.values():
        listed = " and ".join(str(p + 1) for p in positions)
        parsed.header_notes.append(f"Columns {listed} are all called “{parsed.headers[positions[0]]}”.")


def _drop_unnamed_empty_columns(header_cells: list[str], parsed: ParsedFile) -> None:
    """Excel often saves trailing columns with no name and no values: they are not columns."""
    width = len(header_cells)
    while width and not header_cells[width - 1]:
        position = width - 1
        if any(position < len(cells) and str(cells[position] or "").strip() for _, cells in parsed.rows):
            break
        width -= 1
    parsed.headers = header_cells[:width]


def _check_ragged(parsed: ParsedFile) -> None:
    width = len(parsed.headers)
    for number, cells in parsed.rows:
        extra = cells[width:]
        if len(cells) < width:
            parsed.issues.append(
                Issue(number, "", "", f"This row has {len(cells)} values but the header has {width} columns.")
            )
        elif extra and not _is_blank(extra):
            value = next(str(c) for c in extra if c is not None and str(c).strip())
            parsed.issues.append(
                Issue(
                    number,
                    column_name(parsed.headers, width + next(i for i, c in enumerate(extra) if str(c or "").strip())),
                    value,
                    f"This row has {len(cells)} values but the header has {width} columns.",
                )
            )


def parse_csv(data: bytes) -> ParsedFile:
    text, encoding = decode(data)
    delimiter = sniff_delimiter(text)
    parsed = ParsedFile(format="csv", encoding=encoding, delimiter=delimiter)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    previous = csv.field_size_limit(MAX_CELL_CHARS)
    try:
        _tabulate(((n, [unneutralise(c) for c in row]) for n, row in enumerate(reader, start=1)), parsed)
    except csv.Error as error:
        raise FileProblem(f"Row {reader.line_num}: the file cannot be read as CSV ({error}).") from None
    finally:
        csv.field_size_limit(previous)
    return parsed


# --- XLSX -----------------------------------------------------------------------------------------


def check_zip(handle: IO[bytes]) -> None:
    """Refuse a zip whose members would unpack beyond the limit (a zip bomb) before anything is
    inflated; ``zipfile`` stops at each member's declared size, so the declared sizes bound it."""
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise FileProblem("This is not a valid .xlsx file (it cannot be opened as a workbook).") from None
    with archive:
        members = archive.infolist()
        names = {member.filename for member in members}
        if "xl/workbook.xml" not in names:
            raise FileProblem("This is not an Excel workbook (.xlsx): it has no workbook inside.")
        limit = settings.IMPORT_MAX_XLSX_UNPACKED_BYTES
        total = sum(member.file_size for member in members)
        if total > limit:
            raise FileProblem(
                f"The workbook would unpack to {total // MB:,} MB, more than the {limit // MB:,} MB allowed; "
                "it was not opened."
            )
        for member in members:
            ratio = member.file_size / max(member.compress_size, 1)
            if member.file_size > MB and ratio > MAX_COMPRESSION_RATIO:
                raise FileProblem(
                    f"The workbook is compressed {ratio:,.0f} to 1, which only a zip bomb is; it was not opened."
                )
    handle.seek(0)


def _xlsx_value(cell) -> tuple[str, str | None]:
    """(text, problem) for one cell."""
    value = cell.value
    kind = getattr(cell, "data_type", None)
    if value is None:
        return "", None
    if kind == "f" or (kind is None and isinstance(value, str) and value.startswith("=")):
        return str(value), "This cell holds a formula; formulas are not imported. Paste the values instead."
    if kind == "e":
        return str(value), f"This cell holds an Excel error ({value})."
    if isinstance(value, bool):
        return ("true" if value else "false"), None
    if isinstance(value, int):
        return str(value), None
    if isinstance(value, float):
        return (str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)), None
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat(), None
        return value.isoformat(sep=" ", timespec="seconds"), None
    if isinstance(value, dt.date | dt.time):
        return value.isoformat(), None
    return unneutralise(str(value)), None


def parse_xlsx(handle: IO[bytes]) -> ParsedFile:
    check_zip(handle)
    try:
        workbook = load_workbook(handle, read_only=True, data_only=False)
    except Exception:  # noqa: BLE001 — openpyxl raises many types for a broken workbook
        raise FileProblem("This .xlsx file is damaged and cannot be read.") from None
    parsed = ParsedFile(format="xlsx")
    problems: list[tuple[int, int, str, str]] = []
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise FileProblem("The workbook has no worksheet.")
        _tabulate(_xlsx_records(sheet, problems), parsed, pad_short=True)
    finally:
        workbook.close()
    for number, position, value, message in problems:
        parsed.issues.append(Issue(number, column_name(parsed.headers, position), value, message))
    parsed.issues.sort(key=lambda issue: issue.row)
    return parsed


def _xlsx_records(sheet, problems: list):
    for number, row in enumerate(sheet.iter_rows(), start=1):
        cells = []
        for position, cell in enumerate(row):
            text, problem = _xlsx_value(cell)
            if problem:
                problems.append((number, position, text, problem))
            cells.append(text)
        while cells and cells[-1] == "":
            cells.pop()
        yield number, cells


# --- JSON -----------------------------------------------------------------------------------------


def _json_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _kind(value) -> str:
    names = {dict: "an object", list: "a list", str: "a text", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number")


def parse_json(data: bytes) -> ParsedFile:
    text, encoding = decode(data)
    if not text.strip():
        raise FileProblem("The file is empty.")
    try:
        items = json.loads(text)
    except json.JSONDecodeError as error:
        raise FileProblem(f"Not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}.") from None
    if not isinstance(items, list):
        raise FileProblem(f"The JSON must be a list of objects ([{{…}}, {{…}}]); this file holds {_kind(items)}.")
    if len(items) > settings.IMPORT_MAX_ROWS:
        raise FileProblem(f"The file has more than {settings.IMPORT_MAX_ROWS:,} items; split it into smaller files.")
    parsed = ParsedFile(format="json", encoding=encoding, row_noun="item")
    headers: dict[str, str] = {}
    objects = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            parsed.issues.append(
                Issue(number, "", _json_text(item)[:200], f"Item {number} is {_kind(item)}, not an object.")
            )
            continue
        if not item:
            continue
        for key in item:
            headers.setdefault(_clean_header(key).casefold(), _clean_header(key))
        objects.append((number, item))
    if not objects and not parsed.issues:
        raise FileProblem("The file is empty: the list has no objects.")
    parsed.headers = list(headers.values())
    position = {name.casefold(): i for i, name in enumerate(parsed.headers)}
    for number, item in objects:
        cells = [""] * len(parsed.headers)
        for key, value in item.items():
            cells[position[_clean_header(key).casefold()]] = _json_text(value)
        parsed.rows.append((number, cells))
    return parsed


def parse_jsonl(data: bytes) -> ParsedFile:
    text, encoding = decode(data)
    parsed = ParsedFile(format="jsonl", encoding=encoding, row_noun="line")
    limit = settings.IMPORT_MAX_ROWS
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(parsed.rows) + len(parsed.issues) >= limit:
            raise FileProblem(f"The file has more than {limit:,} lines; split it into smaller files.")
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            parsed.issues.append(Issue(number, "", line[:200], f"Not valid JSON: {error.msg} at column {error.colno}."))
            continue
        if not isinstance(item, dict):
            parsed.issues.append(Issue(number, "", line[:200], f"Line {number} is {_kind(item)}, not an object."))
            continue
        parsed.rows.append((number, item))
    if not parsed.rows and not parsed.issues:
        raise FileProblem("The file is empty: it has no profiles.")
    return parsed


# --- entry point ----------------------------------------------------------------------------------

PARSERS = {"csv": parse_csv, "json": parse_json, "jsonl": parse_jsonl}


def read_limited(handle: IO[bytes], limit: int | None = None) -> bytes:
    """The whole file, refusing it (without reading on) once it passes the size limit."""
    limit = settings.IMPORT_MAX_BYTES if limit is None else limit
    data = handle.read(limit + 1)
    if len(data) > limit:
        raise FileProblem(f"The file is larger than {limit // MB:,} MB; split it into smaller files.")
    return data


def file_size(handle: IO[bytes]) -> int:
    position = handle.tell()
    handle.seek(0, io.SEEK_END)
    size = handle.tell()
    handle.seek(position)
    return size


def parse_file(handle: IO[bytes], name: str = "", file_format: str | None = None) -> ParsedFile:
    """Parse an uploaded or local file (opened in binary mode, seekable)."""
    handle.seek(0)
    size = file_size(handle)
    if size == 0:
        raise FileProblem("The file is empty.")
    if size > settings.IMPORT_MAX_BYTES:
        raise FileProblem(
            f"The file is larger than {settings.IMPORT_MAX_BYTES // MB:,} MB; split it into smaller files."
        )
    file_format = file_format or detect_format(name, handle.read(8))
    handle.seek(0)
    if file_format == "xlsx":
        return parse_xlsx(handle)
    if file_format not in PARSERS:
        raise FileProblem(f"Unknown format “{file_format}”: use csv, xlsx, json or jsonl.")
    return PARSERS[file_format](read_limited(handle))
