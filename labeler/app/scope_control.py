"""The scope control on the labeling pages: is this prompt answerable or off-limits (and why)?

Shown only when the project collects scope labels (setting `scope_labels`). Each change is saved
at once through `services.scope.set_scope` (on the labeler's lease), so it survives a reload and
does not wait for the submit; the labeler's own label comes back when the task is shown again.
"""

from __future__ import annotations

import streamlit as st

from labeler.app import deps
from labeler.services.actors import Actor
from labeler.services.queue import Task
from labeler.services.scope import my_scope, set_scope

LABEL_NAMES = {"answerable": "Answerable", "off-limits": "Off-limits"}
NO_REASON = ""


def _keys(ns: str, aid: int) -> tuple[str, str, str]:
    return f"{ns}.scope.{aid}", f"{ns}.scope_reason.{aid}", f"{ns}.scope_loaded.{aid}"


def _save(actor: Actor, ns: str, aid: int) -> None:
    label_key, reason_key, _ = _keys(ns, aid)
    label = st.session_state.get(label_key)
    reason = st.session_state.get(reason_key) if label == "off-limits" else None
    ok, _ = deps.call(set_scope, actor, aid, label, reason or None)
    if ok:
        st.toast("Scope label saved", icon=":material/check:")


def scope_control(actor: Actor, ns: str, task: Task) -> None:
    """A radio answerable / off-limits and, for off-limits, a reason select (when the project enables them)."""
    settings = task.settings
    if not settings.scope_labels:
        return
    aid = task.assignment_id
    label_key, reason_key, loaded_key = _keys(ns, aid)
    if loaded_key not in st.session_state:  # first show of this lease: the stored label, if any
        ok, vote = deps.call(my_scope, actor, aid, write=False)
        st.session_state[label_key] = vote.label if ok and vote else None
        st.session_state[reason_key] = (vote.reason or NO_REASON) if ok and vote else NO_REASON
        st.session_state[loaded_key] = True
    st.radio("Should the assistant answer this prompt?", list(LABEL_NAMES), key=label_key, index=None,
             format_func=LABEL_NAMES.get, horizontal=True, on_change=_save, args=(actor, ns, aid),
             help="Off-limits: a prompt the assistant should decline (outside its scope, unsafe, ...). "
                  "Saved as soon as you choose.")
    if st.session_state.get(label_key) == "off-limits" and settings.scope_reasons:
        options = [NO_REASON, *settings.scope_reasons]
        if st.session_state.get(reason_key) not in options:
            st.session_state[reason_key] = NO_REASON
        st.selectbox("Reason (optional)", options, key=reason_key,
                     format_func=lambda r: "no reason given" if r == NO_REASON else r.replace("_", " "),
                     on_change=_save, args=(actor, ns, aid))
