"""A table to download, and its two forms: CSV (streamed a row at a time) and XLSX.

A :class:`Sheet` holds plain values: text, numbers (a rate as its fraction, shown as a percent in
XLSX), times (aware datetimes, written in Tây Ninh's time) and None for an empty cell. Text from
outside (a citizen's report, a unit's name) is never read as a formula: CSV cells that a
spreadsheet would take for one are written with a leading apostrophe (OWASP's advice against CSV
injection), and XLSX cells are written as strings, never as formulas or links.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, Literal
from zoneinfo import ZoneInfo

import xlsxwriter

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
Kind = Literal["text", "number", "percent", "time"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
CSV_BOM = "\ufeff"  # Excel reads a UTF-8 file without it as the machine's code page: no diacritics
XLSX_SHEET_MAX = 31  # Excel's limit on a worksheet's name


@dataclass(frozen=True)
class Sheet:
    """``rows`` are read once, as they are written (a generator streams)."""

    name: str  # the file's name without its extension
    title: str  # what it is, in the reader's language (the worksheet's name)
    heads: tuple[str, ...]
    kinds: tuple[Kind, ...]
    rows: Iterable[tuple[Any, ...]]
    made_for: dict[str, str] = field(default_factory=dict)  # filters, time, who: the second worksheet
    about: str = "Thông tin"  # the second worksheet's name


def local(moment: datetime) -> datetime:
    return moment.astimezone(TZ)


def csv_cell(value: Any, kind: Kind) -> str:
    if value is None:
        return ""
    if kind == "time":
        return local(value).strftime("%Y-%m-%d %H:%M:%S")
    if kind in ("number", "percent"):
        return repr(value) if isinstance(value, float) else str(value)
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def csv_lines(sheet: Sheet) -> Iterator[str]:
    """The sheet as CSV text, a row at a time (UTF-8 with its BOM, comma-separated, CRLF)."""
    out = io.StringIO()
    writer = csv.writer(out)

    def line(cells: Iterable[str]) -> str:
        out.seek(0)
        out.truncate()
        writer.writerow(cells)
        return out.getvalue()

    yield CSV_BOM + line(sheet.heads)
    for row in sheet.rows:
        yield line(csv_cell(v, k) for v, k in zip(row, sheet.kinds, strict=True))


def xlsx_file(sheet: Sheet) -> IO[bytes]:
    """The sheet as an XLSX workbook in a temporary file (deleted when closed), at its start.
    Written in constant memory: a row goes to disk as soon as it is written."""
    out = tempfile.TemporaryFile(prefix="ioc-export-")  # noqa: SIM115  # the caller closes it
    book = xlsxwriter.Workbook(
        out,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "remove_timezone": True,
        },
    )
    bold = book.add_format({"bold": True})
    formats = {
        "percent": book.add_format({"num_format": "0.0%"}),
        "time": book.add_format({"num_format": "dd/mm/yyyy hh:mm"}),
        "number": book.add_format({"num_format": "#,##0.##"}),
    }
    page = book.add_worksheet(safe_title(sheet.title))
    page.freeze_panes(1, 0)
    for col, head in enumerate(sheet.heads):
        page.write_string(0, col, head, bold)
        page.set_column(col, col, 40 if sheet.kinds[col] == "text" and len(head) > 12 else 18)
    for r, row in enumerate(sheet.rows, start=1):
        for col, (value, kind) in enumerate(zip(row, sheet.kinds, strict=True)):
            if value is None:
                continue
            if kind == "time":
                page.write_datetime(r, col, local(value).replace(tzinfo=None), formats["time"])
            elif kind in ("number", "percent"):
                page.write_number(r, col, value, formats[kind])
            else:
                page.write_string(r, col, str(value))
    about = book.add_worksheet(safe_title(sheet.about))
    for r, (key, value) in enumerate(sheet.made_for.items()):
        about.write_string(r, 0, key, bold)
        about.write_string(r, 1, value)
    about.set_column(0, 0, 22)
    about.set_column(1, 1, 60)
    book.close()
    out.seek(0)
    return out


def safe_title(title: str) -> str:
    """A worksheet name Excel accepts: none of []:*?/\\, at most 31 characters."""
    cleaned = "".join(" " if c in "[]:*?/\\" else c for c in title).strip() or "Sheet"
    return cleaned[:XLSX_SHEET_MAX]
