"""The scope question on the labeling pages: is this prompt answerable or off-limits (and why)?

Design constraints:
- The question is drawn by the page's client-side control (`controls/scope.js`, prepended to the
  Rank task's and the Demonstrate editor's JavaScript): a choice costs no server run. The control
  keeps it in the tab's sessionStorage under the lease and sends it, as `scope: {"label":
  "answerable" | "off-limits" | null, "reason": <one of the project's reasons> | null}`, with its
  Submit and Skip values and (Demonstrate) its debounced draft.
- Shown only when the project collects scope labels (setting `scope_labels`): the control's data
  then carries the labeler's stored vote (`services.scope.my_scope`, read once per lease and
  session) and the project's reasons (`scope_reasons`), and nothing otherwise.
- `store_scope` calls `services.scope.set_scope` only when the value sent differs from the stored
  vote (`label: null` withdraws it). The draft is a state value that comes back on every run: each
  draft's scope is handled once, so an older draft never undoes a newer submit or skip.
- Order: the scope first, then the submit or skip (`scope_then`), because `set_scope` needs the open
  lease that the submit or skip closes. A malformed or refused scope never stops the ranking or
  demonstration (the work itself): it is shown as an error, with the next task when the submit went
  through, and nothing of it is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from labeler.app import deps
from labeler.errors import Invalid, LabelerError
from labeler.redaction import redact
from labeler.services.actors import Actor
from labeler.services.projects import ProjectSettings
from labeler.services.queue import Task
from labeler.services.scope import my_scope, set_scope

LABELS = ("answerable", "off-limits")  # services.scope's labels; `null` withdraws the labeler's vote
Scope = tuple[str | None, str | None]  # (label, reason)


def _stored_key(ns: str, aid: int) -> str:
    return f"{ns}.scope.{aid}"


def _seen_key(ns: str, aid: int, source: str) -> str:
    return f"{ns}.scope_seen.{aid}.{source}"


def stored_scope(actor: Actor, ns: str, task: Task) -> Scope:
    """The labeler's stored vote on the task's prompt (read once per lease in this session)."""
    key = _stored_key(ns, task.assignment_id)
    if key not in st.session_state:
        ok, vote = deps.call(my_scope, actor, task.assignment_id, write=False)
        st.session_state[key] = (vote.label, vote.reason) if ok and vote else (None, None)
    return st.session_state[key]


def scope_data(actor: Actor, ns: str, task: Task) -> dict[str, Any] | None:
    """What the control needs to draw the question (the stored vote, the reasons); None when the project has none."""
    if not task.settings.scope_labels:
        return None
    label, reason = stored_scope(actor, ns, task)
    return {"label": label, "reason": reason, "reasons": list(task.settings.scope_reasons)}


def _short(value: Any) -> str:  # noqa: ANN401 - whatever the page sent
    """A value as the message shows it (a long one cut)."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_scope(settings: ProjectSettings, value: Any) -> Scope:  # noqa: ANN401 - whatever the page sent
    """`(label, reason)` from the control's scope value; Invalid naming what is wrong with it."""
    def malformed(why: str) -> Invalid:
        return Invalid(f"the scope label sent by the page is malformed: {why}; nothing of it was stored")

    if not isinstance(value, dict):
        raise malformed(f"expected {{label, reason}}, got `{_short(value)}`")
    label, reason = value.get("label"), value.get("reason")
    if label is not None and label not in LABELS:
        raise malformed(f"label `{_short(label)}`: expected `answerable`, `off-limits` or none")
    if reason is None or reason == "":
        return label, None
    if not isinstance(reason, str) or reason not in settings.scope_reasons:
        known = ", ".join(f"`{r}`" for r in settings.scope_reasons) or "none (the project names no reasons)"
        raise malformed(f"reason `{_short(reason)}` is not one of the project's reasons: {known}")
    if label != "off-limits":
        raise malformed(f"a reason (`{reason}`) goes only with an `off-limits` label, not with `{label or 'none'}`")
    return label, reason


def store_scope(actor: Actor, ns: str, task: Task, sent: Any, source: str) -> str | None:  # noqa: ANN401
    """Store the scope in a value the control sent when it differs from the stored vote; the problem, or None.

    `source` is what the value was (submit, skip, draft). The problem (a malformed value, a refusal) is
    returned, not shown; None means stored, unchanged, absent, or not collected by the project.
    """
    if not isinstance(sent, dict) or "scope" not in sent or not task.settings.scope_labels:
        return None
    aid = task.assignment_id
    if source == "draft":  # a state value: the same draft comes back on every run
        seen = _seen_key(ns, aid, source)
        if st.session_state.get(seen) == sent["scope"]:
            return None
        st.session_state[seen] = sent["scope"]
    try:
        label, reason = parse_scope(task.settings, sent["scope"])
    except Invalid as e:
        return str(e)
    if (label, reason) == stored_scope(actor, ns, task):
        return None
    try:
        with deps.session() as s:
            set_scope(s, actor, aid, label, reason)
    except LabelerError as e:
        return f"the scope label was not stored: {redact(str(e))}"
    st.session_state[_stored_key(ns, aid)] = (label, reason)
    return None


def scope_then(actor: Actor, ns: str, task: Task, sent: dict[str, Any], source: str,
               action: Callable[[], bool]) -> bool:
    """Store the scope `sent` carries, then run `action` (the submit or skip) whatever became of it.

    A scope problem is shown now, or (when `action` succeeded and the page moves on) with the next task.
    Returns what `action` returned.
    """
    problem = store_scope(actor, ns, task, sent, source)
    done = action()
    if problem and done:
        deps.flash(problem, "error")
    elif problem:
        st.error(problem)
    return done
