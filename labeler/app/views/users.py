"""Users (admins): accounts with role, state and projects; create, change role, (de)activate, reset a
password, project membership.

Passwords: typed ones go straight to the service; a generated one is shown once, on the run right
after the reset, and then forgotten (it is never stored anywhere but as its argon2id hash).
"""

from __future__ import annotations

import streamlit as st

from labeler.app import deps
from labeler.app.memberships import membership_editor
from labeler.services.admin import create_account, reset_password, set_user_projects, user_projects, users_overview
from labeler.services.auth import MIN_PASSWORD_LENGTH, set_active, set_password, set_role
from labeler.services.projects import list_projects

K = "users."  # session_state namespace of this page
ROLES = ("labeler", "reviewer", "admin")
SHOW_ONCE = K + "generated"  # (username, password) to show on the next run only


def _show_generated_once() -> None:
    generated = st.session_state.pop(SHOW_ONCE, None)
    if generated:
        username, password = generated
        st.warning(f"New password for `{username}`, shown only now: pass it on safely.", icon=":material/key:")
        st.code(password, language=None)


def _create(actor) -> None:  # noqa: ANN001
    c1, c2, c3 = st.columns(3)
    username = c1.text_input("Username", key=K + "new.username")
    display = c2.text_input("Display name (optional)", key=K + "new.display")
    role = c3.selectbox("Role", ROLES, key=K + "new.role")
    generate = st.checkbox("Generate a password (shown once)", value=True, key=K + "new.generate")
    password = "" if generate else st.text_input(
        f"Initial password (at least {MIN_PASSWORD_LENGTH} characters)", type="password", key=K + "new.password")
    if st.button("Create account", key=K + "new.create", type="primary", icon=":material/person_add:"):
        ok, created = deps.call(create_account, actor, username.strip(), role, None if generate else password,
                                display.strip())
        if ok:
            name, generated = created
            if generated:
                st.session_state[SHOW_ONCE] = (name, generated)
            st.session_state[K + "pending"] = name
            deps.flash(f"Account `{name}` created as {role}.")
            st.rerun()


def _manage(actor, rows: list[dict]) -> None:  # noqa: ANN001
    names = [r["username"] for r in rows]
    pending = st.session_state.pop(K + "pending", None)
    if pending in names:
        st.session_state[K + "user"] = pending
    username = st.selectbox("Account", names, key=K + "user")
    row = next(r for r in rows if r["username"] == username)
    ns = f"{K}u.{username}"
    state = "active" if row["active"] else "deactivated"
    st.caption(f"`{username}` is a {row['role']}, {state}{', locked' if row['locked'] else ''}.")

    role_col, state_col = st.columns(2)
    with role_col:
        role = st.selectbox("Role", ROLES, index=ROLES.index(row["role"]), key=ns + ".role")
        if st.button("Change role", key=ns + ".set_role", disabled=role == row["role"]):
            if deps.call(set_role, actor, username, role)[0]:
                deps.flash(f"`{username}` is now {role}.")
                st.rerun()
    with state_col:
        st.write("Logins")
        if row["active"]:
            if st.button("Deactivate", key=ns + ".deactivate", icon=":material/block:"):
                if deps.call(set_active, actor, username, False)[0]:
                    deps.flash(f"`{username}` deactivated: they can no longer log in; their work is kept.")
                    st.rerun()
        elif st.button("Activate", key=ns + ".activate", icon=":material/check_circle:"):
            if deps.call(set_active, actor, username, True)[0]:
                deps.flash(f"`{username}` activated.")
                st.rerun()

    st.markdown("**Password** (a reset also lifts a lockout)")
    typed_col, generate_col = st.columns(2)
    with typed_col:
        typed = st.text_input("New password", type="password", key=ns + ".password")
        if st.button("Set this password", key=ns + ".set_password"):
            if deps.call(set_password, actor, username, typed)[0]:
                deps.flash(f"Password of `{username}` changed.")
                st.rerun()
    with generate_col:
        st.write("")
        if st.button("Generate a new password", key=ns + ".reset", icon=":material/key:"):
            ok, password = deps.call(reset_password, actor, username)
            if ok:
                st.session_state[SHOW_ONCE] = (username, password)
                st.rerun()

    _membership(actor, username, ns)


def _membership(actor, username: str, ns: str) -> None:  # noqa: ANN001
    ok, projects = deps.call(list_projects, actor, write=False)
    ok_mine, mine = deps.call(user_projects, actor, username, write=False)
    if not (ok and ok_mine):
        return
    st.markdown("**Projects**")
    if not projects:
        st.caption("No projects yet.")
        return
    membership_editor(actor, username, "Works on", [p.name for p in projects], mine,
                      keys=(ns + ".projects", ns + ".save_projects"), button="Save projects", icon=":material/folder:",
                      save=set_user_projects, saved="Projects of")


def render_users() -> None:
    """The accounts table and the forms; every service call refuses anyone but an admin."""
    actor = deps.page_actor()
    st.title("Users")
    ok, rows = deps.call(users_overview, actor, write=False)
    if not ok:
        return
    _show_generated_once()
    st.dataframe(rows, hide_index=True, width="stretch",
                 column_config={"last login": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
                                "created": st.column_config.DatetimeColumn(format="YYYY-MM-DD")})
    with st.expander("New account", icon=":material/person_add:", expanded=not rows):
        _create(actor)
    if rows:
        st.subheader("Manage an account")
        _manage(actor, rows)


render_users()
