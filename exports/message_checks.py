"""Rules for one list of chat messages, shared by every format's checks (`exports.checks`).

OpenAI's rules are strict (unknown keys are errors, `weight` only 0/1 on assistant turns, tool-call
arguments must parse); TRL's are looser (chat templates ignore unknown keys: a warning). The common
case — a plain `{role, content}` message — takes a fast path, since exports check every record.
"""

from __future__ import annotations

import zlib
from typing import Any, Protocol

import orjson

from exports.tokens import PER_MESSAGE, approx_tokens

OPENAI_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
TRL_ROLES = frozenset({"system", "user", "assistant", "tool"})
OPENAI_MESSAGE_KEYS = frozenset({"role", "content", "name", "weight", "tool_calls", "tool_call_id",
                                 "function_call", "refusal"})
PLAIN = frozenset({"role", "content"})
PROMPT_ENDS = frozenset({"user", "tool"})
REPETITIVE_CHARS = 2_000  # only long texts are worth compressing
REPETITIVE_RATIO = 12.0   # natural prose compresses 2-4x; a text repeated over and over, far more


class Sink(Protocol):
    """Where a check reports: the validator of one file or stream."""

    state: dict[str, Any]

    def error(self, field: str | None, message: str) -> None: ...
    def warn(self, field: str | None, message: str) -> None: ...
    def count(self, key: str, n: int = 1) -> None: ...


def kind(value: Any) -> str:
    """A JSON name for a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {str: "a string", list: "a list", dict: "an object", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__)


def has_text(text: str) -> bool:
    """Not empty and not only whitespace (cheap: `isspace` stops at the first visible character)."""
    return bool(text) and not text.isspace()


def key_list(names: Any) -> str:
    """Names as `a`, `b`, sorted, for messages."""
    return ", ".join(f"`{n}`" for n in sorted(map(str, names)))


def _tool_calls(calls: Any, field: str, v: Sink) -> None:
    if not isinstance(calls, list) or not calls:
        v.error(field, f"expected a non-empty list of tool calls, got {kind(calls)}")
        return
    for j, call in enumerate(calls):
        f = f"{field}[{j}]"
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            v.error(f, "expected an object with `id`, `type` and `function` {name, arguments}")
            continue
        args = fn.get("arguments")
        if not isinstance(args, str):
            v.error(f"{f}.function.arguments", f"expected a JSON string, got {kind(args)}")
            continue
        try:
            orjson.loads(args)
        except orjson.JSONDecodeError as e:
            v.error(f"{f}.function.arguments", f"does not parse as JSON: {e}")


def check_messages(msgs: Any, field: str, v: Sink, *, openai: bool) -> int | None:
    """Errors for a malformed message list; its approximate tokens, or None when it is not a list."""
    if type(msgs) is not list:
        v.error(field, f"expected a list of {{role, content}} messages, got {kind(msgs)}")
        return None
    if not msgs:
        v.error(field, "expected at least one message, got an empty list")
        return None
    roles = OPENAI_ROLES if openai else TRL_ROLES
    tokens = 0
    for i, m in enumerate(msgs):
        if type(m) is dict and m.keys() == PLAIN:
            content, role = m["content"], m["role"]
            if type(content) is str and role in roles and (role != "assistant" or has_text(content)):
                tokens += PER_MESSAGE + approx_tokens(content)
                continue
        tokens += PER_MESSAGE + _check_message(m, f"{field}[{i}]", v, openai=openai, roles=roles)
    return tokens


def _check_message(m: Any, f: str, v: Sink, *, openai: bool, roles: frozenset[str]) -> int:
    """The slow path of `check_messages`: says what is wrong with one message."""
    if not isinstance(m, dict):
        v.error(f, f"expected an object with `role` and `content`, got {kind(m)}")
        return 0
    role = m.get("role")
    if role not in roles:
        v.error(f"{f}.role", f"expected one of {key_list(roles)}, got {role!r}")
    extra = m.keys() - (OPENAI_MESSAGE_KEYS if openai else PLAIN | {"name", "tool_calls", "tool_call_id"})
    if extra:
        (v.error if openai else v.warn)(f, f"unknown key(s) {key_list(extra)}")
    if "weight" in m and openai:
        w = m["weight"]
        if role != "assistant":
            v.error(f"{f}.weight", f"`weight` is allowed only on assistant messages, not on `{role}`")
        elif type(w) is not int or w not in (0, 1):
            v.error(f"{f}.weight", f"expected 0 or 1, got {w!r}")
    calls = "tool_calls" in m or "function_call" in m
    if "tool_calls" in m:
        _tool_calls(m["tool_calls"], f"{f}.tool_calls", v)
    content = m.get("content")
    if isinstance(content, str):
        if not content.strip() and role == "assistant" and not calls:
            # OpenAI refuses it; TRL trains on it (a near-empty reply can be the preferred one).
            (v.error if openai else v.warn)(f"{f}.content", "empty assistant message")
        return approx_tokens(content) + ("name" in m)
    if content is None:
        if not (role == "assistant" and calls):
            v.error(f"{f}.content", "missing content")
        return 0
    if openai and isinstance(content, list):
        texts = [p.get("text") for p in content if isinstance(p, dict)]
        if len(texts) != len(content) or not all(isinstance(t, str) for t in texts):
            v.error(f"{f}.content", "expected a string or a list of {type: text, text} parts")
            return 0
        return sum(approx_tokens(t) for t in texts)
    v.error(f"{f}.content", f"expected a string, got {kind(content)}")
    return 0


def roles_of(msgs: Any) -> list[Any]:
    """The roles of a message list (empty when it is not one)."""
    return [m.get("role") for m in msgs if isinstance(m, dict)] if isinstance(msgs, list) else []


def warn_repetitive(msgs: Any, field: str, v: Sink) -> None:
    """Warn about long message texts that compress far better than prose (a text repeated)."""
    for i, m in enumerate(msgs):
        text = m.get("content") if isinstance(m, dict) else None
        if isinstance(text, str) and len(text) > REPETITIVE_CHARS:
            data = text.encode("utf-8")
            ratio = len(data) / len(zlib.compress(data, 1))
            if ratio > REPETITIVE_RATIO:
                v.warn(f"{field}[{i}].content",
                       f"highly repetitive text: {len(text):,} characters compress {ratio:.0f}x")
