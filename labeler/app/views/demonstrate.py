"""Demonstrate: write the assistant's reply (or a whole dialogue, playing both sides) for a prompt.

Design constraints:
- The editor is one client-side control (`controls/editor.js`): typing costs no server run; the
  control sends a draft at most 0.8 s after the last keystroke (and when the page is left), the page
  stores it, and a reload or a new login restores it from the database exactly.
- Ctrl+Enter (or the button) submits the text in the boxes at that moment. Submitting twice stores
  one demonstration (the service is idempotent per lease; a late value for an old lease is ignored).
- Turns alternate: assistant, then optional (user, assistant) pairs the labeler adds.
- The page replaces the editor's text only on purpose (first show, a model suggestion): it then
  bumps the revision it sends, and the control takes the new text; otherwise the boxes stay as typed.
- Skip (with a reason) and the scope question (when the project collects it) are in the control too:
  choosing a scope costs no server run; it arrives with the next draft, the submit or the skip and
  is stored first (`scope_control`); a problem with it never stops the demonstration.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from labeler.app import deps, tasks
from labeler.app.controls import component
from labeler.app.scope_control import scope_data, scope_then, store_scope
from labeler.services.actors import Actor
from labeler.services.labeling import load_draft, save_draft, submit_demonstration
from labeler.services.queue import Task
from labeler.services.suggest import suggest_reply, suggestion_model_for

NS = "demo"


def _turns_key(aid: int) -> str:
    return f"{NS}.turns.{aid}"


def _rev_key(aid: int) -> str:
    return f"{NS}.rev.{aid}"


def _suggestion_key(aid: int) -> str:
    return f"{NS}.suggestion.{aid}"


def editor_turns(aid: int) -> list[dict]:
    """The turns as last stored (the control's latest draft, or what the page put in it)."""
    return list(st.session_state.get(_turns_key(aid)) or [{"role": "assistant", "content": ""}])


def _load_editor(actor: Actor, task: Task) -> None:
    """Fill the editor from the stored draft (first show in this session, or after another page)."""
    aid = task.assignment_id
    if _turns_key(aid) in st.session_state:
        return
    ok, draft = deps.call(load_draft, actor, aid, write=False)
    st.session_state[_turns_key(aid)] = [{"role": str(t.get("role")), "content": str(t.get("content", ""))}
                                         for t in (draft if ok and draft else [])] or editor_turns(aid)
    st.session_state[_rev_key(aid)] = st.session_state.get(_rev_key(aid), 0) + 1


def save(actor: Actor, task: Task, turns: list[dict]) -> bool:
    """Store `turns` as the draft when they differ from the last save (with the seconds since)."""
    aid = task.assignment_id
    if turns == st.session_state.get(_turns_key(aid)):
        return True
    seconds = tasks.seconds_since_counted(NS, task)
    ok, _ = deps.call(save_draft, actor, aid, turns, seconds)
    if ok:
        tasks.counted(NS, task, seconds)
        st.session_state[_turns_key(aid)] = turns
    return ok


def _fill_suggestion(actor: Actor, task: Task, model: str) -> None:
    """Button callback (runs before the editor is drawn): ask, put the draft in the last assistant turn, save."""
    aid = task.assignment_id
    with st.spinner(f"Asking `{model}` for a draft…"):
        ok, suggestion = deps.call(suggest_reply, actor, aid, editor_turns(aid), write=False)
    if not ok:
        return  # deps.call showed the error
    turns = editor_turns(aid)
    turns += [{"role": "assistant" if i % 2 == 0 else "user", "content": ""}
              for i in range(len(turns), suggestion["turn"] + 1)]
    turns[suggestion["turn"]] = {"role": "assistant", "content": suggestion["text"]}
    st.session_state[_suggestion_key(aid)] = suggestion
    if save(actor, task, turns):
        st.session_state[_rev_key(aid)] = st.session_state.get(_rev_key(aid), 0) + 1


def _suggest(actor: Actor, task: Task) -> None:
    """Suggest: a model's draft of the last assistant turn, shown only when the project has a model."""
    ok, model = deps.call(suggestion_model_for, actor, task.project, write=False)
    if not ok or not model:
        return
    aid = task.assignment_id
    st.button("Suggest", key=f"{NS}.suggest.{aid}", icon=":material/auto_awesome:",
              help=f"Replace the last assistant turn with a draft from `{model}`, to edit",
              on_click=_fill_suggestion, args=(actor, task, model))
    suggestion = st.session_state.get(_suggestion_key(aid))
    if suggestion:
        st.caption(f"Turn {suggestion['turn'] + 1} was drafted by `{suggestion['model']}`: edit it until it is the "
                   "reply you would give. The draft is kept with your demonstration.")


def _sent_turns(task: Task, value: Any) -> list[dict] | None:
    """The turns in a value the control sent for this lease (None for another lease's late value)."""
    if not isinstance(value, dict) or value.get("aid") != task.assignment_id:
        return None
    turns = value.get("turns")
    return turns if isinstance(turns, list) else None


def on_draft(actor: Actor, task: Task, sent: Any) -> None:  # noqa: ANN401 - whatever the control sent
    """Store a draft the editor sent for this lease: its scope (when new), then its turns (when changed)."""
    turns = _sent_turns(task, sent)
    if turns is None:
        return
    problem = store_scope(actor, NS, task, sent, "draft")
    if problem:
        st.error(problem)
    save(actor, task, turns)


def on_submit(actor: Actor, task: Task, sent: Any) -> bool:  # noqa: ANN401 - whatever the control sent
    """Store the scope the editor sent, then the demonstration. True if the demonstration was stored.

    On success the lease is forgotten: the run then shows the next task.
    """
    turns = _sent_turns(task, sent)
    if turns is None:
        return False
    return scope_then(actor, NS, task, sent, "submit", lambda: _submit(actor, task, turns))


def _submit(actor: Actor, task: Task, turns: list[dict]) -> bool:
    """Store the demonstration. True if stored."""
    aid = task.assignment_id
    seconds = tasks.seconds_since_counted(NS, task)
    suggestion = st.session_state.get(_suggestion_key(aid))
    ok, demo_id = deps.call(submit_demonstration, actor, aid, turns, suggestion, seconds)
    if ok:
        tasks.counted(NS, task, seconds)
        tasks.forget_task(NS)
        deps.flash(f"Demonstration #{demo_id} submitted. Here is the next prompt.")
    return ok


def render_demonstrate() -> None:
    """The page: pick a project, read the conversation, write the reply, submit or skip."""
    handled = tasks.handled_in_callback(NS)  # read first: the page may end before the control
    opened = tasks.open_task(NS, "Demonstrate", "demonstration",
                             "Nothing left to write in this project for you. Thank you!", "Conversation so far")
    if opened is None:
        return
    actor, task = opened
    aid = task.assignment_id
    st.subheader("Your turn")
    st.caption("Your text is saved as you type and comes back after a reload. Ctrl+Enter submits.")
    _load_editor(actor, task)
    _suggest(actor, task)
    key = f"{NS}.editor.{aid}"
    data: dict[str, Any] = {"aid": aid, "turns": editor_turns(aid), "rev": st.session_state[_rev_key(aid)]}
    scope = scope_data(actor, NS, task)
    if scope is not None:
        data["scope"] = scope
    # The submit and skip callbacks store them before the next run draws the page (one run to the next
    # task); where no callback ran (AppTest), the values are handled below.
    result = component("editor")(
        key=key, data=data, on_draft_change=lambda: None,
        on_submit_change=tasks.control_callback(NS, lambda: on_submit(actor, task, tasks.control_value(key, "submit"))),
        on_skip_change=tasks.control_callback(NS, lambda: tasks.on_skip(actor, NS, task,
                                                                        tasks.control_value(key, "skip"))))
    if not handled and (on_submit(actor, task, result.submit) or tasks.on_skip(actor, NS, task, result.skip)):
        st.rerun()
    on_draft(actor, task, result.draft)


render_demonstrate()
