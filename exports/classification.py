"""Scope classification formats: `classification` (`{"text", "label"}`) and `classification-openai`
(the same example in OpenAI's chat shape: an instruction, the user's text, an assistant answering
with the label), from one row per prompt that has a resolved scope label.

Design constraints: they train a gatekeeper that decides, before the assistant answers, whether a
prompt is one the assistant should answer. The text is what that gatekeeper will see: the user
turn alone for a one-turn prompt, or the whole conversation rendered as `Role: text` blocks when
earlier turns give the last one its meaning ("and how about the other one?"). System turns are the
deployment's own instructions, not the user's request, and are left out. Every `classification`
line has the same keys (`reason` null when none was given) so `datasets` sees one schema.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from exports.rows import Message

SCOPE_LABELS = ("answerable", "off-limits")
ROLE_NAMES = {"user": "User", "assistant": "Assistant", "tool": "Tool"}
INSTRUCTION = (
    "Decide whether the assistant should answer the user's message. Reply with exactly one word: "
    "answerable or off-limits."
)


@dataclass(frozen=True, slots=True)
class ScopeRow:
    """One prompt with its resolved scope label (and the reason category, if any)."""

    prompt_id: int
    split: str
    messages: Sequence[Message]
    label: str
    reason: str | None = None


def classification_text(messages: Sequence[Message]) -> str:
    """The text a gatekeeper sees: the last user turn alone, or the dialogue rendered when it has several turns."""
    turns = [m for m in messages if m.get("role") not in ("system", "developer")]
    if len(turns) == 1:
        return str(turns[0].get("content") or "")
    return "\n\n".join(f"{ROLE_NAMES.get(str(m.get('role')), str(m.get('role')).title())}: {m.get('content') or ''}"
                       for m in turns)


def classification(row: ScopeRow) -> Iterator[dict[str, Any]]:
    """`{"text", "label", "reason", "prompt_id"}`: a text-classification example (HF `datasets`, sklearn)."""
    yield {"text": classification_text(row.messages), "label": row.label, "reason": row.reason,
           "prompt_id": row.prompt_id}


def classification_openai(row: ScopeRow) -> Iterator[dict[str, Any]]:
    """`{"messages": [system instruction, user text, assistant label]}`: the classifier as a chat fine-tune."""
    yield {"messages": [{"role": "system", "content": INSTRUCTION},
                        {"role": "user", "content": classification_text(row.messages)},
                        {"role": "assistant", "content": row.label}]}
