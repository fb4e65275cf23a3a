"""Users: accounts, roles, passwords (argon2id) and login with a lockout per username and client.

A failed login must be remembered even though it is refused, so `authenticate` returns a result
instead of raising: the edge commits the failure count like any other write.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models import ROLES, LoginThrottle, User
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
        _lift_lockout(session, user)
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
    _lift_lockout(session, user)
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
LOCKED_HERE = ("too many failed logins for this username from this device: it is locked here for a while; "
               "try again later, or ask an admin to set a new password")


def authenticate(session: Session, username: str, password: str, client: str = "") -> LoginResult:
    """Check a password; after too many failures in a row, lock that username for that client only.

    The lockout is per username *and* client (`client`: the caller's address or another stable id),
    so a stranger elsewhere cannot lock a labeler out. An unknown username is counted and locked
    like a real one, and both get the same messages: the replies never tell which usernames exist.
    """
    settings, now = get_settings(), utcnow()
    countable = bool(USERNAME_RE.match(username))  # anything else cannot be an account: nothing to protect
    key = client_key(client)
    throttle = _throttle(session, username, key, lock=False) if countable else None
    if throttle is not None and throttle.locked_until is not None and throttle.locked_until > now:
        return LoginResult(None, LOCKED_HERE)
    user = session.scalar(select(User).where(User.username == username)) if countable else None
    if user is None or user.password_hash is None:
        _verify(_dummy_hash(), password)  # the same cost as a wrong password: no fast path to probe names
        ok = False
    else:
        ok = _verify(user.password_hash, password)
    if not ok:
        if countable:
            _count_failure(session, username, key, user, now, settings.lockout_attempts, settings.lockout_minutes)
        return LoginResult(None, WRONG_CREDENTIALS)
    assert user is not None and user.password_hash is not None
    if not user.active:
        return LoginResult(None, f"account `{username}` is deactivated")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    if throttle is not None:
        session.delete(throttle)
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    return LoginResult(user)


def client_key(client: str) -> str:
    """A short hash of the client's id (an address is not stored as such)."""
    return hashlib.sha256(f"labeler-login:{client}".encode()).hexdigest()[:32]


def _throttle(session: Session, username: str, key: str, *, lock: bool) -> LoginThrottle | None:
    query = select(LoginThrottle).where(LoginThrottle.username == username, LoginThrottle.client == key)
    return session.scalar(query.with_for_update() if lock else query)


def _count_failure(session: Session, username: str, key: str, user: User | None, now: datetime,
                   attempts: int, minutes: int) -> None:
    """One more failure for (username, client), row-locked so parallel guesses count exactly."""
    window = timedelta(minutes=minutes)
    session.execute(delete(LoginThrottle).where(  # forget stale rows: guessed names do not pile up
        LoginThrottle.updated_at < now - window,
        or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now)))
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    session.execute(insert(LoginThrottle).values(username=username, client=key, failures=0, updated_at=now)
                    .on_conflict_do_nothing(index_elements=["username", "client"]))
    throttle = _throttle(session, username, key, lock=True)
    assert throttle is not None
    if throttle.locked_until is not None:
        if throttle.locked_until > now:
            return  # locked meanwhile by a parallel guess: nothing more to count
        throttle.locked_until = None  # an expired lock: counting starts again
    throttle.failures += 1
    throttle.updated_at = now
    if user is not None:
        user.failed_logins += 1  # shown to admins; the lockout itself is the throttle's
    if throttle.failures >= attempts:
        throttle.failures, throttle.locked_until = 0, now + window
        if user is not None:
            user.locked_until = throttle.locked_until
            record_event(session, actor_for(user), "user.locked", "user", user.id, client=key)


def _lift_lockout(session: Session, user: User) -> None:
    """Forget the user's failures and lockouts on every client (a new password, a reactivation)."""
    user.failed_logins, user.locked_until = 0, None
    session.execute(delete(LoginThrottle).where(LoginThrottle.username == user.username))


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


def active_actor(session: Session, username: str) -> Actor:
    """The Actor for the account a command acts as (`labeler --as NAME`); Forbidden when it is deactivated."""
    user = get_user_or_raise(session, username)
    if not user.active:
        raise Forbidden(f"account `{user.username}` is deactivated")
    return actor_for(user)
