"""Labelers (admins, and reviewers of a project): who did how much, how fast, how well.

Per labeler: tasks done, median time per task, acceptance rate (of reviewed work), agreement with the
other labelers and with their consensus, gold score, qualification; every rate with its count. Admins
can pause or resume a labeler on the project, and reset or grant a qualification. The figures come from
`labeler.services.quality.labelers_table`, the controls from `labeler.services.gold`; both check the role.
"""

from __future__ import annotations

import streamlit as st

from labeler.app import deps, tasks
from labeler.app.charts import bar, number_text, rate_text
from labeler.services.gold import grant_qualification, reset_qualification, set_paused
from labeler.services.quality import LabelerRow, labelers_table

K = "labelers."  # session_state namespace of this page


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


# Short headers that fit at 1,024 px; what each figure means is in its header's tooltip.
COLUMNS = {
    "median time per task": st.column_config.TextColumn("median time", help="Median time per task"),
    "acceptance (accepted/reviewed)": st.column_config.TextColumn("acceptance", help="Accepted / reviewed"),
    "agreement (pairs)": st.column_config.TextColumn("agreement", help="Pairs ordered as another labeler did"),
    "with consensus (pairs)": st.column_config.TextColumn("consensus", help="Pairs ordered as the consensus"),
    "demonstrations": st.column_config.NumberColumn("demos", help="Demonstrations"),
}


def _table(rows: list[LabelerRow]) -> list[dict]:
    return [{
        "labeler": r.username, "role": r.role, "member": r.member, "active": r.active,
        "status": "paused" if r.paused else (r.qualification or "—"),
        "tasks": r.tasks, "demonstrations": r.demonstrations, "rankings": r.rankings,
        "median time per task": _duration(r.median_seconds),
        "acceptance (accepted/reviewed)": rate_text(r.acceptance.hits, r.acceptance.total),
        "agreement (pairs)": rate_text(r.agreement.hits, r.agreement.total),
        "with consensus (pairs)": rate_text(r.consensus.hits, r.consensus.total),
        "gold score": number_text(r.gold_score, r.gold_n),
    } for r in rows]


def _controls(actor, project: str, rows: list[LabelerRow]) -> None:  # noqa: ANN001
    """Pause/Resume per member labeler; reset or grant a qualification (the services allow admins only)."""
    members = [r for r in rows if r.member and r.role == "labeler"]
    if not members:
        return
    st.subheader("Pause or resume")
    st.caption("A paused labeler gets no tasks in this project until resumed; their work so far is kept.")
    for r in members:
        name_col, state_col, button_col = st.columns([2, 2, 1])
        name_col.write(f"**{r.username}**")
        state_col.write("paused" if r.paused else (r.qualification or "working"))
        key = f"{K}{project}.{r.username}"
        if r.paused:
            if button_col.button("Resume", key=key + ".resume", icon=":material/play_arrow:"):
                if deps.call(set_paused, actor, project, r.username, False)[0]:
                    deps.flash(f"`{r.username}` resumed on `{project}`.")
                    st.rerun()
        elif button_col.button("Pause", key=key + ".pause", icon=":material/pause:"):
            if deps.call(set_paused, actor, project, r.username, True)[0]:
                deps.flash(f"`{r.username}` paused on `{project}`.")
                st.rerun()
    with st.expander("Qualification", icon=":material/verified:"):
        username = st.selectbox("Labeler", [r.username for r in members], key=f"{K}{project}.qualify")
        reset_col, grant_col = st.columns(2)
        if reset_col.button("Start a new qualification attempt", key=f"{K}{project}.reset"):
            if deps.call(reset_qualification, actor, project, username)[0]:
                deps.flash(f"`{username}` starts a new qualification attempt on `{project}`.")
                st.rerun()
        if grant_col.button("Mark as qualified", key=f"{K}{project}.grant"):
            if deps.call(grant_qualification, actor, project, username)[0]:
                deps.flash(f"`{username}` is qualified on `{project}`.")
                st.rerun()


def render_labelers() -> None:
    """The labelers table for one project, and the admin controls."""
    actor = deps.page_actor()
    st.title("Labelers")
    picked = tasks.project_picker(actor, K + "project")
    if picked is None:
        return
    project, _ = picked
    ok, rows = deps.call(labelers_table, actor, project, write=False)
    if not ok:
        return
    if not rows:
        st.info(f"Nobody works on `{project}` yet: add members on the Projects or Users page.")
        return
    st.dataframe(_table(rows), hide_index=True, width="stretch", column_config=COLUMNS)
    bar([{"labeler": r.username, "tasks": r.tasks} for r in rows], "labeler", "tasks", "Tasks done", "No work yet.")
    st.caption("Agreement: candidate pairs ordered the same way as another labeler did, of the pairs both "
               "ordered strictly; with consensus: as the Bradley–Terry consensus of the others ordered them.")
    if actor.is_admin:
        _controls(actor, project, rows)


render_labelers()
