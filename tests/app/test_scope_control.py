"""The scope question on the Demonstrate and Rank pages: drawn by their client-side controls (tested in
Chromium in tests/e2e), stored when a value the control sends (draft, submit, skip) carries it.

Here the Python side gets what the controls would send, set under the control's key; the stored
votes are read back from the database.
"""

from __future__ import annotations

from sqlalchemy import func, select

from db.models import Assignment, Demonstration, Event, Prompt, Ranking, ScopeLabel
from labeler.services import session_scope
from tests.app.conftest import app_as, control_data, errors, successes
from tests.app.data import make_task_project
from tests.factories import make_user

SCOPED = {"scope_labels": True, "scope_reasons": ["unsafe", "medical"]}


def _stored(prompt_id: int):
    with session_scope(write=False) as s:
        prompt = s.execute(select(Prompt.scope, Prompt.scope_reason).where(Prompt.id == prompt_id)).one()
        votes = s.execute(select(ScopeLabel.label, ScopeLabel.reason)).all()
    return tuple(prompt), [tuple(v) for v in votes]


def _prompt_of(aid: int) -> int:
    with session_scope(write=False) as s:
        return s.scalar(select(Assignment.prompt_id).where(Assignment.id == aid))


def _scope_changes() -> int:
    """How many times the scope service changed a vote (one audit event each)."""
    with session_scope(write=False) as s:
        return s.scalar(select(func.count()).select_from(Event).where(Event.action == "scope.set"))


def _send(at, key: str, what: str, value: dict):
    """What a control's JavaScript sends: a `draft`, `submit` or `skip` value, under the control's key."""
    at.session_state[key] = {what: value}
    return at.run()


def _turns(*texts: str) -> list[dict]:
    return [{"role": "assistant" if i % 2 == 0 else "user", "content": t} for i, t in enumerate(texts)]


def _ranking(aid: int, **extra) -> dict:
    return {"aid": aid, "ranks": [1, 2], "likert": [None, None], "flags": [[], []], "none": False, "comment": "",
            **extra}


def test_the_control_data_carries_the_scope_only_when_the_project_collects_it(sqlite_url, tmp_path):
    alice = make_user("alice")
    make_task_project(tmp_path, "plain", ("alice",), k=2)
    at = app_as(alice, "demonstrate")
    assert "scope" not in control_data(at, "editor")
    at.switch_page("views/rank.py").run()
    assert "scope" not in control_data(at, "rank")
    assert not at.radio and not [s for s in at.selectbox if "scope" in (s.key or "")]  # no server widgets

    make_task_project(tmp_path, "gated", ("alice",), k=2, **SCOPED)
    at = at.run().selectbox(key="rank.project").set_value("gated").run()
    assert control_data(at, "rank")["scope"] == {"label": None, "reason": None, "reasons": ["unsafe", "medical"]}
    at.switch_page("views/demonstrate.py").run()
    at = at.selectbox(key="demo.project").set_value("gated").run()
    assert control_data(at, "editor")["scope"] == {"label": None, "reason": None, "reasons": ["unsafe", "medical"]}
    assert not at.radio


def test_a_draft_stores_the_scope_once_and_a_reload_shows_it(db_url, tmp_path):
    alice = make_user("alice")
    make_task_project(tmp_path, "work", ("alice",), k=2, **SCOPED)
    at = app_as(alice, "demonstrate")
    aid = at.session_state["demo.assignment"]
    key, pid = f"demo.editor.{aid}", _prompt_of(aid)
    at = _send(at, key, "draft", {"aid": aid, "turns": _turns("Half"),
                                  "scope": {"label": "off-limits", "reason": "medical"}})
    assert not errors(at)
    assert _stored(pid) == (("off-limits", "medical"), [("off-limits", "medical")])
    at = at.run()  # the draft is a state value: it comes back on every run, and is stored once
    assert _scope_changes() == 1

    again = app_as(alice, "demonstrate")  # a reload: a new session shows the stored vote
    assert again.session_state["demo.assignment"] == aid
    assert control_data(again, "editor")["scope"] == {"label": "off-limits", "reason": "medical",
                                                      "reasons": ["unsafe", "medical"]}
    again = _send(again, key, "draft", {"aid": aid, "turns": _turns("Half a reply"),  # the same scope: no change
                                        "scope": {"label": "off-limits", "reason": "medical"}})
    assert _scope_changes() == 1
    again = _send(again, key, "draft", {"aid": aid, "turns": _turns("Half a reply."),
                                        "scope": {"label": "answerable", "reason": None}})
    assert _stored(pid) == (("answerable", None), [("answerable", None)])
    again = _send(again, key, "draft", {"aid": aid, "turns": _turns("Half a reply!"),
                                        "scope": {"label": None, "reason": None}})  # withdrawn
    assert not errors(again)
    assert _stored(pid) == ((None, None), [])
    assert _scope_changes() == 3


def test_a_ranking_submit_stores_the_scope_first_then_the_ranking(db_url, tmp_path):
    alice = make_user("alice")
    make_task_project(tmp_path, "work", ("alice",), k=2, **SCOPED)
    at = app_as(alice, "rank")
    aid = at.session_state["rank.assignment"]
    at = _send(at, f"rank.control.{aid}", "submit", _ranking(aid, scope={"label": "off-limits", "reason": "unsafe"}))
    assert not errors(at)
    assert successes(at)[0].startswith("Ranking #")
    assert _stored(_prompt_of(aid)) == (("off-limits", "unsafe"), [("off-limits", "unsafe")])
    with session_scope(write=False) as s:
        assert s.scalar(select(Ranking.status).where(Ranking.assignment_id == aid)) == "submitted"


def test_a_demonstration_submit_and_a_skip_store_the_scope(sqlite_url, tmp_path):
    alice = make_user("alice")
    make_task_project(tmp_path, "work", ("alice",), k=2, **SCOPED)
    at = app_as(alice, "demonstrate")
    first = at.session_state["demo.assignment"]
    at = _send(at, f"demo.editor.{first}", "submit", {"aid": first, "turns": _turns("Here you go."),
                                                      "scope": {"label": "answerable", "reason": None}})
    assert not errors(at) and successes(at)[0].startswith("Demonstration #")
    assert _stored(_prompt_of(first))[0] == ("answerable", None)
    with session_scope(write=False) as s:
        assert s.scalar(select(Demonstration.status).where(Demonstration.assignment_id == first)) == "submitted"

    second = at.session_state["demo.assignment"]
    assert control_data(at, "editor")["scope"]["label"] is None  # the next prompt: no vote yet
    at = _send(at, f"demo.editor.{second}", "skip", {"aid": second, "reason": "needs a doctor",
                                                     "scope": {"label": "off-limits", "reason": "medical"}})
    assert not errors(at)
    assert at.session_state["demo.assignment"] != second
    with session_scope(write=False) as s:
        assert s.get(Assignment, second).status == "released"
    assert _stored(_prompt_of(second))[0] == ("off-limits", "medical")


def test_malformed_scopes_are_refused_with_a_message_and_store_nothing(sqlite_url, tmp_path):
    alice = make_user("alice")
    make_task_project(tmp_path, "work", ("alice",), n_prompts=4, k=2, **SCOPED)
    at = app_as(alice, "demonstrate")
    aid = at.session_state["demo.assignment"]
    bad = [("maybe", None, "label `maybe`: expected `answerable`, `off-limits` or none"),
           ("off-limits", "astrology", "reason `astrology` is not one of the project's reasons: `unsafe`, `medical`"),
           ("answerable", "unsafe", "a reason (`unsafe`) goes only with an `off-limits` label"),
           (["off-limits"], None, "label `['off-limits']`")]
    for i, (label, reason, why) in enumerate(bad):
        at = _send(at, f"demo.editor.{aid}", "draft", {"aid": aid, "turns": _turns(f"draft {i}"),
                                                       "scope": {"label": label, "reason": reason}})
        assert len(errors(at)) == 1 and "the scope label sent by the page is malformed" in errors(at)[0]
        assert why in errors(at)[0]
        assert not at.exception
    at = _send(at, f"demo.editor.{aid}", "draft", {"aid": aid, "turns": _turns("text"), "scope": "off-limits"})
    assert "expected {label, reason}" in errors(at)[0]
    assert _stored(_prompt_of(aid)) == ((None, None), [])
    with session_scope(write=False) as s:
        assert s.scalar(select(Demonstration.turns).where(Demonstration.assignment_id == aid)) == _turns("text")


def test_a_malformed_scope_never_stops_the_submit_and_its_error_comes_with_the_next_task(sqlite_url, tmp_path):
    alice = make_user("alice")
    make_task_project(tmp_path, "work", ("alice",), k=2, **SCOPED)
    at = app_as(alice, "rank")
    aid = at.session_state["rank.assignment"]
    at = _send(at, f"rank.control.{aid}", "submit", _ranking(aid, scope={"label": "nope", "reason": None}))
    assert successes(at)[0].startswith("Ranking #")
    assert len(errors(at)) == 1 and "label `nope`" in errors(at)[0]
    assert at.session_state["rank.assignment"] != aid
    assert _stored(_prompt_of(aid)) == ((None, None), [])


def test_a_scope_sent_where_the_project_collects_none_is_ignored(sqlite_url, tmp_path):
    alice = make_user("alice")
    make_task_project(tmp_path, "work", ("alice",), k=2)
    at = app_as(alice, "rank")
    aid = at.session_state["rank.assignment"]
    at = _send(at, f"rank.control.{aid}", "submit", _ranking(aid, scope={"label": "off-limits", "reason": None}))
    assert not errors(at) and successes(at)[0].startswith("Ranking #")
    assert _stored(_prompt_of(aid)) == ((None, None), [])
