"""Consensus of several labelers' rankings (Bradley-Terry with a prior), on hand-computed cases."""

from __future__ import annotations

import pytest

from exports import FORMATS, ExportError, RankedItem, RankingRow, consensus, consensus_stream
from exports.aggregate import bradley_terry, competition_ranks


def _r(ranking_id, ranks, *, prompt_id=1, likerts=None, flags=None, **kw):
    """A ranking of candidates 1..K with the given ranks (None = unranked)."""
    likerts = likerts or [None] * len(ranks)
    flags = flags or [()] * len(ranks)
    items = [RankedItem(candidate_id=i + 1, text=f"c{i + 1}", rank=r, likert=lk, flags=fl)
             for i, (r, lk, fl) in enumerate(zip(ranks, likerts, flags, strict=True))]
    return RankingRow(ranking_id=ranking_id, prompt_id=prompt_id, split="train",
                      messages=[{"role": "user", "content": "q"}], items=items, **kw)


def _ranks(row):
    return {it.candidate_id: it.rank for it in row.items}


def test_unanimous_labelers_give_their_order_with_full_agreement():
    row = consensus([_r(1, [1, 2, 3]), _r(2, [1, 2, 3]), _r(3, [1, 2, 3])])
    assert _ranks(row) == {1: 1, 2: 2, 3: 3}
    assert row.pair_agreement == {(1, 2): 1.0, (1, 3): 1.0, (2, 3): 1.0}
    assert row.agreement == 1.0
    assert row.consensus_of == (1, 2, 3) and row.group_id == "p1" and row.labeler is None


def test_two_against_one_follows_the_majority_and_reports_two_thirds(panel_rows):
    row = consensus(panel_rows)  # A > B > C twice, B > A > C once
    assert _ranks(row) == {61: 1, 62: 2, 63: 3}
    assert row.pair_agreement == {(61, 62): 0.6667, (61, 63): 1.0, (62, 63): 1.0}
    assert row.agreement == round((2 / 3 + 1 + 1) / 3, 4) == 0.8889
    likert = {it.candidate_id: it.likert for it in row.items}
    assert likert == {61: 6.0, 62: 5.0, 63: 2.0}  # means of (6, 7, 5), (5, 4, 6), (1, 2, 3)
    assert [list(it.flags) for it in row.items] == [[], [], ["rude"]]  # union over labelers


def test_opposite_rankings_tie_and_yield_no_pairs():
    row = consensus([_r(1, [1, 2]), _r(2, [2, 1])])
    assert _ranks(row) == {1: 1, 2: 1}
    assert row.pair_agreement == {} and row.agreement is None
    assert list(FORMATS["pairs"].fn([row])) == []


def test_a_condorcet_cycle_is_a_three_way_tie():
    row = consensus([_r(1, [1, 2, 3]), _r(2, [3, 1, 2]), _r(3, [2, 3, 1])])
    assert _ranks(row) == {1: 1, 2: 1, 3: 1}


def test_a_labelers_tie_counts_half_a_win_each_way():
    # labeler 1: c1 = c2 > c3; labeler 2: c1 > c2 > c3 -> c1 wins 1.5 to 0.5 against c2
    row = consensus([_r(1, [1, 1, 3]), _r(2, [1, 2, 3])])
    assert _ranks(row) == {1: 1, 2: 2, 3: 3}
    assert row.pair_agreement[(1, 2)] == 0.5  # the tie does not agree with c1 > c2


def test_one_ranking_is_its_own_consensus():
    row = consensus([_r(9, [2, 1, 3], likerts=[4, 6, 1])])
    assert _ranks(row) == {1: 2, 2: 1, 3: 3}
    assert row.agreement == 1.0 and row.ranking_id == 9


def test_none_acceptable_by_a_majority_makes_the_consensus_none_acceptable():
    rows = [_r(1, [1, 2], none_acceptable=True), _r(2, [1, 2], none_acceptable=True), _r(3, [2, 1])]
    assert consensus(rows).none_acceptable
    assert list(FORMATS["pairs"].fn([consensus(rows)])) == []
    minority = consensus([_r(1, [1, 2], none_acceptable=True), _r(2, [2, 1]), _r(3, [2, 1])])
    assert not minority.none_acceptable
    assert _ranks(minority) == {1: 2, 2: 1}
    assert minority.pair_agreement == {(2, 1): 1.0}  # the none-acceptable ranking does not vote


def test_skipped_rankings_neither_vote_nor_count():
    skipped = [_r(i, [None, None], status="skipped") for i in (1, 2)]
    row = consensus([*skipped, _r(3, [1, 2])])
    assert not row.none_acceptable
    assert _ranks(row) == {1: 1, 2: 2}


def test_candidates_nobody_ranked_stay_unranked_and_do_not_shift_ranks():
    row = consensus([_r(1, [1, 2, None]), _r(2, [1, 2, None])])
    assert _ranks(row) == {1: 1, 2: 2, 3: None}


def test_bradley_terry_is_symmetric_and_finite_with_a_perfect_record():
    p = bradley_terry(2, [[0.0, 3.0], [0.0, 0.0]])
    q = bradley_terry(2, [[0.0, 0.0], [3.0, 0.0]])
    assert p[0] > 1 > p[1] > 0
    assert p == pytest.approx(q[::-1])
    assert competition_ranks([3.0, 3.0, 1.0, 0.5], [1, 2, 3, 4]) == [1, 1, 3, 4]


def test_consensus_stream_merges_each_prompt_in_order(panel_rows):
    rows = [_r(1, [1, 2], prompt_id=1), _r(2, [2, 1], prompt_id=1), *panel_rows]
    merged = list(consensus_stream(rows))
    assert [(r.prompt_id, r.consensus_of) for r in merged] == [(1, (1, 2)), (6, (6, 7, 8))]
    with pytest.raises(ExportError, match="ordered by prompt: prompt `1` came after prompt `6`"):
        list(consensus_stream([*panel_rows, _r(1, [1, 2], prompt_id=1)]))


def test_consensus_refuses_several_prompts_or_none():
    with pytest.raises(ExportError, match="several prompts"):
        consensus([_r(1, [1, 2], prompt_id=1), _r(2, [1, 2], prompt_id=2)])
    with pytest.raises(ExportError, match="no rankings"):
        consensus([])


def test_consensus_pairs_carry_agreement_and_a_prompt_group(panel_rows):
    records = list(FORMATS["pairs"].fn(panel_rows, aggregate="consensus"))
    assert [(r["group_id"], r["agreement"]) for r in records] == [("p6", 0.6667), ("p6", 1.0), ("p6", 1.0)]
    per_labeler = list(FORMATS["pairs"].fn(panel_rows))
    assert len(per_labeler) == 9 and "agreement" not in per_labeler[0]
    assert [r["group_id"] for r in per_labeler] == ["r6"] * 3 + ["r7"] * 3 + ["r8"] * 3
