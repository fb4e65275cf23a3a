"""The Rank page: candidates A..K in the stored order, ranks with ties, Likert, flags, errors, skip.

The task is one client-side control (tested in Chromium in tests/e2e/test_rank_control.py); here the
Python side gets what the control would send: its trigger value, set under the control's key.
"""

from __future__ import annotations

from sqlalchemy import select

from db.models import Assignment, Candidate, Ranking
from labeler.services import session_scope
from tests.app import conftest
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


def control_data(at) -> dict:
    """What the page handed the Rank control to render."""
    return conftest.control_data(at, "rank")


def _send(at, aid, ranks, likerts=None, flags=None, none=False, comment="", what="submit"):
    """Press Submit (or Skip) in the control with these values, as its JavaScript sends them."""
    k = len(ranks)
    value = {"aid": aid, "ranks": ranks, "likert": likerts or [None] * k, "flags": flags or [[] for _ in ranks],
             "none": none, "comment": comment}
    at.session_state[f"rank.control.{aid}"] = {what: value}
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
    data = control_data(at)
    assert data["aid"] == aid and [c["label"] for c in data["candidates"]] == ["A", "B", "C", "D"]
    with session_scope(write=False) as s:
        texts = dict(s.execute(select(Candidate.id, Candidate.text).where(Candidate.id.in_(order))).all())
    assert [c["text"] for c in data["candidates"]] == [texts[cid] for cid in order]
    assert data["likert"] == 7 and "hallucination" in [f["id"] for f in data["flags"]]
    assert {"id": "hallucination", "name": "Hallucination"} in data["flags"]
    assert data["ties"] is True
    assert data["markdown"] is False and all(c["html"] is None for c in data["candidates"])  # texts as written
    assert not any(m.proto.allow_html for m in at.markdown)


def test_markdown_toggle_sends_rendered_html_with_raw_html_inert(sqlite_url, tmp_path):
    at, aid, _ = _open(_setup(tmp_path))
    at.toggle(key="view.markdown").set_value(True).run()
    [first, *_] = control_data(at)["candidates"]
    assert "<strong>bold</strong>" in first["html"]
    assert "&lt;b&gt;raw&lt;/b&gt;" in first["html"] and "<b>" not in first["html"]


def test_ranking_with_a_tie_and_a_flag_is_stored_and_the_next_task_loads(db_url, tmp_path):
    at, aid, order = _open(_setup(tmp_path))
    at = _send(at, aid, [1, 2, 2, 4], likerts=[7, 5, 5, 2], flags=[[], [], [], ["hallucination"]],
               comment="  D invents a date. ")
    assert not errors(at)
    assert successes(at)[0].startswith("Ranking #")
    assert at.session_state["rank.assignment"] != aid
    [ranking] = _submitted()
    assert ranking.assignment_id == aid and ranking.comment == "D invents a date."
    assert ranking.display_order == order
    assert [(it.candidate_id, it.rank, it.likert, it.flags) for it in ranking.items] == [
        (order[0], 1, 7, []), (order[1], 2, 5, []), (order[2], 2, 5, []), (order[3], 4, 2, ["hallucination"])]
    assert ranking.seconds_spent > 0
    assert control_data(at)["aid"] == at.session_state["rank.assignment"]  # the next task's control


def test_missing_rank_is_refused_and_nothing_is_stored(sqlite_url, tmp_path):
    at, aid, order = _open(_setup(tmp_path))
    at = _send(at, aid, [1, 2, 3, None])
    assert errors(at) == ["candidate D has no rank: rank every candidate 1..4, or mark none acceptable"]
    assert at.session_state["rank.assignment"] == aid
    assert _submitted() == []


def test_inconsistent_ranks_are_refused(db_url, tmp_path):
    at, aid, order = _open(_setup(tmp_path))
    at = _send(at, aid, [1, 1, 2, 3])
    assert len(errors(at)) == 1 and "inconsistent" in errors(at)[0]
    assert _submitted() == []


def test_ties_are_refused_when_the_project_forbids_them(sqlite_url, tmp_path):
    at, aid, order = _open(_setup(tmp_path, ties_allowed=False))
    assert control_data(at)["ties"] is False
    at = _send(at, aid, [1, 2, 2, 4])
    assert errors(at) == ["candidates B and C share rank 2, but this project does not allow ties"]
    assert _submitted() == []


def test_a_malformed_value_is_refused_with_a_message(sqlite_url, tmp_path):
    at, aid, _ = _open(_setup(tmp_path))
    at = _send(at, aid, [1, 2])  # two ranks for four candidates
    assert len(errors(at)) == 1 and "malformed" in errors(at)[0]
    assert _submitted() == []


def test_a_late_value_from_another_task_is_ignored(sqlite_url, tmp_path):
    at, aid, _ = _open(_setup(tmp_path))
    at.session_state[f"rank.control.{aid}"] = {"submit": {"aid": aid + 999, "ranks": [1, 2, 3, 4],
                                                          "likert": [None] * 4, "flags": [[]] * 4}}
    at = at.run()
    assert not errors(at) and _submitted() == [] and at.session_state["rank.assignment"] == aid


def test_none_acceptable_needs_no_ranks(sqlite_url, tmp_path):
    at, aid, order = _open(_setup(tmp_path))
    at = _send(at, aid, [None] * 4, none=True)
    assert not errors(at)
    [ranking] = _submitted()
    assert ranking.none_acceptable and [it.rank for it in ranking.items] == [None] * 4


def test_project_likert_scale_and_flags_shape_the_controls(sqlite_url, tmp_path):
    at, aid, order = _open(_setup(tmp_path, likert_points=5, flags=["off_topic"]))
    data = control_data(at)
    assert data["likert"] == 5 and data["flags"] == [{"id": "off_topic", "name": "Off topic"}]


def test_skip_with_a_reason_loads_the_next_task(sqlite_url, tmp_path):
    at, aid, _ = _open(_setup(tmp_path))
    at.session_state[f"rank.control.{aid}"] = {"skip": {"aid": aid, "reason": "all four are in French"}}
    at = at.run()
    assert not errors(at)
    assert at.session_state["rank.assignment"] != aid
    with session_scope(write=False) as s:
        skipped = s.get(Assignment, aid)
        assert skipped.status == "released" and skipped.skip_reason == "all four are in French"
