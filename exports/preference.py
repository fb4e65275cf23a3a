"""Preference formats from ranking rows: `pairs`, `rankings`, `kto`, `openai-preference`.

Each function turns one `RankingRow` into its output records (pure, no I/O); `exports.formats`
registers them. Pairs come from `exports.pairing`, so the three pair-based formats agree on which
candidate is chosen, which pairs exist and in which order (one ranking's records are contiguous).
"""

from __future__ import annotations

from collections.abc import Iterator, Set
from typing import Any

from exports.messages import assistant, clean_messages
from exports.pairing import NO_FLAGS, kto_labels, ranked_pairs
from exports.rows import SKIPPED_STATUSES, RankedItem, RankingRow


def pairs(row: RankingRow, *, exclude_flags: Set[str] = NO_FLAGS) -> Iterator[dict[str, Any]]:
    """TRL explicit-prompt preference rows: prompt, chosen, rejected, group_id, margin, split_key (+agreement).

    `margin` and `split_key` (what decided the prompt's split) are extra columns TRL ignores (or
    uses: RewardTrainer reads `margin`); the `trl-preference` import reads both back.
    """
    prompt = clean_messages(row.messages)
    group, key = row.group_id, row.split_key
    shares = row.pair_agreement if row.consensus_of else None
    for better, worse, margin in ranked_pairs(row, exclude_flags):
        rec = {  # assistant() inlined: this loop is the hot path of the biggest exports
            "prompt": prompt,
            "chosen": [{"role": "assistant", "content": better.text}],
            "rejected": [{"role": "assistant", "content": worse.text}],
            "group_id": group,
            "margin": margin,
            "split_key": key,
        }
        if shares is not None:
            rec["agreement"] = shares.get((better.candidate_id, worse.candidate_id))
        yield rec


def openai_preference(row: RankingRow, *, exclude_flags: Set[str] = NO_FLAGS) -> Iterator[dict[str, Any]]:
    """OpenAI preference (DPO) rows: input.messages, preferred_output, non_preferred_output."""
    messages = clean_messages(row.messages)
    for better, worse, _ in ranked_pairs(row, exclude_flags):
        yield {
            "input": {"messages": messages},
            "preferred_output": assistant(better.text),
            "non_preferred_output": assistant(worse.text),
        }


def kto(
    row: RankingRow, *, exclude_flags: Set[str] = NO_FLAGS, none_acceptable_undesirable: bool = False
) -> Iterator[dict[str, Any]]:
    """TRL unpaired preference rows: prompt, completion, label (see `pairing.kto_labels`)."""
    labels = kto_labels(row, exclude_flags, none_acceptable_undesirable=none_acceptable_undesirable)
    if labels:
        prompt = clean_messages(row.messages)
        for item, desirable in labels:
            yield {"prompt": prompt, "completion": assistant(item.text), "label": desirable}


def _rank_order(item: RankedItem) -> tuple[bool, Any, int]:
    return (item.rank is None, item.rank or 0, item.candidate_id)


def rankings(row: RankingRow, *, exclude_flags: Set[str] = NO_FLAGS) -> Iterator[dict[str, Any]]:
    """One whole ranking per line, candidates in rank order (unranked last) with their ratings."""
    if row.status in SKIPPED_STATUSES:
        return
    items = [it for it in row.items if not exclude_flags or exclude_flags.isdisjoint(it.flags)]
    items.sort(key=_rank_order)
    yield {
        "ranking_id": row.ranking_id,
        "group_id": row.group_id,
        "prompt_id": row.prompt_id,
        "external_id": row.external_id,
        "prompt": clean_messages(row.messages),
        "labeler": row.labeler,
        "origin": row.origin,
        "status": row.status,
        "none_acceptable": row.none_acceptable,
        "submitted_at": row.submitted_at,
        "time_source": row.time_source,
        "agreement": row.agreement,
        "consensus_of": list(row.consensus_of),
        "reference": row.reference,
        "candidates": [
            {
                "candidate_id": it.candidate_id,
                "completion": assistant(it.text),
                "model": it.model,
                "rank": it.rank,
                "likert": it.likert,
                "flags": list(it.flags),
                "position": it.position,
            }
            for it in items
        ],
    }
