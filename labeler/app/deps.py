"""The one seam between the pages and the services: database, logged-in actor, errors, flash messages.

Design constraints:
- Pages never import `db` or SQLAlchemy; they get sessions from `labeler.services.session_scope`.
- The logged-in user lives in `st.session_state["user"]` as `{"id": ...}` only; the role and the
  active flag are re-read from the database on every run (`auth.refresh_actor`), so a deactivated
  user is logged out at once and nothing kept in the browser session can grant a role.
- Migrations are applied once per process and database URL (`st.cache_resource`).
- A login survives a reload and a new tab through a cookie holding a random session token
  (`services.login_sessions`); with a token, every run resumes the session from the database, so
  logging out, deactivation and a password change end it everywhere at once.
- A user's preferences (such as "Show Markdown") are stored with the account (`services.preferences`),
  read once per Streamlit session into their widgets' keys, and written once per change, so they
  follow the user across reloads, logins and browsers without a database read on every rerun.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st

from labeler.app.render import MARKDOWN_KEY
from labeler.config import get_settings
from labeler.errors import LabelerError
from labeler.redaction import redact
from labeler.services import database_url, session_scope
from labeler.services.actors import Actor
from labeler.services.admin import upgrade_database
from labeler.services.auth import refresh_actor
from labeler.services.login_sessions import end_session, resume_session, start_session
from labeler.services.preferences import get_preferences, set_preference

USER_KEY = "user"
FLASH_KEY = "flash"
NOTICE_KEY = "login.notice"
TOKEN_KEY = "login.token"
CLEAR_COOKIE_KEY = "login.clear_cookie"
PREFS_LOADED_KEY = "prefs.loaded"
# Each stored preference and the session_state key of the widget that shows it.
PREFERENCE_WIDGETS = {"show_markdown": MARKDOWN_KEY}
COOKIE = "labeler_session"


@st.cache_resource(show_spinner="Preparing the database…")
def _migrated(url: str) -> str:
    """Apply migrations to `url` once per process (the key is the URL, so tests can switch databases)."""
    return upgrade_database(url)


def ensure_database() -> None:
    """Make sure the configured database exists and is at the newest schema."""
    _migrated(database_url())


@contextmanager
def session(write: bool = True) -> Iterator[Any]:
    """A service session for the configured database (committed on success)."""
    with session_scope(write=write) as s:
        yield s


def _cookie_token() -> str | None:
    """The session token this browser sent, unless this Streamlit session logged out since."""
    if st.session_state.get(CLEAR_COOKIE_KEY):
        return None
    try:
        token = st.context.cookies.get(COOKIE)
    except (AttributeError, RuntimeError):  # no browser behind this run (bare script)
        return None
    return token if isinstance(token, str) else None  # AppTest has no real cookies


def current_actor() -> Actor | None:
    """The logged-in actor, checked against the database on every run; None when logged out."""
    user = st.session_state.get(USER_KEY)
    token = st.session_state.get(TOKEN_KEY)
    if not isinstance(user, dict) or not isinstance(user.get("id"), int):
        st.session_state.pop(USER_KEY, None)
        cookie = _cookie_token()
        if not cookie:
            return None
        with session(write=False) as s:
            actor = resume_session(s, cookie)
        if actor is not None:
            login(actor, cookie)  # a reload or a new tab of a logged-in browser
        return actor
    with session(write=False) as s:
        account = refresh_actor(s, user["id"])
        actor = resume_session(s, token) if token and account else account
    if account is None:
        logout("Your account is no longer active; you have been logged out.")
    elif actor is None:
        logout("Your session has ended (logged out, password changed or expired); please log in again.")
    return actor


def login(actor: Actor, token: str | None = None) -> None:
    """Remember who logged in (only the id and the session token: the rest is re-read each run)."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]  # nothing from a previous user's session survives
    st.session_state[USER_KEY] = {"id": actor.id}
    if token:
        st.session_state[TOKEN_KEY] = token


def start_login(actor: Actor) -> None:
    """A fresh login from the form: a new session token for this browser's cookie."""
    with session() as s:
        token = start_session(s, actor.id)
    login(actor, token)


def logout(notice: str = "") -> None:
    """End this browser's session, forget the user and every page's state, and clear the cookie."""
    token = st.session_state.get(TOKEN_KEY)
    if token:
        try:
            with session() as s:
                end_session(s, token)
        except LabelerError:  # the database is away: the session still expires on its own
            pass
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    st.session_state[CLEAR_COOKIE_KEY] = True
    if notice:
        st.session_state[NOTICE_KEY] = notice


def sync_cookie() -> None:
    """Write this session's token into the browser's cookie (or clear it after a logout)."""
    from labeler.app.controls import component

    token = st.session_state.get(TOKEN_KEY)
    if not token and not st.session_state.get(CLEAR_COOKIE_KEY):
        return
    max_age = int(get_settings().session_hours * 3600)
    component("cookie", css=False)(key="login.cookie", data={"name": COOKIE, "token": token, "max_age": max_age},
                                   width="content", height=0)


def load_preferences(actor: Actor) -> None:
    """Put `actor`'s stored preferences into their widgets' keys, once per session and user (before the
    widgets are drawn); if the database cannot be read, the defaults stand and the next run tries again."""
    if st.session_state.get(PREFS_LOADED_KEY) == actor.id:
        return
    try:
        with session(write=False) as s:
            prefs = get_preferences(s, actor)
    except LabelerError:
        return
    for name, key in PREFERENCE_WIDGETS.items():
        st.session_state[key] = prefs[name]
    st.session_state[PREFS_LOADED_KEY] = actor.id


def store_preference(actor: Actor, name: str) -> None:
    """A widget's on_change: store its new value as `actor`'s preference `name` (one short write)."""
    call(set_preference, actor, name, bool(st.session_state.get(PREFERENCE_WIDGETS[name])))


def flash(message: str, kind: str = "success") -> None:
    """A message shown once, on the next run (after `st.rerun()`), after any flashed before it."""
    st.session_state[FLASH_KEY] = [*st.session_state.get(FLASH_KEY, []), (kind, message)]


def show_flash() -> None:
    """Show and forget the pending flash messages."""
    for kind, message in st.session_state.pop(FLASH_KEY, None) or []:
        {"success": st.success, "info": st.info, "warning": st.warning, "error": st.error}[kind](message)


def call(fn: Callable[..., Any], *args: Any, write: bool = True, **kwargs: Any) -> tuple[bool, Any]:
    """Run a service in its own transaction; on a LabelerError show it and return (False, None)."""
    try:
        with session(write=write) as s:
            return True, fn(s, *args, **kwargs)
    except LabelerError as e:
        st.error(redact(str(e)))
        return False, None


def page_actor() -> Actor:
    """The logged-in actor for a page, or stop the page (the navigation only lists pages for users)."""
    actor = current_actor()
    if actor is None:
        st.warning("Please log in.")
        st.stop()
    return actor
