"""Anthropic HH-RLHF: `chosen`/`rejected` transcripts of `\\n\\nHuman:` / `\\n\\nAssistant:` turns.

Both transcripts share every turn up to the last Human turn (the prompt) and differ in the reply
after it: chosen is rank 1, rejected rank 2. Identical transcripts give one unranked candidate.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from labeler.readers.fields import (
    ID_FIELDS,
    USER_FIELDS,
    RecordError,
    first_str,
    kind_of,
    object_records,
    pair_candidates,
    small_meta,
)
from labeler.readers.records import ImportRecord, Message, Notice, Reject

_TURN = re.compile(r"\n\n(Human|Assistant):")
_ROLE = {"Human": "user", "Assistant": "assistant"}
_SKIP = frozenset(("chosen", "rejected", *ID_FIELDS, *USER_FIELDS))


def read_hh(path: str | Path, max_record_bytes: int) -> Iterator[ImportRecord | Reject | Notice]:
    """Yield one record (two ranked candidates) per line of an HH-RLHF file."""
    return object_records(path, max_record_bytes, _fields, ("chosen", "rejected"))


def parse_transcript(text: Any, field: str) -> tuple[list[Message], str]:
    """Split a transcript into (turns up to the last Human turn, the reply after it)."""
    if not isinstance(text, str):
        raise RecordError(field, f"expected a `Human:`/`Assistant:` transcript string, got {kind_of(text)}")
    if text.startswith(("Human:", "Assistant:")):
        text = "\n\n" + text
    parts = _TURN.split(text)
    if parts[0].strip():
        raise RecordError(field, "expected the transcript to start with `Human:`")
    turns = [(_ROLE[parts[i]], parts[i + 1].strip()) for i in range(1, len(parts), 2)]
    last_user = max((i for i, (role, _) in enumerate(turns) if role == "user"), default=None)
    if last_user is None:
        raise RecordError(field, "no `Human:` turn in the transcript")
    if last_user == len(turns) - 1:
        raise RecordError(field, "expected the transcript to end in an `Assistant:` reply")
    reply = "\n\n".join(content for _, content in turns[last_user + 1 :])  # may be empty: kept as it is
    prompt = []
    for i, (role, content) in enumerate(turns[: last_user + 1]):
        if not content and role == "user":
            raise RecordError(
                field, f"turn {i + 1} (`{'Human' if role == 'user' else 'Assistant'}:`) is empty"
            )
        prompt.append(Message(role=role, content=content))  # type: ignore[arg-type]
    return prompt, reply


def _fields(row: dict[str, Any]) -> dict[str, Any]:
    """ImportRecord fields for one HH row."""
    for name in ("chosen", "rejected"):
        if name not in row:
            raise RecordError(name, "missing")
    chosen_prompt, chosen = parse_transcript(row["chosen"], "chosen")
    rejected_prompt, rejected = parse_transcript(row["rejected"], "rejected")
    if rejected_prompt != chosen_prompt:
        raise RecordError("rejected", "the conversation before the last reply differs from `chosen`")
    return {
        "messages": chosen_prompt,
        "candidates": pair_candidates(chosen, rejected),
        "external_id": first_str(row, ID_FIELDS),
        "origin_user": first_str(row, USER_FIELDS),
        "meta": small_meta(row, _SKIP),
    }
