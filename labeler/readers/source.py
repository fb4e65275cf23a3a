"""Opening import files and streaming their lines, with the whole-file checks every format shares.

Design constraints: memory stays flat whatever the file size (lines are read one at a time, and a
line longer than the limit is refused before it is held whole); gzip is recognised by its magic
bytes, not its name; problems with the file as a whole (missing, empty, binary, not UTF-8, a line
over the limit) raise `Invalid` naming the file, while a bad record is the reader's to reject.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from labeler.errors import Invalid
from labeler.readers.records import Reject

DEFAULT_MAX_RECORD_BYTES = 8 * 2**20
RAW_CHARS = 2000  # how much of an offending line a Reject keeps

_BOM = b"\xef\xbb\xbf"
_GZIP_MAGIC = b"\x1f\x8b"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_SNIFF_BYTES = 8192


def open_binary(path: str | Path) -> IO[bytes]:
    """Open `path` for reading bytes, gunzipping it when it is gzip; refuse missing or binary files."""
    path = Path(path)
    if not path.exists():
        raise Invalid(f"file `{path}` not found")
    if not path.is_file():
        raise Invalid(f"`{path}` is not a file")
    with path.open("rb") as f:
        magic = f.read(2)
    # the caller owns the handle: it is returned open
    handle: IO[bytes] = gzip.open(path, "rb") if magic == _GZIP_MAGIC else path.open("rb")  # noqa: SIM115
    try:
        head = handle.peek(_SNIFF_BYTES)[:_SNIFF_BYTES]  # type: ignore[attr-defined]
    except (OSError, EOFError, zlib.error) as e:
        handle.close()
        raise Invalid(f"{path.name} is not a readable gzip file: {e}") from None
    if head[:2] in _UTF16_BOMS:
        handle.close()
        raise Invalid(f"{path.name} is UTF-16 encoded; save it as UTF-8")
    if b"\x00" in head:
        handle.close()
        raise Invalid(f"{path.name} looks binary (it contains NUL bytes); expected UTF-8 text")
    if head.startswith(_BOM):
        handle.read(len(_BOM))
    return handle


def check_file(path: str | Path) -> None:
    """Raise `Invalid` now (not at the first read) when `path` is missing, not a file or binary."""
    open_binary(path).close()


def raw_lines(
    path: str | Path, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
) -> Iterator[tuple[int, bytes]]:
    """Yield `(line_number, line)` for every physical line, line end kept."""
    name = Path(path).name
    limit = max_record_bytes + 2  # room for "\r\n" on a line exactly at the limit
    with open_binary(path) as f:
        readline = f.readline
        number = 0
        try:
            while line := readline(limit):
                number += 1
                if len(line) > max_record_bytes:
                    _check_length(line, number, name, max_record_bytes)
                yield number, line
        except (OSError, EOFError, zlib.error) as e:
            raise Invalid(f"{name} is not a readable gzip file: {e}") from None


def json_lines(
    path: str | Path, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES, *, refuse_nul: bool = True
) -> Iterator[tuple[int, bytes, Any] | Reject]:
    """Yield `(line_number, line, value)` for each non-blank line, or a `Reject` when it is not JSON.

    A record holding a NUL character (the JSON escape `\\u0000`) is refused with its line and field:
    PostgreSQL cannot store NUL in text, so both stores refuse it alike (`refuse_nul=False` for sniffing).
    """
    name = Path(path).name
    limit = max_record_bytes + 2
    loads = orjson.loads
    seen = False
    with open_binary(path) as f:  # the loop of raw_lines, inlined: this is the hot path of every import
        readline = f.readline
        number = 0
        try:
            while line := readline(limit):
                number += 1
                if len(line) > max_record_bytes:
                    _check_length(line, number, name, max_record_bytes)
                if line.isspace():
                    continue
                seen = True
                try:
                    value = loads(line)
                except orjson.JSONDecodeError as e:
                    check_text(line, number, name)
                    yield Reject(line=number, message=f"not valid JSON: {_json_error(e)}", raw=raw_text(line))
                    continue
                if refuse_nul and b"u0000" in line and (where := nul_field(value)) is not None:
                    yield Reject(line=number, field=where or None, message=NUL_MESSAGE, raw=raw_text(line))
                    continue
                yield number, line, value
        except (OSError, EOFError, zlib.error) as e:
            raise Invalid(f"{name} is not a readable gzip file: {e}") from None
    if not seen:
        raise Invalid(f"{name} is empty: it holds no records")


NUL_MESSAGE = "contains a NUL character (`\\u0000`), which the store cannot hold; remove it from the text"


def nul_field(value: Any, where: str = "") -> str | None:
    """The field (`messages[0].content`, "" for the record itself) of the first NUL character, or None."""
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return where
        elif isinstance(value, dict):
            if any("\x00" in key for key in value):
                return where
            stack.extend((item, f"{where}.{key}" if where else key) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((value[i], f"{where}[{i}]") for i in range(len(value) - 1, -1, -1))
    return None


def _check_length(line: bytes, number: int, name: str, max_record_bytes: int) -> None:
    """Refuse a line longer than the limit (its line end not counted)."""
    if len(line.rstrip(b"\r\n")) > max_record_bytes:
        raise Invalid(f"line {number} of {name} is longer than the limit of {max_record_bytes:,} bytes")


def check_text(line: bytes, number: int, name: str) -> None:
    """Raise `Invalid` when `line` holds NUL bytes or is not UTF-8."""
    if b"\x00" in line:
        raise Invalid(f"line {number} of {name} contains NUL bytes: the file looks binary")
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as e:
        bad = line[e.start : e.start + 1].hex()
        raise Invalid(
            f"{name} is not UTF-8: line {number} has the byte 0x{bad} at byte {e.start + 1} of the line; "
            "save the file as UTF-8"
        ) from None


def raw_text(line: bytes | str) -> str:
    """The offending line for a Reject: decoded leniently, line end dropped, truncated."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    text = text.rstrip("\r\n")
    return text if len(text) <= RAW_CHARS else text[:RAW_CHARS] + "…"


def _json_error(e: orjson.JSONDecodeError) -> str:
    """orjson's message without its `line 1` (always 1: a record is one line)."""
    return f"{e.msg} at column {e.colno}"
