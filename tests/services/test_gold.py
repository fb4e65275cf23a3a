"""Gold tasks and qualification: scoring, marking, gating, gold checks mixed in, pause, counters, exports."""

from __future__ import annotations

import random
from dataclasses import fields

import pytest
from sqlalchemy import select

from db.models import Assignment, Candidate, Event, GoldTask, Prompt
from labeler.errors import Conflict, Forbidden, Invalid, NotFound
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.export import ExportFilters, demonstration_rows, ranking_rows
from labeler.services.gold import (
    GOLD_RNG,
    gold_scores,
    grant_qualification,
    list_gold,
    list_qualifications,
    mark_gold,
    my_qualification,
    qualification,
    ranking_agreement,
    reset_qualification,
    set_paused,
    unmark_gold,
)
from labeler.services.labeling import RankingSubmission, save_draft, submit_demonstration, submit_ranking
from labeler.services.projects import add_member
from labeler.services.queue import Task, expire_leases, get_task, next_task, skip_task
from labeler.services.review import next_review, review_work
from tests.factories import make_project, make_user
from tests.services.queue_data import add_prompts, audit_counters, cheap_passwords, counter, expire  # noqa: F401

REPLY = [{"role": "assistant", "content": "Here you go."}]
EXEMPLARY = [{"role": "assistant", "content": "The exemplary answer."}]


def team(*names, **settings):
    actors = [make_user(n) for n in names]
    make_project("p", members=names, **settings)
    return actors


def lease(actor, kind="ranking"):
    with session_scope() as s:
        return next_task(s, actor, "p", kind)


def candidates(prompt_id: int) -> list[int]:
    with session_scope(write=False) as s:
        return list(s.scalars(select(Candidate.id).where(Candidate.prompt_id == prompt_id).order_by(Candidate.id)))


def gold_ranking(prompt_id: int, n: int | None = None) -> dict[int, int]:
    """Mark a prompt gold with its candidates expected in id order (the first best); the expected ranks."""
    ranks = {cid: i + 1 for i, cid in enumerate(candidates(prompt_id)[:n])}
    with session_scope() as s:
        mark_gold(s, OPERATOR, "p", prompt_id, "ranking", ranks=ranks)
    return ranks


def rank(actor, task: Task, ranks: dict[int, int | None], **extra) -> int:
    items = [{"candidate_id": c.candidate_id, "rank": ranks[c.candidate_id]} for c in task.candidates]
    with session_scope() as s:
        return submit_ranking(s, actor, task.assignment_id, RankingSubmission.model_validate({"items": items, **extra}))


def rank_in_order(actor, task: Task) -> int:
    """Rank the shown candidates by candidate id (the gold's expected order)."""
    order = sorted(c.candidate_id for c in task.candidates)
    return rank(actor, task, {cid: order.index(cid) + 1 for cid in order})


def rank_reversed(actor, task: Task) -> int:
    order = sorted((c.candidate_id for c in task.candidates), reverse=True)
    return rank(actor, task, {cid: order.index(cid) + 1 for cid in order})


def state(username: str):
    with session_scope(write=False) as s:
        return qualification(s, OPERATOR, "p", username)


def gold_of(assignment_id: int) -> tuple[str | None, float | None]:
    with session_scope(write=False) as s:
        a = s.get(Assignment, assignment_id)
        return a.gold, a.gold_score


# ---------------------------------------------------------------------------------------------
# Scoring


def test_ranking_agreement_counts_pairs_and_gives_ties_half():
    expected = {1: 1, 2: 2, 3: 3}
    assert ranking_agreement(expected, {1: 1, 2: 2, 3: 3}) == 1.0
    assert ranking_agreement(expected, {1: 3, 2: 2, 3: 1}) == 0.0
    assert ranking_agreement(expected, {1: 1, 2: 3, 3: 2}) == pytest.approx(2 / 3)
    assert ranking_agreement(expected, {1: 1, 2: 1, 3: 3}) == pytest.approx((0.5 + 1 + 1) / 3)  # labeler ties 1-2
    assert ranking_agreement({1: 1, 2: 1, 3: 3}, {1: 1, 2: 1, 3: 3}) == 1.0  # the same tie agrees
    assert ranking_agreement({1: 1, 2: 1, 3: 3}, {1: 1, 2: 2, 3: 3}) == pytest.approx((0.5 + 1 + 1) / 3)
    assert ranking_agreement(expected, {1: None, 2: None, 3: None}) == 0.0  # none acceptable: no order given
    assert ranking_agreement(expected, {1: 1, 2: 2}) == pytest.approx(1 / 3)  # pairs with an unranked one: 0
    with pytest.raises(Invalid):
        ranking_agreement({1: 1}, {1: 1})


# ---------------------------------------------------------------------------------------------
# Marking gold


def test_mark_list_replace_and_unmark_gold(db_url):
    (alice,) = team("alice")
    p1, p2 = add_prompts("p", 2)
    c = candidates(p1)
    with session_scope() as s:
        info = mark_gold(s, OPERATOR, "p", p1, "ranking", ranks={str(c[0]): 2, str(c[1]): 1, str(c[2]): 3})
    assert (info.prompt_id, info.kind, info.results, info.mean_score) == (p1, "ranking", 0, None)
    assert info.expected == {"ranks": {str(c[0]): 2, str(c[1]): 1, str(c[2]): 3}}
    assert info.preview == "question 0"
    with session_scope() as s:
        mark_gold(s, OPERATOR, "p", p1, "ranking", ranks={c[0]: 1, c[1]: 2})  # replaces
        mark_gold(s, OPERATOR, "p", p2, "demonstration", turns=EXEMPLARY)
    with session_scope(write=False) as s:
        listed = list_gold(s, OPERATOR, "p")
        assert [(g.prompt_id, g.kind) for g in listed] == [(p1, "ranking"), (p2, "demonstration")]
        assert listed[0].expected == {"ranks": {str(c[0]): 1, str(c[1]): 2}}
        assert listed[1].expected == {"turns": EXEMPLARY}
        assert s.scalar(select(Event.action).where(Event.action == "gold.mark").limit(1)) == "gold.mark"
    with session_scope() as s:
        unmark_gold(s, OPERATOR, "p", p2, "demonstration")
    with session_scope(write=False) as s:
        assert [g.prompt_id for g in list_gold(s, OPERATOR, "p")] == [p1]
    with pytest.raises(NotFound), session_scope() as s:
        unmark_gold(s, OPERATOR, "p", p2, "demonstration")
    with pytest.raises(Forbidden), session_scope() as s:
        mark_gold(s, alice, "p", p2, "demonstration", turns=EXEMPLARY)
    with pytest.raises(Forbidden), session_scope(write=False) as s:
        list_gold(s, alice, "p")


@pytest.mark.parametrize(("kind", "payload", "message"), [
    ("ranking", {"ranks": {"999999": 1, "FIRST": 2}}, "are not replies to prompt"),
    ("ranking", {"ranks": {"FIRST": 1, "SECOND": 3}}, "its rank must be 2"),
    ("ranking", {"ranks": {"FIRST": 1}}, "between 2 and 9"),
    ("ranking", {"turns": EXEMPLARY}, "needs the expected ranks"),
    ("demonstration", {"turns": [{"role": "user", "content": "hi"}]}, "expected a `assistant` turn"),
    ("demonstration", {"ranks": {"FIRST": 1, "SECOND": 2}}, "needs the exemplary turns"),
])
def test_invalid_gold_is_refused_and_nothing_is_stored(db_url, kind, payload, message):
    team("alice")
    (p1,) = add_prompts("p", 1)
    first, second = candidates(p1)[:2]
    if "ranks" in payload:
        payload = {"ranks": {(first if k == "FIRST" else second if k == "SECOND" else k): v
                             for k, v in payload["ranks"].items()}}
    with pytest.raises(Invalid, match=message), session_scope() as s:
        mark_gold(s, OPERATOR, "p", p1, kind, **payload)
    with session_scope(write=False) as s:
        assert s.scalars(select(GoldTask)).all() == []


def test_gold_ties_only_where_the_project_allows_them(db_url):
    team("alice", ties_allowed=False)
    (p1,) = add_prompts("p", 1)
    a, b, c, _ = candidates(p1)
    with pytest.raises(Invalid, match="does not allow ties"), session_scope() as s:
        mark_gold(s, OPERATOR, "p", p1, "ranking", ranks={a: 1, b: 1, c: 3})
    with pytest.raises(NotFound, match="not found in project"), session_scope() as s:
        mark_gold(s, OPERATOR, "p", p1 + 100, "ranking", ranks={a: 1, b: 2})


# ---------------------------------------------------------------------------------------------
# Gold stays out of the normal queue and its counters


def test_gold_prompts_never_enter_the_normal_queue(db_url):
    alice, bob = team("alice", "bob")  # no qualification, no gold rate
    gold_prompt, real = add_prompts("p", 2)
    gold_ranking(gold_prompt)
    with session_scope() as s:
        mark_gold(s, OPERATOR, "p", gold_prompt, "demonstration", turns=EXEMPLARY)
    task = lease(alice)
    assert task.prompt_id == real
    rank_in_order(alice, task)
    assert lease(alice) is None and lease(bob) is None  # the gold prompt is never real work
    assert lease(alice, "demonstration").prompt_id == real
    assert counter(gold_prompt, "ranking") == 0 and counter(gold_prompt, "demonstration") == 0
    assert audit_counters() == []


def test_the_leased_task_does_not_say_it_is_gold(db_url):
    (alice,) = team("alice", qualification_tasks=1)
    gold_prompt, _ = add_prompts("p", 2)
    gold_ranking(gold_prompt)
    task = lease(alice)
    assert task.prompt_id == gold_prompt
    assert {f.name for f in fields(Task)} == {"assignment_id", "project", "kind", "prompt_id", "messages",
                                              "candidates", "expires_at", "guidelines", "settings"}
    shown = {f.name: getattr(task, f.name) for f in fields(Task) if f.name != "settings"}  # settings: the project's
    assert "gold" not in repr(shown).lower() and "expected" not in repr(shown).lower()


def test_gold_leases_leave_the_counters_alone_on_expiry_skip_and_renewal(db_url):
    alice, bob = team("alice", "bob", qualification_tasks=3)
    g1, g2, g3 = add_prompts("p", 3)
    for g in (g1, g2, g3):
        gold_ranking(g)
    first = lease(alice)
    assert first.prompt_id == g1
    expire(first.assignment_id)
    with session_scope() as s:
        assert expire_leases(s) == 1
    assert counter(g1, "ranking") == 0 and audit_counters() == []
    second = lease(alice)  # each gold task once per labeler: the expired one does not come back
    assert second.prompt_id == g2
    with session_scope() as s:
        skip_task(s, alice, second.assignment_id, "cannot judge")
    assert counter(g2, "ranking") == 0 and audit_counters() == []
    with session_scope() as s:  # a gold demonstration lease expires and is renewed by its draft
        mark_gold(s, OPERATOR, "p", g3, "demonstration", turns=EXEMPLARY)
    demo = lease(bob, "demonstration")
    assert demo.prompt_id == g3
    expire(demo.assignment_id)
    with session_scope() as s:
        save_draft(s, bob, demo.assignment_id, [{"role": "assistant", "content": "dr"}])
    with session_scope(write=False) as s:
        assert s.get(Assignment, demo.assignment_id).status == "active"
    assert counter(g3, "demonstration") == 0 and audit_counters() == []


# ---------------------------------------------------------------------------------------------
# Qualification


def test_a_new_labeler_meets_the_qualification_set_first_then_real_work(db_url):
    alice, bob = team("alice", "bob", qualification_tasks=2, qualification_threshold=0.75)
    g1, g2, real1, real2 = add_prompts("p", 4)
    gold_ranking(g1)
    gold_ranking(g2)
    assert state("alice").status == "not_started" and state("alice").required == 2
    first = lease(alice)
    assert first.prompt_id == g1 and len(first.candidates) == 4
    rank_in_order(alice, first)
    assert gold_of(first.assignment_id) == ("qualification", 1.0)
    mid = state("alice")
    assert (mid.status, mid.done, mid.score) == ("in_progress", 1, 1.0)
    with session_scope(write=False) as s:  # the labeler sees progress, but no running score
        own = my_qualification(s, alice, "p")
        assert (own.status, own.done, own.required, own.score, own.gold_score) == ("in_progress", 1, 2, None, None)
    second = lease(alice)
    assert second.prompt_id == g2
    c = sorted(x.candidate_id for x in second.candidates)
    rank(alice, second, {c[0]: 1, c[1]: 2, c[2]: 4, c[3]: 3})  # one pair of six swapped
    assert gold_of(second.assignment_id) == ("qualification", pytest.approx(5 / 6))
    done = state("alice")
    assert (done.status, done.done, done.score) == ("qualified", 2, pytest.approx((1 + 5 / 6) / 2))
    assert done.qualified_at is not None
    real = lease(alice)
    assert real.prompt_id == real1 and gold_of(real.assignment_id) == (None, None)
    assert lease(bob).prompt_id == g1  # bob starts his own qualification with the same set
    assert counter(g1, "ranking") == 0 and counter(g2, "ranking") == 0 and audit_counters() == []
    with session_scope(write=False) as s:
        assert gold_scores(s, s.scalar(select(Prompt.project_id).limit(1))) == {
            alice.id: (pytest.approx((1 + 5 / 6) / 2), 2)}
        assert s.scalar(select(Event.action).where(Event.action == "qualification.pass")) == "qualification.pass"


def test_a_failed_qualification_gets_no_work_until_an_admin_resets_or_grants(db_url):
    (alice,) = team("alice", qualification_tasks=1, qualification_threshold=0.75)
    g1, g2, real = add_prompts("p", 3)
    gold_ranking(g1)
    rank_reversed(alice, lease(alice))
    failed = state("alice")
    assert (failed.status, failed.score) == ("failed", 0.0)
    with pytest.raises(Forbidden, match=r"did not pass the qualification for project `p` \(score 0%, 75% needed\)"):
        lease(alice)
    assert counter(real, "ranking") == 0
    with pytest.raises(Forbidden), session_scope() as s:
        reset_qualification(s, alice, "p", "alice")
    with session_scope() as s:
        reset_qualification(s, OPERATOR, "p", "alice")
    assert state("alice").status == "not_started"
    with pytest.raises(Conflict, match="no `ranking` qualification task is left for you"):
        lease(alice)  # g1 was hers already: the new attempt needs new gold
    gold_ranking(g2)
    rank_in_order(alice, lease(alice))
    assert state("alice").status == "qualified" and state("alice").done == 1
    assert lease(alice).prompt_id == real


def test_an_admin_can_grant_qualification(db_url):
    (alice,) = team("alice", qualification_tasks=3)
    g1, real = add_prompts("p", 2)
    gold_ranking(g1)
    with session_scope() as s:
        grant_qualification(s, OPERATOR, "p", "alice")
    assert state("alice").status == "qualified"
    assert lease(alice).prompt_id == real


def reviewer(name: str = "rita"):
    """A reviewer who is a member of project `p`."""
    actor = make_user(name, role="reviewer")
    with session_scope() as s:
        add_member(s, OPERATOR, "p", name)
    return actor


def test_demonstration_gold_waits_for_its_review(db_url):
    (alice,) = team("alice", qualification_tasks=1)
    rita = reviewer()
    g1, real = add_prompts("p", 2)
    with session_scope() as s:
        mark_gold(s, OPERATOR, "p", g1, "demonstration", turns=EXEMPLARY)
    task = lease(alice, "demonstration")
    assert task.prompt_id == g1
    with session_scope() as s:
        demo_id = submit_demonstration(s, alice, task.assignment_id, REPLY)
    assert gold_of(task.assignment_id) == ("qualification", None)
    assert state("alice").awaiting_review == 1 and state("alice").status == "in_progress"
    with pytest.raises(Conflict, match="waiting for a reviewer to check 1 demonstration"):
        lease(alice, "demonstration")
    with session_scope(write=False) as s:
        item = next_review(s, rita, "p")
    assert (item.kind, item.work_id, item.gold, item.expected_turns) == ("demonstration", demo_id, True, EXEMPLARY)
    with session_scope() as s:
        review_work(s, rita, "demonstration", demo_id, "accept")
    assert gold_of(task.assignment_id) == ("qualification", 1.0)
    assert state("alice").status == "qualified"
    assert lease(alice, "demonstration").prompt_id == real
    assert audit_counters() == []


def test_qualification_is_for_labelers_only(db_url):
    team("alice", qualification_tasks=2)
    rita = reviewer()
    g1, real = add_prompts("p", 2)
    gold_ranking(g1)
    assert lease(rita).prompt_id == real
    assert state("rita").status == "qualified" and state("rita").required == 0


# ---------------------------------------------------------------------------------------------
# Gold checks mixed into real work


def test_gold_checks_are_mixed_in_at_the_gold_rate(db_url):
    (alice,) = team("alice", gold_rate=0.5, labels_per_item=1)
    prompts = add_prompts("p", 24)
    golds = prompts[:10]
    for g in golds:
        gold_ranking(g)
    GOLD_RNG.seed(7)
    draws = random.Random(7)
    expected = [draws.random() < 0.5 for _ in range(12)]
    assert 0 < sum(expected) <= len(golds)  # the seed gives a mix, and never more checks than gold tasks
    got = []
    for _ in range(12):
        task = lease(alice)
        got.append(task.prompt_id in golds)
        rank_in_order(alice, task)
    assert got == expected
    with session_scope(write=False) as s:
        phases = s.scalars(select(Assignment.gold).order_by(Assignment.id)).all()
    assert phases == ["check" if g else None for g in expected]
    assert all(counter(g, "ranking") == 0 for g in golds) and audit_counters() == []
    assert state("alice").gold_n == sum(expected) and state("alice").gold_score == 1.0


def test_no_gold_rate_means_no_checks(db_url):
    (alice,) = team("alice")
    g1, real = add_prompts("p", 2)
    gold_ranking(g1)
    assert lease(alice).prompt_id == real


def test_a_labeler_slips_when_recent_checks_fall_below_the_threshold(db_url):
    alice, bob = team("alice", "bob", gold_rate=0.5, slipping_window=2, slipping_threshold=0.6)
    prompts = add_prompts("p", 4)
    for g in prompts:
        gold_ranking(g)
    GOLD_RNG.seed(0)
    # every prompt is gold: a check when drawn, else nothing left to lease
    done = 0
    while done < 2:
        task = lease(alice)
        if task is not None:
            rank_reversed(alice, task)
            done += 1
    slipping = state("alice")
    assert (slipping.recent_n, slipping.recent_score, slipping.slipping) == (2, 0.0, True)
    with session_scope(write=False) as s:
        rows = {r.username: r for r in list_qualifications(s, OPERATOR, "p")}
    assert rows["alice"].slipping and not rows["bob"].slipping and rows["bob"].recent_n == 0


# ---------------------------------------------------------------------------------------------
# Pause


def test_a_paused_labeler_gets_no_task_and_cannot_work_on_one(db_url):
    alice, bob = team("alice", "bob")
    add_prompts("p", 3)
    task = lease(alice)
    with pytest.raises(Forbidden), session_scope() as s:
        set_paused(s, bob, "p", "alice", True)
    with session_scope() as s:
        set_paused(s, OPERATOR, "p", "alice", True)
    assert state("alice").status == "paused" and state("alice").paused
    with pytest.raises(Forbidden, match="`alice` is paused on project `p`"):
        lease(alice)
    with pytest.raises(Forbidden, match="paused"), session_scope(write=False) as s:
        get_task(s, alice, task.assignment_id)
    assert lease(bob) is not None
    with session_scope() as s:
        set_paused(s, OPERATOR, "p", "alice", False)
    assert lease(alice).assignment_id == task.assignment_id
    with pytest.raises(NotFound, match="not a member"), session_scope() as s:
        make_user("carol")
        set_paused(s, OPERATOR, "p", "carol", True)
    with session_scope(write=False) as s:
        actions = s.scalars(select(Event.action).where(Event.action.in_(("member.pause", "member.resume")))).all()
    assert sorted(actions) == ["member.pause", "member.resume"]


# ---------------------------------------------------------------------------------------------
# Exports


def test_gold_results_are_not_exported(db_url):
    alice, bob = team("alice", "bob", qualification_tasks=1)
    g1, real = add_prompts("p", 2)
    gold_ranking(g1)
    with session_scope() as s:
        mark_gold(s, OPERATOR, "p", g1, "demonstration", turns=EXEMPLARY)
    gold_id = rank_in_order(alice, lease(alice))
    real_id = rank_in_order(alice, lease(alice))
    gold_demo = lease(bob, "demonstration")
    assert gold_demo.prompt_id == g1
    with session_scope() as s:
        submit_demonstration(s, bob, gold_demo.assignment_id, REPLY)
    with session_scope(write=False) as s:
        pid = s.scalar(select(Prompt.project_id).limit(1))
        exported = [row.ranking_id for row in ranking_rows(s, pid, ExportFilters())]
        demos = list(demonstration_rows(s, pid, ExportFilters()))
    assert exported == [real_id] and gold_id != real_id
    assert demos == []
