"""Review: the queue, accept / reject / edit, own work refused, rejected work back in the queue, races."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text

from db.models import Demonstration, Event, Ranking, Review
from labeler.errors import Conflict, Forbidden, Invalid
from labeler.services import get_engine, session_scope
from labeler.services.actors import OPERATOR
from labeler.services.gold import mark_gold
from labeler.services.labeling import RankingSubmission, submit_demonstration, submit_ranking
from labeler.services.projects import add_member
from labeler.services.queue import next_task
from labeler.services.review import (
    get_review_item,
    my_rejections,
    next_review,
    review_counts,
    review_history,
    review_work,
)
from tests.factories import make_project, make_user
from tests.services.queue_data import add_prompts, audit_counters, cheap_passwords, counter, snapshot  # noqa: F401

REPLY = [{"role": "assistant", "content": "Paris is the capital of France."}]
BETTER = [{"role": "assistant", "content": "The capital of France is Paris."}]


def setup(labelers=("alice", "bob"), reviewers=("rita", "ray"), **settings):
    """Labelers and reviewers, all members of project `p`."""
    people = [make_user(n) for n in labelers] + [make_user(n, role="reviewer") for n in reviewers]
    make_project("p", members=tuple(labelers) + tuple(reviewers), **settings)
    return people


def work(actor, kind="demonstration"):
    """Lease and submit one task; (work id, prompt id)."""
    with session_scope() as s:
        task = next_task(s, actor, "p", kind)
    assert task is not None
    with session_scope() as s:
        if kind == "demonstration":
            return submit_demonstration(s, actor, task.assignment_id, REPLY), task.prompt_id
        order = sorted(c.candidate_id for c in task.candidates)  # ranked by candidate id
        items = [{"candidate_id": cid, "rank": i + 1} for i, cid in enumerate(order)]
        return submit_ranking(s, actor, task.assignment_id, RankingSubmission.model_validate({"items": items})), \
            task.prompt_id


def review(actor, kind, work_id, verdict, reason="", turns=None):
    with session_scope() as s:
        return review_work(s, actor, kind, work_id, verdict, reason, turns)


def status(kind, work_id):
    model = Demonstration if kind == "demonstration" else Ranking
    with session_scope(write=False) as s:
        return s.get(model, work_id).status


def test_accept_the_oldest_submitted_work(db_url):
    alice, bob, rita, _ray = setup()
    add_prompts("p", 3)
    first, p1 = work(alice)
    second, _ = work(bob)
    ranking, _ = work(bob, "ranking")
    with session_scope(write=False) as s:
        assert review_counts(s, rita, "p") == {"demonstration": 2, "ranking": 1}
        item = next_review(s, rita, "p")
    assert (item.kind, item.work_id, item.prompt_id, item.labeler, item.status) == (
        "demonstration", first, p1, "alice", "submitted")
    assert item.turns == REPLY and item.messages[-1]["role"] == "user" and item.history == []
    review_id = review(rita, "demonstration", first, "accept")
    assert status("demonstration", first) == "accepted"
    with session_scope(write=False) as s:
        assert next_review(s, rita, "p").work_id == second
        assert next_review(s, rita, "p", "ranking").work_id == ranking
        assert review_counts(s, rita, "p") == {"demonstration": 1, "ranking": 1}
        stored = s.get(Review, review_id)
        assert (stored.demonstration_id, stored.reviewer_id, stored.verdict, stored.reason) == (
            first, rita.id, "accept", "")
        assert s.scalar(select(Event.action).where(Event.object_id == first, Event.action == "review.accept"))
    assert audit_counters() == []  # accepting keeps the label


def test_nobody_reviews_their_own_work_and_labelers_review_nothing(db_url):
    alice, _bob, rita, ray = setup()
    add_prompts("p", 2)
    own, _ = work(rita)  # reviewers may label too
    with session_scope(write=False) as s:
        assert next_review(s, rita, "p") is None and review_counts(s, rita, "p")["demonstration"] == 0
        assert next_review(s, ray, "p").work_id == own
    outsider = make_user("otto", role="reviewer")
    before = snapshot()
    with pytest.raises(Forbidden, match="nobody reviews their own work"):
        review(rita, "demonstration", own, "accept")
    with pytest.raises(Forbidden, match="is a labeler"):
        review(alice, "demonstration", own, "accept")
    with pytest.raises(Forbidden), session_scope(write=False) as s:
        next_review(s, alice, "p")
    with pytest.raises(Forbidden, match="not a member"):
        review(outsider, "demonstration", own, "accept")
    assert snapshot() == before
    review(ray, "demonstration", own, "accept")


def test_a_rejected_ranking_goes_back_to_the_queue_and_its_labeler_reads_why(db_url):
    alice, bob, rita, _ray = setup()
    add_prompts("p", 1)
    ranking_id, prompt_id = work(alice, "ranking")
    assert counter(prompt_id, "ranking") == 1
    with session_scope() as s:
        assert next_task(s, bob, "p", "ranking") is None  # labels_per_item 1: collected
    before = snapshot()
    with pytest.raises(Invalid, match="a reason is required"):
        review(rita, "ranking", ranking_id, "reject", "   ")
    with pytest.raises(Invalid, match="only demonstrations can be edited"):
        review(rita, "ranking", ranking_id, "edit", "", BETTER)
    assert snapshot() == before
    review(rita, "ranking", ranking_id, "reject", "B is clearly better than A: it answers the question.")
    assert status("ranking", ranking_id) == "rejected"
    assert counter(prompt_id, "ranking") == 0 and audit_counters() == []
    with session_scope() as s:
        assert next_task(s, alice, "p", "ranking") is None  # never the same prompt twice to alice
    again, again_prompt = work(bob, "ranking")  # collected again by someone else
    assert again_prompt == prompt_id and again != ranking_id
    assert audit_counters() == []
    with session_scope(write=False) as s:
        (rejection,) = my_rejections(s, alice, "p")
        assert my_rejections(s, bob, "p") == []
        history = review_history(s, alice, "ranking", ranking_id)  # the labeler may read it
    assert (rejection.kind, rejection.work_id, rejection.prompt_id, rejection.reviewer) == (
        "ranking", ranking_id, prompt_id, "rita")
    assert rejection.reason == "B is clearly better than A: it answers the question."
    assert rejection.preview == "question 0"
    assert [(h.verdict, h.reviewer) for h in history] == [("reject", "rita")]
    with pytest.raises(Forbidden), session_scope(write=False) as s:
        review_history(s, bob, "ranking", ranking_id)  # not bob's work


def test_a_ranking_under_review_shows_its_candidates_in_rank_order(db_url):
    alice, _bob, rita, _ray = setup()
    add_prompts("p", 1)
    with session_scope() as s:
        task = next_task(s, alice, "p", "ranking")
    ranks = {c.candidate_id: r for c, r in zip(task.candidates, (3, 1, 4, 1), strict=True)}
    items = [{"candidate_id": cid, "rank": r, "likert": 5, "flags": ["hallucination"] if r == 4 else []}
             for cid, r in ranks.items()]
    with session_scope() as s:
        rid = submit_ranking(s, alice, task.assignment_id, RankingSubmission.model_validate(
            {"items": items, "comment": "close call"}))
    with session_scope(write=False) as s:
        item = get_review_item(s, rita, "ranking", rid)
    assert [(i.label, i.rank) for i in item.items] == [("B", 1), ("D", 1), ("A", 3), ("C", 4)]
    assert item.items[-1].flags == ["hallucination"] and item.comment == "close call" and not item.gold
    assert {i.text for i in item.items} == {c.text for c in task.candidates}


def test_edit_replaces_the_turns_and_keeps_the_original(db_url):
    alice, _bob, rita, _ray = setup()
    add_prompts("p", 1)
    demo_id, prompt_id = work(alice)
    before = snapshot()
    with pytest.raises(Invalid, match="turn 1: expected a `assistant` turn"):
        review(rita, "demonstration", demo_id, "edit", "", [{"role": "user", "content": "?"}])
    assert snapshot() == before
    review(rita, "demonstration", demo_id, "edit", "clearer wording", BETTER)
    with session_scope(write=False) as s:
        demo = s.get(Demonstration, demo_id)
        assert (demo.status, demo.turns) == ("accepted", BETTER)
        (record,) = review_history(s, rita, "demonstration", demo_id)
    assert (record.verdict, record.reason, record.before) == ("edit", "clearer wording", {"turns": REPLY})
    assert counter(prompt_id, "demonstration") == 1 and audit_counters() == []


def test_a_verdict_is_final_and_a_second_reviewer_gets_conflict(db_url):
    alice, _bob, rita, ray = setup()
    add_prompts("p", 1)
    demo_id, _ = work(alice)
    with session_scope(write=False) as s:  # both look at the same item
        assert next_review(s, rita, "p").work_id == demo_id == next_review(s, ray, "p").work_id
    review(rita, "demonstration", demo_id, "accept")
    before = snapshot()
    with pytest.raises(Conflict, match="already reviewed"):
        review(ray, "demonstration", demo_id, "reject", "too short")
    assert snapshot() == before and status("demonstration", demo_id) == "accepted"


def test_two_reviewers_at_the_same_moment_make_one_verdict(db_url):
    alice, _bob, rita, ray = setup()
    add_prompts("p", 1)
    demo_id, prompt_id = work(alice)
    outcome: dict[str, BaseException | int] = {}
    with session_scope() as first:
        review_work(first, rita, "demonstration", demo_id, "reject", "off topic")

        def second() -> None:
            try:
                outcome["ray"] = review(ray, "demonstration", demo_id, "accept")
            except Conflict as e:
                outcome["ray"] = e

        thread = threading.Thread(target=second)
        thread.start()
        if get_engine(db_url).dialect.name == "postgresql":  # wait until ray's UPDATE waits on rita's row lock
            _wait_for_lock_wait(db_url)
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert isinstance(outcome["ray"], Conflict)
    assert status("demonstration", demo_id) == "rejected"
    with session_scope(write=False) as s:
        assert s.scalars(select(Review.verdict).where(Review.demonstration_id == demo_id)).all() == ["reject"]
    assert counter(prompt_id, "demonstration") == 0 and audit_counters() == []  # released once, not twice


def _wait_for_lock_wait(db_url: str, timeout: float = 30.0) -> None:
    """Block until another connection waits on a lock (a condition with a timeout, not a sleep)."""
    import time

    deadline = time.monotonic() + timeout
    with get_engine(db_url).connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )).scalar()
            conn.rollback()
            if waiting:
                return
    raise AssertionError("the second reviewer never waited on the first one's lock")


def test_gold_rankings_stay_out_of_the_review_queue(db_url):
    alice, _bob, rita, _ray = setup(qualification_tasks=1)
    gold_prompt, _ = add_prompts("p", 2)
    with session_scope(write=False) as s:
        from db.models import Candidate

        cids = s.scalars(select(Candidate.id).where(Candidate.prompt_id == gold_prompt).order_by(Candidate.id)).all()
    with session_scope() as s:
        mark_gold(s, OPERATOR, "p", gold_prompt, "ranking", ranks={c: i + 1 for i, c in enumerate(cids)})
    gold_work, prompt = work(alice, "ranking")
    assert prompt == gold_prompt
    real_work, _ = work(alice, "ranking")
    with session_scope(write=False) as s:
        assert next_review(s, rita, "p").work_id == real_work
        assert review_counts(s, rita, "p")["ranking"] == 1


def test_imported_work_is_not_reviewed(db_url):
    _alice, _bob, rita, _ray = setup()
    (prompt_id,) = add_prompts("p", 1)
    with session_scope() as s:
        imported = Demonstration(prompt_id=prompt_id, turns=REPLY, status="submitted", origin="imported")
        s.add(imported)
        s.flush()
        imported_id = imported.id
    with session_scope(write=False) as s:
        assert next_review(s, rita, "p") is None
    with pytest.raises(Invalid, match="only human work is reviewed"):
        review(rita, "demonstration", imported_id, "accept")


def test_admins_review_every_project(db_url):
    alice, *_ = setup()
    add_prompts("p", 1)
    demo_id, _ = work(alice)
    with session_scope() as s:
        add_member(s, OPERATOR, "p", "alice")  # already a member: a no-op
    review(OPERATOR, "demonstration", demo_id, "reject", "not an answer")
    with session_scope(write=False) as s:
        (rejection,) = my_rejections(s, alice, "p")
    assert rejection.reviewer is None and rejection.reason == "not an answer"  # the CLI operator has no account
