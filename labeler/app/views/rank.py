"""Rank: order K candidate replies to a prompt, rate each on the project's Likert scale, flag problems.

Design constraints:
- Candidates appear in the order the queue stored for this lease, labelled A, B, C, … (the order is
  kept with the ranking so position bias can be measured).
- Every rule (ranks 1..K, ties only when allowed, every candidate ranked) is the service's: an
  inconsistent ranking comes back as `Invalid`, is shown as is, and nothing is stored.
- After a submit the next task loads at once.
"""

from __future__ import annotations

import streamlit as st

from labeler.app import deps, tasks
from labeler.app.render import flag_label, show_text
from labeler.app.scope_control import scope_control
from labeler.services.actors import Actor
from labeler.services.labeling import ItemSubmission, RankingSubmission, submit_ranking
from labeler.services.queue import Task

NS = "rank"


def _key(task: Task, what: str, candidate_id: int | None = None) -> str:
    suffix = f".{candidate_id}" if candidate_id is not None else ""
    return f"{NS}.{task.assignment_id}.{what}{suffix}"


def order_summary(task: Task) -> str:
    """`A > B = C > D` from the ranks picked so far (unranked candidates listed apart)."""
    by_rank: dict[int, list[str]] = {}
    unranked = []
    for c in task.candidates:
        rank = st.session_state.get(_key(task, "rank", c.candidate_id))
        (by_rank.setdefault(rank, []) if rank else unranked).append(c.label)
    order = " > ".join(" = ".join(labels) for _, labels in sorted(by_rank.items()))
    if unranked:
        order += ("; " if order else "") + "not ranked yet: " + ", ".join(unranked)
    return order


def _candidate(task: Task, index: int) -> None:
    c = task.candidates[index]
    k = len(task.candidates)
    settings = task.settings
    with st.container(border=True):
        st.markdown(f"#### {c.label}")
        show_text(c.text)
        st.segmented_control(f"Rank of {c.label}", list(range(1, k + 1)), key=_key(task, "rank", c.candidate_id),
                             help="1 is best")
        st.segmented_control(f"Quality of {c.label}", list(range(1, settings.likert_points + 1)),
                             key=_key(task, "likert", c.candidate_id),
                             help=f"1 = very bad … {settings.likert_points} = excellent")
        if settings.flags:
            st.pills(f"Flags for {c.label}", settings.flags, selection_mode="multi", format_func=flag_label,
                     key=_key(task, "flags", c.candidate_id))


def submission(task: Task) -> RankingSubmission:
    """The ranking as the controls hold it now."""
    items = [
        ItemSubmission(
            candidate_id=c.candidate_id,
            rank=st.session_state.get(_key(task, "rank", c.candidate_id)),
            likert=st.session_state.get(_key(task, "likert", c.candidate_id)),
            flags=list(st.session_state.get(_key(task, "flags", c.candidate_id)) or []),
        )
        for c in task.candidates
    ]
    return RankingSubmission(
        items=items,
        none_acceptable=bool(st.session_state.get(_key(task, "none"))),
        comment=str(st.session_state.get(_key(task, "comment")) or ""),
        seconds_spent=tasks.seconds_since_counted(NS, task),
    )


def _submit(actor: Actor, task: Task) -> None:
    if st.button("Submit ranking", key=_key(task, "submit"), type="primary", icon=":material/send:",
                 shortcut="Ctrl+S"):
        ok, ranking_id = deps.call(submit_ranking, actor, task.assignment_id, submission(task))
        if ok:
            tasks.forget_task(NS)
            deps.flash(f"Ranking #{ranking_id} submitted. Here is the next prompt.")
            st.rerun()


def render_rank() -> None:
    """The page: pick a project, read the prompt and candidates, rank, rate, flag, submit or skip."""
    opened = tasks.open_task(NS, "Rank", "ranking", "Nothing left to rank in this project for you. Thank you!",
                             "Prompt")
    if opened is None:
        return
    actor, task = opened
    k = len(task.candidates)
    ties = "equal ranks mark a tie" if task.settings.ties_allowed else "each rank once: no ties in this project"
    st.subheader(f"{k} replies")
    st.caption(f"Rank 1 (best) to {k}; {ties}. Ctrl+S submits.")
    side_by_side = st.toggle("Side by side", key=f"{NS}.side_by_side")
    if side_by_side:
        columns = st.columns(min(k, 3))
        for i in range(k):
            with columns[i % len(columns)]:
                _candidate(task, i)
    else:
        for i in range(k):
            _candidate(task, i)
    st.markdown(f"**Your order:** {order_summary(task)}")
    st.checkbox("None of these is acceptable", key=_key(task, "none"))
    st.text_area("Comment (optional)", key=_key(task, "comment"), height=80)
    scope_control(actor, NS, task)
    _submit(actor, task)
    tasks.skip_box(actor, NS, task)


render_rank()
