"""Labeling: drafts, demonstrations, rankings (every rule, database unchanged on refusal), my work."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db.models import Assignment, Demonstration, Event, Ranking, RankingItem
from labeler.errors import Conflict, Forbidden, Invalid
from labeler.services import session_scope
from labeler.services.labeling import (
    ItemSubmission,
    RankingSubmission,
    load_draft,
    my_work,
    save_draft,
    submit_demonstration,
    submit_ranking,
)
from labeler.services.queue import next_task, skip_task
from tests.factories import make_project, make_user
from tests.services.queue_data import add_prompts, audit_counters, cheap_passwords, expire, snapshot  # noqa: F401

REPLY = [{"role": "assistant", "content": "Paris is the capital of France."}]
SUGGESTION = {"text": "Paris.", "model": "gpt-x", "params": {"temperature": 0.7}}


def setup(*names: str, **settings):
    actors = [make_user(n) for n in names]
    make_project("p", members=names, **settings)
    return actors


def lease(actor, kind="demonstration"):
    with session_scope() as s:
        return next_task(s, actor, "p", kind)


def ranked(task, ranks, **extra) -> RankingSubmission:
    items = [ItemSubmission(candidate_id=c.candidate_id, rank=r) for c, r in zip(task.candidates, ranks, strict=True)]
    return RankingSubmission(items=items, **extra)


# ---------------------------------------------------------------------------------------------
# Demonstrations


def test_submit_a_demonstration_with_its_suggestion_and_time(db_url):
    (alice,) = setup("alice")
    add_prompts("p", 1)
    task = lease(alice)
    with session_scope() as s:
        save_draft(s, alice, task.assignment_id, [{"role": "assistant", "content": "Par"}], seconds_spent=12)
    with session_scope() as s:
        demo_id = submit_demonstration(s, alice, task.assignment_id, REPLY, SUGGESTION, seconds_spent=8.5)
    with session_scope(write=False) as s:
        demo = s.get(Demonstration, demo_id)
        assert (demo.status, demo.origin, demo.labeler_id, demo.prompt_id) == ("submitted", "human", alice.id,
                                                                               task.prompt_id)
        assert demo.turns == REPLY and demo.suggestion == SUGGESTION and demo.seconds_spent == 20.5
        assert demo.submitted_at is not None
        assert s.get(Assignment, task.assignment_id).status == "completed"
        event = s.scalars(select(Event).where(Event.action == "demonstration.submit")).one()
        assert event.object_id == demo_id and "Paris" not in str(event.details)
        assert len(s.scalars(select(Demonstration)).all()) == 1  # the draft became the demonstration
    assert audit_counters() == []


def test_a_multi_turn_demonstration(db_url):
    (alice,) = setup("alice")
    add_prompts("p", 1)
    task = lease(alice)
    turns = [*REPLY, {"role": "user", "content": "And of Italy?"}, {"role": "assistant", "content": " Rome. "}]
    with session_scope() as s:
        demo_id = submit_demonstration(s, alice, task.assignment_id, turns)
    with session_scope(write=False) as s:
        assert s.get(Demonstration, demo_id).turns[-1] == {"role": "assistant", "content": "Rome."}


@pytest.mark.parametrize(
    ("turns", "message"),
    [
        ([], "empty"),
        ([{"role": "user", "content": "hi"}], "turn 1: expected a `assistant` turn"),
        ([*REPLY, {"role": "user", "content": "more?"}], "turn 2: the demonstration must end with an assistant"),
        ([*REPLY, {"role": "assistant", "content": "again"}], "turn 2: expected a `user` turn"),
        ([{"role": "assistant", "content": "  \n"}], r"turn 1 \(`assistant`\): the text is empty"),
        ([{"role": "system", "content": "x"}], "turn 1: role `system` is not allowed"),
        (["just text"], "turn 1: expected {role, content}"),
        ("just text", "expected a list"),
    ],
)
def test_invalid_demonstrations_are_refused_and_nothing_changes(db_url, turns, message):
    (alice,) = setup("alice")
    add_prompts("p", 1)
    task = lease(alice)
    with session_scope() as s:
        save_draft(s, alice, task.assignment_id, [{"role": "assistant", "content": "draft"}])
    before = snapshot()
    with pytest.raises(Invalid, match=message), session_scope() as s:
        submit_demonstration(s, alice, task.assignment_id, turns)
    assert snapshot() == before


def test_double_submit_stores_one_demonstration(db_url):
    (alice,) = setup("alice")
    add_prompts("p", 2)
    task = lease(alice)
    with session_scope() as s:
        first = submit_demonstration(s, alice, task.assignment_id, REPLY, seconds_spent=5)
    with session_scope() as s:
        again = submit_demonstration(s, alice, task.assignment_id, REPLY, seconds_spent=5)
    assert first == again
    with session_scope(write=False) as s:
        demos = s.scalars(select(Demonstration)).all()
        assert len(demos) == 1 and demos[0].seconds_spent == 5
        assert len(s.scalars(select(Event).where(Event.action == "demonstration.submit")).all()) == 1


def test_drafts_are_private_restored_and_renew_the_lease(db_url):
    alice, bob = setup("alice", "bob")
    add_prompts("p", 2)
    task = lease(alice)
    with session_scope(write=False) as s:
        assert load_draft(s, alice, task.assignment_id) is None
    draft = [*REPLY, {"role": "user", "content": ""}]  # a draft may be unfinished
    with session_scope() as s:
        save_draft(s, alice, task.assignment_id, draft, seconds_spent=30)
    with session_scope() as s:  # a reload, a new login: a new session
        assert load_draft(s, alice, task.assignment_id) == draft
        assert next_task(s, alice, "p", "demonstration").assignment_id == task.assignment_id
    with pytest.raises(Forbidden, match="another labeler"), session_scope(write=False) as s:
        load_draft(s, bob, task.assignment_id)
    with pytest.raises(Forbidden), session_scope() as s:
        save_draft(s, bob, task.assignment_id, REPLY)
    with pytest.raises(Invalid, match="turn 1: role `robot`"), session_scope() as s:
        save_draft(s, alice, task.assignment_id, [{"role": "robot", "content": "x"}])
    expire(task.assignment_id)
    with session_scope() as s:  # saving renews the lease
        save_draft(s, alice, task.assignment_id, REPLY, seconds_spent=10)
    with session_scope(write=False) as s:
        from db.base import utcnow

        assert s.get(Assignment, task.assignment_id).expires_at > utcnow()
        assert s.scalars(select(Demonstration)).one().seconds_spent == 40
    with session_scope() as s:
        demo_id = submit_demonstration(s, alice, task.assignment_id, REPLY)
    with session_scope(write=False) as s:
        assert load_draft(s, alice, task.assignment_id) is None
        assert s.get(Demonstration, demo_id).seconds_spent == 40
    with pytest.raises(Conflict, match="already submitted"), session_scope() as s:
        save_draft(s, alice, task.assignment_id, REPLY)


def test_an_expired_lease_with_a_draft_comes_back_while_the_prompt_needs_it(db_url):
    alice, bob = setup("alice", "bob", labels_per_item=2)
    p1, p2 = add_prompts("p", 2)
    task = lease(alice)
    with session_scope() as s:
        save_draft(s, alice, task.assignment_id, REPLY)
    expire(task.assignment_id)
    again = lease(alice)  # her own expired lease: renewed, same task, same draft
    assert again.assignment_id == task.assignment_id and again.prompt_id == p1
    expire(task.assignment_id)
    assert lease(bob).prompt_id == p1  # reclaimed for others meanwhile; p1 needs two labels
    again = lease(alice)
    assert again.assignment_id == task.assignment_id and again.prompt_id == p1
    with session_scope(write=False) as s:
        assert load_draft(s, alice, again.assignment_id) == REPLY
        assert s.get(Assignment, task.assignment_id).status == "active"
    assert audit_counters() == []


def test_an_expired_lease_taken_by_another_keeps_the_draft_readable_but_closed(db_url):
    alice, bob = setup("alice", "bob", labels_per_item=1)
    (p1,) = add_prompts("p", 1)
    task = lease(alice)
    with session_scope() as s:
        save_draft(s, alice, task.assignment_id, REPLY)
    expire(task.assignment_id)
    assert lease(bob).prompt_id == p1
    assert lease(alice) is None
    with session_scope(write=False) as s:
        assert load_draft(s, alice, task.assignment_id) == REPLY  # text is never lost
    with pytest.raises(Conflict, match="expired"), session_scope() as s:
        submit_demonstration(s, alice, task.assignment_id, REPLY)
    with session_scope() as s:  # autosave after expiry: the text is kept, the slot is not taken back
        save_draft(s, alice, task.assignment_id, [*REPLY, {"role": "user", "content": "x"}])
    assert audit_counters() == []


def test_submits_need_your_own_open_lease_of_the_right_kind(db_url):
    alice, bob = setup("alice", "bob", labels_per_item=2)
    add_prompts("p", 2)
    task = lease(alice)
    with pytest.raises(Forbidden, match="another labeler"), session_scope() as s:
        submit_demonstration(s, bob, task.assignment_id, REPLY)
    with pytest.raises(Invalid, match="not a ranking"), session_scope() as s:
        submit_ranking(s, alice, task.assignment_id, RankingSubmission(items=[]))
    with session_scope() as s:
        skip_task(s, alice, task.assignment_id, "off-topic")
    with pytest.raises(Conflict, match="skipped"), session_scope() as s:
        submit_demonstration(s, alice, task.assignment_id, REPLY)
    assert audit_counters() == []


# ---------------------------------------------------------------------------------------------
# Rankings


def test_submit_a_ranking_with_a_tie_likert_and_flags(db_url):
    (alice,) = setup("alice", k_max=4)
    add_prompts("p", 1, candidates=4)
    task = lease(alice, "ranking")
    sub = ranked(task, [1, 1, 3, 4], comment=" D is rude ", seconds_spent=42)
    sub.items[3].likert, sub.items[3].flags = 2, ["hallucination", "harmful_advice", "hallucination"]
    sub.items[0].likert = 7
    with session_scope() as s:
        ranking_id = submit_ranking(s, alice, task.assignment_id, sub)
    with session_scope(write=False) as s:
        ranking = s.get(Ranking, ranking_id)
        assert (ranking.status, ranking.comment, ranking.seconds_spent, ranking.none_acceptable) == (
            "submitted", "D is rude", 42, False)
        assert ranking.display_order == [c.candidate_id for c in task.candidates]
        items = {i.candidate_id: i for i in s.scalars(select(RankingItem).where(RankingItem.ranking_id == ranking_id))}
        got = [(items[c.candidate_id].rank, items[c.candidate_id].likert, items[c.candidate_id].flags,
                items[c.candidate_id].position) for c in task.candidates]
        assert got == [(1, 7, [], 0), (1, None, [], 1), (3, None, [], 2),
                       (4, 2, ["hallucination", "harmful_advice"], 3)]
        assert s.scalars(select(Event).where(Event.action == "ranking.submit")).one().object_id == ranking_id
    with session_scope() as s:  # double submit: the same id, nothing changes
        assert submit_ranking(s, alice, task.assignment_id, sub) == ranking_id
    with pytest.raises(Conflict, match="already submitted from another tab"), session_scope() as s:
        submit_ranking(s, alice, task.assignment_id, ranked(task, [4, 3, 2, 1]))  # different work: said so
    with session_scope(write=False) as s:
        assert s.get(RankingItem, items[task.candidates[0].candidate_id].id).rank == 1
    assert audit_counters() == []


def test_none_acceptable_needs_no_ranks(db_url):
    (alice,) = setup("alice")
    add_prompts("p", 1, candidates=3)
    task = lease(alice, "ranking")
    sub = RankingSubmission(items=[ItemSubmission(candidate_id=c.candidate_id, likert=1) for c in task.candidates],
                            none_acceptable=True)
    with session_scope() as s:
        ranking_id = submit_ranking(s, alice, task.assignment_id, sub)
    with session_scope(write=False) as s:
        assert s.get(Ranking, ranking_id).none_acceptable
        assert {i.rank for i in s.scalars(select(RankingItem))} == {None}


def _bad(task, kind):
    c = [x.candidate_id for x in task.candidates]
    item = ItemSubmission
    return {
        "missing": RankingSubmission(items=[item(candidate_id=c[0], rank=1), item(candidate_id=c[1], rank=2)]),
        "extra": RankingSubmission(items=[*(item(candidate_id=x, rank=i + 1) for i, x in enumerate(c)),
                                          item(candidate_id=10_000, rank=1)]),
        "twice": RankingSubmission(items=[item(candidate_id=c[0], rank=1), item(candidate_id=c[0], rank=1),
                                          item(candidate_id=c[1], rank=2), item(candidate_id=c[2], rank=3)]),
        "no rank": ranked(task, [1, 2, None]),
        "out of range": ranked(task, [1, 2, 4]),
        "zero": ranked(task, [0, 1, 2]),
        "dense": ranked(task, [1, 1, 2]),
        "gap": ranked(task, [1, 3, 3]),
        "likert": RankingSubmission(items=[item(candidate_id=x, rank=i + 1, likert=8) for i, x in enumerate(c)]),
        "flag": RankingSubmission(items=[item(candidate_id=x, rank=i + 1, flags=["boring"]) for i, x in enumerate(c)]),
    }[kind]


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", "candidate C missing from the submission"),
        ("extra", "candidate `10000` was not shown"),
        ("twice", "candidate A appears twice"),
        ("no rank", "candidate C has no rank"),
        ("out of range", r"candidate C: rank 4 is outside 1..3"),
        ("zero", r"candidate A: rank 0 is outside 1..3"),
        ("dense", r"candidate C: rank 2 is inconsistent: 2 candidate\(s\) rank better, so its rank must be 3"),
        ("gap", "candidate B: rank 3 is inconsistent"),
        ("likert", r"candidate A: Likert score 8 is outside 1..7"),
        ("flag", "candidate A: unknown flag `boring`"),
    ],
)
def test_inconsistent_rankings_are_refused_and_nothing_changes(db_url, kind, message):
    (alice,) = setup("alice")
    add_prompts("p", 1, candidates=3)
    task = lease(alice, "ranking")
    before = snapshot()
    with pytest.raises(Invalid, match=message), session_scope() as s:
        submit_ranking(s, alice, task.assignment_id, _bad(task, kind))
    assert snapshot() == before


def test_ties_only_where_the_project_allows_them(db_url):
    (alice,) = setup("alice", ties_allowed=False)
    add_prompts("p", 1, candidates=3)
    task = lease(alice, "ranking")
    before = snapshot()
    with pytest.raises(Invalid, match="candidates A and B share rank 1, but this project does not allow ties"), \
            session_scope() as s:
        submit_ranking(s, alice, task.assignment_id, ranked(task, [1, 1, 3]))
    assert snapshot() == before
    with session_scope() as s:
        assert submit_ranking(s, alice, task.assignment_id, ranked(task, [2, 1, 3]))


def test_ranking_submits_need_an_open_lease(db_url):
    alice, bob = setup("alice", "bob", labels_per_item=2)
    add_prompts("p", 1, candidates=3)
    task = lease(alice, "ranking")
    with pytest.raises(Forbidden), session_scope() as s:
        submit_ranking(s, bob, task.assignment_id, ranked(task, [1, 2, 3]))
    expire(task.assignment_id)
    with pytest.raises(Conflict, match="expired"), session_scope() as s:
        submit_ranking(s, alice, task.assignment_id, ranked(task, [1, 2, 3]))


# ---------------------------------------------------------------------------------------------
# My work


def test_my_work_counts(db_url):
    alice, bob = setup("alice", "bob", labels_per_item=2)
    add_prompts("p", 3, candidates=2)
    with session_scope() as s:
        empty = my_work(s, alice, "p")
    assert (empty.today, empty.total, empty.median_seconds) == (0, 0, None)
    assert empty.remaining == {"demonstration": 3, "ranking": 3}
    for seconds in (10, 30):
        task = lease(alice)
        with session_scope() as s:
            submit_demonstration(s, alice, task.assignment_id, REPLY, seconds_spent=seconds)
    task = lease(alice, "ranking")
    with session_scope() as s:
        submit_ranking(s, alice, task.assignment_id, ranked(task, [1, 2], seconds_spent=80))
    skipped = lease(alice, "ranking")
    with session_scope() as s:
        skip_task(s, alice, skipped.assignment_id, "unclear")
    for _ in range(3):
        task = lease(bob)
        with session_scope() as s:
            submit_demonstration(s, bob, task.assignment_id, REPLY, seconds_spent=1)
    with session_scope(write=False) as s:
        mine = my_work(s, alice, "p")
    assert (mine.today, mine.total, mine.median_seconds) == (3, 3, 30)
    # demonstrations: prompts 1 and 2 have two labels, prompt 3 one; rankings: one of three has one
    assert mine.remaining == {"demonstration": 1, "ranking": 3}
    with pytest.raises(Forbidden), session_scope(write=False) as s:
        my_work(s, make_user("olga"), "p")
