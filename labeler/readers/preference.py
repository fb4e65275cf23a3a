"""Preference rows: TRL's `prompt`/`chosen`/`rejected` and OpenAI's preference fine-tuning format.

TRL rows may be plain text or conversational, and may leave the prompt implicit: then `chosen`
and `rejected` are whole conversations sharing every turn before the last reply. OpenAI rows put
the prompt in `input.messages`, preferred rank 1 and non-preferred rank 2.
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
    kind_of,
    object_records,
    pair_candidates,
    parse_messages,
    reply_text,
    small_meta,
    split_conversation,
    text_of,
)
from labeler.readers.hh import parse_transcript
from labeler.readers.records import ImportRecord, Message, Notice, Reject

_TRL_SKIP = frozenset(
    ("prompt", "chosen", "rejected", "score_chosen", "score_rejected", *ID_FIELDS, *USER_FIELDS)
)
_OPENAI_SKIP = frozenset(("input", "preferred_output", "non_preferred_output", *ID_FIELDS, *USER_FIELDS))


def read_trl(path: str | Path, max_record_bytes: int) -> Iterator[ImportRecord | Reject | Notice]:
    """Yield one record per TRL preference row."""
    return object_records(path, max_record_bytes, _trl_fields, ("chosen", "rejected"))


def read_openai_preference(
    path: str | Path, max_record_bytes: int
) -> Iterator[ImportRecord | Reject | Notice]:
    """Yield one record per OpenAI preference fine-tuning row."""
    return object_records(path, max_record_bytes, _openai_fields, ("preferred_output", "non_preferred_output"))


def _trl_fields(row: dict[str, Any]) -> dict[str, Any]:
    """ImportRecord fields for a TRL row, explicit or implicit prompt."""
    for name in ("chosen", "rejected"):
        if row.get(name) is None:
            raise RecordError(name, "missing")
    if row.get("prompt") is not None:
        prompt = _explicit_prompt(row["prompt"])
        chosen, rejected = reply_text(row["chosen"], "chosen"), reply_text(row["rejected"], "rejected")
    else:
        prompt, chosen, rejected = _implicit(row["chosen"], row["rejected"])
    return {
        "messages": prompt,
        "candidates": pair_candidates(
            chosen,
            rejected,
            chosen_meta=_score(row, "score_chosen"),
            rejected_meta=_score(row, "score_rejected"),
        ),
        "external_id": first_str(row, ID_FIELDS),
        "origin_user": first_str(row, USER_FIELDS),
        "meta": small_meta(row, _TRL_SKIP),
    }


def _explicit_prompt(value: Any) -> list[Message]:
    """A TRL `prompt`: text, or a conversation ending in a user turn."""
    if isinstance(value, str):
        return [Message(role="user", content=text_of(value, "prompt"))]
    prompt, tail = split_conversation(parse_messages(value, "prompt"), "prompt")
    if tail:
        raise RecordError("prompt", "expected the conversation to end in a user turn")
    return prompt


def _implicit(chosen: Any, rejected: Any) -> tuple[list[Message], str, str]:
    """Prompt and both replies from two whole conversations (message lists or HH transcripts)."""
    if isinstance(chosen, str) and isinstance(rejected, str):
        (prompt, chosen_text), (other, rejected_text) = (
            parse_transcript(chosen, "chosen"),
            parse_transcript(rejected, "rejected"),
        )
    elif isinstance(chosen, list) and isinstance(rejected, list):
        prompt, chosen_text = _conversation(chosen, "chosen")
        other, rejected_text = _conversation(rejected, "rejected")
    else:
        raise RecordError(
            "chosen",
            f"without a `prompt`, expected two conversations, got {kind_of(chosen)} and {kind_of(rejected)}",
        )
    if other != prompt:
        raise RecordError("rejected", "the conversation before the last reply differs from `chosen`")
    return prompt, chosen_text, rejected_text


def _conversation(value: list[Any], field: str) -> tuple[list[Message], str]:
    """A whole conversation split into (prompt, the one assistant reply that ends it)."""
    prompt, tail = split_conversation(parse_messages(value, field), field)
    if len(tail) != 1:
        raise RecordError(field, f"expected one assistant reply after the last user turn, got {len(tail)}")
    return prompt, tail[0].content


def _score(row: dict[str, Any], name: str) -> dict[str, Any]:
    """Candidate meta carrying a numeric score column (UltraFeedback-style), if any."""
    value = row.get(name)
    return {"score": value} if isinstance(value, (int, float)) and not isinstance(value, bool) else {}


def _openai_fields(row: dict[str, Any]) -> dict[str, Any]:
    """ImportRecord fields for an OpenAI preference row."""
    source = row.get("input")
    if not isinstance(source, dict):
        raise RecordError("input", f"expected {{messages: [...]}}, got {kind_of(source)}")
    prompt, tail = split_conversation(
        parse_messages(source.get("messages"), "input.messages"), "input.messages"
    )
    if tail:
        raise RecordError("input.messages", "expected the conversation to end in a user turn")
    for name in ("preferred_output", "non_preferred_output"):
        if row.get(name) is None:
            raise RecordError(name, "missing")
    preferred = reply_text(row["preferred_output"], "preferred_output")
    non_preferred = reply_text(row["non_preferred_output"], "non_preferred_output")
    return {
        "messages": prompt,
        "candidates": pair_candidates(preferred, non_preferred),
        "external_id": first_str(row, ID_FIELDS),
        "origin_user": first_str(row, USER_FIELDS),
        "meta": small_meta(row, _OPENAI_SKIP),
    }
