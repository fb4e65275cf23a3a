"""The Demonstrate page: conversation, editor, multi-turn, drafts, submit, skip, Suggest."""

from __future__ import annotations

from sqlalchemy import select

from db.models import Assignment, Demonstration
from labeler.services import session_scope
from labeler.services.labeling import load_draft
from tests.app.conftest import app_as, control_data, editor_send, editor_texts, errors, successes
from tests.app.data import make_task_project
from tests.factories import make_user


def _setup(tmp_path, n_prompts: int = 3):
    alice = make_user("alice")
    make_task_project(tmp_path, "work", ("alice",), n_prompts=n_prompts, k=2)
    return alice


def _demonstrations() -> list[Demonstration]:
    with session_scope(write=False) as s:
        return list(s.scalars(select(Demonstration).order_by(Demonstration.id)))


def _aid(at) -> int:
    return at.session_state["demo.assignment"]


def test_shows_the_conversation_inertly_and_guidelines(sqlite_url, tmp_path):
    at = app_as(_setup(tmp_path))
    assert at.title[0].value == "Demonstrate"
    assert at.selectbox(key="demo.project").value == "work"
    assert at.expander[0].label == "Guidelines"
    assert "Please answer work number 1." in [t.value for t in at.text]  # the prompt as written
    assert "Be helpful, honest and harmless." in [m.value for m in at.markdown]  # guidelines are Markdown
    assert control_data(at, "editor")["turns"] == [{"role": "assistant", "content": ""}]
    assert not any(m.proto.allow_html for m in at.markdown)  # data never rendered as HTML
    assert not [b for b in at.button if b.key and b.key.startswith("demo.suggest")]  # no model configured


def test_two_turn_demonstration_is_submitted_and_the_next_prompt_loads(db_url, tmp_path):
    alice = _setup(tmp_path)
    at = app_as(alice)
    aid = _aid(at)
    at = editor_send(at, aid, ["First answer."])
    at = editor_send(at, aid, ["First answer.", "A follow-up question?", "Second answer."], "submit")
    assert not errors(at)
    assert successes(at)[0].startswith("Demonstration #")
    assert _aid(at) != aid  # the next task is already there
    [demo] = [d for d in _demonstrations() if d.status == "submitted"]
    assert demo.turns == [
        {"role": "assistant", "content": "First answer."},
        {"role": "user", "content": "A follow-up question?"},
        {"role": "assistant", "content": "Second answer."},
    ]
    assert demo.assignment_id == aid and demo.labeler_id == alice.id
    assert demo.seconds_spent > 0


def test_drafts_are_saved_and_restored_in_a_new_session(sqlite_url, tmp_path):
    alice = _setup(tmp_path)
    at = app_as(alice)
    aid = _aid(at)
    at = editor_send(at, aid, ["Half a reply"])
    assert not errors(at)
    with session_scope(write=False) as s:
        assert load_draft(s, alice, aid) == [{"role": "assistant", "content": "Half a reply"}]
    again = app_as(alice)  # a reload or a new login: a fresh Streamlit session
    assert _aid(again) == aid
    assert editor_texts(again) == ["Half a reply"]


def test_draft_survives_a_visit_to_another_page(sqlite_url, tmp_path):
    alice = _setup(tmp_path)
    at = app_as(alice)
    aid = _aid(at)
    at = editor_send(at, aid, ["Kept"])
    at.switch_page("views/my_work.py").run()
    at.switch_page("views/demonstrate.py").run()
    assert editor_texts(at) == ["Kept"]


def test_a_late_value_from_another_lease_is_ignored(sqlite_url, tmp_path):
    at = app_as(_setup(tmp_path))
    aid = _aid(at)
    at.session_state[f"demo.editor.{aid}"] = {"submit": {"aid": aid + 99, "turns": [
        {"role": "assistant", "content": "stray"}]}}
    at = at.run()
    assert not errors(at) and _aid(at) == aid and _demonstrations() == []


def test_a_suggestion_replaces_the_text_only_through_a_new_revision(sqlite_url, tmp_path):
    at = app_as(_setup(tmp_path))
    aid = _aid(at)
    rev = control_data(at, "editor")["rev"]
    at = editor_send(at, aid, ["typed"])
    at = at.run()
    assert control_data(at, "editor")["rev"] == rev  # the control keeps the boxes as typed
    assert editor_texts(at) == ["typed"]


def test_empty_reply_is_refused_and_nothing_is_submitted(db_url, tmp_path):
    at = app_as(_setup(tmp_path))
    aid = _aid(at)
    at = editor_send(at, aid, [""], "submit")
    assert errors(at) == ["the demonstration is empty: write the assistant reply (turn 1)"] or errors(at) == [
        "turn 1 (`assistant`): the text is empty"
    ]
    assert _aid(at) == aid
    assert all(d.status == "draft" for d in _demonstrations())


def test_a_trailing_empty_user_turn_is_refused(sqlite_url, tmp_path):
    at = app_as(_setup(tmp_path))
    aid = _aid(at)
    at = editor_send(at, aid, ["Answer.", "", ""], "submit")
    assert errors(at) == ["turn 2 (`user`): the text is empty"]
    assert all(d.status == "draft" for d in _demonstrations())
    at = editor_send(at, aid, ["Answer."], "submit")  # the extra turns taken back
    assert not errors(at)
    assert [d.status for d in _demonstrations()] == ["submitted"]


def _skip(at, aid: int, reason: str):
    """Press the editor's Skip task with this reason typed beside it, as its JavaScript sends it."""
    at.session_state[f"demo.editor.{aid}"] = {"skip": {"aid": aid, "reason": reason}}
    return at.run()


def test_skip_needs_a_reason_then_releases_the_task(sqlite_url, tmp_path):
    at = app_as(_setup(tmp_path))
    aid = _aid(at)
    assert not [b for b in at.button if (b.key or "").startswith("demo.skip")]  # the skip is in the editor
    at = _skip(at, aid, "   ")
    assert errors(at) == [f"a reason is required to skip task `{aid}`"]
    assert _aid(at) == aid
    at = _skip(at, aid, " needs a lawyer ")
    assert not errors(at)
    assert "Task skipped. Here is the next one." in [m.value for m in at.info]
    assert _aid(at) != aid
    assert control_data(at, "editor")["aid"] == _aid(at)  # the next task's editor
    with session_scope(write=False) as s:
        skipped = s.get(Assignment, aid)
        assert (skipped.status, skipped.skip_reason) == ("released", "needs a lawyer")


def test_a_late_skip_from_another_lease_is_ignored(sqlite_url, tmp_path):
    at = app_as(_setup(tmp_path))
    aid = _aid(at)
    at.session_state[f"demo.editor.{aid}"] = {"skip": {"aid": aid + 99, "reason": "stray"}}
    at = at.run()
    assert not errors(at) and _aid(at) == aid


def test_no_tasks_left_says_so(sqlite_url, tmp_path):
    at = app_as(_setup(tmp_path, n_prompts=1))
    at = _skip(at, _aid(at), "pass")
    assert any("Nothing left to write" in m for m in successes(at))


def test_suggest_button_appears_when_a_model_is_configured(sqlite_url, tmp_path, fake_openai):
    # Suggest itself is tested in tests/app/test_generate.py; here: shown only with a suggestion model.
    alice = make_user("alice")
    make_task_project(tmp_path, "work", ("alice",), n_prompts=3, k=2, suggestion_model="helper")
    at = app_as(alice)
    at = at.button(key=f"demo.suggest.{_aid(at)}").click().run()
    assert not at.exception and not errors(at) and editor_texts(at)[0]


def test_labeler_without_projects_is_told_to_ask_an_admin(sqlite_url):
    at = app_as(make_user("alice"))
    assert "not a member of any project" in at.info[0].value
