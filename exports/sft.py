"""Supervised formats from demonstration rows: `sft-messages`, `sft-prompt-completion`,
`openai-chat` and `openai-legacy`, plus the marker choice the legacy format needs.

Multi-turn demonstrations keep every turn in the message formats. The prompt-completion formats
take one record per labeler-written assistant turn (prompt: everything before it; completion: that
turn), so a completion is always assistant-only and never trains the model to write user turns.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from exports.errors import ExportError
from exports.messages import clean_message, clean_messages
from exports.rows import SKIPPED_STATUSES, DemonstrationRow

SEPARATORS = ("\n\n###\n\n", "\n\n===\n\n", "\n\n---\n\n", "\n\n@@@\n\n", "<|sep|>", "\n\n<<>>\n\n",
              "<|separator|>", "\n\n~~~\n\n")
STOPS = (" END", " ###END###", " <|end|>", "<|stop|>", " [END]", " ~~STOP~~", "<|endofcompletion|>")
ROLE_LABELS = {"system": "System", "developer": "Developer", "user": "User", "assistant": "Assistant",
               "tool": "Tool"}


def _written(row: DemonstrationRow) -> Iterator[int]:
    """Indices of the labeler-written assistant turns."""
    if row.status in SKIPPED_STATUSES:
        return
    for i, turn in enumerate(row.turns):
        if turn["role"] == "assistant" and row.is_human(i):
            yield i


def sft_messages(row: DemonstrationRow) -> Iterator[dict[str, Any]]:
    """The whole conversation, prompt context and every written turn, as one `messages` list."""
    if row.status not in SKIPPED_STATUSES:
        yield {"messages": clean_messages(row.messages) + clean_messages(row.turns)}


def sft_prompt_completion(row: DemonstrationRow) -> Iterator[dict[str, Any]]:
    """One `{prompt, completion}` per written assistant turn; completion is that one turn."""
    context = clean_messages(row.messages)
    turns = clean_messages(row.turns)
    for i in _written(row):
        yield {"prompt": context + turns[:i], "completion": [turns[i]]}


def _weighted(message: Mapping[str, Any], weight: int | None) -> dict[str, Any]:
    out = clean_message(message)
    if message["role"] == "assistant":
        if weight is None:
            weight = message.get("weight")
        if weight is not None:
            out["weight"] = weight
    return out


def openai_chat(row: DemonstrationRow, *, weight_non_human: bool = False) -> Iterator[dict[str, Any]]:
    """OpenAI chat fine-tuning rows; `weight_non_human` trains only the labeler's assistant turns.

    With it, assistant turns from the prompt context and turns outside `human_turns` get
    `weight: 0`, the labeler's get `weight: 1`; without it, weights already on messages are kept.
    """
    if row.status in SKIPPED_STATUSES:
        return
    if weight_non_human:
        messages = [_weighted(m, 0) for m in row.messages]
        messages += [_weighted(t, 1 if row.is_human(i) else 0) for i, t in enumerate(row.turns)]
    else:
        messages = [_weighted(m, None) for m in (*row.messages, *row.turns)]
    yield {"messages": messages}


def render_legacy_prompt(messages: Sequence[Mapping[str, Any]]) -> str:
    """Plain text for a completion model: a lone user turn as is, else `Role: text` blocks."""
    if len(messages) == 1 and messages[0]["role"] == "user":
        return str(messages[0]["content"])
    return "\n\n".join(f"{ROLE_LABELS.get(m['role'], m['role'])}: {m['content']}" for m in messages)


def _legacy_pairs(row: DemonstrationRow) -> Iterator[tuple[str, str]]:
    """(prompt text, completion text) per written assistant turn, before markers are added."""
    for i in _written(row):
        yield render_legacy_prompt([*row.messages, *row.turns[:i]]), str(row.turns[i]["content"])


def legacy_texts(rows: Iterable[DemonstrationRow]) -> Iterator[str]:
    """Every prompt and completion text `openai-legacy` writes: feed a first pass to the chooser."""
    for row in rows:
        for prompt, completion in _legacy_pairs(row):
            yield prompt
            yield completion


def _clashes(text: str, marker: str) -> bool:
    """The marker occurs in the text, or text + marker shows it earlier than where it was put."""
    return (text + marker).find(marker) != len(text)


def choose_legacy_markers(texts: Iterable[str]) -> tuple[str, str]:
    """The first separator and stop sequence (from SEPARATORS, STOPS) that occur in no text."""
    seps, stops = list(SEPARATORS), list(STOPS)
    for text in texts:
        seps = [m for m in seps if not _clashes(text, m)]
        stops = [m for m in stops if not _clashes(text, m)]
    if not seps or not stops:
        what = "separator" if not seps else "stop sequence"
        tried = SEPARATORS if not seps else STOPS
        raise ExportError(f"every candidate {what} occurs in the data: tried {list(tried)!r}")
    return seps[0], stops[0]


def openai_legacy(
    row: DemonstrationRow, *, separator: str = SEPARATORS[0], stop: str = STOPS[0]
) -> Iterator[dict[str, str]]:
    """`{"prompt": text + separator, "completion": " " + text + stop}` per written assistant turn."""
    for prompt, completion in _legacy_pairs(row):
        for text, marker, what in ((prompt, separator, "separator"), (completion, stop, "stop sequence")):
            if _clashes(text, marker):
                raise ExportError(
                    f"demonstration `{row.demonstration_id}`: the {what} {marker!r} occurs in its text; "
                    "pick markers with `choose_legacy_markers` over the data first"
                )
        yield {"prompt": prompt + separator, "completion": " " + completion + stop}

