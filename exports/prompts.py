"""Prompt-only formats for the reinforcement-learning stage: `prompts` (TRL GRPO/RLOO/PPO) and
`openai-rft` (OpenAI reinforcement fine-tuning), from one row per stored prompt.

Design constraints: a prompt row carries the conversation so far (ending in a user turn) and, when
the project stores one, a reference answer (`reference_of` reads it from the prompt's import
metadata); which prompts the service streams (not used for the SFT/RM sets of the same filters,
unless `allow_overlap`) is decided by the query, so the `allow_overlap` option is accepted here
only to be recorded in the manifest. Every `prompts` line has the same keys, null where a value
is missing, so `datasets` sees one schema across lines and splits.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from exports.messages import clean_message, clean_messages
from exports.rows import Message

# Import metadata keys that hold a reference answer, in the order they are looked up.
REFERENCE_KEYS = ("reference_answer", "reference", "answer", "ground_truth", "solution")


@dataclass(frozen=True, slots=True)
class PromptRow:
    """One stored prompt: its conversation so far and, if the project stores one, a reference answer."""

    prompt_id: int
    split: str
    messages: Sequence[Message]
    external_id: str | None = None
    reference: str | None = None
    source: str | None = None
    split_key: str | None = None
    split_by: str | None = None


def reference_of(meta: Mapping[str, Any] | None) -> str | None:
    """The first non-blank string (or number, as text) under one of REFERENCE_KEYS, else None."""
    for key in REFERENCE_KEYS:
        value = (meta or {}).get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            return str(value)
        if isinstance(value, str) and value.strip():
            return value
    return None


def prompt_only(row: PromptRow, *, allow_overlap: bool = False) -> Iterator[dict[str, Any]]:
    """`{"prompt": [messages], "prompt_id", "split", "external_id", "reference"}`: TRL's prompt-only shape.

    TRL's GRPO/RLOO trainers pass the extra columns to reward functions as keyword lists, so a
    reward function can compare a completion with `reference`.
    """
    del allow_overlap  # decided by the query; recorded in the manifest
    yield {"prompt": clean_messages(row.messages), "prompt_id": row.prompt_id, "split": row.split,
           "external_id": row.external_id, "reference": row.reference}


def openai_rft(row: PromptRow, *, allow_overlap: bool = False) -> Iterator[dict[str, Any]]:
    """`{"messages": [...], "reference_answer", "prompt_id"}` for prompts with a reference answer.

    OpenAI's reinforcement fine-tuning trains reasoning models, which take `developer` messages in
    place of `system` ones: a system turn is written as a developer turn with the same content.
    Extra keys are what a grader reads as `{{ item.reference_answer }}`.
    """
    del allow_overlap
    if row.reference is None:
        return
    messages = []
    for m in row.messages:
        out = clean_message(m)
        if out["role"] == "system":
            out["role"] = "developer"
        messages.append(out)
    yield {"messages": messages, "reference_answer": row.reference, "prompt_id": row.prompt_id}
