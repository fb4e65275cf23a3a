"""Projects (admins): every project with its counts. The full admin console comes in a later issue."""

from __future__ import annotations

import streamlit as st

from labeler.app import deps
from labeler.services.stats import projects_overview


def render_projects() -> None:
    """A table of projects; the service refuses anyone but an admin."""
    actor = deps.page_actor()
    st.title("Projects")
    ok, rows = deps.call(projects_overview, actor, write=False)
    if not ok:
        return
    if not rows:
        st.info("No projects yet. Create one with `labeler project create` or load the demo with `labeler demo`.")
        return
    st.dataframe(rows, hide_index=True, width="stretch")


render_projects()
