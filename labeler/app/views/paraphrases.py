"""Paraphrases (labelers, reviewers, admins): keep or reject the model's rewordings before they count.

Design constraints:
- Every rule is the augment service's (membership, one verdict per paraphrase); errors show as they come.
- Each pending paraphrase is shown beside the question it rewords, with Keep and Reject; a verdict
  reruns the page, so the list is always what still waits.
- Kept paraphrases are never labeled: they reuse their source's demonstration in SFT exports
  (`--include-paraphrases`).
"""

from __future__ import annotations

import streamlit as st

from labeler.app import deps, tasks
from labeler.app.render import show_text
from labeler.services.actors import Actor
from labeler.services.augment import PendingParaphrase, list_paraphrases, paraphrase_counts, review_paraphrase

NS = "paraphrases"
SHOWN = 20


def _verdict(actor: Actor, item: PendingParaphrase, verdict: str) -> None:
    ok, _ = deps.call(review_paraphrase, actor, item.id, verdict)
    if ok:
        deps.flash(f"Paraphrase #{item.id} {'kept' if verdict == 'keep' else 'rejected'}.")
        st.rerun()


def _row(actor: Actor, item: PendingParaphrase) -> None:
    with st.container(border=True):
        source, para = st.columns(2)
        with source:
            st.caption(f"Original · prompt #{item.source_id} · {item.split}")
            show_text(item.source_text)
        with para:
            st.caption(f"Paraphrase #{item.id}" + (f" · by {item.model}" if item.model else ""))
            show_text(item.text)
        keep, reject, _ = st.columns([1, 1, 4])
        if keep.button("Keep", key=f"{NS}.{item.id}.keep", type="primary", icon=":material/check:"):
            _verdict(actor, item, "keep")
        if reject.button("Reject", key=f"{NS}.{item.id}.reject", icon=":material/close:"):
            _verdict(actor, item, "reject")


def render_paraphrases() -> None:
    """The page: pick a project, see the counts, keep or reject the oldest pending paraphrases."""
    actor = deps.page_actor()
    st.title("Paraphrases")
    st.caption("A kept paraphrase asks the same thing as its original: it reuses the original's answer "
               "in training exports. Reject one that changes the meaning or reads badly.")
    project = tasks.pick_project(actor, NS)
    if project is None:
        return
    ok, counts = deps.call(paraphrase_counts, actor, project, write=False)
    if not ok:
        return
    pending, kept, rejected = st.columns(3)
    pending.metric("Pending", counts["pending"])
    kept.metric("Kept", counts["kept"])
    rejected.metric("Rejected", counts["rejected"])
    ok, items = deps.call(list_paraphrases, actor, project, "pending", SHOWN, write=False)
    if not ok:
        return
    if not items:
        st.success("No paraphrase waits for review in this project.")
        return
    for item in items:
        _row(actor, item)


render_paraphrases()
