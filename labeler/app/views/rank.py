"""Rank: order K candidate replies to a prompt, rate each on the project's Likert scale, flag problems.

Design constraints:
- The whole task is one client-side control (`controls/rank.js`): ranks, scores, flags, the order
  strip (drag to reorder), "none acceptable" and the comment change nothing on the server; only
  Submit (Ctrl+Enter, whatever has focus, the comment included) and Skip reach it.
- Candidates appear in the order the queue stored for this lease, labelled A, B, C, … (the order is
  kept with the ranking so position bias can be measured); texts are shown as written unless the
  labeler turned Markdown on.
- The control shows the ties rule (standard competition ranking, 1, 1, 3) and keeps Submit off
  until the ranks follow it; the service still checks every rule, and its refusal is shown as is.
- After a submit the next task loads at once, scrolled to the top.
- The scope question, when the project collects it, is drawn by the control too and arrives with
  Submit or Skip; it is stored first (`scope_control`), and a problem with it never stops the ranking.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from labeler.app import deps, tasks
from labeler.app.controls import component
from labeler.app.render import flag_label, markdown_html, markdown_preferred
from labeler.app.scope_control import scope_data, scope_then
from labeler.errors import Invalid
from labeler.services.actors import Actor
from labeler.services.labeling import ItemSubmission, RankingSubmission, submit_ranking
from labeler.services.queue import Task

NS = "rank"


def control_data(task: Task, markdown: bool, scope: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the control renders: the candidates in the stored order, the project's scales, the scope question."""
    settings = task.settings
    data: dict[str, Any] = {
        "aid": task.assignment_id,
        "candidates": [{"label": c.label, "text": c.text, "html": markdown_html(c.text) if markdown else None}
                       for c in task.candidates],
        "likert": settings.likert_points,
        "flags": [{"id": f, "name": flag_label(f)} for f in settings.flags],
        "ties": settings.ties_allowed,
        "markdown": markdown,
    }
    if scope is not None:
        data["scope"] = scope
    return data


def submission(task: Task, sent: dict[str, Any], seconds: float) -> RankingSubmission:
    """The control's submit value as the service's submission (positions become candidate ids)."""
    try:
        items = [ItemSubmission(candidate_id=c.candidate_id, rank=sent["ranks"][i], likert=sent["likert"][i],
                                flags=list(sent["flags"][i] or []))
                 for i, c in enumerate(task.candidates)]
        return RankingSubmission(items=items, none_acceptable=bool(sent.get("none")),
                                 comment=str(sent.get("comment") or ""), seconds_spent=seconds)
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise Invalid(f"the ranking sent by the page is malformed: {e}") from e


def on_submit(actor: Actor, task: Task, sent: dict[str, Any]) -> bool:
    """Store the scope the control sent, then the ranking. True if the ranking was stored.

    On success the lease is forgotten: the run then shows the next task.
    """
    if not isinstance(sent, dict) or sent.get("aid") != task.assignment_id:
        return False  # a value from a previous task's control (a late event): never stored on this lease
    return scope_then(actor, NS, task, sent, "submit", lambda: _submit(actor, task, sent))


def _submit(actor: Actor, task: Task, sent: dict[str, Any]) -> bool:
    """Store the ranking the control sent. True if stored."""
    try:
        sub = submission(task, sent, tasks.seconds_since_counted(NS, task))
    except Invalid as e:
        st.error(str(e))
        return False
    ok, ranking_id = deps.call(submit_ranking, actor, task.assignment_id, sub)
    if ok:
        tasks.forget_task(NS)
        deps.flash(f"Ranking #{ranking_id} submitted. Here is the next prompt.")
    return ok


def render_rank() -> None:
    """The page: pick a project, read the prompt and candidates, rank, rate, flag, submit or skip."""
    handled = tasks.handled_in_callback(NS)  # read first: the page may end before the control
    opened = tasks.open_task(NS, "Rank", "ranking", "Nothing left to rank in this project for you. Thank you!",
                             "Prompt")
    if opened is None:
        return
    actor, task = opened
    key = f"{NS}.control.{task.assignment_id}"
    # In the browser the callbacks store a submit or skip before the next run draws the page, so that
    # one run shows the next task; where no callback ran (AppTest), the values are handled below.
    data = control_data(task, markdown_preferred(), scope_data(actor, NS, task))
    result = component("rank")(
        key=key, data=data,
        on_submit_change=tasks.control_callback(NS, lambda: on_submit(actor, task, tasks.control_value(key, "submit"))),
        on_skip_change=tasks.control_callback(NS, lambda: tasks.on_skip(actor, NS, task,
                                                                        tasks.control_value(key, "skip"))))
    if not handled and (on_submit(actor, task, result.submit) or tasks.on_skip(actor, NS, task, result.skip)):
        st.rerun()


render_rank()
