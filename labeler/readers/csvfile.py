"""CSV (and TSV) prompts: a header row naming a prompt column, one prompt per row.

A row's `line` is the physical line it starts on, so quoted cells spanning lines keep the
numbering true. Columns mean what the same JSONL fields mean (`row_items`). A row, however
many lines it spans, is held to `max_record_bytes`, so an unclosed quote cannot swallow the file.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path

from labeler.errors import Invalid
from labeler.readers.prompts import row_items
from labeler.readers.records import ImportRecord, Notice, Reject
from labeler.readers.source import check_text, raw_lines, raw_text

PROMPT_COLUMNS = ("prompt", "text", "question", "instruction")


class _Lines:
    """The file's lines decoded as UTF-8 for `csv.reader`, refusing a row that outgrows the limit."""

    def __init__(self, path: Path, max_record_bytes: int) -> None:
        self.name = path.name
        self.limit = max_record_bytes
        self.row_line = 1  # the line the current row started on
        self.row_bytes = 0
        self._lines = raw_lines(path, max_record_bytes)

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        number, line = next(self._lines)
        self.row_bytes += len(line)
        if self.row_bytes > self.limit and number > self.row_line:
            raise Invalid(
                f"line {self.row_line} of {self.name}: the row runs past the limit of {self.limit:,} bytes "
                "(is a quote left open?)"
            )
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            check_text(line, number, self.name)
            raise
        if "\x00" in text:
            check_text(line, number, self.name)
        return text

    def next_row(self, line: int) -> None:
        """Start counting a new row at `line`."""
        self.row_line, self.row_bytes = line, 0


def read_csv(path: str | Path, max_record_bytes: int) -> Iterator[ImportRecord | Reject | Notice]:
    """Yield one record per data row of a CSV file (tab-separated when named `.tsv`)."""
    path = Path(path)
    delimiter = "\t" if ".tsv" in (s.lower() for s in path.suffixes) else ","
    csv.field_size_limit(max(csv.field_size_limit(), min(max_record_bytes, sys.maxsize)))
    lines = _Lines(path, max_record_bytes)
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    header = _header(reader, lines)
    prompt_column = next(c for c in PROMPT_COLUMNS if c in header)
    width = len(header)
    while True:
        line = reader.line_num + 1
        lines.next_row(line)
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise Invalid(f"line {line} of {path.name}: {_csv_problem(e)}") from None
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            yield Reject(
                line=line,
                message=f"expected {width} columns, got {len(cells)}",
                raw=raw_text(delimiter.join(cells)),
            )
            continue
        row = {
            name: cell
            for name, cell in zip(header, cells, strict=False)
            if cell != "" or name == prompt_column
        }
        row.setdefault(prompt_column, "")
        yield from row_items(row, line, delimiter.join(cells))


def _header(reader: Iterator[list[str]], lines: _Lines) -> list[str]:
    """The header row, lowercased; it must name a prompt column."""
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            raise Invalid(f"{lines.name} is empty: it holds no records") from None
        except csv.Error as e:
            raise Invalid(f"the header of {lines.name}: {_csv_problem(e)}") from None
        if any(c.strip() for c in cells):
            header = [c.strip().lower() for c in cells]
            if not any(c in header for c in PROMPT_COLUMNS):
                wanted = ", ".join(f"`{c}`" for c in PROMPT_COLUMNS)
                got = ", ".join(f"`{c}`" for c in header[:10])
                raise Invalid(
                    f"{lines.name} has no prompt column: expected one of {wanted}; the header has {got}"
                )
            return header


def _csv_problem(e: csv.Error) -> str:
    """The csv module's complaint with what usually causes it."""
    if "new-line character" in str(e):
        return f"{e}: a bare CR (`\\r`) outside quotes; save the file with LF or CRLF line ends"
    return f"{e} (is a quote left open?)"
