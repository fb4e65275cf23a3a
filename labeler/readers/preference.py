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
    describe_value,
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
from labeler.readers.records import CandidateIn, ImportRecord, Message, Notice, Reject

# `group_id`, `margin` and `split_key` are what labeler's own `pairs` export adds: read back, not meta.
_PAIR_COLUMNS = ("group_id", "margin", "split_key")
_TRL_SKIP = frozenset(
    ("prompt", "chosen", "rejected", "score_chosen", "score_rejected", *_PAIR_COLUMNS, *ID_FIELDS, *USER_FIELDS)
)
_OPENAI_SKIP = frozenset(("input", "preferred_output", "non_preferred_output", *ID_FIELDS, *USER_FIELDS))


def read_trl(path: str | Path, max_record_bytes: int) -> Iterator[ImportRecord | Reject | Notice]:
    """Yield one record per TRL preference row; consecutive rows of one `group_id` make one ranking."""
    return regroup(object_records(path, max_record_bytes, _trl_fields, ("chosen", "rejected")))


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
    candidates = pair_candidates(
        chosen, rejected, chosen_meta=_score(row, "score_chosen"), rejected_meta=_score(row, "score_rejected")
    )
    return {
        "messages": prompt,
        "candidates": candidates,
        "external_id": first_str(row, ID_FIELDS),
        "origin_user": first_str(row, USER_FIELDS),
        **_pair_columns(row, len(candidates) == 2),
    }


def _pair_columns(row: dict[str, Any], ranked: bool) -> dict[str, Any]:
    """Meta, and the fields from a `pairs` export's own columns: margin, split key, group."""
    out: dict[str, Any] = {"meta": small_meta(row, _TRL_SKIP)}
    margin = row.get("margin")
    if margin is not None and ranked:
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or margin != margin:
            raise RecordError("margin", f"expected a number, got {describe_value(margin)}")
        out["margins"] = [(0, 1, float(margin))]
    key = row.get("split_key")
    if key is not None:
        if not isinstance(key, str) or not key:
            raise RecordError("split_key", f"expected a non-empty string, got {describe_value(key)}")
        out["split_key"] = key
    group = row.get("group_id")
    if group is not None and ranked:
        out["meta"][_GROUP] = str(group)
    return out


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


# --- `pairs` exports read back: one ranking's pairs become that ranking again ---------------------

_GROUP = "\x00group"  # a transient meta key: which group a row belongs to, removed by `regroup`
MAX_K = 9  # the store's rank range


def regroup(items: Iterator[ImportRecord | Reject | Notice]) -> Iterator[ImportRecord | Reject | Notice]:
    """Merge consecutive pair records of one `group_id` and one prompt into one K-way record.

    labeler's `pairs` export writes a ranking's C(K,2) pairs next to each other under one group
    id; reading them back as one ranking keeps the group (and so the export's `group_id`s) as it
    was. A group is merged only when ranks can say exactly its pairs (see `_ranks`); otherwise,
    and for rows without a group, every pair stays a ranking of its own.
    """
    group: list[ImportRecord] = []
    for item in items:
        key = _group_of(item)
        if group and (key is None or key != _group_of(group[0]) or item.messages != group[0].messages):  # type: ignore[union-attr]
            yield from _merged(group)
            group = []
        if key is None:
            yield item
        else:
            group.append(item)  # type: ignore[arg-type]
    yield from _merged(group)


def _group_of(item: ImportRecord | Reject | Notice) -> str | None:
    return item.meta.get(_GROUP) if isinstance(item, ImportRecord) else None


def _merged(group: list[ImportRecord]) -> Iterator[ImportRecord]:
    """One record for the group's pairs when ranks reproduce them, else each pair alone."""
    for rec in group:
        rec.meta.pop(_GROUP, None)
    if len(group) < 2:
        yield from group
        return
    texts: dict[str, int] = {}  # candidate text -> index, in order of first appearance
    pairs: list[tuple[int, int, float | None]] = []
    for rec in group:
        better, worse = (texts.setdefault(c.text, len(texts)) for c in rec.candidates)
        pairs.append((better, worse, rec.margins[0][2] if rec.margins else None))
    ranks = _ranks(len(texts), [(b, w) for b, w, _ in pairs])
    if ranks is None:
        yield from group
        return
    first = group[0]
    meta_of = {c.text: c.meta for rec in group for c in rec.candidates}
    yield first.model_copy(update={
        "candidates": [CandidateIn(text=t, rank=ranks[i], meta=meta_of[t]) for t, i in texts.items()],
        "margins": [(b, w, m) for b, w, m in pairs if m is not None] or None,
    })


def _ranks(k: int, pairs: list[tuple[int, int]]) -> list[int] | None:
    """Ranks (1 + how many candidates beat each) whose strict pairs are exactly `pairs`, else None."""
    if k > MAX_K or len(set(pairs)) != len(pairs):
        return None
    beaten = [0] * k
    for _, worse in pairs:
        beaten[worse] += 1
    ranks = [1 + n for n in beaten]
    implied = {(i, j) for i in range(k) for j in range(k) if ranks[i] < ranks[j]}
    return ranks if implied == set(pairs) else None
