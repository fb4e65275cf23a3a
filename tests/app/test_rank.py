"""The Rank page: candidates A..K in the stored order, ranks with ties, Likert, flags, errors, skip."""

from __future__ import annotations

from sqlalchemy import select

from db.models import Ranking
from labeler.services import session_scope
from tests.app.conftest import app_as, errors, successes
from tests.app.data import make_task_project
from tests.factories import make_user


def _setup(tmp_path, **settings):
    alice = make_user("alice")
    make_task_project(tmp_path, "work", ("alice",), n_prompts=3, k=4, **settings)
    return alice


def _open(alice):
    at = app_as(alice, "rank")
    aid = at.session_state["rank.assignment"]
    with session_scope(write=False) as s:
        order = s.scalar(select(Ranking.display_order).where(Ranking.assignment_id == aid))
    return at, aid, order


def _rank(at, aid, order, ranks, likerts=None, flags=None):
    for i, cid in enumerate(order):
        at.segmented_control(key=f"rank.{aid}.rank.{cid}").set_value(ranks[i])
        if likerts:
            at.segmented_control(key=f"rank.{aid}.likert.{cid}").set_value(likerts[i])
        if flags and flags[i]:
            at.pills(key=f"rank.{aid}.flags.{cid}").set_value(flags[i])
    return at.run()


def _submitted() -> list[Ranking]:
    with session_scope(write=False) as s:
        rankings = s.scalars(select(Ranking).where(Ranking.status == "submitted")).all()
        for r in rankings:
            r.items.sort(key=lambda it: it.position)
        return list(rankings)


def test_candidates_are_labelled_in_the_stored_order(sqlite_url, tmp_path):
    at, aid, order = _open(_setup(tmp_path))
    assert at.title[0].value == "Rank"
    assert [at.segmented_control(key=f"rank.{aid}.rank.{cid}").label for cid in order] == [
        "Rank of A", "Rank of B", "Rank of C", "Rank of D"]
    assert at.segmented_control(key=f"rank.{aid}.rank.{order[0]}").options == ["1", "2", "3", "4"]
    assert len(at.segmented_control(key=f"rank.{aid}.likert.{order[0]}").options) == 7
    assert "Hallucination" in at.pills(key=f"rank.{aid}.flags.{order[0]}").options
    assert not any(m.proto.allow_html for m in at.markdown)


def test_ranking_with_a_tie_and_a_flag_is_stored_and_the_next_task_loads(db_url, tmp_path):
    at, aid, order = _open(_setup(tmp_path))
    at = _rank(at, aid, order, [1, 2, 2, 4], likerts=[7, 5, 5, 2], flags=[[], [], [], ["hallucination"]])
    assert "**Your order:** A > B = C > D" in [m.value for m in at.markdown]
    at.text_area(key=f"rank.{aid}.comment").input("  D invents a date. ")
    at = at.button(key=f"rank.{aid}.submit").click().run()
    assert not errors(at)
    assert successes(at)[0].startswith("Ranking #")
    assert at.session_state["rank.assignment"] != aid
    [ranking] = _submitted()
    assert ranking.assignment_id == aid and ranking.comment == "D invents a date."
    assert ranking.display_order == order
    assert [(it.candidate_id, it.rank, it.likert, it.flags) for it in ranking.items] == [
        (order[0], 1, 7, []), (order[1], 2, 5, []), (order[2], 2, 5, []), (order[3], 4, 2, ["hallucination"])]
    assert ranking.seconds_spent > 0


def test_missing_rank_is_refused_and_nothing_is_stored(sqlite_url, tmp_path):
    at, aid, order = _open(_setup(tmp_path))
    at = _rank(at, aid, order, [1, 2, 3, None])
    at = at.button(key=f"rank.{aid}.submit").click().run()
    assert errors(at) == ["candidate D has no rank: rank every candidate 1..4, or mark none acceptable"]
    assert at.session_state["rank.assignment"] == aid
    assert _submitted() == []


def test_inconsistent_ranks_are_refused(db_url, tmp_path):
    at, aid, order = _open(_setup(tmp_path))
    at = _rank(at, aid, order, [1, 1, 2, 3])
    at = at.button(key=f"rank.{aid}.submit").click().run()
    assert len(errors(at)) == 1 and "inconsistent" in errors(at)[0]
    assert _submitted() == []


def test_ties_are_refused_when_the_project_forbids_them(sqlite_url, tmp_path):
    at, aid, order = _open(_setup(tmp_path, ties_allowed=False))
    assert "no ties in this project" in " ".join(c.value for c in at.caption)
    at = _rank(at, aid, order, [1, 2, 2, 4])
    at = at.button(key=f"rank.{aid}.submit").click().run()
    assert errors(at) == ["candidates B and C share rank 2, but this project does not allow ties"]
    assert _submitted() == []


def test_none_acceptable_needs_no_ranks(sqlite_url, tmp_path):
    at, aid, order = _open(_setup(tmp_path))
    at.checkbox(key=f"rank.{aid}.none").check()
    at = at.button(key=f"rank.{aid}.submit").click().run()
    assert not errors(at)
    [ranking] = _submitted()
    assert ranking.none_acceptable and [it.rank for it in ranking.items] == [None] * 4


def test_project_likert_scale_and_flags_shape_the_controls(sqlite_url, tmp_path):
    at, aid, order = _open(_setup(tmp_path, likert_points=5, flags=["off_topic"]))
    assert at.segmented_control(key=f"rank.{aid}.likert.{order[0]}").options == ["1", "2", "3", "4", "5"]
    assert at.pills(key=f"rank.{aid}.flags.{order[0]}").options == ["Off topic"]


def test_skip_with_a_reason_loads_the_next_task(sqlite_url, tmp_path):
    at, aid, _ = _open(_setup(tmp_path))
    at.text_input(key=f"rank.skip_reason.{aid}").input("all four are in French")
    at = at.button(key=f"rank.skip.{aid}").click().run()
    assert not errors(at)
    assert at.session_state["rank.assignment"] != aid
