"""The Demonstrate editor in a real browser: saved while typing (no blur needed), Ctrl+Enter submits, the scope
question costs no server run, Skip task with a reason."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from db.models import Assignment, Demonstration, User
from labeler.services import session_scope
from tests.app.data import make_task_project
from tests.e2e.ui import (
    choose_scope,
    current,
    editor_control,
    expect,
    expect_scope,
    frames_sent,
    log_in,
    scope_votes,
    settled,
    success_text,
)
from tests.factories import make_user


@pytest.fixture(scope="module", autouse=True)
def _data(app_database, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("editor")
    for name in ("ezra", "iris"):
        make_user(name)
        make_task_project(tmp, f"ed-{name}", (name,), n_prompts=2, k=2, task_kinds=["demonstration"])
    for name in ("nora", "otto"):
        make_user(name)
        make_task_project(tmp, f"ed-{name}", (name,), n_prompts=2, k=2, task_kinds=["demonstration"],
                          scope_labels=True, scope_reasons=["unsafe", "medical"])


def _demos(username: str, status: str) -> list[Demonstration]:
    with session_scope(write=False) as s:
        return list(s.scalars(select(Demonstration).join(User, User.id == Demonstration.labeler_id)
                              .where(User.username == username, Demonstration.status == status)))


TEXT = "Line one,\n    indented line two.\n\nA last paragraph with ünïcode."


def test_typed_text_survives_a_reload_two_seconds_after_the_last_keystroke(new_page):
    page = log_in(new_page(), "ezra")
    box = page.get_by_label("Assistant reply")
    expect(box).to_be_focused()  # ready to type
    box.press_sequentially(TEXT[:20])
    box.fill(TEXT)  # the rest at once; the cursor never leaves the box
    typed_at = time.monotonic()
    deadline = typed_at + 2.0
    while time.monotonic() < deadline:  # the condition this test is about: stored within 2 s
        drafts = _demos("ezra", "draft")
        if drafts and drafts[0].turns == [{"role": "assistant", "content": TEXT}]:
            break
        page.wait_for_timeout(50)
    else:
        pytest.fail("the draft was not stored within 2 s of the last keystroke")
    page.reload()
    settled(page)
    expect(page.get_by_label("Assistant reply")).to_have_value(TEXT)


def test_ctrl_enter_submits_a_two_turn_dialogue_typed_without_leaving_the_boxes(new_page):
    page = log_in(new_page(), "iris")
    page.get_by_label("Assistant reply").fill("Paris.")
    page.get_by_role("button", name="Add a user turn and reply").click()
    page.get_by_label("User turn 2").fill("And of Italy?")
    page.get_by_label("Assistant turn 3").fill("Rome.")
    page.keyboard.press("Control+Enter")
    success_text(page, "Demonstration #")
    [demo] = _demos("iris", "submitted")
    assert demo.turns == [{"role": "assistant", "content": "Paris."}, {"role": "user", "content": "And of Italy?"},
                          {"role": "assistant", "content": "Rome."}]
    settled(page)
    expect(current(page).get_by_label("Assistant reply")).to_have_value("")  # the next prompt, a fresh editor


def test_the_scope_choice_costs_no_server_run_survives_a_reload_and_goes_with_the_submit(new_page):
    page = new_page()
    sent = frames_sent(page)
    log_in(page, "nora")
    editor = editor_control(page)
    before = len(sent)
    choose_scope(editor, "Off-limits", "unsafe")
    expect(editor.get_by_label("Reason (optional)")).to_have_value("unsafe")
    assert len(sent) == before, "a scope choice reached the server"
    page.reload()
    settled(page)
    editor = editor_control(page)
    expect_scope(editor, "Off-limits", "unsafe")
    assert scope_votes("nora") == []  # kept in the tab until a draft, the submit or a skip carries it
    editor.get_by_label("Assistant reply").fill("I cannot help with that.")
    page.keyboard.press("Control+Enter")
    success_text(page, "Demonstration #")
    [demo] = _demos("nora", "submitted")
    assert scope_votes("nora") == [(demo.assignment_id, "off-limits", "unsafe")]


def test_skip_from_the_editor_needs_a_reason_and_carries_the_scope(new_page):
    page = log_in(new_page(), "otto")
    editor = editor_control(page)
    first = page.get_by_test_id("stChatMessage").first.inner_text()
    choose_scope(editor, "Answerable")
    editor.get_by_role("button", name="Skip task").click()
    refused = page.get_by_test_id("stAlertContentError").filter(has_text="a reason is required to skip task")
    expect(refused.first).to_be_visible()
    settled(page)
    expect(refused).to_have_count(1)  # tried once: the callback's run does not try the same value again
    editor.get_by_label("Why skip it?").fill("needs a lawyer")
    editor.get_by_role("button", name="Skip task").click()
    expect(page.get_by_text("Task skipped. Here is the next one.")).to_be_visible()
    expect(page.get_by_test_id("stChatMessage").first).not_to_have_text(first)
    with session_scope(write=False) as s:
        [(aid, status, reason)] = s.execute(
            select(Assignment.id, Assignment.status, Assignment.skip_reason).join(User, User.id == Assignment.user_id)
            .where(User.username == "otto", Assignment.skip_reason.is_not(None))).all()
    assert (status, reason) == ("released", "needs a lawyer")
    assert scope_votes("otto") == [(aid, "answerable", None)]
