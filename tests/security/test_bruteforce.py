"""Login brute force: every guess costs a full argon2id verification (unknown users too), and repeated
failures lock the account, whatever is tried while it is locked, until the lock expires."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from db.base import utcnow
from db.models import Event, User
from labeler.services import auth, session_scope
from labeler.services.auth import authenticate
from tests.factories import PASSWORD, make_user


def _login(username: str, password: str):
    with session_scope() as s:
        return authenticate(s, username, password)


def test_each_guess_costs_an_argon2id_verification_with_owasp_parameters(sqlite_url, monkeypatch) -> None:
    params = auth._hasher  # noqa: SLF001 - the parameters are the point here
    assert params.type.name == "ID" and params.memory_cost >= 19 * 1024 and params.time_cost >= 2
    calls: list[str] = []
    real = auth._verify  # noqa: SLF001

    def counting(password_hash: str, password: str) -> bool:
        calls.append(password_hash.split("$")[1])
        return real(password_hash, password)

    monkeypatch.setattr(auth, "_verify", counting)
    make_user("alice")
    _login("alice", "wrong guess 1")
    _login("nobody-here", "wrong guess 2")  # an unknown user costs the same: no fast path to probe names
    assert calls == ["argon2id", "argon2id"]


def test_repeated_failures_lock_the_account_until_the_lock_expires(db_url, monkeypatch) -> None:
    monkeypatch.setenv("LABELER_LOCKOUT_ATTEMPTS", "4")
    make_user("alice")
    for i in range(4):
        assert not _login("alice", f"guess {i}").ok
    for _ in range(3):  # while locked, even the right password is refused, and guessing does not help
        result = _login("alice", PASSWORD)
        assert not result.ok and "locked" in result.message
    with session_scope(write=False) as s:
        locked_until = s.scalar(select(User.locked_until).where(User.username == "alice"))
        assert locked_until is not None and locked_until > utcnow() + timedelta(minutes=10)
        assert s.scalar(select(Event.action).where(Event.action == "user.locked")) == "user.locked"
    with session_scope() as s:  # time passes: the lock expires
        s.execute(update(User).where(User.username == "alice").values(locked_until=utcnow() - timedelta(seconds=1)))
    assert _login("alice", PASSWORD).ok


def test_a_success_resets_the_failure_count(sqlite_url, monkeypatch) -> None:
    attempts = 3
    monkeypatch.setenv("LABELER_LOCKOUT_ATTEMPTS", str(attempts + 1))
    make_user("alice")
    for _ in range(attempts):
        assert not _login("alice", "wrong").ok
    assert _login("alice", PASSWORD).ok
    for _ in range(attempts):  # counting starts again: not locked yet
        assert not _login("alice", "wrong").ok
    assert _login("alice", PASSWORD).ok
