"""OpenAI chat files: `{"messages": [...]}` per line.

The turns up to the last user turn are the prompt; the assistant turns after it are an existing
demonstration. Model-answer files (lmarena's arena-hard) carry a `model` field: there the last
reply is that model's candidate instead, and its `content` may be `{"answer": ...}`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from labeler.readers.fields import (
    ID_FIELDS,
    USER_FIELDS,
    RecordError,
    first_str,
    object_records,
    parse_messages,
    small_meta,
    split_conversation,
)
from labeler.readers.records import CandidateIn, ImportRecord, Notice, Reject

_SKIP = frozenset(("messages", "model", *ID_FIELDS, *USER_FIELDS))


def read_chat(path: str | Path, max_record_bytes: int) -> Iterator[ImportRecord | Reject | Notice]:
    """Yield one record per conversation of an OpenAI chat JSONL file."""
    return object_records(path, max_record_bytes, _fields)


def _fields(row: dict[str, Any]) -> dict[str, Any]:
    """ImportRecord fields for one chat row."""
    if "messages" not in row:
        raise RecordError("messages", "missing")
    prompt, tail = split_conversation(parse_messages(row["messages"], "messages"), "messages")
    model = row.get("model")
    meta = small_meta(row, _SKIP)
    fields: dict[str, Any] = {
        "messages": prompt,
        "external_id": first_str(row, ID_FIELDS),
        "origin_user": first_str(row, USER_FIELDS),
    }
    if model is None or not tail:
        fields["meta"] = meta
        fields["demonstration"] = tail or None
        return fields
    if len(tail) != 1:
        raise RecordError(
            "messages", f"expected one reply by `{model}` after the last user turn, got {len(tail)}"
        )
    fields["candidates"] = [CandidateIn(text=tail[0].content, model=str(model), meta=meta)]
    return fields
