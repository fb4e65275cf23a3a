"""Ranking -> pairs, the one rule every preference format shares (pairs, openai-preference, kto).

Rules (DESIGN.md "Ranking semantics", issue 4):
- a ranking over K candidates yields C(K,2) pairs minus tied pairs, best candidates first;
- "none acceptable" and skipped rankings yield nothing; unranked items (rank None) are left out;
- `exclude_flags` drops every candidate carrying one of those flags before pairing;
- margin: the margin a source gave the pair (a ranking imported from pairs), else the Likert gap
  (better minus worse, floored at 0, since the rank decides who is chosen) when every pairable
  item of the ranking has a Likert score, else the rank distance; always a float, so one column
  has one type, and one rule per ranking, so margins in a group compare;
- KTO labels: a candidate that wins every pair it is in is desirable (the top rank), one that
  loses every pair is undesirable (the bottom rank), the middle ones are ambiguous and left out.
"""

from __future__ import annotations

from collections.abc import Iterator, Set
from typing import Any

from exports.rows import SKIPPED_STATUSES, RankedItem, RankingRow

NO_FLAGS: frozenset[str] = frozenset()


def _order(item: RankedItem) -> tuple[Any, int]:
    return (item.rank, item.candidate_id)


def usable_items(row: RankingRow, exclude_flags: Set[str] = NO_FLAGS) -> list[RankedItem]:
    """The items that take part in pairs, best first (ties in candidate id order)."""
    if row.none_acceptable or row.status in SKIPPED_STATUSES:
        return []
    if exclude_flags:
        items = [it for it in row.items if it.rank is not None and exclude_flags.isdisjoint(it.flags)]
    else:
        items = [it for it in row.items if it.rank is not None]
    items.sort(key=_order)
    return items


def ranked_pairs(
    row: RankingRow, exclude_flags: Set[str] = NO_FLAGS
) -> Iterator[tuple[RankedItem, RankedItem, float]]:
    """Yield `(better, worse, margin)` for every untied pair of the ranking, best pairs first."""
    items = usable_items(row, exclude_flags)
    if len(items) < 2:
        return
    likert = all(it.likert is not None for it in items)
    given = row.margins
    for i, better in enumerate(items):
        for worse in items[i + 1 :]:
            if better.rank < worse.rank:
                if given and (better.candidate_id, worse.candidate_id) in given:
                    yield better, worse, given[(better.candidate_id, worse.candidate_id)]
                elif likert:
                    yield better, worse, float(max(0, better.likert - worse.likert))
                else:
                    yield better, worse, float(worse.rank - better.rank)


def pair_count(row: RankingRow, exclude_flags: Set[str] = NO_FLAGS) -> int:
    """How many pairs `ranked_pairs` yields: C(K,2) minus tied pairs, K after exclusions."""
    items = usable_items(row, exclude_flags)
    ties: dict[Any, int] = {}
    for it in items:
        ties[it.rank] = ties.get(it.rank, 0) + 1
    k = len(items)
    return k * (k - 1) // 2 - sum(n * (n - 1) // 2 for n in ties.values())


def kto_labels(
    row: RankingRow, exclude_flags: Set[str] = NO_FLAGS, *, none_acceptable_undesirable: bool = False
) -> list[tuple[RankedItem, bool]]:
    """`(item, desirable)` for the top- and bottom-ranked items; see the module rule.

    With `none_acceptable_undesirable`, a "none acceptable" ranking labels every candidate
    (ranked or not, flags excluded) undesirable instead of yielding nothing.
    """
    if row.none_acceptable and none_acceptable_undesirable and row.status not in SKIPPED_STATUSES:
        kept = [it for it in row.items if exclude_flags.isdisjoint(it.flags)]
        return [(it, False) for it in sorted(kept, key=lambda it: it.candidate_id)]
    items = usable_items(row, exclude_flags)
    if len(items) < 2 or items[0].rank == items[-1].rank:
        return []
    best, worst = items[0].rank, items[-1].rank
    return [(it, True) for it in items if it.rank == best] + [
        (it, False) for it in items if it.rank == worst
    ]
