"""Plain prompts: JSONL rows with `prompt`, `messages` or mt-bench `turns`, or a JSON string per line.

The row rules (`record_from_row`) are shared with the CSV reader, so a column means the same
thing whichever file it comes from.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from labeler.readers.fields import (
    ID_FIELDS,
    USER_FIELDS,
    RecordError,
    first_str,
    kind_of,
    parse_messages,
    reject,
    small_meta,
    split_conversation,
    text_of,
)
from labeler.readers.records import ImportRecord, Message, Notice, Reject
from labeler.readers.source import json_lines, raw_text

PROMPT_FIELDS = ("prompt", "messages", "turns", "text", "question", "instruction")
_TEXT_FIELDS = frozenset(("prompt", "text", "question", "instruction"))
_NAMES = ", ".join(f"`{n}`" for n in PROMPT_FIELDS)
_SKIP = frozenset(PROMPT_FIELDS + ID_FIELDS + USER_FIELDS + ("system",))


def read_prompts(path: str | Path, max_record_bytes: int) -> Iterator[ImportRecord | Reject | Notice]:
    """Yield one record per line of a plain prompts JSONL file."""
    for item in json_lines(path, max_record_bytes):
        if isinstance(item, Reject):
            yield item
            continue
        line, raw, value = item
        if isinstance(value, str):
            if value.strip():
                yield ImportRecord(line=line, messages=[{"role": "user", "content": value}])  # type: ignore[list-item]
            else:
                yield Reject(line=line, message="the prompt is empty", raw=raw_text(raw))
            continue
        if not isinstance(value, dict):
            yield Reject(
                line=line,
                message=f"expected a JSON object or string, got {kind_of(value)}",
                raw=raw_text(raw),
            )
            continue
        yield record_from_row(value, line, raw)


def record_from_row(row: dict[str, Any], line: int, raw: bytes | str) -> ImportRecord | Reject:
    """One prompt from a row's fields: the prompt field, ids, user and the rest as meta."""
    for name in PROMPT_FIELDS:
        value = row.get(name)
        if value is not None:
            break
    else:
        present = ", ".join(f"`{k}`" for k in list(row)[:8]) or "none"
        return reject(RecordError(None, f"no prompt: expected one of {_NAMES}; got {present}"), line, raw)
    meta = small_meta(row, _SKIP)
    if type(value) is str and name in _TEXT_FIELDS and "system" not in row and value and not value.isspace():
        messages: list[Any] = [{"role": "user", "content": value}]  # the common case: one validation
        demonstration = None
    else:
        try:
            messages, tail = _prompt_messages(row, name, meta)
        except RecordError as e:
            return reject(e, line, raw)
        demonstration = tail or None
    try:
        return ImportRecord(
            line=line,
            messages=messages,
            demonstration=demonstration,
            external_id=first_str(row, ID_FIELDS),
            origin_user=first_str(row, USER_FIELDS),
            meta=meta,
        )
    except ValidationError as e:
        return reject(e, line, raw)


def _prompt_messages(
    row: dict[str, Any], name: str, meta: dict[str, Any]
) -> tuple[list[Message], list[Message]]:
    """The conversation named by field `name`, and any assistant turns after its last user turn."""
    value = row[name]
    if name == "turns":
        if not isinstance(value, list) or not value:
            raise RecordError(
                "turns",
                f"expected a list of strings, got {kind_of(value) if value != [] else 'an empty list'}",
            )
        for i, turn in enumerate(value):
            if not isinstance(turn, str):
                raise RecordError(f"turns[{i}]", f"expected a string, got {kind_of(turn)}")
        followups = [t for t in value[1:] if t.strip()]
        if followups:
            meta["followup_turns"] = followups
        value = value[0]
    if isinstance(value, str) and name != "messages":
        messages = [Message(role="user", content=text_of(value, name))]
        system = row.get("system")
        if isinstance(system, str) and system.strip():
            messages.insert(0, Message(role="system", content=system))
        return messages, []
    return split_conversation(parse_messages(value, name), name)
