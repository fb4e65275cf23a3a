"""Win rates and Bradley–Terry ratings against known answers: a hand-made set with ties, a direct
maximum-likelihood fit with scipy (test only), and bootstrap intervals that cover the truth at about
their nominal rate."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize

from analytics.comparison import (
    CENTER,
    SCALE,
    ComparisonTally,
    fit_bradley_terry,
    poisson_weights,
    ranking_comparisons,
)


def test_ranking_comparisons_pair_models_and_count_ties():
    ranks = {1: 1, 2: 2, 3: 2, 4: 4, 5: 1}
    models = {1: "b", 2: "a", 3: "c", 4: "a", 5: None}
    # b(1) > a(2), b > c(2), b > a(4); a(2) = c(2); c(2) > a(4); a-a and the model-less one compare nothing
    assert ranking_comparisons(ranks, models) == [("a", "b", 0, 0, 2), ("a", "c", 0, 1, 2), ("b", "c", 1, 0, 1)]


def test_win_rates_with_ties_counted_half_on_a_hand_made_set():
    tally = ComparisonTally(rounds=0)
    tally.add_prompt(10, [({1: 1, 2: 1}, {1: "x", 2: "y"}), ({1: 1, 2: 2}, {1: "x", 2: "y"})])  # tie, x wins
    tally.add_prompt(11, [({1: 2, 2: 1}, {1: "x", 2: "y"})])  # y wins
    tally.add_prompt(12, [({1: 1, 2: 1, 3: 2}, {1: "x", 2: "y", 3: "z"})])  # x = y; both beat z
    result = tally.result()
    xy = result.pair("x", "y")
    assert (xy.wins, xy.ties, xy.losses, xy.games, xy.prompts) == (1, 2, 1, 4, 3)
    assert xy.win_rate == pytest.approx(0.5)
    assert result.pair("y", "x").win_rate == pytest.approx(0.5)
    assert result.pair("x", "z").win_rate == 1.0 and result.pair("z", "y").win_rate == 0.0
    matrix = dict(zip(result.models, result.win_rate_matrix(), strict=True))
    assert matrix["z"][result.models.index("z")] is None
    assert result.prompts == 3
    assert "`z` never won (2 games)" in " ".join(result.notes)


def _tournament(true: np.ndarray, prompts: int, rng: np.random.Generator, tie: float = 0.0):
    """Each prompt: every pair of models compared once; P(i beats j) from `true` log-strengths."""
    rows = []
    m = len(true)
    for p in range(prompts):
        for i in range(m):
            for j in range(i + 1, m):
                if rng.random() < tie:
                    rows.append((p, i, j, 0, 1))
                    continue
                win = rng.random() < 1 / (1 + math.exp(true[j] - true[i]))
                rows.append((p, i, j, int(win), 0))
    return rows


def _scipy_fit(scores: np.ndarray, prior: float) -> np.ndarray:
    """The maximum-likelihood θ by a generic optimizer: the same likelihood, written out directly."""
    m = scores.shape[0]

    def nll(theta):
        d = theta[:, None] - theta[None, :]
        ll = (scores * -np.logaddexp(0, -d)).sum()
        ll += prior * (0.5 * -np.logaddexp(0, -theta) + 0.5 * -np.logaddexp(0, theta)).sum()
        return -ll

    x = minimize(nll, np.zeros(m), method="BFGS", options={"gtol": 1e-10}).x
    return x - x.mean()


@pytest.mark.parametrize("prior", [0.0, 1.0])
def test_strengths_match_a_direct_maximum_likelihood_fit(prior):
    rng = np.random.default_rng(7)
    true = np.array([0.0, 0.4, 1.1, -0.8, 0.2])
    names = [f"m{i}" for i in range(len(true))]
    tally = ComparisonTally(rounds=0)
    scores = np.zeros((5, 5))
    for p, i, j, w, t in _tournament(true, 150, rng, tie=0.1):
        tally.add(p, names[i], names[j], w, t, 1)
        scores[i, j] += w + t / 2
        scores[j, i] += (1 - w - t) + t / 2
    result = tally.result(prior=prior)
    expected = _scipy_fit(scores, prior)
    got = {st.model: st.theta for st in result.strengths}
    assert [got[n] for n in names] == pytest.approx(list(expected), abs=1e-5)
    ratings = {st.model: st.rating for st in result.strengths}
    assert [ratings[n] for n in names] == pytest.approx(list(CENTER + SCALE * expected), abs=1e-3)
    assert np.mean(list(ratings.values())) == pytest.approx(CENTER)
    # win rates are the raw shares, ties half
    for a in range(5):
        for b in range(5):
            if a != b:
                assert result.pair(names[a], names[b]).win_rate == pytest.approx(scores[a, b] / 150)
    # and the fit finds the strongest and the weakest
    assert (result.models[0], result.models[-1]) == ("m2", "m3")


def test_anchor_pins_a_model_at_1000_and_keeps_the_gaps():
    rng = np.random.default_rng(3)
    tally = ComparisonTally(rounds=20)
    for p, i, j, w, t in _tournament(np.array([0.0, 1.0, -1.0]), 60, rng):
        tally.add(p, "abc"[i], "abc"[j], w, t, 1)
    mean = {s.model: s.rating for s in tally.result().strengths}
    pinned = {s.model: s.rating for s in tally.result(anchor="a").strengths}
    assert pinned["a"] == pytest.approx(1000)
    assert pinned["b"] - pinned["c"] == pytest.approx(mean["b"] - mean["c"])
    assert next(s for s in tally.result(anchor="a").strengths if s.model == "a").low == pytest.approx(1000)


def test_batched_fit_handles_separation_and_disconnection():
    scores = np.zeros((1, 4, 4))
    scores[0, 0, 1] = 5  # model 0 always beats 1; models 2 and 3 only meet each other
    scores[0, 2, 3] = scores[0, 3, 2] = 2
    theta = fit_bradley_terry(scores, prior=1.0)[0]
    assert np.all(np.isfinite(theta)) and theta[2] == pytest.approx(theta[3])
    assert theta[0] > theta[2] > theta[1]
    bare = fit_bradley_terry(scores, prior=0.0, iterations=20)[0]
    assert np.all(np.isfinite(bare))  # grows, but never overflows


def test_poisson_weights_are_reproducible_and_have_mean_one():
    ids = np.arange(20_000)
    w = poisson_weights(ids, 3, seed=5)
    assert np.array_equal(w, poisson_weights(ids, 3, seed=5))
    assert np.array_equal(w[:, 7:9], poisson_weights(ids[7:9], 3, seed=5))  # one prompt's weight: its id alone
    assert not np.array_equal(w, poisson_weights(ids, 3, seed=6))
    assert w.mean() == pytest.approx(1.0, abs=0.02) and w.var() == pytest.approx(1.0, abs=0.05)


def test_rows_in_any_order_and_chunking_give_the_same_report(monkeypatch):
    rng = np.random.default_rng(11)
    rows = _tournament(np.array([0.0, 0.5, -0.5]), 80, rng, tie=0.2)
    one = ComparisonTally(rounds=40, seed=1)
    for p, i, j, w, t in rows:
        one.add(p, "xyz"[i], "xyz"[j], w, t, 1)
    monkeypatch.setattr("analytics.comparison.FLUSH_ROWS", 7)
    other = ComparisonTally(rounds=40, seed=1)
    for p, i, j, w, t in reversed(rows):  # reversed: the pair's orientation flips too
        other.add(p, "xyz"[j], "xyz"[i], 1 - w - t, t, 1)
    a, b = one.result().to_dict(), other.result().to_dict()
    assert a["models"] == b["models"] and a["pairs"] == b["pairs"]
    for x, y in zip(a["strengths"], b["strengths"], strict=True):
        assert x["interval"] == pytest.approx(y["interval"], abs=1e-6)


def test_bootstrap_intervals_cover_the_truth_at_about_their_nominal_rate():
    """100 synthetic tournaments of 4 models: about 95% of the 400 intervals hold the true rating.

    No ties here: with ties counted half, data drawn with a tie rate independent of the strengths is
    not a Bradley–Terry model, and the fit's truth would not be `true`.
    """
    true = np.array([0.0, 0.3, 0.9, -0.6])
    truth = CENTER + SCALE * (true - true.mean())
    names = ["a", "b", "c", "d"]
    covered = total = 0
    for draw in range(100):
        rng = np.random.default_rng(1000 + draw)
        tally = ComparisonTally(rounds=200, seed=draw)
        for p, i, j, w, t in _tournament(true, 120, rng):
            tally.add(p, names[i], names[j], w, t, 1)
        for st in tally.result(prior=0.0).strengths:
            covered += st.low <= truth[names.index(st.model)] <= st.high
            total += 1
    assert 0.88 <= covered / total <= 0.99, f"{covered}/{total}"
