"""Login sessions: hashed random tokens that expire and are revoked by logout, deactivation and password change."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from db.models import LoginSession
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.auth import set_active, set_password
from labeler.services.login_sessions import end_session, resume_session, start_session
from tests.factories import make_user


def _start(user_id: int) -> str:
    with session_scope() as s:
        return start_session(s, user_id)


def _resume(token: str | None):
    with session_scope(write=False) as s:
        return resume_session(s, token)


def test_a_session_resumes_as_its_user_and_only_the_hash_is_stored(db_url):
    alice = make_user("alice")
    token = _start(alice.id)
    assert len(token) >= 43  # 32 random bytes, URL-safe
    actor = _resume(token)
    assert (actor.id, actor.username, actor.role) == (alice.id, "alice", "labeler")
    with session_scope(write=False) as s:
        [row] = s.scalars(select(LoginSession)).all()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in row.token_hash
        assert row.user_id == alice.id and row.expires_at > row.created_at


def test_unknown_empty_and_oversized_tokens_resume_nothing(db_url):
    make_user("alice")
    assert _resume(None) is None and _resume("") is None
    assert _resume("not-a-token") is None and _resume("x" * 10_000) is None


def test_a_session_expires(db_url, monkeypatch):
    alice = make_user("alice")
    monkeypatch.setenv("LABELER_SESSION_HOURS", "0.0000001")  # a third of a millisecond
    token = _start(alice.id)
    assert _resume(token) is None


def test_logout_ends_only_that_session(db_url):
    alice = make_user("alice")
    laptop, tablet = _start(alice.id), _start(alice.id)
    with session_scope() as s:
        end_session(s, laptop)
    assert _resume(laptop) is None and _resume(tablet).id == alice.id


def test_deactivation_and_a_password_change_end_every_session(db_url):
    alice, bob = make_user("alice"), make_user("bob")
    a1, a2, b1 = _start(alice.id), _start(alice.id), _start(bob.id)
    with session_scope() as s:
        set_password(s, OPERATOR, "alice", "a brand new password")
    assert _resume(a1) is None and _resume(a2) is None and _resume(b1).id == bob.id
    with session_scope() as s:
        set_active(s, OPERATOR, "bob", False)
    assert _resume(b1) is None
    with session_scope(write=False) as s:
        assert s.scalars(select(LoginSession)).all() == []
    with session_scope() as s:
        set_active(s, OPERATOR, "bob", True)
    assert _resume(b1) is None  # reactivating does not bring an old session back
