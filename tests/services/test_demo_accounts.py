"""Demo accounts for `make run`: created once, passwords from the environment or generated."""

from __future__ import annotations

from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.auth import authenticate
from labeler.services.demo import ensure_demo_accounts, ensure_demo_project
from labeler.services.projects import list_members


def test_created_once_with_generated_passwords_that_work(sqlite_url):
    with session_scope() as s:
        ensure_demo_project(s, OPERATOR)
        accounts = ensure_demo_accounts(s, OPERATOR, environ={})
    assert [(a.username, a.role) for a in accounts] == [("admin", "admin"), ("alice", "labeler"), ("bob", "labeler")]
    assert all(a.password and len(a.password) >= 16 and not a.from_env for a in accounts)
    assert len({a.password for a in accounts}) == 3
    with session_scope() as s:
        assert all(authenticate(s, a.username, a.password).ok for a in accounts)
        assert [u.username for u in list_members(s, OPERATOR, "demo")] == ["alice", "bob"]
        again = ensure_demo_accounts(s, OPERATOR, environ={})
    assert [a.password for a in again] == [None, None, None]  # existing passwords are kept, never printed


def test_passwords_from_the_environment(sqlite_url):
    env = {"LABELER_DEMO_ADMIN_PASSWORD": "admin-secret-1", "LABELER_DEMO_LABELER_PASSWORD": "labeler-secret-1"}
    with session_scope() as s:
        ensure_demo_project(s, OPERATOR)
        accounts = ensure_demo_accounts(s, OPERATOR, environ=env)
    assert [(a.password, a.from_env) for a in accounts] == [
        ("admin-secret-1", True), ("labeler-secret-1", True), ("labeler-secret-1", True)]
    with session_scope() as s:
        assert authenticate(s, "bob", "labeler-secret-1").ok
