"""The Review page, rejections on My work, and qualification, pause and failure on the labeling pages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db.models import Candidate, Demonstration, Prompt, Ranking
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.gold import mark_gold, set_paused
from labeler.services.labeling import RankingSubmission, submit_demonstration, submit_ranking
from labeler.services.queue import next_task
from tests.app.conftest import app_as, errors, successes
from tests.app.data import make_task_project
from tests.factories import make_user


def _team(tmp_path, n_prompts=2, **settings):
    alice, bob = make_user("alice"), make_user("bob")
    rita = make_user("rita", role="reviewer")
    make_task_project(tmp_path, "work", ("alice", "bob", "rita"), n_prompts=n_prompts, k=3, **settings)
    return alice, bob, rita


def _ranked_by_alice(alice) -> tuple[int, int]:
    with session_scope() as s:
        task = next_task(s, alice, "work", "ranking")
    items = [{"candidate_id": c.candidate_id, "rank": i + 1} for i, c in enumerate(task.candidates)]
    with session_scope() as s:
        rid = submit_ranking(s, alice, task.assignment_id, RankingSubmission.model_validate({"items": items}))
    return rid, task.prompt_id


def _texts(at) -> str:
    return " ".join(str(m.value) for m in [*at.markdown, *at.text]) + " ".join(str(c.value) for c in at.caption)


def test_a_reviewer_rejects_a_ranking_it_returns_to_the_queue_and_the_labeler_reads_why(db_url, tmp_path):
    alice, bob, rita = _team(tmp_path, n_prompts=1)
    rid, prompt_id = _ranked_by_alice(alice)
    at = app_as(rita, "review")
    assert at.title[0].value == "Review"
    assert {m.label: m.value for m in at.metric} == {"Demonstrations waiting": "0", "Rankings waiting": "1"}
    assert f"Ranking #{rid}" in [h.value for h in at.subheader]
    assert "Rank 1 · A" in _texts(at) and "By alice" in _texts(at)
    at.button(key=f"review.ranking.{rid}.reject").click().run()  # no reason: refused, nothing changes
    assert errors(at) == [f"a reason is required to reject ranking `{rid}`: the labeler reads it"]
    at.text_area(key=f"review.ranking.{rid}.reason").input("C answers the question; A does not.")
    at.button(key=f"review.ranking.{rid}.reject").click().run()
    assert not errors(at)
    assert successes(at)[0] == f"Ranking #{rid} rejected. Here is the next one."
    assert "Nothing waits for your review in this project." in successes(at)
    with session_scope(write=False) as s:
        assert s.get(Ranking, rid).status == "rejected"
        assert s.scalar(select(Prompt.ranking_count).where(Prompt.id == prompt_id)) == 0
    with session_scope() as s:  # back in the queue: collected by someone else
        assert next_task(s, bob, "work", "ranking").prompt_id == prompt_id
    mine = app_as(alice, "my_work")
    assert not errors(mine)
    assert "Rejected by a reviewer (1)" in [h.value for h in mine.subheader]
    assert "C answers the question; A does not." in _texts(mine) and "Rejected by rita" in _texts(mine)
    assert f"**Ranking #{rid}**" in _texts(mine)


def test_a_reviewer_edits_a_demonstration_and_never_sees_their_own(db_url, tmp_path):
    alice, _bob, rita = _team(tmp_path, n_prompts=2)
    with session_scope() as s:
        own = next_task(s, rita, "work", "demonstration")
        submit_demonstration(s, rita, own.assignment_id, [{"role": "assistant", "content": "Mine."}])
        task = next_task(s, alice, "work", "demonstration")
        demo_id = submit_demonstration(s, alice, task.assignment_id, [{"role": "assistant", "content": "Hi"}])
    at = app_as(rita, "review")
    assert f"Demonstration #{demo_id}" in [h.value for h in at.subheader]  # not rita's own, older one
    at.text_area(key=f"review.demonstration.{demo_id}.edit.0").input("Hello! How can I help?")
    at.button(key=f"review.demonstration.{demo_id}.edit").click().run()
    assert not errors(at)
    assert successes(at)[0] == f"Demonstration #{demo_id} edited and accepted. Here is the next one."
    with session_scope(write=False) as s:
        demo = s.get(Demonstration, demo_id)
        assert (demo.status, demo.turns[0]["content"]) == ("accepted", "Hello! How can I help?")


def test_labelers_cannot_open_the_review_page(db_url, tmp_path):
    alice, _bob, _rita = _team(tmp_path)
    at = app_as(alice)
    with pytest.raises(ValueError):
        at.switch_page("views/review.py").run()


def test_a_new_labeler_meets_the_qualification_set_first(db_url, tmp_path):
    alice, _bob, _rita = _team(tmp_path, n_prompts=3, qualification_tasks=1)
    with session_scope() as s:
        gold_prompt = s.scalar(select(Prompt.id).order_by(Prompt.id.desc()).limit(1))  # the newest prompt
        cids = s.scalars(select(Candidate.id).where(Candidate.prompt_id == gold_prompt).order_by(Candidate.id)).all()
        mark_gold(s, OPERATOR, "work", gold_prompt, "ranking", ranks={c: i + 1 for i, c in enumerate(cids)})
    at = app_as(alice, "rank")
    assert [i.value for i in at.info] == ["Qualification: task 1 of 1. Real work starts once you pass."]
    aid = at.session_state["rank.assignment"]
    with session_scope(write=False) as s:
        order = s.scalar(select(Ranking.display_order).where(Ranking.assignment_id == aid))
        assert s.scalar(select(Ranking.prompt_id).where(Ranking.assignment_id == aid)) == gold_prompt
    ranks = [sorted(order).index(cid) + 1 for cid in order]  # the expected order: by candidate id
    at.session_state[f"rank.control.{aid}"] = {"submit": {"aid": aid, "ranks": ranks, "likert": [None] * len(order),
                                                          "flags": [[] for _ in order]}}
    at.run()
    assert not errors(at)
    assert not [i for i in at.info if "Qualification" in i.value]  # qualified: real work, no note
    with session_scope(write=False) as s:
        now = s.scalar(select(Ranking.prompt_id).where(Ranking.assignment_id == at.session_state["rank.assignment"]))
    assert now != gold_prompt


def test_a_failed_or_paused_labeler_sees_why_instead_of_a_task(db_url, tmp_path):
    alice, bob, _rita = _team(tmp_path, n_prompts=3, qualification_tasks=1)
    with session_scope() as s:
        gold_prompt = s.scalar(select(Prompt.id).order_by(Prompt.id).limit(1))
        cids = s.scalars(select(Candidate.id).where(Candidate.prompt_id == gold_prompt).order_by(Candidate.id)).all()
        mark_gold(s, OPERATOR, "work", gold_prompt, "ranking", ranks={c: i + 1 for i, c in enumerate(cids)})
        task = next_task(s, alice, "work", "ranking")
    reverse = sorted(c.candidate_id for c in task.candidates)[::-1]
    items = [{"candidate_id": cid, "rank": i + 1} for i, cid in enumerate(reverse)]
    with session_scope() as s:
        submit_ranking(s, alice, task.assignment_id, RankingSubmission.model_validate({"items": items}))
    at = app_as(alice, "rank")
    assert errors(at) == ["`alice` did not pass the qualification for project `work` (score 0%, 75% needed): "
                          "there is no work here for you until an admin resets your qualification"]
    assert not at.get("bidi_component")  # no Rank control
    with session_scope() as s:
        set_paused(s, OPERATOR, "work", "bob", True)
    paused = app_as(bob, "demonstrate")
    assert errors(paused) == ["`bob` is paused on project `work`: an admin paused your work here; ask them to "
                              "resume it"]
    assert not paused.success


def test_an_admin_reviews_and_accepts(db_url, tmp_path):
    alice, _bob, _rita = _team(tmp_path, n_prompts=1)
    rid, _ = _ranked_by_alice(alice)
    at = app_as(make_user("root", role="admin"), "review")
    assert not errors(at)
    at.button(key=f"review.ranking.{rid}.accept").click().run()
    assert successes(at)[0] == f"Ranking #{rid} accepted. Here is the next one."
    with session_scope(write=False) as s:
        assert s.get(Ranking, rid).status == "accepted"
    mine = app_as(alice, "my_work")
    assert "Rejected by a reviewer (0)" in [h.value for h in mine.subheader]
