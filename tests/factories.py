"""Small builders for test data, going through the services like the app and the CLI do."""

from __future__ import annotations

from typing import Any

from labeler.services import session_scope
from labeler.services.actors import OPERATOR, Actor
from labeler.services.auth import actor_for, create_user
from labeler.services.projects import add_member, create_project

PASSWORD = "correct horse battery"


def make_user(username: str, role: str = "labeler", password: str = PASSWORD) -> Actor:
    """Create an account and return it as an Actor."""
    with session_scope() as s:
        return actor_for(create_user(s, OPERATOR, username, role, password))


def make_project(name: str = "demo", members: tuple[str, ...] = (), **settings: Any) -> str:
    """Create a project (with members) and return its name."""
    with session_scope() as s:
        create_project(s, OPERATOR, name, "Be helpful, honest and harmless.", settings)
        for username in members:
            add_member(s, OPERATOR, name, username)
    return name
