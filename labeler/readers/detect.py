"""Format sniffing: the name (`.csv`, `.tsv`) and the first non-empty records decide.

Only the first few records are read, so detection costs the same for any file size.
"""

from __future__ import annotations

import csv
from contextlib import closing
from pathlib import Path
from typing import Any

from labeler.errors import Invalid
from labeler.formats import IMPORT_FORMATS
from labeler.readers.csvfile import PROMPT_COLUMNS
from labeler.readers.fields import kind_of
from labeler.readers.records import Reject
from labeler.readers.source import DEFAULT_MAX_RECORD_BYTES, check_file, json_lines

SNIFF_RECORDS = 20
FORMATS = IMPORT_FORMATS
_CSV_SUFFIXES = (".csv", ".tsv")


def detect_format(path: str | Path, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> str:
    """Name the format of `path`, or raise `Invalid` saying what the first record looked like."""
    path = Path(path)
    check_file(path)
    if any(s.lower() in _CSV_SUFFIXES for s in path.suffixes[-2:]):
        return "csv"
    values: list[Any] = []
    with closing(json_lines(path, max_record_bytes, refuse_nul=False)) as items:
        for item in items:
            if isinstance(item, tuple):
                values.append(item[2])
                if len(values) >= SNIFF_RECORDS:
                    break
            elif not values:
                return _not_json(path, item)
    fmt = _format_of(values[0], values)
    if fmt is None:
        raise Invalid(
            f"cannot tell the format of {path.name}: the first record is {_looks(values[0])}; "
            f"known formats: {', '.join(FORMATS)}"
        )
    return fmt


def _not_json(path: Path, reject: Reject) -> str:
    """`csv` when the first line reads as a CSV header; else raise, saying what the line was."""
    if _csv_header(reject.raw or ""):
        return "csv"
    hint = ""
    if (reject.raw or "").startswith("["):
        hint = "; it looks like one JSON array, expected one JSON record per line"
    elif "\r" in (reject.raw or ""):
        hint = "; it holds a bare CR: save the file with LF (or CRLF) line ends"
    raise Invalid(
        f"cannot tell the format of {path.name}: line {reject.line} is {reject.message}{hint}; "
        f"known formats: {', '.join(FORMATS)}"
    )


def _format_of(first: Any, values: list[Any]) -> str | None:
    """The format the first record (and, for `messages`, its neighbours) points to."""
    if isinstance(first, str):
        return "prompts"
    if not isinstance(first, dict):
        return None
    keys = first.keys()
    if isinstance(first.get("prompt"), dict) and "message_tree_id" in keys:
        return "oasst-tree"
    if "message_id" in keys and "role" in keys:
        return "oasst-tree" if isinstance(first.get("replies"), list) else "oasst"
    if isinstance(first.get("input"), dict) and "preferred_output" in keys:
        return "openai-preference"
    if "chosen" in keys and "rejected" in keys:
        hh = "prompt" not in keys and isinstance(first["chosen"], str) and "\n\nAssistant:" in first["chosen"]
        return "hh-rlhf" if hh else "trl-preference"
    if "messages" in keys and "prompt" not in keys:
        return "openai-chat" if any(_is_chat(v) for v in values) else "prompts"
    if keys & {"prompt", "turns", "text", "question", "instruction", "messages"}:
        return "prompts"
    return None


def _is_chat(value: Any) -> bool:
    """True when a row carries an assistant turn or a `model`: a chat file, not bare prompts."""
    if not isinstance(value, dict):
        return False
    messages = value.get("messages")
    has_reply = isinstance(messages, list) and any(
        isinstance(m, dict) and m.get("role") == "assistant" for m in messages
    )
    return has_reply or "model" in value


def _csv_header(line: str) -> bool:
    """True when `line` reads as a CSV header naming a prompt column."""
    if "\r" in line.rstrip("\r\n"):
        return False  # a bare CR: not a header line (CR-only line ends, or a stray CR)
    try:
        cells = next(csv.reader([line]), [])
    except csv.Error:
        return False
    return len(cells) > 1 and any(c.strip().lower() in PROMPT_COLUMNS for c in cells)


def _looks(value: Any) -> str:
    """What a record looked like, for the error message."""
    if isinstance(value, dict):
        keys = ", ".join(f"`{k}`" for k in list(value)[:10])
        return f"an object with keys {keys}" if keys else "an empty object"
    return kind_of(value)
