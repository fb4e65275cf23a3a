"""Reward-model scores in the app: never on a labeler's task (no anchoring); on the Review and Quality pages.

Scores come from a fixed-score stub run through the real scoring service: `Reply c ...` scores
1000.125 - c, a number no page shows by chance, so "not on the page" is a real check.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.labeling import RankingSubmission, submit_ranking
from labeler.services.queue import next_task
from labeler.services.review import next_review
from labeler.services.scoring import ScoreRequest, score_project
from tests.app import conftest
from tests.app.conftest import app_as, errors
from tests.app.data import make_task_project
from tests.factories import make_user


def _score(convs):
    return [1000.125 - float(c[-1]["content"].split()[1].rstrip(":")) for c in convs]


def _scored_project(tmp_path, n_prompts=2):
    alice, bob, rita = make_user("alice"), make_user("bob"), make_user("rita", role="reviewer")
    make_task_project(tmp_path, "work", ("alice", "bob", "rita"), n_prompts=n_prompts, k=3)
    summary = score_project(OPERATOR, ScoreRequest(project="work", reward_model="stub-rm"), scorer=_score)
    assert summary.scored == 3 * n_prompts
    return alice, bob, rita


def _rank(actor, *, agree: bool) -> int:
    """Rank the next task by reply number: as the model does (`agree`) or the reverse."""
    with session_scope() as s:
        task = next_task(s, actor, "work", "ranking")
    number = {c.candidate_id: int(c.text.split()[1]) for c in task.candidates}
    ordered = sorted(number, key=number.get, reverse=not agree)
    items = [{"candidate_id": cid, "rank": ordered.index(cid) + 1} for cid in number]
    with session_scope() as s:
        return submit_ranking(s, actor, task.assignment_id, RankingSubmission.model_validate({"items": items}))


def _page_text(at) -> str:
    """Every text the page shows, and what it hands the Rank control."""
    parts = [str(e.value) for e in [*at.markdown, *at.text, *at.caption, *at.info, *at.warning, *at.success]]
    return " ".join(parts) + json.dumps(conftest.control_data(at, "rank"))


def test_a_labeler_task_and_rank_page_hold_no_score(db_url, tmp_path):
    alice, _bob, _rita = _scored_project(tmp_path)
    with session_scope() as s:
        task = next_task(s, alice, "work", "ranking")
    data = json.dumps(asdict(task), default=str)
    assert "score" not in {f for c in asdict(task)["candidates"] for f in c}
    assert "1000.125" not in data and "999.125" not in data and "998.125" not in data
    at = app_as(alice, "rank")
    assert not errors(at)
    control = conftest.control_data(at, "rank")
    assert len(control["candidates"]) == 3 and all("score" not in c for c in control["candidates"])
    shown = _page_text(at)
    assert "Reply 1 to work" in shown  # the replies are there...
    assert "999.125" not in shown and "998.125" not in shown and "997.125" not in shown  # ...their scores are not
    assert "reward model" not in shown.lower()


def test_review_shows_scores_and_sorts_by_disagreement(db_url, tmp_path):
    alice, bob, rita = _scored_project(tmp_path)
    agreeing = _rank(alice, agree=True)  # submitted first: the oldest
    reversed_ = _rank(bob, agree=False)
    with session_scope(write=False) as s:
        oldest = next_review(s, rita, "work")
        disputed = next_review(s, rita, "work", order="rm-disagreement")
    assert oldest.work_id == agreeing and (oldest.rm_pairs, oldest.rm_disagree) == (3, 0)
    assert disputed.work_id == reversed_ and (disputed.rm_pairs, disputed.rm_disagree) == (3, 3)
    assert [it.score for it in disputed.items] == [997.125, 998.125, 999.125]  # in the labeler's rank order
    at = app_as(rita, "review")
    assert f"Ranking #{agreeing}" in [h.value for h in at.subheader]
    captions = " ".join(str(c.value) for c in at.caption)
    assert "+999.125" in captions and "orders 0 of 3 scored pair(s) the other way" in captions
    at.segmented_control(key="review.order").set_value("Reward model disagrees most").run()
    assert not errors(at)
    assert f"Ranking #{reversed_}" in [h.value for h in at.subheader]
    assert "orders 3 of 3 scored pair(s) the other way" in " ".join(str(c.value) for c in at.caption)


def test_quality_page_shows_the_reward_model_beside_the_labelers(db_url, tmp_path):
    alice, _bob, _rita = _scored_project(tmp_path, n_prompts=1)  # split 100/0/0: all in train
    _rank(alice, agree=True)
    at = app_as(make_user("root", "admin"), "quality")
    assert not errors(at), errors(at)
    markdown = " ".join(str(m.value) for m in at.markdown)
    assert "Reward model vs labelers" in markdown
    [table] = [d.value for d in at.dataframe if "reward model vs labelers" in d.value.columns]
    row = table.iloc[0]
    assert row["split"] == "train" and row["reward model vs labelers"].startswith("100% (3/3)")
