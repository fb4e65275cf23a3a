"""Property tests for ranking -> pairs: count, no ties, order, contiguous groups, flag exclusion."""

from __future__ import annotations

from math import comb

from hypothesis import given, settings
from hypothesis import strategies as st

from exports import FORMATS, RankedItem, RankingRow, pair_count, ranked_pairs

FLAGS = ["hallucination", "rude", "off-topic"]


@st.composite
def rankings(draw, ranking_id=1, prompt_id=1):
    """A ranking of K = 2..9 candidates with ties, unranked items, Likert scores and flags."""
    k = draw(st.integers(2, 9))
    ranks = draw(st.lists(st.one_of(st.integers(1, k), st.none()), min_size=k, max_size=k))
    with_likert = draw(st.booleans())
    items = [
        RankedItem(candidate_id=100 * ranking_id + i, text=f"answer {ranking_id}.{i}", rank=r,
                   likert=draw(st.integers(1, 7)) if with_likert else None,
                   flags=draw(st.lists(st.sampled_from(FLAGS), unique=True, max_size=2)), position=i)
        for i, r in enumerate(ranks)
    ]
    return RankingRow(ranking_id=ranking_id, prompt_id=prompt_id, split="train",
                      messages=[{"role": "user", "content": f"prompt {prompt_id}"}], items=items,
                      none_acceptable=draw(st.booleans()) and draw(st.booleans()))


@st.composite
def many_rankings(draw):
    n = draw(st.integers(1, 6))
    return [draw(rankings(ranking_id=i + 1, prompt_id=i + 1)) for i in range(n)]


@settings(max_examples=300)
@given(rankings(), st.sets(st.sampled_from(FLAGS)))
def test_pairs_are_all_untied_pairs_chosen_ranked_above_rejected(row, exclude):
    pairs = list(ranked_pairs(row, exclude))
    kept = [it for it in row.items if it.rank is not None and not exclude & set(it.flags)]
    if row.none_acceptable:
        assert pairs == []
        return
    ties = sum(comb(sum(1 for it in kept if it.rank == r), 2) for r in {it.rank for it in kept})
    assert len(pairs) == comb(len(kept), 2) - ties == pair_count(row, exclude)
    assert all(better.rank < worse.rank for better, worse, _ in pairs)
    assert all(margin >= 0 and isinstance(margin, float) for _, _, margin in pairs)
    ids = {(b.candidate_id, w.candidate_id) for b, w, _ in pairs}
    assert len(ids) == len(pairs)  # no pair twice
    assert not any(exclude & set(it.flags) for b, w, _ in pairs for it in (b, w))
    assert all(it.rank is not None for b, w, _ in pairs for it in (b, w))


@settings(max_examples=200)
@given(many_rankings(), st.sets(st.sampled_from(FLAGS)))
def test_pairs_format_writes_each_group_contiguously(rows, exclude):
    records = list(FORMATS["pairs"].fn(rows, exclude_flags=exclude))
    groups = [r["group_id"] for r in records]
    runs = [g for i, g in enumerate(groups) if i == 0 or groups[i - 1] != g]
    assert len(runs) == len(set(runs))  # each group one contiguous run
    assert len(records) == sum(pair_count(r, exclude) for r in rows)
    for rec in records:
        assert rec["chosen"] != rec["rejected"]
        assert rec["prompt"][-1]["role"] == "user"


@settings(max_examples=200)
@given(rankings(), st.sets(st.sampled_from(FLAGS)))
def test_preference_formats_share_the_pairs(row, exclude):
    pairs = [(r["chosen"], r["rejected"]) for r in FORMATS["pairs"].fn([row], exclude_flags=exclude)]
    openai = [(r["preferred_output"], r["non_preferred_output"])
              for r in FORMATS["openai-preference"].fn([row], exclude_flags=exclude)]
    assert pairs == openai
    kto = list(FORMATS["kto"].fn([row], exclude_flags=exclude))
    winners = {c[0]["content"] for c, _ in pairs}
    losers = {r[0]["content"] for _, r in pairs}
    for rec in kto:
        text = rec["completion"][0]["content"]
        if rec["label"]:
            assert text in winners and text not in losers
        else:
            assert text in losers and text not in winners
