"""Reward-model scores, margins and agreement with the labelers, on a hand-made set with fixed scores.

The reward model is a stub (tests/services/scoring_data.py: each reply carries its score), injected
into the real scoring run, so the stored scores, margins and agreement figures are exact.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from analytics.agreement import wilson_interval
from db.models import UNSCORED_MARGIN, CandidateScore, Event, Project, Prompt
from labeler.errors import Forbidden, Invalid
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.projects import get_project_or_raise, settings_of, update_project
from labeler.services.quality import agreement_report
from labeler.services.reward_models import list_reward_models
from labeler.services.scoring import (
    ScoreRequest,
    check_reward_model,
    model_key,
    recompute_margins,
    refresh_margins,
    score_project,
)
from tests.services.scoring_data import (
    EXPECTED_MARGINS,
    EXPECTED_TEST,
    STUB,
    add_candidate,
    add_ranking,
    build,
    stub_scorer,
)


def _margins(ids: dict) -> dict[str, float]:
    with session_scope(write=False) as s:
        by_id = dict(s.execute(select(Prompt.id, Prompt.rm_margin)).all())
    return {name: by_id[ids[name][0]] for name in EXPECTED_MARGINS}


def _score(**kw):
    return score_project(OPERATOR, ScoreRequest(project="rm", reward_model=STUB, **kw), scorer=stub_scorer)


def test_scores_margins_and_the_routing_model_are_stored(db_url):
    ids = build()
    seen = []
    summary = score_project(OPERATOR, ScoreRequest(project="rm", reward_model=STUB, batch_size=3),
                            scorer=stub_scorer, progress=lambda done, total: seen.append((done, total)))
    key = model_key(STUB)
    assert (summary.planned, summary.scored, summary.skipped, summary.prompts) == (12, 12, 0, 5)
    assert summary.batches >= 4 and seen[0] == (0, 12) and seen[-1] == (12, 12)
    assert summary.routing is True and summary.reward_model == key
    with session_scope(write=False) as s:
        stored = dict(s.execute(select(CandidateScore.candidate_id, CandidateScore.score)
                                .where(CandidateScore.reward_model == key)).all())
        assert stored[ids["p1"][1][0]] == 4.0 and stored[ids["p4"][1][1]] == 1.25 and len(stored) == 12
        assert settings_of(get_project_or_raise(s, "rm")).routing_reward_model == key
        event = s.scalars(select(Event).where(Event.action == "score.run")).one()
        assert event.details["scored"] == 12 and event.details["reward_model"] == key
    assert _margins(ids) == EXPECTED_MARGINS


def test_a_second_run_scores_nothing_new_and_a_late_candidate_only(db_url):
    ids = build()
    _score()
    again = _score()
    assert (again.planned, again.scored, again.skipped, again.batches) == (0, 0, 12, 0)
    late = add_candidate(ids["p4"][0], 3.0, "x")  # a new reply after the run: best now 3.5, second 3.0
    third = _score()
    assert (third.planned, third.scored, third.skipped, third.prompts) == (1, 1, 12, 1)
    with session_scope(write=False) as s:
        assert s.scalar(select(CandidateScore.score).where(CandidateScore.candidate_id == late)) == 3.0
        assert s.scalar(select(func.count()).select_from(CandidateScore)) == 13
    assert _margins(ids)["p4"] == 0.5


def test_split_and_limit_narrow_a_run_and_it_resumes_from_there(db_url):
    ids = build()
    only_test = _score(split="test")
    assert (only_test.scored, only_test.prompts) == (7, 2)
    limited = _score(limit=1)  # the next prompt with unscored candidates: p3 (valid)
    assert (limited.scored, limited.prompts, limited.skipped) == (2, 1, 7)
    rest = _score()
    assert (rest.scored, rest.prompts, rest.skipped) == (3, 2, 9)
    assert _margins(ids) == EXPECTED_MARGINS


def test_agreement_with_labelers_per_split_exact(db_url):
    build()
    with session_scope(write=False) as s:  # before any score: no model, no figures
        before = agreement_report(s, OPERATOR, "rm").to_dict()["reward_model_agreement"]
    assert before["reward_model"] is None and before["labelers"] == {} and before["candidates"] == 12
    _score()
    with session_scope(write=False) as s:
        report = agreement_report(s, OPERATOR, "rm").to_dict()
    rm = report["reward_model_agreement"]
    assert rm["reward_model"] == model_key(STUB) and rm["scored_candidates"] == 12
    low, high = wilson_interval(7, 17)
    assert rm["labelers"]["test"] == {**EXPECTED_TEST, "rate": round(7 / 17, 4), "ci_low": round(low, 4),
                                      "ci_high": round(high, 4)}
    assert rm["labelers"]["train"] == {"pairs": 1, "agree": 0, "rate": 0.0, "ci_low": 0.0,
                                       "ci_high": round(wilson_interval(0, 1)[1], 4), "score_ties": 0,
                                       "unscored_pairs": 0}
    assert "valid" not in rm["labelers"]  # draft, rejected and "none acceptable" rankings do not count
    one_of_one = round(wilson_interval(1, 1)[0], 4)
    assert rm["imported"] == {"valid": {"pairs": 1, "agree": 1, "rate": 1.0, "ci_low": one_of_one, "ci_high": 1.0,
                                        "score_ties": 0, "unscored_pairs": 0}}
    assert list(rm["labelers"]) == ["train", "test"]  # split order
    # the labelers with each other, beside it: p1 alice vs bob 0/6; p2 (c0,c2) agree, (c1,c2) not, (c0,c1) tied
    assert (report["pairwise_by_split"]["test"]["hits"], report["pairwise_by_split"]["test"]["total"]) == (1, 8)
    json.dumps(report)


def test_a_late_candidate_is_an_unscored_pair_until_scored(db_url):
    ids = build()
    _score()
    late = add_candidate(ids["p4"][0], 3.0, "y")
    add_ranking(ids["p4"][0], {ids["p4"][1][0]: 1, late: 2, ids["p4"][1][1]: 3}, labeler=ids["bob"].id)
    with session_scope(write=False) as s:
        train = agreement_report(s, OPERATOR, "rm").reward_model.labelers["train"]
    assert (train.pairs, train.agree, train.unscored_pairs) == (2, 1, 2)  # r_train 0/1, new: (c0,c1) agree


def test_the_report_takes_a_named_reward_model_and_refuses_an_unknown_one(db_url):
    build()
    _score()
    score_project(OPERATOR, ScoreRequest(project="rm", reward_model="reversed"),
                  scorer=lambda convs: [-x for x in stub_scorer(convs)])
    with session_scope(write=False) as s:
        project = get_project_or_raise(s, "rm")
        models = [(m.name, m.scored, m.routing) for m in list_reward_models(s, project)]
        assert models == [(model_key("reversed"), 12, False), (model_key(STUB), 12, True)]
        default = agreement_report(s, OPERATOR, "rm").reward_model  # the routing model, not the last scored
        named = agreement_report(s, OPERATOR, "rm", reward_model="reversed").reward_model
        assert default.reward_model == model_key(STUB) and named.reward_model == model_key("reversed")
        assert named.labelers["test"].agree == 17 - 7 - 1  # reversed: every strict pair flips, the tie stays
        with pytest.raises(Invalid, match="scored no candidate of project `rm`"):
            agreement_report(s, OPERATOR, "rm", reward_model="/no/such/model")


def test_margins_follow_the_routing_model_only(db_url):
    ids = build()
    _score()
    assert _margins(ids) == EXPECTED_MARGINS
    with session_scope() as s:  # a routing model with no scores yet: every prompt waits as unscored
        update_project(s, OPERATOR, "rm", settings={"routing_reward_model": "/elsewhere"})
    unscored = dict.fromkeys(EXPECTED_MARGINS, UNSCORED_MARGIN)
    assert _margins(ids) == unscored
    summary = score_project(OPERATOR, ScoreRequest(project="rm", reward_model="doubled"),
                            scorer=lambda convs: [2 * x for x in stub_scorer(convs)])
    assert summary.routing is False
    assert _margins(ids) == unscored  # untouched: another model routes
    with session_scope() as s:  # naming the routing model recomputes the margins at once
        update_project(s, OPERATOR, "rm", settings={"routing_reward_model": "local:doubled"})
    doubled = {k: v if v == UNSCORED_MARGIN else 2 * v for k, v in EXPECTED_MARGINS.items()}
    assert _margins(ids) == doubled
    with session_scope() as s:
        assert refresh_margins(s, OPERATOR, "rm") == model_key("doubled")
    assert _margins(ids) == doubled
    with session_scope() as s:  # a repeat changes no row
        project_id = s.scalar(select(Project.id).where(Project.name == "rm"))
        assert recompute_margins(s, project_id, model_key("doubled")) == 0
        assert recompute_margins(s, project_id, model_key(STUB)) == 4  # back: 4 prompts change, p5 stays unscored
    assert _margins(ids) == EXPECTED_MARGINS


def test_only_admins_score_and_bad_requests_are_refused(db_url, tmp_path):
    ids = build()
    with pytest.raises(Forbidden):
        score_project(ids["alice"], ScoreRequest(project="rm", reward_model=STUB), scorer=stub_scorer)
    with pytest.raises(Invalid, match="unknown split `dev`"):
        _score(split="dev")
    with pytest.raises(Invalid, match="--batch-size must be at least 1"):
        _score(batch_size=0)
    with pytest.raises(Invalid, match="returned 1 scores for 3 replies"):
        score_project(OPERATOR, ScoreRequest(project="rm", reward_model=STUB, batch_size=3), scorer=lambda c: [0.0])
    with pytest.raises(Invalid, match="not a finite number"):
        score_project(OPERATOR, ScoreRequest(project="rm", reward_model=STUB),
                      scorer=lambda c: [float("nan")] * len(c))
    with session_scope(write=False) as s:
        assert s.scalar(select(func.count()).select_from(CandidateScore)) == 0
        assert settings_of(get_project_or_raise(s, "rm")).routing_reward_model is None


def test_a_folder_that_is_not_a_reward_model_is_refused_before_anything(tmp_path):
    with pytest.raises(Invalid, match="does not exist"):
        check_reward_model(tmp_path / "missing")
    (tmp_path / "file.bin").write_text("x")
    with pytest.raises(Invalid, match="not a model folder"):
        check_reward_model(tmp_path / "file.bin")
    (tmp_path / "empty").mkdir()
    with pytest.raises(Invalid, match="no config.json"):
        check_reward_model(tmp_path / "empty")
    causal = tmp_path / "causal"
    causal.mkdir()
    (causal / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    with pytest.raises(Invalid, match="a `LlamaForCausalLM` model, not a sequence-classification model"):
        check_reward_model(causal)
    two = tmp_path / "two"
    two.mkdir()
    (two / "config.json").write_text(json.dumps({"architectures": ["LlamaForSequenceClassification"],
                                                 "id2label": {"0": "a", "1": "b"}}))
    with pytest.raises(Invalid, match="2 outputs; a reward model has one score"):
        check_reward_model(f"local:{two}")


def test_a_missing_extra_says_how_to_install_it(tmp_path, monkeypatch):
    import sys

    folder = tmp_path / "rm"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": ["LlamaForSequenceClassification"]}))
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    with pytest.raises(Invalid, match=r"pip install 'labeler\[local\]'"):
        check_reward_model(folder)


@pytest.mark.parametrize("hits,total,low,high", [
    (81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)])
def test_wilson_interval_known_values(hits, total, low, high):
    """Newcombe (1998), Statistics in Medicine 17:857, table I, method 3 (Wilson score, no continuity correction)."""
    got = wilson_interval(hits, total)
    assert (round(got[0], 4), round(got[1], 4)) == (low, high)


def test_the_model_runs_outside_any_transaction(sqlite_url):
    """While the model scores, another writer gets SQLite's write lock at once (no session of the run is open)."""
    build()
    writes = []

    def scorer_that_writes(convs):
        with session_scope() as s:  # BEGIN IMMEDIATE: would wait, then fail, if the run held a transaction
            update_project(s, OPERATOR, "rm", guidelines=f"edited while scoring {len(writes)}")
        writes.append(len(convs))
        return stub_scorer(convs)

    summary = score_project(OPERATOR, ScoreRequest(project="rm", reward_model=STUB, batch_size=5),
                            scorer=scorer_that_writes)
    assert summary.scored == 12 and writes == [5, 5, 2]
