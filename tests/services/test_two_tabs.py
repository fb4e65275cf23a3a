"""The same labeler in two tabs with the same lease: the second, different submit is refused with what was kept.

A repeated identical submit (a double click, a rerun) still returns the stored id; different work sent
after the lease was finished elsewhere raises `Conflict` naming the kept work, and nothing changes.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db.models import Demonstration, Event, RankingItem
from labeler.errors import Conflict
from labeler.services import session_scope
from labeler.services.labeling import ItemSubmission, RankingSubmission, submit_demonstration, submit_ranking
from tests.factories import make_project, make_user
from tests.services.queue_data import add_prompts, cheap_passwords  # noqa: F401
from tests.services.test_labeling import lease


def _ranking(task, ranks, likert=None, comment="") -> RankingSubmission:
    return RankingSubmission(items=[ItemSubmission(candidate_id=c.candidate_id, rank=r, likert=likert)
                                    for c, r in zip(task.candidates, ranks, strict=True)], comment=comment)


def test_a_second_tab_with_different_ranks_is_told_what_was_kept(db_url) -> None:
    alice = make_user("alice")
    make_project("p", members=("alice",), k_min=3, k_max=3)
    add_prompts("p", 2, candidates=3)
    tab1 = lease(alice, "ranking")
    tab2 = lease(alice, "ranking")  # the second tab gets the same lease
    assert tab2.assignment_id == tab1.assignment_id
    with session_scope() as s:
        kept = submit_ranking(s, alice, tab1.assignment_id, _ranking(tab1, [1, 2, 3], likert=6, comment="A wins"))
    with pytest.raises(Conflict) as e, session_scope() as s:
        submit_ranking(s, alice, tab2.assignment_id, _ranking(tab2, [3, 2, 1]))
    message = str(e.value)
    assert "already submitted from another tab or window" in message and "not stored" in message
    assert "Kept: A = 1 (quality 6), B = 2 (quality 6), C = 3 (quality 6); comment: A wins" in message
    with session_scope(write=False) as s:
        ranks = dict(s.execute(select(RankingItem.candidate_id, RankingItem.rank)
                               .where(RankingItem.ranking_id == kept)).all())
        assert [ranks[c.candidate_id] for c in tab1.candidates] == [1, 2, 3]
        assert len(s.scalars(select(Event).where(Event.action == "ranking.submit")).all()) == 1
    with session_scope() as s:  # the same ranking again (a double click in tab 1) is still fine
        assert submit_ranking(s, alice, tab1.assignment_id,
                              _ranking(tab1, [1, 2, 3], likert=6, comment=" A wins ")) == kept


def test_a_second_tab_with_a_different_demonstration_is_told_what_was_kept(db_url) -> None:
    alice = make_user("alice")
    make_project("p", members=("alice",))
    add_prompts("p", 2)
    tab1, tab2 = lease(alice), lease(alice)
    assert tab1.assignment_id == tab2.assignment_id
    first = [{"role": "assistant", "content": "Paris is the capital."}]
    with session_scope() as s:
        kept = submit_demonstration(s, alice, tab1.assignment_id, first)
    with pytest.raises(Conflict, match=r"another tab or window.*Kept: assistant: Paris is the capital\."), \
            session_scope() as s:
        submit_demonstration(s, alice, tab2.assignment_id, [{"role": "assistant", "content": "Lyon, I think."}])
    with session_scope(write=False) as s:
        assert [d.turns for d in s.scalars(select(Demonstration))] == [first]
    with session_scope() as s:  # identical text (spaces trimmed as stored) is a repeat, not a conflict
        assert submit_demonstration(s, alice, tab1.assignment_id,
                                    [{"role": "assistant", "content": " Paris is the capital. "}]) == kept


def test_why_the_lease_is_gone_names_the_work_kept_elsewhere(db_url) -> None:
    from labeler.services.labeling import why_lease_gone

    alice = make_user("alice")
    make_project("p", members=("alice",), k_min=2, k_max=2)
    add_prompts("p", 2, candidates=2)
    task = lease(alice, "ranking")
    with session_scope(write=False) as s:
        assert why_lease_gone(s, alice, task.assignment_id) == ""  # still open: nothing to say
    with session_scope() as s:
        submit_ranking(s, alice, task.assignment_id, _ranking(task, [2, 1]))
    with session_scope(write=False) as s:
        why = why_lease_gone(s, alice, task.assignment_id)
    assert "already submitted from another tab or window" in why and why.endswith("Kept: A = 2, B = 1")
