"""Contacts as files: reading CSV and NDJSON records one at a time, and writing them back.

Reading never holds more than one record: a file of any size streams through in
constant memory. A record is ``(line, keys, cells)`` — the line it starts on, the names of
its cells and their raw values — or, with ``problem`` set, a line that cannot be read at all
(invalid UTF-8, bad JSON), so that the importer reports it and goes on.

CSV cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
``@``, tab or carriage return) are written with a leading apostrophe, as OWASP recommends,
and a cell that starts with an apostrophe gets one more. Reading removes that one
apostrophe again, so an export imports back to the same values.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, BinaryIO, NamedTuple

FORMATS = ("csv", "ndjson")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_ESCAPED_STARTS = (*FORMULA_STARTS, "'")
BAD_UTF8 = "is not valid UTF-8"
FIELD = "field:"  # a column named ``field:<name>`` holds the custom field of that name


class Record(NamedTuple):
    line: int
    keys: tuple[str, ...]
    cells: Sequence[Any]
    problem: str | None = None


class Unreadable(Exception):
    """The file as a whole cannot be imported (empty, no header)."""


def _text(stream: BinaryIO) -> io.TextIOWrapper:
    # Undecodable bytes survive as lone surrogates, so that only their own record fails.
    return io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")


def _valid_utf8(values: Iterable[str]) -> bool:
    joined = "".join(values)
    if joined.isascii():
        return True
    try:
        joined.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def unescape(cell: str) -> str:
    """A CSV cell as it was before ``escape``."""
    if cell[:1] == "'" and cell[1:2] and cell[1] in _ESCAPED_STARTS:
        return cell[1:]
    return cell


def escape(cell: str) -> str:
    """A CSV cell that no spreadsheet runs as a formula."""
    return "'" + cell if cell.startswith(_ESCAPED_STARTS) else cell


def read_csv(stream: BinaryIO) -> Iterator[Record]:
    """The records of a CSV file with a header row (UTF-8 with or without BOM; CRLF or LF;
    quoted cells may hold commas and line breaks). Cells missing at the end of a row are
    empty."""
    text = _text(stream)
    reader = csv.reader(text, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        text.detach()
        raise Unreadable("the file is empty") from None
    except csv.Error as exc:
        text.detach()
        raise Unreadable(f"the header cannot be read: {exc}") from None
    if not _valid_utf8(header):
        text.detach()
        raise Unreadable(f"the header {BAD_UTF8}")
    return _csv_records(text, reader, tuple(name.strip() for name in header))


def _csv_records(text: io.TextIOWrapper, reader: Any, header: tuple[str, ...]) -> Iterator[Record]:
    try:
        yield from _rows(reader, header)
    finally:
        # The caller's stream stays open: it is the caller's to close. A generator left
        # unfinished may be collected after its stream (an interrupted import's traceback
        # holds it), and a closed stream has nothing to keep.
        if not text.closed:
            text.detach()


def _rows(reader: Any, header: tuple[str, ...]) -> Iterator[Record]:
    width = len(header)
    line = reader.line_num
    while True:
        start = line + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = reader.line_num
            yield Record(start, header, (), f"cannot be read as CSV: {exc}")
            continue
        line = reader.line_num
        if not row:
            continue  # a blank line holds no record
        if not _valid_utf8(row):
            yield Record(start, header, (), BAD_UTF8)
        elif len(row) > width:
            yield Record(start, header, (), f"has {len(row)} cells but the header has {width}")
        else:
            yield Record(start, header, [unescape(cell) if cell[:1] == "'" else cell for cell in row])


def read_ndjson(stream: BinaryIO) -> Iterator[Record]:
    """One JSON object per line; its keys name its cells. Blank lines are skipped."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    for number, raw in enumerate(stream, start=1):
        try:
            text = decoder.decode(raw)
        except UnicodeDecodeError:
            decoder.reset()
            yield Record(number, (), (), BAD_UTF8)
            continue
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except ValueError as exc:
            yield Record(number, (), (), f"is not valid JSON: {exc}")
            continue
        if not isinstance(record, dict):
            yield Record(number, (), (), "is not a JSON object")
            continue
        fields = record.pop("custom_fields", None)
        if isinstance(fields, dict):
            record.update({FIELD + key: value for key, value in fields.items()})
        yield Record(number, tuple(record), list(record.values()))


def csv_line(row: Sequence[Any]) -> str:
    """One CSV row (CRLF-terminated), every text cell escaped."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(
        [escape(cell) if isinstance(cell, str) else cell for cell in row]
    )
    return out.getvalue()
