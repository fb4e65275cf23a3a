"""The one seam between the pages and the services: database, logged-in actor, errors, flash messages.

Design constraints:
- Pages never import `db` or SQLAlchemy; they get sessions from `labeler.services.session_scope`.
- The logged-in user lives in `st.session_state["user"]` as `{"id": ...}` only; the role and the
  active flag are re-read from the database on every run (`auth.refresh_actor`), so a deactivated
  user is logged out at once and nothing kept in the browser session can grant a role.
- Migrations are applied once per process and database URL (`st.cache_resource`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st

from labeler.errors import LabelerError
from labeler.redaction import redact
from labeler.services import database_url, session_scope
from labeler.services.actors import Actor
from labeler.services.admin import upgrade_database
from labeler.services.auth import refresh_actor

USER_KEY = "user"
FLASH_KEY = "flash"
NOTICE_KEY = "login.notice"


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


def current_actor() -> Actor | None:
    """The logged-in actor, checked against the database on every run; None when logged out."""
    user = st.session_state.get(USER_KEY)
    if not isinstance(user, dict) or not isinstance(user.get("id"), int):
        st.session_state.pop(USER_KEY, None)
        return None
    with session(write=False) as s:
        actor = refresh_actor(s, user["id"])
    if actor is None:
        logout("Your account is no longer active; you have been logged out.")
    return actor


def login(actor: Actor) -> None:
    """Remember who logged in (only the id: the rest is re-read each run)."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]  # nothing from a previous user's session survives
    st.session_state[USER_KEY] = {"id": actor.id}


def logout(notice: str = "") -> None:
    """Forget the user and every page's state."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if notice:
        st.session_state[NOTICE_KEY] = notice


def flash(message: str, kind: str = "success") -> None:
    """A message shown once, on the next run (after `st.rerun()`)."""
    st.session_state[FLASH_KEY] = (kind, message)


def show_flash() -> None:
    """Show and forget the pending flash message."""
    pending = st.session_state.pop(FLASH_KEY, None)
    if pending:
        kind, message = pending
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
