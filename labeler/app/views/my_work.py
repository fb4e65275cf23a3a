"""My work: what the labeler has done (today, in total), how long a task takes them, what is left."""

from __future__ import annotations

import streamlit as st

from labeler.app import deps, tasks
from labeler.services.labeling import my_work


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def render_my_work() -> None:
    """Counts for the chosen project."""
    actor = deps.page_actor()
    st.title("My work")
    project = tasks.pick_project(actor, "mywork")
    if project is None:
        return
    ok, work = deps.call(my_work, actor, project, write=False)
    if not ok:
        return
    today, total, median = st.columns(3)
    today.metric("Submitted today", work.today)
    total.metric("Submitted in total", work.total)
    median.metric("Median time per task", _duration(work.median_seconds))
    st.subheader("Left in this project")
    if not work.remaining:
        st.caption("No task kinds in this project.")
    for column, (kind, n) in zip(st.columns(max(1, len(work.remaining))), sorted(work.remaining.items()),
                                 strict=False):
        column.metric(f"Prompts still needing a {kind}", n)


render_my_work()
