"""What the two labeling pages share: the project picker, the current lease, time on task, the skip.

The current lease is kept per page (`"<ns>.assignment"`); each run re-reads it through
`queue.get_task`, and when it is gone (submitted, skipped, expired) `queue.next_task` leases the next.
Time on task runs from the moment this session first showed the task; the services add up the
seconds each draft save and the submit report, so each second is sent once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import streamlit as st

from labeler.app import deps
from labeler.app.render import show_conversation, show_text
from labeler.app.scope_control import scope_then
from labeler.errors import LabelerError, Unavailable
from labeler.services.actors import Actor
from labeler.services.gold import my_qualification
from labeler.services.labeling import why_lease_gone
from labeler.services.projects import list_projects, settings_of
from labeler.services.queue import Task, get_task, next_task, skip_task


def projects_with(actor: Actor, kind: str | None = None) -> list[str]:
    """Names of the actor's projects (those with `kind` among their task kinds, when given)."""
    ok, projects = deps.call(list_projects, actor, write=False)
    if not ok:
        return []
    return [p.name for p in projects if kind is None or kind in settings_of(p).task_kinds]


def pick_project(actor: Actor, ns: str, kind: str | None = None) -> str | None:
    """A project picker shared by name across pages (the choice is kept under `"<ns>.project"`)."""
    names = projects_with(actor, kind)
    if not names:
        what = f" with {kind} tasks" if kind else ""
        st.info(f"You are not a member of any project{what} yet. Ask an admin to add you.")
        return None
    name = select_project(names, f"{ns}.project")
    st.session_state["project"] = name  # the last choice, so the next page opens on it
    return name


def select_project(names: list[str], key: str) -> str:
    """A "Project" selectbox that opens on the project last picked on a labeling page, when it is listed."""
    remembered = st.session_state.get("project")
    if st.session_state.get(key) not in names:
        st.session_state[key] = remembered if remembered in names else names[0]
    return st.selectbox("Project", names, key=key)


def project_picker(actor: Actor, key: str) -> tuple[str, list[Any]] | None:
    """The projects the actor may see and a "Project" selectbox over them; None (said on the page) when none."""
    ok, projects = deps.call(list_projects, actor, write=False)
    if not ok:
        return None
    if not projects:
        st.info("No projects yet." if actor.is_admin else "You are not a member of any project yet.")
        return None
    return select_project([p.name for p in projects], key), projects


def current_task(actor: Actor, ns: str, project: str, kind: str) -> Task | None:
    """The task this page is working on: the remembered lease, or the next one from the queue."""
    aid = st.session_state.get(f"{ns}.assignment")
    if aid is not None and st.session_state.get(f"{ns}.assignment_project") == project:
        try:
            with deps.session(write=False) as s:
                return get_task(s, actor, aid)
        except Unavailable:
            raise  # the server is down, not the lease: keep it for the next run
        except LabelerError:  # finished, skipped or expired elsewhere: say so (and what was kept), take the next
            ok, why = deps.call(why_lease_gone, actor, aid, write=False)
            if ok and why:
                st.warning(why)
    forget_task(ns)
    ok, task = deps.call(next_task, actor, project, kind)
    if not ok:
        st.stop()  # paused, failed qualification, ...: the message shown is all this page has to say
    if task is not None:
        st.session_state[f"{ns}.assignment"] = task.assignment_id
        st.session_state[f"{ns}.assignment_project"] = project
        started_key = f"{ns}.started.{task.assignment_id}"
        st.session_state.setdefault(started_key, time.monotonic())
    return task


def seconds_since_counted(ns: str, task: Task) -> float:
    """Seconds on the task not yet sent to the services (they add up what drafts and the submit send)."""
    started = st.session_state.setdefault(f"{ns}.started.{task.assignment_id}", time.monotonic())
    return round(max(0.0, time.monotonic() - started), 3)


def counted(ns: str, task: Task, seconds: float) -> None:
    """Mark `seconds` as sent (after the service stored them), so they are never counted twice."""
    key = f"{ns}.started.{task.assignment_id}"
    st.session_state[key] = st.session_state.get(key, time.monotonic()) + seconds


def forget_task(ns: str) -> None:
    """Drop the remembered lease (after submit or skip) so the next run leases the next task."""
    st.session_state.pop(f"{ns}.assignment", None)
    st.session_state.pop(f"{ns}.assignment_project", None)


def control_value(key: str, name: str) -> Any:  # noqa: ANN401 - whatever the control sent
    """The value `name` (submit, skip, draft) that the client-side control `key` sent, read in its callback."""
    state = st.session_state.get(key)
    return state.get(name) if hasattr(state, "get") else None


def control_callback(ns: str, handle: Callable[[], object]) -> Callable[[], None]:
    """A control's `on_<value>_change` callback: `handle` the value, and mark it handled for this run.

    A trigger value is still there during the run that follows its callback: without the mark, a
    submit or skip the service refused would be tried (and its error shown) a second time.
    """
    def callback() -> None:
        st.session_state[f"{ns}.handled"] = True
        handle()

    return callback


def handled_in_callback(ns: str) -> bool:
    """True when a control callback already handled this run's values (in the browser; AppTest runs none)."""
    return bool(st.session_state.pop(f"{ns}.handled", False))


def on_skip(actor: Actor, ns: str, task: Task, sent: Any) -> bool:  # noqa: ANN401 - whatever the control sent
    """Skip the task with the reason typed in the control (its scope stored first). True if skipped.

    Both labeling pages' controls send `{"aid", "reason", "scope"?}`; the service refuses a skip
    without a reason, and its message is shown.
    """
    if not isinstance(sent, dict) or sent.get("aid") != task.assignment_id:
        return False  # a value from a previous task's control (a late event): never applied to this lease

    def skip() -> bool:
        ok, _ = deps.call(skip_task, actor, task.assignment_id, str(sent.get("reason") or "").strip())
        if ok:
            forget_task(ns)
            deps.flash("Task skipped. Here is the next one.", "info")
        return ok

    return scope_then(actor, ns, task, sent, "skip", skip)


def qualification_note(actor: Actor, project: str) -> None:
    """"Qualification: task i of N" while the labeler works through the qualification set (all of it is gold)."""
    ok, state = deps.call(my_qualification, actor, project, write=False)
    if ok and state.required and state.qualification in ("not_started", "in_progress"):
        st.info(f"Qualification: task {min(state.done + 1, state.required)} of {state.required}. "
                "Real work starts once you pass.", icon=":material/school:")


def guidelines(task: Task, expanded: bool = False) -> None:
    """The project's guidelines (markdown), collapsible."""
    with st.expander("Guidelines", expanded=expanded, icon=":material/menu_book:"):
        show_text(task.guidelines or "*This project has no guidelines yet.*", markdown=True)


def open_task(ns: str, title: str, kind: str, nothing_left: str, heading: str) -> tuple[Actor, Task] | None:
    """The start both labeling pages share: who, which project, the task, its guidelines and prompt.

    None when the page has nothing more to show (no project, or no task left: said on the page).
    """
    actor = deps.page_actor()
    st.title(title)
    project = pick_project(actor, ns, kind)
    if project is None:
        return None
    task = current_task(actor, ns, project, kind)
    if task is None:
        st.success(nothing_left)
        return None
    qualification_note(actor, project)
    guidelines(task)
    st.subheader(heading)
    show_conversation(task.messages)
    return actor, task

