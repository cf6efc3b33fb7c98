"""The preview of a tabular resource: its first rows as a table, read without loading the file.

CSV: the encoding is detected from the first bytes (a UTF-8 byte-order mark; strict UTF-8; else
GBK, else GB18030, which Chinese Excel and WPS write), and each candidate is read strictly, so a
wrong guess is a decoding error that moves to the next candidate, never mojibake. Reading streams
the file and stops after PREVIEW_ROWS rows; a file whose rows are so long that the preview would
need more than MAX_PREVIEW_BYTES gets a message instead.

XLSX: openpyxl in read-only mode reads the first sheet row by row, but it keeps the workbook's
shared-string table in memory, so a workbook whose sheet or strings part is larger than
MAX_XLSX_PART (uncompressed, from the ZIP directory, before openpyxl sees it) is not previewed.

Any failure is a message in the preview (`Preview.error`), never an error page.
"""
from __future__ import annotations

import codecs
import csv
import io
import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from portal.i18n import _

log = logging.getLogger(__name__)

PREVIEW_ROWS = 50  # data rows shown, after the header row
MAX_COLUMNS = 50
MAX_CELL = 500  # characters shown of one cell
MAX_PREVIEW_BYTES = 4 * 1024 * 1024  # bytes of a CSV read at most to find the rows shown
SNIFF_BYTES = 64 * 1024  # bytes the encoding is guessed from
MAX_XLSX_PART = 32 * 1024 * 1024  # uncompressed bytes of a sheet or the shared strings

MESSAGES = {
    "encoding": _("The preview cannot tell the text encoding of this file (UTF-8, GBK and GB18030 were tried)."),
    "too_long": _("The rows of this file are too long to preview; download it to see the data."),
    "broken": _("This file cannot be read as a table; download it to see the data."),
    "too_large": _("This workbook is too large to preview; download it to see the data."),
    "empty": _("This file holds no rows."),
    "missing": _("The file is missing."),
}


@dataclass
class Preview:
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    encoding: str = ""  # the detected encoding of a CSV, for people
    more: bool = False  # rows beyond those shown
    error: Any = None  # a message of MESSAGES


class TooLong(Exception):
    """More bytes would be needed than a preview may read."""


class Capped(io.RawIOBase):
    """A binary file that refuses to be read past `limit` bytes (TooLong), so nothing upstream
    (the text decoder, the csv module) can pull a whole huge file into memory."""

    def __init__(self, raw: BinaryIO, limit: int) -> None:
        self.raw, self.left = raw, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.left <= 0:
            if self.raw.read(1):
                raise TooLong()
            return 0
        view = memoryview(buffer)[:self.left]
        n = self.raw.readinto(view)  # type: ignore[attr-defined]
        self.left -= n or 0
        return n or 0


def _decodes(data: bytes, encoding: str) -> bool:
    """Whether `data` (the start of a file, maybe cut inside a character) is text in `encoding`."""
    try:
        codecs.getincrementaldecoder(encoding)("strict").decode(data, final=False)
    except UnicodeDecodeError:
        return False
    return True


def encodings(head: bytes) -> list[str]:
    """The encodings to try, most likely first."""
    if head.startswith(codecs.BOM_UTF8):
        return ["utf-8-sig"]
    candidates = [e for e in ("utf-8", "gbk", "gb18030") if _decodes(head, e)]
    # A start in plain ASCII decodes as anything: later rows still decide (strict reading).
    return candidates + [e for e in ("utf-8", "gbk", "gb18030") if e not in candidates]


ENCODING_NAMES = {"utf-8-sig": "UTF-8 (BOM)", "utf-8": "UTF-8", "gbk": "GBK", "gb18030": "GB18030"}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    return text if len(text) <= MAX_CELL else text[:MAX_CELL] + "…"


def _rows(rows: Iterator[Any]) -> tuple[list[list[str]], bool]:
    """Up to PREVIEW_ROWS + 1 rows (the header and the data shown), and whether more follow."""
    out: list[list[str]] = []
    for row in rows:
        if len(out) == PREVIEW_ROWS + 1:
            return out, True
        out.append([_cell(c) for c in list(row)[:MAX_COLUMNS]])
    return out, False


def _table(rows: list[list[str]], more: bool, encoding: str = "") -> Preview:
    while rows and not any(rows[-1]):
        rows.pop()
    if not rows:
        return Preview(error=MESSAGES["empty"])
    width = max((max((i + 1 for i, c in enumerate(r) if c), default=0) for r in rows), default=0)
    rows = [r[:width] for r in rows]
    rows = [r + [""] * (width - len(r)) for r in rows]
    return Preview(header=rows[0], rows=rows[1:], encoding=encoding, more=more)


def csv_preview(path: Path) -> Preview:
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
        for encoding in encodings(head):
            f.seek(0)
            text = io.TextIOWrapper(io.BufferedReader(Capped(f, MAX_PREVIEW_BYTES)), encoding=encoding,
                                    errors="strict", newline="")
            try:
                rows, more = _rows(csv.reader(text))
            except UnicodeDecodeError:
                continue
            except TooLong:
                return Preview(error=MESSAGES["too_long"])
            except csv.Error:  # a field over csv's own limit (128 KiB), a NUL byte
                return Preview(error=MESSAGES["broken"])
            finally:
                text.detach()
            return _table(rows, more, ENCODING_NAMES[encoding])
    return Preview(error=MESSAGES["encoding"])


def xlsx_preview(path: Path) -> Preview:
    import openpyxl  # only when a workbook is shown

    try:
        with zipfile.ZipFile(path) as archive:
            parts = [i for i in archive.infolist()
                     if i.filename.startswith("xl/worksheets/") or i.filename == "xl/sharedStrings.xml"]
            if any(i.file_size > MAX_XLSX_PART for i in parts):
                return Preview(error=MESSAGES["too_large"])
        # A file object, not the path: openpyxl refuses a path without an .xlsx extension, and
        # stored blobs have none.
        handle = path.open("rb")
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as e:
        log.info("no preview of %s: %s", path, e)
        return Preview(error=MESSAGES["broken"])
    try:
        workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
    except Exception as e:  # noqa: BLE001 - a hostile workbook may fail anywhere inside openpyxl
        handle.close()
        log.info("no preview of %s: %s", path, e)
        return Preview(error=MESSAGES["broken"])
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            return Preview(error=MESSAGES["empty"])
        rows, more = _rows(sheet.iter_rows(max_row=PREVIEW_ROWS + 2, max_col=MAX_COLUMNS, values_only=True))
        return _table(rows, more)
    except Exception as e:  # noqa: BLE001 - a hostile workbook may fail anywhere inside openpyxl
        log.info("no preview of %s: %s", path, e)
        return Preview(error=MESSAGES["broken"])
    finally:
        workbook.close()
        handle.close()


def preview_file(path: Path, fmt: str) -> Preview:
    if not path.is_file():
        return Preview(error=MESSAGES["missing"])
    try:
        return csv_preview(path) if fmt == "CSV" else xlsx_preview(path)
    except OSError:
        return Preview(error=MESSAGES["broken"])


def preview(request: Any, resource: Any) -> Preview:
    """The preview of a resource's stored file (the caller checked that it may be shown)."""
    try:
        path = request.blobs.path(resource.file["hash"])
    except (ValueError, KeyError, TypeError):
        return Preview(error=MESSAGES["missing"])
    return preview_file(path, resource.format)
