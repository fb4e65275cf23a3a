"""Dashboard (admins): per project, what is there and how work progresses.

Prompts by split, candidates by origin, demonstrations and rankings by status and split, and the work
labelers submitted per day (or hour) over the last days. Counts come from `labeler.services.stats`
(computed by the database); an empty project shows zeros and says what to do next, never a broken chart.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from labeler.app import deps, tasks
from labeler.app.charts import bar
from labeler.services.admin import admin_projects
from labeler.services.stats import project_stats, throughput

K = "dashboard."  # session_state namespace of this page
SPLITS = ("train", "valid", "test")
WINDOWS = {"7 days": (7, "day"), "14 days": (14, "day"), "30 days": (30, "day"), "90 days": (90, "day"),
           "48 hours": (2, "hour")}


def _status_by_split(data: dict[str, Any], what: str) -> None:
    """Stacked bars: each status, split into train/valid/test; the table beside it has the numbers."""
    st.markdown(f"**{what.capitalize()} by status and split** ({data['total']:,} in all)")
    cells = data.get("by_status_split", {})
    if not data["total"]:
        st.caption(f"No {what} yet.")
        return
    rows = [{"status": status, "split": split, "count": n}
            for status, splits in cells.items() for split, n in splits.items()]
    frame = pd.DataFrame(rows)
    chart = alt.Chart(frame).mark_bar().encode(
        x=alt.X("count:Q", title=None), y=alt.Y("status:N", title=None),
        color=alt.Color("split:N", sort=list(SPLITS)), tooltip=["status", "split", "count"])
    st.altair_chart(chart.properties(height=40 + 32 * frame["status"].nunique()), width="stretch")
    table = frame.pivot_table(index="status", columns="split", values="count", aggfunc="sum", fill_value=0)
    table["total"] = table.sum(axis=1)
    by_origin = ", ".join(f"{k} {v:,}" for k, v in sorted(data["by_origin"].items()))
    st.dataframe(table, width="stretch", key=K + what)
    st.caption(f"By origin: {by_origin}.")


def _throughput(actor, project: str) -> None:  # noqa: ANN001
    st.subheader("Submitted by labelers over time")
    window = st.segmented_control("Window", list(WINDOWS), default="14 days", key=K + "window") or "14 days"
    days, bucket = WINDOWS[window]
    ok, points = deps.call(throughput, actor, project, days, bucket, write=False)
    if not ok:
        return
    frame = pd.DataFrame([{"when": p.bucket, "demonstrations": p.demonstrations, "rankings": p.rankings}
                          for p in points])
    total_d, total_r = int(frame["demonstrations"].sum()), int(frame["rankings"].sum())
    st.caption(f"Last {window} (UTC): {total_d:,} demonstration(s) and {total_r:,} ranking(s) submitted "
               "(imported work not counted).")
    if not total_d and not total_r:
        st.info("Nothing submitted in this window yet.")
        return
    long = frame.melt(id_vars="when", var_name="kind", value_name="submitted")
    chart = alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("when:O", title=None), y=alt.Y("submitted:Q", title="submitted"), color="kind:N",
        tooltip=["when", "kind", "submitted"])
    st.altair_chart(chart, width="stretch")


def render_dashboard() -> None:
    """Metrics and charts for one project; the services refuse anyone but an admin."""
    actor = deps.page_actor()
    st.title("Dashboard")
    ok, projects = deps.call(admin_projects, actor, write=False)
    if not ok:
        return
    if not projects:
        st.info("No projects yet: create one on the Projects page, or load the demo with `labeler demo`.")
        return
    names = [p.name for p in projects]
    project = tasks.select_project(names, K + "project")
    ok, data = deps.call(project_stats, actor, project, write=False)
    if not ok:
        return
    demos, rankings = data["demonstrations"], data["rankings"]
    cols = st.columns(4)
    cols[0].metric("Prompts", f"{data['prompts']['total']:,}")
    cols[1].metric("Candidates", f"{data['candidates']['total']:,}")
    cols[2].metric("Demonstrations", f"{demos['total']:,}",
                   help="every status, imported ones included; see the breakdown below")
    cols[3].metric("Rankings", f"{rankings['total']:,}", help="every status, imported ones included")
    if not data["prompts"]["total"]:
        st.info(f"Project `{project}` has no prompts yet: add some on the Import page (or `labeler import`).")
    left, right = st.columns(2)
    with left:
        bar([{"split": s, "prompts": data["prompts"]["by_split"].get(s, 0)} for s in SPLITS], "split", "prompts",
            "Prompts by split", "No prompts yet.")
    with right:
        bar([{"origin": k, "candidates": n} for k, n in sorted(data["candidates"]["by_origin"].items())], "origin",
            "candidates", "Candidates by origin", "No candidates yet.")
    left, right = st.columns(2)
    with left:
        _status_by_split(demos, "demonstrations")
    with right:
        _status_by_split(rankings, "rankings")
    _throughput(actor, project)


render_dashboard()
