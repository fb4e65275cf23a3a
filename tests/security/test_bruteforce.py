"""Login brute force: every guess costs a full argon2id verification (unknown users too), and repeated
failures lock the account, whatever is tried while it is locked, until the lock expires."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from db.base import utcnow
from db.models import Event, LoginThrottle
from labeler.services import auth, session_scope
from labeler.services.auth import LOCKED_HERE, WRONG_CREDENTIALS, authenticate
from tests.factories import PASSWORD, make_user


def _login(username: str, password: str, client: str = "10.0.0.1"):
    with session_scope() as s:
        return authenticate(s, username, password, client=client)


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
        assert not result.ok and result.message == LOCKED_HERE
    with session_scope(write=False) as s:
        locked_until = s.scalar(select(LoginThrottle.locked_until).where(LoginThrottle.username == "alice"))
        assert locked_until is not None and locked_until > utcnow() + timedelta(minutes=10)
        assert s.scalar(select(Event.action).where(Event.action == "user.locked")) == "user.locked"
    with session_scope() as s:  # time passes: the lock expires
        s.execute(update(LoginThrottle).values(locked_until=utcnow() - timedelta(seconds=1)))
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


def test_unknown_and_locked_usernames_get_the_same_messages(db_url, monkeypatch) -> None:
    monkeypatch.setenv("LABELER_LOCKOUT_ATTEMPTS", "3")
    make_user("alice")
    replies: dict[str, list[str]] = {"alice": [], "nobody": []}
    for name in replies:
        for _ in range(5):
            replies[name].append(_login(name, "wrong guess").message)
        replies[name].append(_login(name, PASSWORD).message)
    assert replies["alice"] == replies["nobody"] == [WRONG_CREDENTIALS] * 3 + [LOCKED_HERE] * 3
    assert "alice" not in LOCKED_HERE and "account" not in LOCKED_HERE


def test_a_stranger_cannot_lock_a_labeler_out_from_another_client(db_url, monkeypatch) -> None:
    monkeypatch.setenv("LABELER_LOCKOUT_ATTEMPTS", "5")
    make_user("alice")
    for _ in range(12):
        assert not _login("alice", "stranger guess", client="203.0.113.9").ok
    assert _login("alice", PASSWORD, client="203.0.113.9").message == LOCKED_HERE  # locked for the stranger
    assert _login("alice", PASSWORD, client="10.1.2.3").ok  # alice's own machine is not locked
    with session_scope(write=False) as s:  # the address is not stored as such
        clients = s.scalars(select(LoginThrottle.client)).all()
    assert clients and all("203.0.113.9" not in c for c in clients)


def test_parallel_guesses_from_one_client_lock_exactly_at_the_limit(db_url, monkeypatch) -> None:
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv("LABELER_LOCKOUT_ATTEMPTS", "5")
    make_user("alice")
    with ThreadPoolExecutor(4) as pool:
        messages = list(pool.map(lambda i: _login("alice", f"guess {i}").message, range(12)))
    assert messages.count(WRONG_CREDENTIALS) >= 5 and set(messages) <= {WRONG_CREDENTIALS, LOCKED_HERE}
    assert _login("alice", PASSWORD).message == LOCKED_HERE


def test_names_that_cannot_be_accounts_are_refused_without_storing_anything(db_url) -> None:
    for name in ("x" * 300, "bad\x00name", "../etc"):
        assert _login(name, "whatever").message == WRONG_CREDENTIALS
    with session_scope(write=False) as s:
        assert s.scalars(select(LoginThrottle)).all() == []
