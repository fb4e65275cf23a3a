"""Login form: the project's own users table (argon2id), lockout per username and client (this browser's address)."""

from __future__ import annotations

import streamlit as st

from labeler.app import deps
from labeler.services.auth import actor_for, authenticate


def _client() -> str:
    """This browser's address as the server sees it: the lockout is per username and client."""
    address = st.context.ip_address
    return address if isinstance(address, str) else ""


def render_login() -> None:
    """Ask for a username and password; on success remember the user and rerun into the app."""
    st.title("labeler")
    notice = st.session_state.pop(deps.NOTICE_KEY, None)
    if notice:
        st.info(notice)
    with st.form("login"):
        username = st.text_input("Username", key="login_user", autocomplete="username")
        password = st.text_input("Password", key="login_pw", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Log in", type="primary")
    if not submitted:
        return
    if not username.strip() or not password:
        st.error("enter your username and password")
        return
    # The failure count must be stored even when the login is refused, so commit either way.
    with deps.session() as s:
        result = authenticate(s, username.strip(), password, client=_client())
        actor = actor_for(result.user) if result.ok else None
    if actor is None:
        st.error(result.message)
        return
    deps.start_login(actor)
    st.rerun()


render_login()
