"""Agreement metrics (analytics/): hand-computed examples, and the reference implementations.

`scipy.stats.kendalltau` and `krippendorff.alpha` are the references (dev dependencies only: the
product never imports them); hypothesis draws rankings with ties and missing values.
"""

from __future__ import annotations

import math
import warnings
from itertools import combinations

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import kendalltau

from analytics.agreement import (
    AlphaAccumulator,
    PairCounts,
    PositionBias,
    Rate,
    kendall_tau_b,
    pair_units,
    pairwise_agreement,
    ranking_tau,
    wilson_interval,
)
from analytics.tally import AgreementTally, consensus_agreement, consensus_ranks, ranks_of, week_of
from exports.aggregate import consensus
from exports.rows import RankedItem, RankingRow


def row(ranking_id, labeler, ranks, *, prompt_id=1, positions=None, at="2026-03-04T10:00:00+00:00", **kw):
    """A ranking of candidates 1..K (ranks in candidate order, None = unranked), shown in `positions`."""
    positions = positions or list(range(len(ranks)))
    items = [RankedItem(candidate_id=i + 1, text=f"c{i + 1}", rank=r, position=p)
             for i, (r, p) in enumerate(zip(ranks, positions, strict=True))]
    return RankingRow(ranking_id=ranking_id, prompt_id=prompt_id, split="train", messages=(), items=items,
                      labeler=labeler, submitted_at=at, **kw)


def krippendorff_alpha(reliability_data, level="ordinal"):
    """Alpha of a coders × units matrix (None or NaN = missing) through the unit-by-unit accumulator."""
    acc = AlphaAccumulator()
    if reliability_data:
        widths = {len(row) for row in reliability_data}
        if len(widths) != 1:
            raise ValueError(f"krippendorff_alpha: coders' rows have different lengths {sorted(widths)}")
        for unit in zip(*reliability_data, strict=True):
            acc.add_unit(unit)
    return acc.alpha(level)


def reference_tau(x, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns on constant input and returns nan
        value = kendalltau(x, y).statistic
    return None if math.isnan(value) else value


def reference_alpha(data, level="ordinal"):
    matrix = np.array([[np.nan if v is None else v for v in coder] for coder in data], dtype=float)
    try:
        with np.errstate(all="ignore"):
            value = krippendorff.alpha(reliability_data=matrix, level_of_measurement=level)
    except ValueError:  # "no unit with two values" or "one value in the domain": undefined
        return None
    return None if math.isnan(value) else float(value)


# ---------------------------------------------------------------------------------------------
# Rates and intervals


def test_wilson_interval_on_known_values():
    assert wilson_interval(0, 0) is None
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    # 73/100: centre (0.73 + z²/200) / (1 + z²/100) = 0.7215, half-width 0.0858
    assert wilson_interval(73, 100) == pytest.approx((0.6357, 0.8073), abs=1e-4)
    with pytest.raises(ValueError, match="impossible"):
        wilson_interval(3, 2)


def test_a_rate_always_carries_its_counts():
    assert Rate(3, 4).to_dict() == {"hits": 3, "total": 4, "rate": 0.75, "low": 0.3006, "high": 0.9544}
    assert Rate(3, 4).text() == "75.0% (3/4, 95% CI 30.1-95.4%)"
    assert Rate(0, 0).to_dict() == {"hits": 0, "total": 0, "rate": None, "low": None, "high": None}
    assert Rate(0, 0).text() == "n/a (0/0)"


# ---------------------------------------------------------------------------------------------
# Pairwise agreement and Kendall's tau


def test_pairwise_agreement_counts_strict_pairs_and_sets_ties_apart():
    assert pairwise_agreement({1: 1, 2: 2, 3: 3}, {1: 2, 2: 1, 3: 3}) == PairCounts(agree=2, disagree=1, tied=0)
    # a tie by either side is neither agreement nor disagreement
    tied = pairwise_agreement({1: 1, 2: 1, 3: 3}, {1: 1, 2: 2, 3: 3})
    assert tied == PairCounts(agree=2, disagree=0, tied=1) and tied.total == 2
    assert tied.rate() == Rate(2, 2)
    # only candidates both ranked: {1, 2} here
    assert pairwise_agreement({1: 1, 2: 2, 3: 3}, {1: 2, 2: 1, 4: 3}) == PairCounts(0, 1, 0)
    assert pairwise_agreement({1: 1}, {1: 1}) == PairCounts()


def test_kendall_tau_b_by_hand():
    assert kendall_tau_b([1, 2, 3], [2, 1, 3]) == pytest.approx(1 / 3)  # C=2, D=1
    assert kendall_tau_b([1, 2, 3], [3, 2, 1]) == -1.0
    # one tie in x: C=2, D=0, untied in x 2 of 3, in y 3 of 3 -> 2 / sqrt(2 * 3)
    assert kendall_tau_b([1, 1, 3], [1, 2, 3]) == pytest.approx(2 / math.sqrt(6))
    assert kendall_tau_b([1, 1], [1, 2]) is None  # x all tied: undefined, like scipy's nan
    assert kendall_tau_b([1], [1]) is None and kendall_tau_b([], []) is None
    assert ranking_tau({1: 1, 2: 2, 3: 3, 9: 1}, {1: 2, 2: 1, 3: 3}) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="different lengths"):
        kendall_tau_b([1, 2], [1])


ranks_list = st.lists(st.integers(1, 5), min_size=0, max_size=9)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_kendall_tau_b_equals_scipy(data):
    x = data.draw(ranks_list)
    y = data.draw(st.lists(st.integers(1, 5), min_size=len(x), max_size=len(x)))
    mine = kendall_tau_b(x, y)
    reference = reference_tau(x, y) if len(x) >= 2 else None
    assert (mine is None) == (reference is None), (x, y, mine, reference)
    if mine is not None:
        assert mine == pytest.approx(reference, abs=1e-12)


def competition(scores):
    """Standard competition ranks (1224) of scores, higher score better."""
    return [1 + sum(other > s for other in scores) for s in scores]


rankings = st.lists(st.integers(0, 3), min_size=2, max_size=7).map(competition)


@settings(max_examples=200, deadline=None)
@given(rankings, st.data())
def test_pairwise_agreement_properties(a_ranks, data):
    b_ranks = data.draw(st.lists(st.integers(0, 3), min_size=len(a_ranks), max_size=len(a_ranks)).map(competition))
    a, b = dict(enumerate(a_ranks)), dict(enumerate(b_ranks))
    counts = pairwise_agreement(a, b)
    assert counts.agree + counts.disagree + counts.tied == math.comb(len(a), 2)
    assert pairwise_agreement(b, a) == counts  # symmetric
    assert pairwise_agreement(a, a) == PairCounts(agree=math.comb(len(a), 2) - counts_tied(a), tied=counts_tied(a))
    tau = ranking_tau(a, b)
    if counts.tied == 0 and counts.total:
        assert tau == pytest.approx((counts.agree - counts.disagree) / counts.total)  # no ties: tau-a = tau-b


def counts_tied(r):
    return sum(r[x] == r[y] for x, y in combinations(r, 2))


# ---------------------------------------------------------------------------------------------
# Krippendorff's alpha


def test_alpha_by_hand():
    # two coders, units (1,1), (2,2), (1,2): o11 = o22 = 2, o12 = o21 = 1, n1 = n2 = 3, n = 6
    # nominal: 1 - (n - 1) * D_o / sum(n_c n_k) = 1 - 5 * 2 / 18 = 4/9
    data = [[1, 2, 1], [1, 2, 2]]
    assert krippendorff_alpha(data, "nominal") == pytest.approx(4 / 9)
    # with only two values every level gives the same figure
    assert krippendorff_alpha(data, "ordinal") == pytest.approx(4 / 9)
    assert krippendorff_alpha(data, "interval") == pytest.approx(4 / 9)
    assert krippendorff_alpha([[1, 1], [1, 1]]) is None  # one value: no variation, undefined
    assert krippendorff_alpha([[1, None], [None, 2]]) is None  # no unit coded twice
    assert krippendorff_alpha([]) is None


def test_alpha_on_krippendorffs_own_examples():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the 4 coders x 12 units example
    n = None
    data = [[1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3],
            [n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n]]
    assert krippendorff_alpha(data, "nominal") == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(data, "ordinal") == pytest.approx(0.815, abs=5e-4)
    assert krippendorff_alpha(data, "interval") == pytest.approx(0.849, abs=5e-4)


def test_alpha_refuses_ragged_data_and_unknown_levels():
    with pytest.raises(ValueError, match="different lengths"):
        krippendorff_alpha([[1, 2], [1]])
    with pytest.raises(ValueError, match="unknown level"):
        krippendorff_alpha([[1, 2], [1, 2]], "ratio")  # type: ignore[arg-type]


matrices = st.integers(1, 5).flatmap(lambda coders: st.integers(1, 10).flatmap(
    lambda units: st.lists(st.lists(st.one_of(st.none(), st.integers(1, 6)), min_size=units, max_size=units),
                           min_size=coders, max_size=coders)))


@settings(max_examples=300, deadline=None)
@given(matrices, st.sampled_from(["nominal", "ordinal", "interval"]))
def test_alpha_equals_the_krippendorff_package(data, level):
    mine, reference = krippendorff_alpha(data, level), reference_alpha(data, level)
    assert (mine is None) == (reference is None), (data, mine, reference)
    if mine is not None:
        assert mine == pytest.approx(reference, abs=1e-9)


def test_the_accumulator_does_not_care_how_units_arrive():
    whole, parts = AlphaAccumulator(), AlphaAccumulator()
    units = [[1, 2, 2], [3, 3], [1, None, 1], [2], [4, 3, 4, 4]]
    for u in units:
        whole.add_unit(u)
    for u in reversed(units):
        parts.add_unit(u)
    assert whole.units == parts.units == 4 and whole.values == 11
    assert whole.alpha() == pytest.approx(parts.alpha())


def test_pair_units_give_each_pair_in_both_orientations():
    a, b, c = {1: 1, 2: 2}, {1: 2, 2: 1}, {1: 1, 2: 1}
    assert pair_units([a, b, c]) == [[1, -1, 0], [-1, 1, 0]]
    assert pair_units([a, {1: 1, 3: 2}]) == []  # no pair is coded by both
    assert pair_units([{1: 1, 2: 2, 3: 3}, {1: 1, 3: 2}]) == [[1, 1], [-1, -1]]  # only (1,3) is coded twice
    # full disagreement on one pair: o(+1,-1) = o(-1,+1) = 2, n = 4 -> 1 - 3 * 4 / (2 * 2 * 2) = -0.5
    acc = AlphaAccumulator()
    for unit in pair_units([a, b]):
        acc.add_unit(unit)
    assert acc.alpha() == pytest.approx(-0.5)


# ---------------------------------------------------------------------------------------------
# Position bias


def test_position_bias_by_hand():
    bias = PositionBias()
    bias.add([(0, 1), (1, 2), (2, 2)])  # first beats both; the other two tie
    bias.add([(0, 2), (1, 1)])  # the second wins
    assert bias.first == Rate(2, 3)
    assert bias.by_position() == {0: Rate(2, 3), 1: Rate(1, 2), 2: Rate(0, 1)}
    assert bias.ties == {1: 1, 2: 1}


# ---------------------------------------------------------------------------------------------
# Whole prompts


def three_labelers(prompt_id=1, at="2026-03-04T10:00:00+00:00"):
    """ann and bob: 1 > 2 > 3; cat: 2 > 1 > 3 (shown 3, 1, 2)."""
    return [row(10 * prompt_id + 1, "ann", [1, 2, 3], prompt_id=prompt_id, at=at),
            row(10 * prompt_id + 2, "bob", [1, 2, 3], prompt_id=prompt_id, at=at),
            row(10 * prompt_id + 3, "cat", [2, 1, 3], prompt_id=prompt_id, positions=[1, 2, 0], at=at)]


def test_one_prompt_by_three_labelers_by_hand():
    tally = AgreementTally()
    merged = tally.add_prompt(three_labelers())
    assert merged == {1: 1, 2: 2, 3: 3}
    # ann-bob 3/3, ann-cat 2/3, bob-cat 2/3
    assert tally.pairwise == PairCounts(agree=7, disagree=2)
    assert tally.between == {("ann", "bob"): PairCounts(3, 0), ("ann", "cat"): PairCounts(2, 1),
                             ("bob", "cat"): PairCounts(2, 1)}
    assert tally.mean_tau == pytest.approx((1 + 1 / 3 + 1 / 3) / 3)
    assert (tally.tau_pairs, tally.tau_prompts, tally.prompts, tally.shared_prompts) == (3, 1, 1, 1)
    # leave one out: bob + cat tie 1 and 2 (one win each), so ann's 1 > 2 is left out: 2/2;
    # ann + bob say 1 > 2 > 3, cat says 2 > 1: 2/3
    assert tally.labelers["ann"].consensus == PairCounts(2, 0, 1)
    assert tally.labelers["bob"].consensus == PairCounts(2, 0, 1)
    assert tally.labelers["cat"].consensus == PairCounts(2, 1, 0)
    assert tally.labelers["cat"].pairwise == PairCounts(4, 2)
    assert tally.labelers["ann"].mean_tau == pytest.approx((1 + 1 / 3) / 2)
    # support of the consensus 1 > 2 > 3: (1,2) 2 of 3 labelers, (1,3) and (2,3) 3 of 3
    assert (tally.consensus.agree, tally.consensus.total) == (8, 9)
    assert tally.consensus.mean_agreement == consensus(three_labelers()).agreement == pytest.approx(0.8889)
    # alpha over pairs (+1/-1): o(+,+) = o(-,-) = 7, o(+,-) = o(-,+) = 2, n = 18 -> 1 - 17 * 4 / (2 * 81)
    assert tally.alpha.alpha() == pytest.approx(1 - 17 * 4 / 162)
    assert tally.alpha.units == 6
    # cat showed candidate 3 first, and it lost both its comparisons
    assert tally.position.first == Rate(4, 6)
    assert tally.by_week == {"2026-03-02": PairCounts(7, 2)}


def test_alpha_of_a_tally_equals_the_package_on_the_pair_matrix():
    groups = [three_labelers(1), [row(21, "ann", [1, 2, 3], prompt_id=2), row(22, "bob", [3, 2, 1], prompt_id=2),
                                  row(23, "cat", [1, 1, 3], prompt_id=2)]]
    tally = AgreementTally()
    for g in groups:
        tally.add_prompt(g)
    coders = ["ann", "bob", "cat"]
    columns = []  # one column per (prompt, ordered pair of candidates), built independently here
    for g in groups:
        by = {r.labeler: ranks_of(r) for r in g}
        for x in (1, 2, 3):
            for y in (1, 2, 3):
                if x != y:
                    columns.append([None if x not in by[c] or y not in by[c] else
                                    (by[c][x] < by[c][y]) - (by[c][x] > by[c][y]) for c in coders])
    matrix = [list(coder) for coder in zip(*columns, strict=True)]
    assert tally.alpha.alpha() == pytest.approx(reference_alpha(matrix))


def test_who_votes_and_what_a_single_labeler_gives():
    none_ok = row(1, "ann", [1, 2, 3], none_acceptable=True)
    skipped = row(2, "bob", [None, None, None], status="skipped")
    one_ranked = row(3, "cat", [1, None, None])
    alone = row(4, "dan", [2, 1, 3])
    tally = AgreementTally()
    assert tally.add_prompt([none_ok, skipped, one_ranked, alone]) is None  # one voter: no consensus fit
    assert (tally.rankings, tally.prompts, tally.shared_prompts) == (1, 1, 0)
    assert tally.pairwise == PairCounts() and tally.alpha.alpha() is None and tally.mean_tau is None
    assert tally.position.first == Rate(1, 2)  # dan's first-shown candidate (rank 2) beat one of two
    assert set(tally.labelers) == {"dan"}


def test_references_are_compared_with_the_labelers_never_mixed_in():
    tally = AgreementTally()
    imported = row(9, None, [3, 2, 1], origin="imported")
    tally.add_prompt(three_labelers(), [("oasst.jsonl", imported)])
    assert tally.references == {"oasst.jsonl": PairCounts(0, 3)}  # the reverse of the consensus 1 > 2 > 3
    assert tally.pairwise == PairCounts(7, 2) and set(tally.labelers) == {"ann", "bob", "cat"}
    alone = AgreementTally()
    alone.add_prompt([row(1, "ann", [1, 2, 3])], [("oasst.jsonl", imported)])  # one labeler is the consensus
    assert alone.references == {"oasst.jsonl": PairCounts(0, 3)} and alone.reference_rankings["oasst.jsonl"] == 1
    none = AgreementTally()
    none.add_prompt([], [("oasst.jsonl", imported)])
    assert none.references == {} and none.reference_rankings["oasst.jsonl"] == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 3), min_size=4, max_size=4).map(competition), min_size=2, max_size=4))
def test_leave_one_out_is_pairwise_agreement_with_the_export_consensus_of_the_others(orders):
    rows = [row(i + 1, f"l{i}", ranks) for i, ranks in enumerate(orders)]
    tally = AgreementTally()
    tally.add_prompt(rows)
    for i, r in enumerate(rows):
        others = rows[:i] + rows[i + 1:]
        expected = pairwise_agreement(ranks_of(r), ranks_of(consensus(others)))
        assert tally.labelers[r.labeler].consensus == expected


def test_week_of_is_the_monday():
    assert week_of("2026-03-08T23:59:00+00:00") == "2026-03-02"  # a Sunday
    assert week_of("2026-03-09T00:00:00Z") == "2026-03-09"
    assert week_of(None) is None


# rankings of candidates 1..4: each a competition ranking of some of them (None = not ranked)
partial = st.lists(st.one_of(st.none(), st.integers(0, 3)), min_size=4, max_size=4).map(
    lambda scores: [None if v is None else 1 + sum(o is not None and o > v for o in scores) for v in scores]
).filter(lambda r: sum(v is not None for v in r) >= 2)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(partial, st.lists(st.integers(0, 3), min_size=4, max_size=4).map(competition)),
                min_size=1, max_size=5))
def test_the_consensus_shortcut_equals_the_export_consensus(orders):
    rows = [row(i + 1, f"l{i}", ranks) for i, ranks in enumerate(orders)]
    reference = consensus(rows)
    assert consensus_ranks(rows) == ranks_of(reference)
    agree, total, agreement = consensus_agreement(ranks_of(reference), [ranks_of(r) for r in rows])
    assert agreement == reference.agreement
    assert agree <= total


def test_the_consensus_shortcut_on_a_balanced_case_by_hand():
    # total wins, a tie counting half: c1 2 + 1.5 + 1 = 4.5, c2 1 + 1.5 + 2 = 4.5, c3 0: c1 = c2 > c3
    rows = [row(1, "a", [1, 2, 3]), row(2, "b", [1, 1, 3]), row(3, "c", [2, 1, 3])]
    assert consensus_ranks(rows) == ranks_of(consensus(rows)) == {1: 1, 2: 1, 3: 3}
