"""Field-level helpers every reader shares: messages, ids, meta, and errors in the source's terms.

A reader raises `RecordError(field, message)` naming the field as the source spells it
(``messages[2].content``); `reject()` turns that, or a pydantic `ValidationError`, into a `Reject`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from labeler.readers.records import CandidateIn, ImportRecord, Message, Notice, Reject
from labeler.readers.source import json_lines, raw_text

ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
ID_FIELDS = ("id", "uid", "question_id", "prompt_id")
USER_FIELDS = ("user_id", "user", "origin_user")
_SCALARS = (str, int, float, bool)
META_STR_CHARS = 1000  # longer strings stay out of meta: meta is for small labels, not payloads


class RecordError(ValueError):
    """One record is malformed: which field (as the source names it) and why."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def kind_of(value: Any) -> str:
    """A JSON-ish name for the type of `value`, with its article: `a string`, `an object`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def require_object(value: Any, what: str = "a JSON object") -> dict[str, Any]:
    """Return `value` when it is a dict, else raise a RecordError for the whole record."""
    if not isinstance(value, dict):
        raise RecordError(None, f"expected {what}, got {kind_of(value)}")
    return value


def text_of(value: Any, field: str, *, blank_ok: bool = False) -> str:
    """Message content as text: a string, `{"answer": ...}`, or a list of `{type: text, text}` parts.

    `blank_ok` keeps an empty or whitespace-only text (an assistant reply) instead of refusing it.
    """
    if isinstance(value, str):
        text = value
    elif isinstance(value, dict) and isinstance(value.get("answer"), str):
        text = value["answer"]
    elif isinstance(value, list) and value:
        parts = []
        for i, part in enumerate(value):
            if isinstance(part, str):
                parts.append(part)
            elif (
                isinstance(part, dict)
                and part.get("type", "text") == "text"
                and isinstance(part.get("text"), str)
            ):
                parts.append(part["text"])
            else:
                raise RecordError(
                    f"{field}[{i}]", f"expected a {{type: text, text}} part, got {describe_value(part)}"
                )
        text = "\n".join(parts)
    else:
        raise RecordError(field, f"expected a string, got {kind_of(value)}")
    if not blank_ok and not text.strip():
        raise RecordError(field, "content is empty")
    return text


def parse_messages(value: Any, field: str) -> list[Message]:
    """A list of {role, content} as Messages; `developer` counts as `system`."""
    if not isinstance(value, list):
        raise RecordError(field, f"expected a list of {{role, content}}, got {kind_of(value)}")
    if not value:
        raise RecordError(field, "expected a list of {role, content}, got an empty list")
    out = []
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(item, dict):
            raise RecordError(where, f"expected {{role, content}}, got {kind_of(item)}")
        role = role_of(item.get("role"), ROLES)
        if role is None:
            got = describe_value(item.get("role"))
            raise RecordError(f"{where}.role", f"expected `system`, `user` or `assistant`, got {got}")
        content = text_of(item.get("content"), f"{where}.content", blank_ok=role == "assistant")
        out.append(Message(role=role, content=content))
    return out


def role_of(value: Any, roles: dict[str, str]) -> str | None:
    """The canonical role for `value`, or None when it is not one of `roles` (a list or object included)."""
    return roles.get(value) if isinstance(value, str) else None


def split_conversation(messages: list[Message], field: str) -> tuple[list[Message], list[Message]]:
    """Split at the last user turn: (the prompt, the assistant turns after it)."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].role == "user":
            tail = messages[i + 1 :]
            for j, m in enumerate(tail, start=i + 1):
                if m.role != "assistant":
                    raise RecordError(
                        f"{field}[{j}].role", f"expected `assistant` after the last user turn, got `{m.role}`"
                    )
            return messages[: i + 1], tail
    raise RecordError(field, "no user turn: the conversation must contain a user message")


def reply_text(value: Any, field: str) -> str:
    """One assistant reply: a string, or a list holding one assistant message."""
    if isinstance(value, str):
        return text_of(value, field, blank_ok=True)
    messages = parse_messages(value, field)
    if len(messages) != 1 or messages[0].role != "assistant":
        roles = ", ".join(m.role for m in messages)
        raise RecordError(field, f"expected one assistant message, got [{roles}]")
    return messages[0].content


def first_str(obj: dict[str, Any], names: tuple[str, ...]) -> str | None:
    """The first of `names` present with a non-empty scalar value, as a string."""
    for name in names:
        value = obj.get(name)
        if value is None or value == "":
            continue
        if type(value) is str:
            return value
        if not isinstance(value, (dict, list)):
            return str(value)
    return None


def small_meta(obj: dict[str, Any], skip: set[str] | frozenset[str]) -> dict[str, Any]:
    """The scalar (or list-of-scalar) fields of `obj` not in `skip`, without long strings."""
    meta = {}
    for key, value in obj.items():
        if key in skip:
            continue
        kind = type(value)
        if kind is str:
            if value and len(value) <= META_STR_CHARS:
                meta[key] = value
        elif kind in (int, float, bool) or (kind is list and all(isinstance(v, _SCALARS) for v in value)):
            meta[key] = value
    return meta


def reject(error: RecordError | ValidationError, line: int, raw: bytes | str) -> Reject:
    """A Reject for `line` from a RecordError or a pydantic ValidationError."""
    if isinstance(error, RecordError):
        return Reject(line=line, field=error.field, message=error.message, raw=raw_text(raw))
    first = error.errors(include_url=False)[0]
    field = _loc(first.get("loc", ()))
    message = first.get("msg", "invalid value")
    message = message.removeprefix("Value error, ")
    return Reject(
        line=line, field=field or None, message=message[:1].lower() + message[1:], raw=raw_text(raw)
    )


def record(line: int, raw: bytes | str, **fields: Any) -> ImportRecord | Reject:
    """Build an ImportRecord, or a readable Reject when the model refuses it."""
    try:
        return ImportRecord(line=line, **fields)
    except ValidationError as e:
        return reject(e, line, raw)


def _loc(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as `messages[0].content`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def describe_value(value: Any) -> str:
    """A bad value for a message: itself in backticks when a short string, else its type."""
    if isinstance(value, str) and len(value) <= 40:
        return f"`{value}`"
    return kind_of(value)


def pair_candidates(
    chosen: str,
    rejected: str,
    chosen_meta: dict[str, Any] | None = None,
    rejected_meta: dict[str, Any] | None = None,
) -> list[CandidateIn]:
    """Chosen rank 1 and rejected rank 2; identical replies give one unranked candidate."""
    chosen_meta, rejected_meta = chosen_meta or {}, rejected_meta or {}
    if chosen == rejected:
        return [CandidateIn(text=chosen, meta=chosen_meta)]
    return [
        CandidateIn(text=chosen, rank=1, meta=chosen_meta),
        CandidateIn(text=rejected, rank=2, meta=rejected_meta),
    ]


def identical_notice(line: int, chosen: str, rejected: str) -> Notice:
    """The Notice for a pair whose two replies are the same text."""
    return Notice(
        line=line,
        kind="identical",
        message=f"`{chosen}` and `{rejected}` are identical: kept one unranked candidate",
    )


def object_records(
    path: str | Path,
    max_record_bytes: int,
    fields_of: Callable[[dict[str, Any]], dict[str, Any]],
    pair: tuple[str, str] | None = None,
) -> Iterator[ImportRecord | Reject | Notice]:
    """The loop of every reader whose lines are JSON objects: `fields_of` builds a record's fields.

    With `pair` (the two candidate fields of a preference row), a row whose two replies are the
    same text is also noted: it becomes one unranked candidate.
    """
    for item in json_lines(path, max_record_bytes):
        if isinstance(item, Reject):
            yield item
            continue
        line, raw, value = item
        try:
            fields = fields_of(require_object(value))
        except RecordError as e:
            yield reject(e, line, raw)
            continue
        out = record(line, raw, **fields)
        yield out
        if pair and isinstance(out, ImportRecord) and len(out.candidates) == 1:
            yield identical_notice(line, *pair)

