"""The scope control on the Demonstrate and Rank pages: shown when the project enables it, saved at once."""

from __future__ import annotations

from sqlalchemy import select

from db.models import Assignment, Prompt, ScopeLabel
from labeler.services import session_scope
from tests.app.conftest import app_as, errors
from tests.app.data import make_task_project
from tests.factories import make_user


def _stored(prompt_id: int):
    with session_scope(write=False) as s:
        prompt = s.execute(select(Prompt.scope, Prompt.scope_reason).where(Prompt.id == prompt_id)).one()
        votes = s.execute(select(ScopeLabel.label, ScopeLabel.reason)).all()
    return tuple(prompt), [tuple(v) for v in votes]


def _prompt_of(aid: int) -> int:
    with session_scope(write=False) as s:
        return s.scalar(select(Assignment.prompt_id).where(Assignment.id == aid))


def test_demonstrate_page_saves_the_label_and_reason_and_shows_them_again(db_url, tmp_path):
    alice = make_user("alice")
    make_task_project(tmp_path, "work", ("alice",), scope_labels=True, scope_reasons=["unsafe", "medical"])
    at = app_as(alice, "demonstrate")
    aid = at.session_state["demo.assignment"]
    radio = at.radio(key=f"demo.scope.{aid}")
    assert radio.options == ["Answerable", "Off-limits"] and radio.value is None
    at = radio.set_value("off-limits").run()
    assert not errors(at)
    pid = _prompt_of(aid)
    assert _stored(pid) == (("off-limits", None), [("off-limits", None)])
    at = at.selectbox(key=f"demo.scope_reason.{aid}").set_value("medical").run()
    assert _stored(pid) == (("off-limits", "medical"), [("off-limits", "medical")])

    again = app_as(alice, "demonstrate")  # a new session (reload): the stored label comes back
    assert again.session_state["demo.assignment"] == aid
    assert again.radio(key=f"demo.scope.{aid}").value == "off-limits"
    assert again.selectbox(key=f"demo.scope_reason.{aid}").value == "medical"
    again = again.radio(key=f"demo.scope.{aid}").set_value("answerable").run()
    assert _stored(pid) == (("answerable", None), [("answerable", None)])
    assert [s.key for s in again.selectbox if s.key == f"demo.scope_reason.{aid}"] == []


def test_rank_page_shows_the_control_only_when_the_project_enables_it(db_url, tmp_path):
    alice = make_user("alice")
    make_task_project(tmp_path, "plain", ("alice",))
    at = app_as(alice, "rank")
    assert not [r for r in at.radio if (r.key or "").startswith("rank.scope.")]

    make_task_project(tmp_path, "gated", ("alice",), scope_labels=True)
    at = app_as(alice, "rank")
    at = at.selectbox(key="rank.project").set_value("gated").run()
    aid = at.session_state["rank.assignment"]
    at = at.radio(key=f"rank.scope.{aid}").set_value("answerable").run()
    assert not errors(at)
    assert _stored(_prompt_of(aid)) == (("answerable", None), [("answerable", None)])
