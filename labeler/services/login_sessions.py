"""Login sessions: a login that survives a reload and a new tab of the same browser.

Design constraints:
- The browser holds a random token (256 bits) in a cookie; the database holds only its SHA-256, so
  a copy of the database cannot log anyone in. Never the password, never a signed user record.
- A session expires after `LABELER_SESSION_HOURS`, and is revoked by logging out, by deactivating
  the account and by a password change (every session of that user ends).
- Resuming checks the account again (active, current role), like every run of the app does.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models import LoginSession, User
from labeler.config import get_settings
from labeler.services.actors import Actor

TOKEN_BYTES = 32


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(session: Session, user_id: int) -> str:
    """A new login session for `user_id`; returns the token (shown to the browser once, stored hashed)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = utcnow()
    session.add(LoginSession(user_id=user_id, token_hash=_digest(token), created_at=now,
                             expires_at=now + timedelta(hours=get_settings().session_hours)))
    session.flush()
    return token


def resume_session(session: Session, token: str | None) -> Actor | None:
    """The actor whose live session `token` is, or None (unknown, expired, revoked, deactivated)."""
    if not isinstance(token, str) or not token or len(token) > 128:
        return None
    row = session.execute(
        select(LoginSession.expires_at, User)
        .join(User, User.id == LoginSession.user_id)
        .where(LoginSession.token_hash == _digest(token))
    ).first()
    if row is None or row.expires_at <= utcnow() or not row.User.active:
        return None
    user = row.User
    return Actor(id=user.id, username=user.username, role=user.role)


def end_session(session: Session, token: str | None) -> None:
    """Log this browser out: its session can no longer be resumed (also drops expired sessions)."""
    if token:
        session.execute(delete(LoginSession).where(LoginSession.token_hash == _digest(token)))
    session.execute(delete(LoginSession).where(LoginSession.expires_at <= utcnow()))


def revoke_user_sessions(session: Session, user_id: int) -> int:
    """End every session of a user (deactivation, password change); returns how many ended."""
    return session.execute(delete(LoginSession).where(LoginSession.user_id == user_id)).rowcount or 0
