"""The model comparison report from real rankings rows, on both backends: counts, filters, judges, access."""

from __future__ import annotations

import pytest

from analytics.comparison import ComparisonTally
from labeler.errors import Forbidden, Invalid
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.compare import compare_models, list_reward_models, project_models
from labeler.services.projects import add_member
from tests.factories import make_project, make_user
from tests.services.compare_data import add_prompt, add_ranking, add_scores


def _data() -> dict[str, list[int]]:
    """Three ranked prompts (ties, a candidate without a model, two of one model), one scored but unranked."""
    make_project("p")
    c = add_prompt("p", ["a", "b", "c"])
    add_ranking({c[0]: 1, c[1]: 2, c[2]: 2})  # a > b, a > c, b = c
    add_ranking({c[1]: 1, c[0]: 2, c[2]: 3}, status="accepted")  # b > a, a > c, b > c
    d = add_prompt("p", ["a", "b", None, "a"])
    add_ranking({d[0]: 1, d[1]: 1, d[2]: 3, d[3]: 4})  # a = b, b > a (the second a); the model-less one: nothing
    add_ranking({d[0]: 2, d[1]: 1}, status="draft")  # not counted
    add_ranking({d[0]: 2, d[1]: 1}, none_acceptable=True)  # not counted
    add_ranking({d[0]: 1, d[1]: 2}, origin="imported")  # only with include_imported
    e = add_prompt("p", ["a", "c"], split="test")
    add_ranking({e[1]: 1, e[0]: 2})  # c > a
    f = add_prompt("p", ["a", "b"])  # never ranked
    return {"c": c, "d": d, "e": e, "f": f}


def _counts(report, a: str, b: str) -> tuple[int, int, int, int, int]:
    p = report.comparison.pair(a, b)
    return (p.wins, p.ties, p.losses, p.games, p.prompts) if p else None


def test_win_rates_count_ties_half_over_human_rankings(db_url):
    _data()
    with session_scope(write=False) as s:
        report = compare_models(s, OPERATOR, "p", rounds=50)
    assert report.judge == "humans" and report.filters["rankings"] == ["human"]
    assert _counts(report, "a", "b") == (1, 1, 2, 4, 2)
    assert report.comparison.pair("a", "b").win_rate == pytest.approx(1.5 / 4)
    assert _counts(report, "b", "a") == (2, 1, 1, 4, 2)
    assert _counts(report, "a", "c") == (2, 0, 1, 3, 2)
    assert _counts(report, "b", "c") == (1, 1, 0, 2, 1)
    assert report.comparison.pair("b", "c").win_rate == pytest.approx(0.75)
    assert report.comparison.prompts == 3
    # the same judgments fed to the pure tally give the same ratings
    pure = ComparisonTally(rounds=0)
    pure.add_prompt(1, [({1: 1, 2: 2, 3: 2}, {1: "a", 2: "b", 3: "c"}), ({1: 2, 2: 1, 3: 3}, {1: "a", 2: "b", 3: "c"})])
    pure.add_prompt(2, [({1: 1, 2: 1, 3: 3, 4: 4}, {1: "a", 2: "b", 3: None, 4: "a"})])
    pure.add_prompt(3, [({1: 2, 2: 1}, {1: "a", 2: "c"})])
    expected = {st.model: st.rating for st in pure.result().strengths}
    got = {st.model: st.rating for st in report.comparison.strengths}
    assert got == pytest.approx(expected)
    assert [st.model for st in report.comparison.strengths] == report.comparison.models
    assert all(st.low <= st.rating <= st.high for st in report.comparison.strengths)
    data = report.to_dict()
    assert data["models"] == report.comparison.models and len(data["win_rate"]) == 3


def test_filters_models_splits_and_imported(db_url):
    _data()
    with session_scope(write=False) as s:
        with_imported = compare_models(s, OPERATOR, "p", include_imported=True, rounds=0)
        only_ab = compare_models(s, OPERATOR, "p", models=["a", "b"], rounds=0)
        test_split = compare_models(s, OPERATOR, "p", splits=["test"], rounds=0)
    assert _counts(with_imported, "a", "b") == (2, 1, 2, 5, 2)
    assert with_imported.filters["rankings"] == ["human", "imported"]
    assert only_ab.comparison.models == ["b", "a"] and _counts(only_ab, "a", "c") is None
    assert test_split.comparison.models == ["c", "a"] and _counts(test_split, "c", "a") == (1, 0, 0, 1, 1)
    assert with_imported.comparison.strengths[0].low is None  # no bootstrap asked


def test_a_reward_model_as_the_judge(db_url):
    ids = _data()
    c, d, f = ids["c"], ids["d"], ids["f"]
    add_scores("/models/rm-1", {c[0]: 0.9, c[1]: 0.5, c[2]: 0.5, d[0]: 0.1, d[1]: 0.2, d[2]: 1.0, d[3]: 0.3,
                                f[0]: 1.0, f[1]: 0.0})
    add_scores("/models/rm-0", {c[0]: 0.0, c[1]: 1.0})
    with session_scope(write=False) as s:
        assert list_reward_models(s, OPERATOR, "p") == ["/models/rm-0", "/models/rm-1"]
        ranked = compare_models(s, OPERATOR, "p", reward_model="/models/rm-1", rounds=20)
        scored = compare_models(s, OPERATOR, "p", reward_model="/models/rm-1", over="scored", rounds=0)
        with pytest.raises(Invalid, match="no scores by `nope`.*`/models/rm-0`, `/models/rm-1`"):
            compare_models(s, OPERATOR, "p", reward_model="nope")
    assert ranked.judge == "reward-model" and ranked.reward_model == "/models/rm-1"
    # prompt 1: a > b, a > c, b = c; prompt 2 (pairs of different models): b > a (d0), a > b (d3)
    assert _counts(ranked, "a", "b") == (2, 0, 1, 3, 2)
    assert _counts(ranked, "a", "c") == (1, 0, 0, 1, 1)
    assert _counts(ranked, "b", "c") == (0, 1, 0, 1, 1)
    assert _counts(scored, "a", "b") == (3, 0, 1, 4, 3)  # the unranked prompt too
    assert ranked.filters["over"] == "ranked"


def test_degenerate_data_is_reported_not_fatal(db_url):
    make_project("p")
    for _ in range(3):
        c = add_prompt("p", ["strong", "weak"])
        add_ranking({c[0]: 1, c[1]: 2})
    c = add_prompt("p", ["x", "y"])
    add_ranking({c[0]: 1, c[1]: 1})
    with session_scope(write=False) as s:
        report = compare_models(s, OPERATOR, "p", rounds=30)
        empty = compare_models(s, OPERATOR, "p", models=["nobody", "none"], rounds=30)
    notes = " ".join(report.to_dict()["notes"])
    assert "`strong` never lost" in notes and "`weak` never won" in notes and "2 groups never compared" in notes
    ratings = {st.model: st.rating for st in report.comparison.strengths}
    assert ratings["x"] == pytest.approx(ratings["y"])
    assert ratings["strong"] > ratings["x"] > ratings["weak"]
    assert all(abs(r - 1000) < 1000 for r in ratings.values())  # finite, thanks to the prior
    assert empty.comparison.models == [] and "no comparisons yet" in empty.to_dict()["notes"][0]


def test_access_admins_and_reviewers_of_the_project(db_url):
    _data()
    labeler, reviewer, outsider = make_user("lou"), make_user("rita", "reviewer"), make_user("otto", "reviewer")
    with session_scope() as s:
        add_member(s, OPERATOR, "p", "rita")
        add_member(s, OPERATOR, "p", "lou")
    with session_scope(write=False) as s:
        assert compare_models(s, reviewer, "p", rounds=0).comparison.models
        assert [m for m, _ in project_models(s, reviewer, "p")] == ["a", "b", "c"]
        with pytest.raises(Forbidden):
            compare_models(s, labeler, "p")
        with pytest.raises(Forbidden):
            compare_models(s, outsider, "p")
        with pytest.raises(Invalid, match="two models or more"):
            compare_models(s, OPERATOR, "p", models=["a"])
