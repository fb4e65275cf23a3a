"""Projects (admins): the overview, a new project, settings and guidelines, members.

Every service called here refuses anyone but an admin. Settings are validated by the service; the
form (labeler.app.settings_form) only collects them, so a bad value is refused with the field named
and nothing stored.
"""

from __future__ import annotations

import streamlit as st

from labeler.app import deps
from labeler.app.memberships import membership_editor
from labeler.app.render import show_text
from labeler.app.settings_form import changed_settings, problems_message, settings_form
from labeler.services.admin import set_project_members
from labeler.services.auth import list_users
from labeler.services.projects import (
    ProjectSettings,
    create_project,
    list_members,
    list_projects,
    settings_of,
    update_project,
)
from labeler.services.stats import projects_overview

K = "projects."  # session_state namespace of this page


def _guidelines_editor(key: str, value: str) -> str:
    """Markdown guidelines with a live preview beside them."""
    write, preview = st.columns(2)
    text = write.text_area("Guidelines (markdown)", value=value, key=key, height=260)
    with preview:
        st.caption("Preview")
        with st.container(border=True):
            show_text(text or "*No guidelines yet.*", markdown=True)
    return text


def _new_project(actor) -> None:  # noqa: ANN001
    name = st.text_input("Name", key=K + "new.name", placeholder="support-bot")
    guidelines = _guidelines_editor(K + "new.guidelines", "")
    values, problems = settings_form(K + "new.set", ProjectSettings())
    if st.button("Create project", key=K + "new.create", type="primary", icon=":material/add:"):
        if problems:
            st.error(problems_message(problems))
            return
        ok, project = deps.call(create_project, actor, name, guidelines, values)
        if ok:
            st.session_state[K + "edit.pending"] = project.name
            deps.flash(f"Project `{project.name}` created.")
            st.rerun()


def _pick(names: list[str], key: str, label: str = "Project") -> str:
    """A project picker; `<key>.pending` (set before a rerun) chooses its value on the next run."""
    pending = st.session_state.pop(K + "edit.pending", None)
    if pending in names:
        st.session_state[key] = pending
    return st.selectbox(label, names, key=key)


def _edit_project(actor, projects: list) -> None:  # noqa: ANN001
    by_name = {p.name: p for p in projects}
    project = by_name[_pick(list(by_name), K + "edit.project")]
    ns = f"{K}edit.{project.id}"
    current = settings_of(project)
    new_name = st.text_input("Name", value=project.name, key=ns + ".name")
    guidelines = _guidelines_editor(ns + ".guidelines", project.guidelines)
    values, problems = settings_form(ns + ".set", current)
    if st.button("Save changes", key=ns + ".save", type="primary", icon=":material/save:"):
        if problems:
            st.error(problems_message(problems))
            return
        changes = changed_settings(current, values)
        ok, saved = deps.call(update_project, actor, project.name, guidelines=guidelines, settings=changes,
                              new_name=new_name)
        if ok:
            st.session_state[K + "edit.pending"] = saved.name
            what = ", ".join(f"`{k}`" for k in changes) or "no settings"
            deps.flash(f"Project `{saved.name}` saved (changed: {what}).")
            st.rerun()


def _members(actor, projects: list) -> None:  # noqa: ANN001
    name = st.selectbox("Project", [p.name for p in projects], key=K + "members.project")
    ok, members = deps.call(list_members, actor, name, write=False)
    ok_users, users = deps.call(list_users, actor, write=False)
    if not (ok and ok_users):
        return
    everyone = [u.username for u in users]
    current = [u.username for u in members]
    st.caption(f"{len(current)} member(s). Labelers only get tasks from projects they are members of.")
    roles = {u.username: u.role for u in users}
    membership_editor(actor, name, "Members", everyone, current, keys=(f"{K}members.{name}.list",
                      f"{K}members.{name}.save"), button="Save members", icon=":material/group:",
                      save=set_project_members, saved="Members of", format_func=lambda u: f"{u} ({roles[u]})")


def render_projects() -> None:
    """Overview, new project, edit, members; the services refuse anyone but an admin."""
    actor = deps.page_actor()
    st.title("Projects")
    ok, rows = deps.call(projects_overview, actor, write=False)
    if not ok:
        return
    ok, projects = deps.call(list_projects, actor, write=False)
    if not ok:
        return
    overview, new, edit, members = st.tabs(["Overview", "New project", "Settings and guidelines", "Members"])
    with overview:
        if rows:
            st.dataframe(rows, hide_index=True, width="stretch")
        else:
            st.info("No projects yet. Create one under **New project**, with `labeler project create`, "
                    "or load the demo with `labeler demo`.")
    with new:
        _new_project(actor)
    with edit:
        if projects:
            _edit_project(actor, projects)
        else:
            st.caption("No projects yet.")
    with members:
        if projects:
            _members(actor, projects)
        else:
            st.caption("No projects yet.")


render_projects()
