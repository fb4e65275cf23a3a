"""Users: accounts, roles, passwords (argon2id) and login with lockout after repeated failures.

A failed login must be remembered even though it is refused, so `authenticate` returns a result
instead of raising: the edge commits the failure count like any other write.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models import ROLES, User
from labeler.config import get_settings
from labeler.errors import Conflict, Forbidden, Invalid, NotFound
from labeler.services.actors import Actor, require_admin
from labeler.services.events import record_event
from labeler.services.login_sessions import revoke_user_sessions

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,63}$")
MIN_PASSWORD_LENGTH = 8


def actor_for(user: User) -> Actor:
    """The Actor the services see for a stored user."""
    return Actor(id=user.id, username=user.username, role=user.role)


def get_user_or_raise(session: Session, username: str) -> User:
    """The user named `username`, or NotFound."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"user `{username}` not found")
    return user


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"password too short: at least {MIN_PASSWORD_LENGTH} characters")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise Invalid(f"unknown role `{role}`: expected one of {', '.join(ROLES)}")


def create_user(
    session: Session, actor: Actor, username: str, role: str, password: str, display_name: str = ""
) -> User:
    """Create an account (admins only)."""
    require_admin(actor)
    if not USERNAME_RE.match(username):
        raise Invalid(
            f"username `{username}`: use 2-64 letters, digits, `_`, `.` or `-`, starting with a letter or digit"
        )
    _check_role(role)
    _check_password(password)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user `{username}` already exists")
    user = User(
        username=username, role=role, display_name=display_name or username,
        password_hash=_hasher.hash(password), active=True,
    )
    session.add(user)
    session.flush()
    record_event(session, actor, "user.create", "user", user.id, username=username, role=role)
    return user


def list_users(session: Session, actor: Actor) -> list[User]:
    """Every account, by username (admins only)."""
    require_admin(actor)
    return list(session.scalars(select(User).order_by(User.username)))


def count_admins(session: Session) -> int:
    """How many active admins exist (`labeler init` creates the first)."""
    return len(session.scalars(select(User.id).where(User.role == "admin", User.active)).all())


def set_active(session: Session, actor: Actor, username: str, active: bool) -> User:
    """Deactivate (or reactivate) an account; a deactivated user cannot log in (admins only)."""
    require_admin(actor)
    user = get_user_or_raise(session, username)
    if not active and actor.id == user.id:
        raise Conflict("you cannot deactivate your own account")
    user.active = active
    if active:
        user.failed_logins, user.locked_until = 0, None
    else:
        revoke_user_sessions(session, user.id)
    record_event(session, actor, "user.activate" if active else "user.deactivate", "user", user.id)
    return user


def set_role(session: Session, actor: Actor, username: str, role: str) -> User:
    """Change an account's role (admins only)."""
    require_admin(actor)
    _check_role(role)
    user = get_user_or_raise(session, username)
    user.role = role
    record_event(session, actor, "user.role", "user", user.id, role=role)
    return user


def set_password(session: Session, actor: Actor, username: str, password: str) -> User:
    """Set a password: admins for anyone, everyone for themselves. Also lifts a lockout."""
    user = get_user_or_raise(session, username)
    if not actor.is_admin and actor.id != user.id:
        raise Forbidden(f"`{actor.username}` may only change their own password")
    _check_password(password)
    user.password_hash = _hasher.hash(password)
    user.failed_logins, user.locked_until = 0, None
    revoke_user_sessions(session, user.id)  # every browser logged in as this user must log in again
    record_event(session, actor, "user.password", "user", user.id)
    return user


@dataclass(frozen=True)
class LoginResult:
    """The outcome of a login attempt: the user on success, else a message safe to show."""

    user: User | None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.user is not None


WRONG_CREDENTIALS = "wrong username or password"


def authenticate(session: Session, username: str, password: str) -> LoginResult:
    """Check a password; count failures and lock the account after too many in a row."""
    settings = get_settings()
    user = session.scalar(select(User).where(User.username == username))
    if user is None or user.password_hash is None:
        _verify(_dummy_hash(), password)
        return LoginResult(None, WRONG_CREDENTIALS)
    now = utcnow()
    if user.locked_until is not None and user.locked_until > now:
        return LoginResult(None, f"account `{username}` is locked after repeated failures; try again later")
    if not _verify(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= settings.lockout_attempts:
            user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
            user.failed_logins = 0
            record_event(session, actor_for(user), "user.locked", "user", user.id)
        return LoginResult(None, WRONG_CREDENTIALS)
    if not user.active:
        return LoginResult(None, f"account `{username}` is deactivated")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    return LoginResult(user)


@cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so that failure takes as long as a wrong password."""
    return _hasher.hash("not a real password")


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def refresh_actor(session: Session, user_id: int) -> Actor | None:
    """The stored user as an Actor if it still exists and is active, else None (log them out).

    The app calls this on every run, so a deactivated user or a changed role takes effect at once,
    and the role always comes from the database, never from what the browser session remembers.
    """
    user = session.get(User, user_id)
    if user is None or not user.active:
        return None
    return actor_for(user)
