"""The work queue: leasing, fairness, overlap, expiry, skip, permissions, and 32 labelers at once."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from db.base import utcnow
from db.models import Assignment, Event, Ranking, RankingItem
from labeler.errors import Conflict, Forbidden, Invalid, NotFound
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.auth import set_active
from labeler.services.labeling import RankingSubmission, submit_demonstration, submit_ranking
from labeler.services.queue import expire_leases, get_task, next_task, release_label, skip_task
from tests.factories import make_project, make_user
from tests.services.queue_data import add_prompts, audit_counters, cheap_passwords, counter, expire  # noqa: F401

REPLY = [{"role": "assistant", "content": "Here you go."}]


def lease(actor, kind="demonstration", project="p"):
    with session_scope() as s:
        return next_task(s, actor, project, kind)


def submit(actor, task):
    with session_scope() as s:
        if task.kind == "demonstration":
            return submit_demonstration(s, actor, task.assignment_id, REPLY)
        items = [{"candidate_id": c.candidate_id, "rank": i + 1} for i, c in enumerate(task.candidates)]
        return submit_ranking(s, actor, task.assignment_id, RankingSubmission.model_validate({"items": items}))


def team(*names, **settings):
    actors = [make_user(n) for n in names]
    make_project("p", members=names, **settings)
    return actors


def test_next_task_leases_the_oldest_prompt_and_gives_it_back_until_done(db_url):
    (alice,) = team("alice", lease_minutes=20)
    ids = add_prompts("p", 3)
    task = lease(alice)
    assert task.prompt_id == ids[0] and task.kind == "demonstration" and task.project == "p"
    assert task.messages == [{"role": "user", "content": "question 0"}] and task.candidates == []
    assert task.guidelines.startswith("Be helpful") and task.settings.lease_minutes == 20
    assert timedelta(minutes=19) < task.expires_at - utcnow() <= timedelta(minutes=20)
    assert lease(alice).assignment_id == task.assignment_id  # own lease back, not a second one
    assert counter(ids[0], "demonstration") == 1
    with session_scope(write=False) as s:
        assert get_task(s, alice, task.assignment_id) == task
    submit(alice, task)
    assert lease(alice).prompt_id == ids[1]
    assert audit_counters() == []


def test_fewest_labels_first_then_oldest(db_url):
    alice, bob, carol, dave = team("alice", "bob", "carol", "dave", labels_per_item=2)
    p1, p2, p3 = add_prompts("p", 3)
    submit(alice, lease(alice))
    assert lease(bob).prompt_id == p2  # p1 already has one label
    submit(bob, lease(bob))
    carol_task = lease(carol)
    assert carol_task.prompt_id == p3
    assert lease(dave).prompt_id == p1  # everything has one label (or lease): the oldest
    submit(carol, carol_task)
    assert lease(alice).prompt_id == p2  # p1 is alice's already
    assert audit_counters() == []


def test_never_the_same_prompt_twice_nor_beyond_the_overlap(db_url):
    alice, bob, carol = team("alice", "bob", "carol", labels_per_item=2)
    p1, p2 = add_prompts("p", 2)
    submit(alice, lease(alice))
    task = lease(alice)
    assert task.prompt_id == p2
    with session_scope() as s:
        skip_task(s, alice, task.assignment_id, "don't know the topic")
    assert lease(alice) is None  # p1 done, p2 skipped: never again for alice
    bobs = lease(bob)
    assert bobs.prompt_id == p2  # p2 has no label left after the skip: fewest first
    submit(bob, bobs)
    submit(carol, lease(carol))  # p1 (oldest of the prompts with one label)
    carols = lease(carol)
    assert carols.prompt_id == p2
    submit(carol, carols)
    assert lease(bob) is None  # both prompts have their two labels
    assert counter(p1, "demonstration") == 2 and counter(p2, "demonstration") == 2
    assert audit_counters() == []


def test_an_active_lease_counts_toward_the_overlap(db_url):
    alice, bob = team("alice", "bob", labels_per_item=1)
    (p1,) = add_prompts("p", 1)
    task = lease(alice)
    assert lease(bob) is None
    submit(alice, task)
    assert lease(bob) is None and counter(p1, "demonstration") == 1


def test_expired_leases_return_to_the_pool_lazily(db_url):
    alice, bob = team("alice", "bob", labels_per_item=1)
    (p1,) = add_prompts("p", 1)
    task = lease(alice)
    expire(task.assignment_id)
    bobs = lease(bob)
    assert bobs.prompt_id == p1 and counter(p1, "demonstration") == 1
    with session_scope(write=False) as s:
        assert s.get(Assignment, task.assignment_id).status == "expired"
    with pytest.raises(Conflict, match="expired"), session_scope(write=False) as s:
        get_task(s, alice, task.assignment_id)
    with pytest.raises(Conflict, match="expired"), session_scope() as s:
        submit_demonstration(s, alice, task.assignment_id, REPLY)
    assert lease(alice) is None  # the prompt is bob's now, and never alice's again
    assert audit_counters() == []


def test_expire_leases_reclaims_and_counts(db_url):
    alice, bob = team("alice", "bob", labels_per_item=2)
    p1, p2 = add_prompts("p", 2)
    a, b = lease(alice), lease(bob)
    r = lease(alice, "ranking")
    expire(a.assignment_id)
    expire(r.assignment_id)
    with session_scope() as s:
        assert expire_leases(s) == 2
    with session_scope() as s:
        assert expire_leases(s) == 0
    assert counter(p1, "demonstration") == 0 and counter(p2, "demonstration") == 1
    assert counter(r.prompt_id, "ranking") == 0
    with session_scope(write=False) as s:
        assert get_task(s, bob, b.assignment_id).prompt_id == p2
    assert audit_counters() == []


def test_skip_needs_a_reason_and_releases_the_lease(db_url):
    alice, bob = team("alice", "bob", labels_per_item=1)
    (p1,) = add_prompts("p", 1)
    task = lease(alice)
    for reason in ("", "   "):
        with pytest.raises(Invalid, match="reason"), session_scope() as s:
            skip_task(s, alice, task.assignment_id, reason)
    assert counter(p1, "demonstration") == 1
    with pytest.raises(Forbidden), session_scope() as s:
        skip_task(s, bob, task.assignment_id, "not mine")
    with session_scope() as s:
        skip_task(s, alice, task.assignment_id, "needs medical expertise")
    with session_scope() as s:
        skip_task(s, alice, task.assignment_id, "double click")  # no-op
    with session_scope(write=False) as s:
        a = s.get(Assignment, task.assignment_id)
        assert (a.status, a.skip_reason) == ("released", "needs medical expertise")
        event = s.scalars(select(Event).where(Event.action == "task.skip")).one()
        assert event.actor_name == "alice" and event.object_id == task.assignment_id
    assert counter(p1, "demonstration") == 0
    assert lease(alice) is None
    bobs = lease(bob)
    assert bobs.prompt_id == p1
    submit(bob, bobs)
    with pytest.raises(Conflict, match="already submitted"), session_scope() as s:
        skip_task(s, bob, bobs.assignment_id, "too late")
    assert audit_counters() == []


def test_who_may_work(db_url):
    alice, _ = team("alice", "rita")
    add_prompts("p", 2)
    outsider = make_user("olga")
    admin = make_user("ada", role="admin")
    reviewer = make_user("rev", role="reviewer")
    with pytest.raises(Forbidden, match="not a member"), session_scope() as s:
        next_task(s, outsider, "p", "demonstration")
    with pytest.raises(Forbidden, match="not a member"), session_scope() as s:
        next_task(s, reviewer, "p", "demonstration")
    assert lease(admin) is not None  # admins may work on any project
    with pytest.raises(Forbidden, match="not a user account"), session_scope() as s:
        next_task(s, OPERATOR, "p", "demonstration")
    with pytest.raises(NotFound, match="project `nope`"), session_scope() as s:
        next_task(s, alice, "nope", "demonstration")
    with pytest.raises(Invalid, match="unknown task kind `essay`"), session_scope() as s:
        next_task(s, alice, "p", "essay")
    task = lease(alice)
    with pytest.raises(Forbidden, match="another labeler"), session_scope(write=False) as s:
        get_task(s, admin, task.assignment_id)
    with pytest.raises(NotFound, match="task `999`"), session_scope(write=False) as s:
        get_task(s, alice, 999)
    with session_scope() as s:
        set_active(s, OPERATOR, "alice", False)
    with pytest.raises(Forbidden, match="deactivated"), session_scope() as s:
        next_task(s, alice, "p", "demonstration")


def test_only_enabled_kinds(db_url):
    (alice,) = team("alice", task_kinds=["ranking"])
    add_prompts("p", 1)
    with pytest.raises(Invalid, match="does not collect `demonstration`"), session_scope() as s:
        next_task(s, alice, "p", "demonstration")
    assert lease(alice, "ranking") is not None


def test_ranking_tasks_show_k_min_to_k_max_candidates_in_a_stored_random_order(db_url):
    actors = team(*[f"l{i}" for i in range(6)], k_min=3, k_max=4, labels_per_item=6)
    (few,) = add_prompts("p", 1, candidates=2)  # below k_min: never offered for ranking
    (many,) = add_prompts("p", 1, candidates=6)
    orders = set()
    for actor in actors:
        task = lease(actor, "ranking")
        assert task.prompt_id == many
        assert [c.label for c in task.candidates] == ["A", "B", "C", "D"]
        shown = [c.candidate_id for c in task.candidates]
        assert len(set(shown)) == 4
        assert all(c.text.startswith("reply ") for c in task.candidates)
        with session_scope(write=False) as s:
            ranking = s.scalars(select(Ranking).where(Ranking.assignment_id == task.assignment_id)).one()
            assert ranking.display_order == shown and ranking.status == "draft"
            positions = dict(s.execute(select(RankingItem.candidate_id, RankingItem.position)
                                       .where(RankingItem.ranking_id == ranking.id)).all())
            assert positions == {cid: i for i, cid in enumerate(shown)}
        with session_scope(write=False) as s:
            assert get_task(s, actor, task.assignment_id).candidates == task.candidates  # same order on reload
        orders.add(tuple(shown))
    assert len(orders) > 1  # random per labeler (6 identical random orders: p < 1e-12)
    assert counter(few, "ranking") == 0


def test_imported_labels_do_not_count_and_rejection_returns_a_label(db_url):
    alice, bob = team("alice", "bob", labels_per_item=1)
    (p1,) = add_prompts("p", 1)
    with session_scope() as s:
        s.add(Ranking(prompt_id=p1, status="submitted", origin="imported", source="hh.jsonl"))
    task = lease(alice, "ranking")
    assert task.prompt_id == p1
    submit(alice, task)
    assert lease(bob, "ranking") is None
    with session_scope() as s:  # what the review service does when it rejects alice's ranking
        s.execute(Ranking.__table__.update().where(Ranking.assignment_id == task.assignment_id)
                  .values(status="rejected"))
        release_label(s, p1, "ranking")
    assert lease(bob, "ranking").prompt_id == p1
    assert audit_counters() == []


def test_the_queue_statements_use_the_indexes(sqlite_url):
    """No scan over prompts or assignments: SQLite's plans for what next_task runs use the queue indexes."""
    from sqlalchemy import event

    from labeler.services import get_engine

    alice, bob = team("alice", "bob", labels_per_item=1)
    add_prompts("p", 3)
    expire(lease(alice).assignment_id)
    engine = get_engine(sqlite_url)
    seen: list[tuple[str, tuple]] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if statement.lstrip().startswith(("SELECT", "UPDATE")) and not executemany:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        for kind in ("demonstration", "ranking"):
            assert lease(bob, kind) is not None
    finally:
        event.remove(engine, "before_cursor_execute", record)
    plans = {}
    with engine.connect() as conn:
        for statement, params in seen:
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
            plans[statement] = " | ".join(r[-1] for r in rows)
    picks = [p for st, p in plans.items() if st.lstrip().startswith("UPDATE prompts") and "ORDER BY" in st]
    reclaims = [p for st, p in plans.items() if "assignments.expires_at <=" in st]
    assert len(picks) == 2 and reclaims
    assert all("ix_prompts_queue_" in p for p in picks), picks
    assert all("ix_assignments_project_id_status_expires_at" in p for p in reclaims), reclaims
    assert not [p for p in plans.values() if "SCAN prompts" in p or "SCAN assignments" in p], plans


def lease_and_submit(actor, kind="ranking") -> int:
    task = lease(actor, kind)
    submit(actor, task)
    return task.prompt_id


def _set_margins(margins: dict[int, float]) -> None:
    from sqlalchemy import update

    from db.models import Prompt

    with session_scope() as s:
        for prompt_id, margin in margins.items():
            s.execute(update(Prompt).where(Prompt.id == prompt_id).values(rm_margin=margin))


def test_uncertain_first_hands_out_the_smallest_margins_first_and_keeps_fewest_labels_first(db_url):
    alice, bob = team("alice", "bob", labels_per_item=2, queue_order="uncertain-first")
    ids = add_prompts("p", 5)
    margins = dict(zip(ids, [3.0, 0.5, 2.0, 0.1, 1.0], strict=True))
    _set_margins(margins)
    by_margin = sorted(ids, key=margins.get)
    assert [lease_and_submit(alice) for _ in ids] == by_margin
    # bob's first pick: every prompt has one label now, so the smallest margin again
    first = lease(bob, "ranking")
    assert first.prompt_id == by_margin[0]
    # demonstrations keep the default order (oldest first)
    assert lease(bob, "demonstration").prompt_id == ids[0]


def test_the_default_order_ignores_the_margins(db_url):
    (alice,) = team("alice", labels_per_item=1)
    ids = add_prompts("p", 3)
    _set_margins(dict(zip(ids, [3.0, 0.5, 0.1], strict=True)))
    assert [lease_and_submit(alice) for _ in ids] == ids


def test_uncertain_first_uses_its_index(sqlite_url):
    from sqlalchemy import event

    from labeler.services import get_engine

    (alice,) = team("alice", labels_per_item=1, queue_order="uncertain-first")
    add_prompts("p", 3)
    engine = get_engine(sqlite_url)
    seen: list[tuple[str, tuple]] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if statement.lstrip().startswith("UPDATE prompts") and "ORDER BY" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert lease(alice, "ranking") is not None
    finally:
        event.remove(engine, "before_cursor_execute", record)
    with engine.connect() as conn:
        plan = " | ".join(r[-1] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {seen[0][0]}", seen[0][1]))
    assert "ix_prompts_queue_ranking_margin" in plan and "SCAN prompts" not in plan and "TEMP B-TREE" not in plan


# ---------------------------------------------------------------------------------------------
# 32 labelers at once


@pytest.mark.slow
@pytest.mark.parametrize("order", ["random", "uncertain-first"])
def test_32_labelers_at_once_never_over_collect_nor_lose_a_submission(db_url, order):
    n_threads, per_item = 32, 2
    names = [f"w{i:02d}" for i in range(n_threads)]
    actors = team(*names, labels_per_item=per_item, k_max=4, queue_order=order)
    prompt_ids = add_prompts("p", 30, candidates=4)
    _set_margins({pid: (pid * 7919) % 13 / 10 for pid in prompt_ids})  # a scrambled margin order
    submitted: list[tuple[str, int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(n_threads)
    deadline = time.monotonic() + 20

    def work(i: int) -> None:
        actor = actors[i]
        kinds = ["demonstration", "ranking"] if i % 2 else ["ranking", "demonstration"]
        try:
            start.wait()
            for kind in kinds:
                while time.monotonic() < deadline:
                    task = lease(actor, kind)
                    if task is None:
                        break
                    if task.prompt_id % 7 == i % 7:  # now and then, skip instead
                        with session_scope() as s:
                            skip_task(s, actor, task.assignment_id, "not for me")
                        continue
                    result_id = submit(actor, task)
                    with lock:
                        submitted.append((kind, result_id))
        except BaseException as e:  # noqa: BLE001 - collected and asserted below
            with lock:
                errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    for actor in actors:  # leases skipped late went back to the pool after some threads had stopped
        for kind in ("demonstration", "ranking"):
            while (task := lease(actor, kind)) is not None:
                submitted.append((kind, submit(actor, task)))
    from db.models import Demonstration

    with session_scope(write=False) as s:
        for kind, model in (("demonstration", Demonstration), ("ranking", Ranking)):
            ids = {rid for k, rid in submitted if k == kind}
            stored = set(s.scalars(select(model.id).where(model.status == "submitted")))
            assert stored == ids  # nothing lost, nothing extra
            per_prompt = dict(s.execute(select(model.prompt_id, func.count()).where(model.status == "submitted")
                                        .group_by(model.prompt_id)).all())
            assert max(per_prompt.values()) <= per_item
            assert sum(per_prompt.values()) == per_item * len(prompt_ids)  # and the queue was emptied
            leases = s.execute(select(Assignment.prompt_id, Assignment.user_id).where(Assignment.kind == kind)).all()
            assert len(leases) == len(set(leases))
        assert s.scalar(select(func.count()).select_from(Assignment).where(Assignment.status == "active")) == 0
    assert audit_counters() == []
