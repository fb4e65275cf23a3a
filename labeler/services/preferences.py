"""A user's own view preferences (such as "Show Markdown"), stored with the account so they follow
the user across reloads, new logins and browsers.

Design constraints:
- Only known keys with values of the right type are stored (`KNOWN`, with their defaults); the JSON
  column never becomes a dumping ground, and a stored key that is no longer known is ignored on read.
- A user reads and changes only their own: the services take the actor and nothing else, so no page
  or CLI call can name another account. The CLI operator (no account) has the defaults and nothing
  to store them in.
- Like every service: no commit here; the edge commits one short write per change.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import User
from labeler.errors import Invalid, NotFound
from labeler.services.actors import Actor

# Every preference a user may set: its default and the one type its value must have.
KNOWN: dict[str, tuple[type, Any]] = {
    "show_markdown": (bool, False),  # off: texts are shown exactly as written
}


def _defaults() -> dict[str, Any]:
    return {key: default for key, (_, default) in KNOWN.items()}


def get_preferences(session: Session, actor: Actor) -> dict[str, Any]:
    """Every known preference of `actor`: what they chose, else the default."""
    prefs = _defaults()
    if actor.id is None:
        return prefs
    stored = session.scalar(select(User.preferences).where(User.id == actor.id))
    for key, value in (stored or {}).items():
        if key in KNOWN and type(value) is KNOWN[key][0]:
            prefs[key] = value
    return prefs


def set_preference(session: Session, actor: Actor, key: str, value: Any) -> dict[str, Any]:
    """Store one preference of `actor` (their own only) and return all of them."""
    if key not in KNOWN:
        raise Invalid(f"unknown preference `{key}`: expected one of {', '.join(sorted(KNOWN))}")
    kind = KNOWN[key][0]
    if type(value) is not kind:  # exact: True is an int, but 1 is not a bool
        raise Invalid(f"preference `{key}` must be a {kind.__name__}, not {type(value).__name__}")
    if actor.id is None:
        raise Invalid(f"`{actor.username}` has no account to keep preferences in; use --as USER")
    # Locked (PostgreSQL) so that two tabs changing different keys at once both keep their change.
    user = session.scalar(select(User).where(User.id == actor.id).with_for_update())
    if user is None:
        raise NotFound(f"user `{actor.username}` not found")
    user.preferences = {**(user.preferences or {}), key: value}  # a new dict: the change is seen and saved
    session.flush()
    return get_preferences(session, actor)
