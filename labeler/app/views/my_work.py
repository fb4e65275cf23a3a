"""My work: what the labeler has done (today, in total), how long a task takes them, what is left,
and the work a reviewer rejected, with the reason."""

from __future__ import annotations

import streamlit as st

from labeler.app import deps, tasks
from labeler.app.render import inert_markdown, show_text
from labeler.services.actors import Actor
from labeler.services.labeling import my_work
from labeler.services.review import my_rejections


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
    rejected_work(actor, project)


def rejected_work(actor: Actor, project: str) -> None:
    """The actor's rejected work, newest verdict first, with the reviewer's reason."""
    ok, rejections = deps.call(my_rejections, actor, project, write=False)
    if not ok:
        return
    st.subheader(f"Rejected by a reviewer ({len(rejections)})")
    if not rejections:
        st.caption("None of your work has been rejected.")
    for r in rejections:
        with st.container(border=True):
            st.markdown(f"**{r.kind.capitalize()} #{r.work_id}** · prompt #{r.prompt_id}: {inert_markdown(r.preview)}")
            st.caption(f"Rejected by {r.reviewer or 'an admin'} on {r.at:%Y-%m-%d %H:%M} UTC. Reason:")
            show_text(r.reason)


render_my_work()
