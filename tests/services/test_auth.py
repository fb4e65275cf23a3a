"""Users and login: roles, argon2id hashes, deactivation, lockout after repeated failures."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db.models import Event, User
from labeler.errors import Conflict, Forbidden, Invalid, NotFound
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.auth import (
    WRONG_CREDENTIALS,
    authenticate,
    create_user,
    list_users,
    set_active,
    set_password,
    set_role,
)
from tests.factories import PASSWORD, make_user


def _login(username: str, password: str):
    with session_scope() as s:
        return authenticate(s, username, password)


def test_create_user_stores_an_argon2id_hash_not_the_password(db_url):
    make_user("alice")
    with session_scope() as s:
        user = s.scalar(select(User).where(User.username == "alice"))
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        events = s.scalars(select(Event).where(Event.action == "user.create")).all()
        assert [e.details["username"] for e in events] == ["alice"]
        assert PASSWORD not in str(events[0].details)


@pytest.mark.parametrize(
    ("username", "role", "password", "error"),
    [
        ("a", "labeler", PASSWORD, Invalid),  # too short
        ("bad name", "labeler", PASSWORD, Invalid),
        ("bob", "superuser", PASSWORD, Invalid),
        ("bob", "labeler", "short", Invalid),
    ],
)
def test_create_user_rejects_bad_input_and_stores_nothing(db_url, username, role, password, error):
    with pytest.raises(error), session_scope() as s:
        create_user(s, OPERATOR, username, role, password)
    with session_scope() as s:
        assert s.scalars(select(User)).all() == []


def test_duplicate_username_is_a_conflict(db_url):
    make_user("alice")
    with pytest.raises(Conflict, match="already exists"), session_scope() as s:
        create_user(s, OPERATOR, "alice", "labeler", PASSWORD)


@pytest.mark.parametrize("role", ["labeler", "reviewer"])
def test_only_admins_manage_users(db_url, role):
    actor = make_user("someone", role)
    make_user("victim")
    with session_scope() as s:
        for call in (
            lambda: create_user(s, actor, "mallory", "admin", PASSWORD),
            lambda: list_users(s, actor),
            lambda: set_active(s, actor, "victim", False),
            lambda: set_role(s, actor, "someone", "admin"),
            lambda: set_password(s, actor, "victim", "new password 123"),
        ):
            with pytest.raises(Forbidden):
                call()


def test_login_succeeds_and_resets_failures(db_url):
    make_user("alice")
    assert not _login("alice", "wrong password").ok
    result = _login("alice", PASSWORD)
    assert result.ok and result.user.username == "alice"
    with session_scope() as s:
        user = s.scalar(select(User).where(User.username == "alice"))
        assert user.failed_logins == 0 and user.last_login_at is not None


def test_unknown_user_and_wrong_password_read_the_same(db_url):
    make_user("alice")
    assert _login("nobody", PASSWORD).message == WRONG_CREDENTIALS
    assert _login("alice", "nope nope nope").message == WRONG_CREDENTIALS


def test_lockout_after_repeated_failures_even_with_the_right_password(db_url, monkeypatch):
    monkeypatch.setenv("LABELER_LOCKOUT_ATTEMPTS", "3")
    make_user("alice")
    for _ in range(3):
        assert not _login("alice", "wrong password").ok
    locked = _login("alice", PASSWORD)
    assert not locked.ok and "locked" in locked.message
    with session_scope() as s:  # an admin resetting the password lifts the lock
        set_password(s, OPERATOR, "alice", "a brand new password")
    assert _login("alice", "a brand new password").ok


def test_deactivated_user_is_refused(db_url):
    make_user("alice")
    with session_scope() as s:
        set_active(s, OPERATOR, "alice", False)
    result = _login("alice", PASSWORD)
    assert not result.ok and "deactivated" in result.message
    with session_scope() as s:
        set_active(s, OPERATOR, "alice", True)
    assert _login("alice", PASSWORD).ok


def test_users_change_their_own_password_only(db_url):
    alice = make_user("alice")
    make_user("bob")
    with session_scope() as s:
        set_password(s, alice, "alice", "alice's new password")
        with pytest.raises(Forbidden):
            set_password(s, alice, "bob", "bob's new password")
    assert _login("alice", "alice's new password").ok


def test_admin_cannot_deactivate_themselves(db_url):
    admin = make_user("root", "admin")
    with pytest.raises(Conflict), session_scope() as s:
        set_active(s, admin, "root", False)


def test_missing_user_is_not_found(db_url):
    with pytest.raises(NotFound, match="`ghost`"), session_scope() as s:
        set_role(s, OPERATOR, "ghost", "admin")
