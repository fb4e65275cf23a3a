"""Review (reviewers and admins): the oldest submitted work first; accept, reject with a reason, or edit.

Design constraints:
- Every rule is the review service's (roles, never one's own work, a reason to reject, one verdict
  per item even with two reviewers at once); the page shows its errors as they come.
- The item under review is remembered per session (`"review.current"`) and re-read each run: when
  someone else reviewed it meanwhile, the next one loads.
- A ranking is shown in the labeler's rank order, with the letter each candidate had on their screen.
- After a verdict the next item loads at once.
- Reviewers see the reward model's score of each reply (never shown to labelers) and can take the
  rankings the model disagrees with most first (`order="rm-disagreement"`).
"""

from __future__ import annotations

import streamlit as st

from labeler.app import deps, tasks
from labeler.app.render import flag_label, show_conversation, show_text
from labeler.errors import LabelerError, Unavailable
from labeler.services.actors import Actor
from labeler.services.review import ReviewItem, get_review_item, next_review, review_counts, review_work

NS = "review"
KINDS = {"Either": None, "Demonstrations": "demonstration", "Rankings": "ranking"}
ORDERS = {"Oldest first": "oldest", "Reward model disagrees most": "rm-disagreement"}


def _key(item: ReviewItem, what: str) -> str:
    return f"{NS}.{item.kind}.{item.work_id}.{what}"


def current_item(actor: Actor, project: str, kind: str | None, order: str = "oldest") -> ReviewItem | None:
    """The remembered item while it still waits for review, else the next one of `kind` in `order`."""
    remembered = st.session_state.get(f"{NS}.current")
    if (remembered and remembered[0] == project and (kind is None or remembered[1] == kind)
            and (len(remembered) < 4 or remembered[3] == order)):
        try:
            with deps.session(write=False) as s:
                item = get_review_item(s, actor, remembered[1], remembered[2])
            if item.status == "submitted":
                return item
        except Unavailable:
            raise  # the server is down, not the lease: keep it for the next run
        except LabelerError:
            pass  # gone: take the next one
    st.session_state.pop(f"{NS}.current", None)
    ok, item = deps.call(next_review, actor, project, kind, order, write=False)
    if not ok:
        st.stop()
    if item is not None:
        st.session_state[f"{NS}.current"] = (project, item.kind, item.work_id, order)
    return item


def _show_demonstration(item: ReviewItem) -> None:
    st.subheader("The labeler's demonstration")
    show_conversation(item.turns)
    if item.expected_turns:
        with st.expander("Gold task: the exemplary demonstration", expanded=True, icon=":material/star:"):
            show_conversation(item.expected_turns)


def _show_ranking(item: ReviewItem) -> None:
    st.subheader(f"The labeler's ranking of {len(item.items)} replies")
    if item.none_acceptable:
        st.warning("The labeler marked none of these as acceptable.")
    if item.reward_model is not None:
        st.caption(f"Reward model `{item.reward_model}`: it orders {item.rm_disagree} of {item.rm_pairs} scored "
                   "pair(s) the other way. Labelers never see these scores.")
    for it in item.items:
        with st.container(border=True):
            rank = f"Rank {it.rank}" if it.rank is not None else "Not ranked"
            st.markdown(f"#### {rank} · {it.label}")
            show_text(it.text)
            details = [f"quality {it.likert}" if it.likert is not None else "no quality score"]
            if item.reward_model is not None:
                details.append("reward model: not scored" if it.score is None else f"reward model {it.score:+.3f}")
            details += [flag_label(f) for f in it.flags]
            st.caption(" · ".join(details))
    if item.comment:
        st.markdown("**Comment:**")
        show_text(item.comment)


def _history(item: ReviewItem) -> None:
    with st.expander(f"Review history ({len(item.history)})", icon=":material/history:"):
        if not item.history:
            st.caption("No verdict on this work yet.")
        for record in item.history:
            who = record.reviewer or "the command line"
            st.markdown(f"**{record.verdict}** by {who} on {record.at:%Y-%m-%d %H:%M} UTC")
            if record.reason:
                show_text(record.reason)


def _verdict(actor: Actor, item: ReviewItem, verdict: str, reason: str, turns: list[dict] | None = None) -> None:
    ok, _ = deps.call(review_work, actor, item.kind, item.work_id, verdict, reason, turns)
    if ok:
        st.session_state.pop(f"{NS}.current", None)
        done = {"accept": "accepted", "reject": "rejected", "edit": "edited and accepted"}[verdict]
        deps.flash(f"{item.kind.capitalize()} #{item.work_id} {done}. Here is the next one.")
        st.rerun()


def _actions(actor: Actor, item: ReviewItem) -> None:
    reason = st.text_area("Reason (required to reject; the labeler reads it)", key=_key(item, "reason"), height=80)
    accept, reject, _ = st.columns([1, 1, 3])
    if accept.button("Accept", key=_key(item, "accept"), type="primary", icon=":material/check:"):
        _verdict(actor, item, "accept", reason)
    if reject.button("Reject", key=_key(item, "reject"), icon=":material/close:"):
        _verdict(actor, item, "reject", reason)
    if item.kind == "demonstration":
        with st.expander("Edit the demonstration (the original is kept in the history)", icon=":material/edit:"):
            edited = []
            for i, turn in enumerate(item.turns):
                text = st.text_area(f"{turn['role'].capitalize()} turn {i + 1}", value=turn["content"],
                                    key=_key(item, f"edit.{i}"), height=160)
                edited.append({"role": turn["role"], "content": text})
            if st.button("Save the edit and accept", key=_key(item, "edit")):
                _verdict(actor, item, "edit", reason, edited)


def render_review() -> None:
    """The page: pick a project, see what waits, review the oldest item."""
    actor = deps.page_actor()
    st.title("Review")
    project = tasks.pick_project(actor, NS)
    if project is None:
        return
    ok, counts = deps.call(review_counts, actor, project, write=False)
    if not ok:
        return
    demos, ranks = st.columns(2)
    demos.metric("Demonstrations waiting", counts.get("demonstration", 0))
    ranks.metric("Rankings waiting", counts.get("ranking", 0))
    choice = st.segmented_control("Review", list(KINDS), default="Either", key=f"{NS}.kind") or "Either"
    order = st.segmented_control("Order", list(ORDERS), default="Oldest first", key=f"{NS}.order",
                                 help="Rankings where the reward model's scores and the labeler's order differ "
                                      "most (share of pairs) come first") or "Oldest first"
    kind = "ranking" if ORDERS[order] == "rm-disagreement" else KINDS[choice]
    item = current_item(actor, project, kind, ORDERS[order])
    if item is None:
        st.success("Nothing waits for your review in this project.")
        return
    by = item.labeler or "a removed account"
    when = f" on {item.submitted_at:%Y-%m-%d %H:%M} UTC" if item.submitted_at else ""
    st.subheader(f"{item.kind.capitalize()} #{item.work_id}")
    st.caption(f"By {by}{when}, {round(item.seconds_spent)} s spent. Prompt #{item.prompt_id}.")
    if item.gold:
        st.info("This is a gold task: your verdict is the labeler's score on it.", icon=":material/star:")
    st.markdown("**Conversation so far**")
    show_conversation(item.messages)
    if item.kind == "demonstration":
        _show_demonstration(item)
    else:
        _show_ranking(item)
    _history(item)
    _actions(actor, item)


render_review()
