"""Demonstrate: write the assistant's reply (or a whole dialogue, playing both sides) for a prompt.

Design constraints:
- The labeler never loses text: every edit is saved as a draft (on change, and on each run when
  the editor differs from the last save) and restored from the database after a reload or a new login.
- Submitting twice stores one demonstration (the service is idempotent per lease; the button's key
  belongs to the lease, so a second click after the rerun hits nothing).
- Turns alternate: assistant, then optional (user, assistant) pairs the labeler adds.
"""

from __future__ import annotations

import streamlit as st

from labeler.app import deps, tasks
from labeler.app.scope_control import scope_control
from labeler.services.actors import Actor
from labeler.services.labeling import load_draft, save_draft, submit_demonstration
from labeler.services.queue import Task
from labeler.services.suggest import suggest_reply, suggestion_model_for

NS = "demo"


def _turn_key(aid: int, i: int) -> str:
    return f"{NS}.turn.{aid}.{i}"


def _count_key(aid: int) -> str:
    return f"{NS}.turns.{aid}"


def _saved_key(aid: int) -> str:
    return f"{NS}.saved.{aid}"


def _role(i: int) -> str:
    return "assistant" if i % 2 == 0 else "user"


def editor_turns(aid: int) -> list[dict]:
    """The turns as the editor holds them now."""
    n = st.session_state.get(_count_key(aid), 1)
    return [{"role": _role(i), "content": st.session_state.get(_turn_key(aid, i), "")} for i in range(n)]


def _load_editor(actor: Actor, task: Task) -> None:
    """Fill the editor from the stored draft (first show in this session, or after another page)."""
    aid = task.assignment_id
    if _turn_key(aid, 0) in st.session_state:
        return
    ok, draft = deps.call(load_draft, actor, aid, write=False)
    turns = draft if ok and draft else [{"role": "assistant", "content": ""}]
    st.session_state[_count_key(aid)] = len(turns)
    for i, turn in enumerate(turns):
        st.session_state[_turn_key(aid, i)] = str(turn.get("content", ""))
    st.session_state[_saved_key(aid)] = editor_turns(aid)


def autosave(actor: Actor, task: Task) -> None:
    """Save the editor as a draft when it differs from the last save."""
    aid = task.assignment_id
    turns = editor_turns(aid)
    if turns == st.session_state.get(_saved_key(aid)):
        return
    seconds = tasks.seconds_since_counted(NS, task)
    ok, _ = deps.call(save_draft, actor, aid, turns, seconds)
    if ok:
        tasks.counted(NS, task, seconds)
        st.session_state[_saved_key(aid)] = turns


def _resize(actor: Actor, task: Task, delta: int) -> None:
    """Add (+2) or remove (-2) a user turn and the assistant turn after it, then save."""
    aid = task.assignment_id
    n = st.session_state.get(_count_key(aid), 1)
    if delta > 0:
        for i in range(n, n + delta):
            st.session_state[_turn_key(aid, i)] = ""
    else:
        for i in range(n + delta, n):
            st.session_state.pop(_turn_key(aid, i), None)
    st.session_state[_count_key(aid)] = max(1, n + delta)
    autosave(actor, task)


def _editor(actor: Actor, task: Task) -> None:
    aid = task.assignment_id
    n = st.session_state.get(_count_key(aid), 1)
    for i in range(n):
        role = _role(i)
        with st.chat_message(role):
            st.text_area(
                "Assistant reply" if i == 0 else f"{role.capitalize()} turn {i + 1}",
                key=_turn_key(aid, i),
                height=220 if role == "assistant" else 110,
                placeholder="Write the reply a helpful, honest and harmless assistant would give."
                if role == "assistant" else "What the user says next.",
                on_change=autosave, args=(actor, task),
            )
    left, right, _ = st.columns([2, 2, 3])
    left.button("Add a user turn and reply", key=f"{NS}.add.{aid}", icon=":material/add_comment:",
                on_click=_resize, args=(actor, task, 2))
    if n > 1:
        right.button("Remove the last two turns", key=f"{NS}.remove.{aid}", icon=":material/remove:",
                     on_click=_resize, args=(actor, task, -2))


def _suggestion_key(aid: int) -> str:
    return f"{NS}.suggestion.{aid}"


def _fill_suggestion(actor: Actor, task: Task, model: str) -> None:
    """Button callback (runs before the editor is drawn, so it may set its text): ask, fill, save."""
    aid = task.assignment_id
    with st.spinner(f"Asking `{model}` for a draft…"):
        ok, suggestion = deps.call(suggest_reply, actor, aid, editor_turns(aid), write=False)
    if not ok:
        return  # deps.call showed the error
    st.session_state[_turn_key(aid, suggestion["turn"])] = suggestion["text"]
    st.session_state[_suggestion_key(aid)] = suggestion
    autosave(actor, task)


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


def _submit(actor: Actor, task: Task) -> None:
    aid = task.assignment_id
    if st.button("Submit demonstration", key=f"{NS}.submit.{aid}", type="primary", icon=":material/send:"):
        turns = editor_turns(aid)
        seconds = tasks.seconds_since_counted(NS, task)
        suggestion = st.session_state.get(_suggestion_key(aid))
        ok, demo_id = deps.call(submit_demonstration, actor, aid, turns, suggestion, seconds)
        if ok:
            tasks.counted(NS, task, seconds)
            tasks.forget_task(NS)
            deps.flash(f"Demonstration #{demo_id} submitted. Here is the next prompt.")
            st.rerun()


def render_demonstrate() -> None:
    """The page: pick a project, read the conversation, write the reply, submit or skip."""
    opened = tasks.open_task(NS, "Demonstrate", "demonstration",
                             "Nothing left to write in this project for you. Thank you!", "Conversation so far")
    if opened is None:
        return
    actor, task = opened
    st.subheader("Your turn")
    st.caption("Drafts are saved as you work (leave a box or press Ctrl+Enter in it).")
    _load_editor(actor, task)
    _editor(actor, task)
    _suggest(actor, task)
    scope_control(actor, NS, task)
    _submit(actor, task)
    tasks.skip_box(actor, NS, task)
    autosave(actor, task)


render_demonstrate()
