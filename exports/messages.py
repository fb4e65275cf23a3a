"""Small helpers that build the message dicts every format writes, with keys in a fixed order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Keys a message may carry into an export, in the order they are written.
MESSAGE_KEYS = ("role", "content", "name", "tool_calls", "tool_call_id")


def clean_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """A copy with role and content first, optional tool keys kept, and `weight` dropped."""
    out = {"role": message["role"], "content": message.get("content")}
    if len(message) > 2:
        for key in MESSAGE_KEYS[2:]:
            if key in message:
                out[key] = message[key]
    return out


def clean_messages(messages: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """`clean_message` over a conversation."""
    return [clean_message(m) for m in messages]


def assistant(text: str) -> list[dict[str, str]]:
    """A one-message assistant completion, the shape TRL and OpenAI take for chosen/rejected."""
    return [{"role": "assistant", "content": text}]
