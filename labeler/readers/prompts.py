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
    META_STR_CHARS,
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
# Reference answers (exports read them for `prompts` and `openai-rft`), as `exports.prompts` names them.
REFERENCE_FIELDS = ("reference_answer", "reference", "answer", "ground_truth", "solution")
_TEXT_FIELDS = frozenset(("prompt", "text", "question", "instruction"))
_NAMES = ", ".join(f"`{n}`" for n in PROMPT_FIELDS)
_SKIP = frozenset(PROMPT_FIELDS + ID_FIELDS + USER_FIELDS + REFERENCE_FIELDS + ("system",))


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
        yield from row_items(value, line, raw)


def row_items(row: dict[str, Any], line: int, raw: bytes | str) -> Iterator[ImportRecord | Reject | Notice]:
    """The record of one row, then a Notice for each field it understood but could not keep."""
    notices: list[Notice] = []
    out = record_from_row(row, line, raw, notices)
    yield out
    if isinstance(out, ImportRecord):
        yield from notices


def record_from_row(
    row: dict[str, Any], line: int, raw: bytes | str, notices: list[Notice] | None = None
) -> ImportRecord | Reject:
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
    _keep_references(row, meta, line, notices if notices is not None else [])
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


def _keep_references(row: dict[str, Any], meta: dict[str, Any], line: int, notices: list[Notice]) -> None:
    """Reference answers into meta, each kept for the turn it belongs to; a Notice for each not kept.

    A text (or number) is the prompt's reference. A list holds one reference per turn (MT-Bench):
    with `turns`, the first is the prompt's and the others go to `followup_references`, beside
    `followup_turns`; without `turns`, a one-item list is the prompt's. Blank ones mean "none".
    """
    turns = row.get("turns") if isinstance(row.get("turns"), list) else None
    for name in REFERENCE_FIELDS:
        value = row.get(name)
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, list) and (turns is not None or len(value) == 1):
            if turns is not None and len(value) != len(turns):
                _not_kept(notices, line, name, f"{len(value)} reference(s) for {len(turns)} turn(s)")
                continue
            first, *rest = (_reference(v, f"{name}[{i}]", line, notices) for i, v in enumerate(value))
            if first is not None:
                meta[name] = first
            kept = [ref for turn, ref in zip(turns[1:] if turns else [], rest, strict=False)
                    if isinstance(turn, str) and turn.strip()]  # blank follow-ups are dropped with theirs
            if any(ref is not None for ref in kept):
                meta[f"followup_{name}s"] = kept
            continue
        ref = _reference(value, name, line, notices)
        if ref is not None:
            meta[name] = ref


def _reference(value: Any, field: str, line: int, notices: list[Notice]) -> str | None:
    """One reference as text, or None (a Notice when it is there but cannot be kept)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        _not_kept(notices, line, field, f"expected a text or a number, got {kind_of(value)}")
        return None
    text = value if isinstance(value, str) else str(value)
    if not text.strip():
        return None
    if len(text) > META_STR_CHARS:
        _not_kept(notices, line, field, f"{len(text):,} characters, over the {META_STR_CHARS:,} kept")
        return None
    return text


def _not_kept(notices: list[Notice], line: int, field: str, why: str) -> None:
    name = field.split("[", 1)[0]
    notices.append(Notice(line=line, kind=f"not_kept:{name}", message=f"field `{field}` not kept: {why}"))
