"""The demo project and accounts: real OpenAssistant conversations, so a new install has work to look at.

Demo passwords come from the environment or are generated, and are returned once so the CLI can
print them; they are never stored anywhere but as argon2 hashes.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Project, User
from labeler.services.actors import Actor, require_admin
from labeler.services.auth import create_user
from labeler.services.ingest import ImportOptions, ImportReport, import_file
from labeler.services.projects import add_member, create_project

DEMO_PROJECT = "demo"
DEMO_FILE = Path(__file__).resolve().parents[1] / "demo" / "oasst_en_100_tree.jsonl"
DEMO_GUIDELINES = """\
# Demo guidelines

Write the reply a helpful, honest and harmless assistant would give. When ranking, put the most
helpful truthful answer first; flag hallucinations and replies that ignore the instruction.
"""


def ensure_demo_project(session: Session, actor: Actor) -> ImportReport | None:
    """Create the `demo` project from the bundled sample, unless it exists (then None) (admins only)."""
    require_admin(actor)
    if session.scalar(select(Project.id).where(Project.name == DEMO_PROJECT)) is not None:
        return None
    create_project(session, actor, DEMO_PROJECT, DEMO_GUIDELINES, {"k_min": 2, "k_max": 5})
    # Every demo prompt comes with 2-5 real human replies: ready to rank, and a reference when writing.
    options = ImportOptions(format="oasst-tree", min_candidates=2, max_candidates=5)
    return import_file(session, actor, DEMO_PROJECT, DEMO_FILE, options)


# (username, role, environment variable holding its password)
DEMO_ACCOUNTS = (
    ("admin", "admin", "LABELER_DEMO_ADMIN_PASSWORD"),
    ("alice", "labeler", "LABELER_DEMO_LABELER_PASSWORD"),
    ("bob", "labeler", "LABELER_DEMO_LABELER_PASSWORD"),
)


@dataclass(frozen=True)
class DemoAccount:
    """A demo login; `password` is set only when the account was created just now."""

    username: str
    role: str
    password: str | None
    from_env: bool = False


def ensure_demo_accounts(
    session: Session, actor: Actor, environ: Mapping[str, str] | None = None
) -> list[DemoAccount]:
    """Create the demo admin and two labelers (members of `demo`) unless they exist.

    Passwords come from `LABELER_DEMO_ADMIN_PASSWORD` / `LABELER_DEMO_LABELER_PASSWORD`, or are
    generated; existing accounts keep theirs (returned with `password=None`).
    """
    environ = os.environ if environ is None else environ
    accounts = []
    for username, role, variable in DEMO_ACCOUNTS:
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            accounts.append(DemoAccount(username, role, None))
        else:
            given = environ.get(variable, "")
            password = given or secrets.token_urlsafe(12)
            create_user(session, actor, username, role, password, display_name=username.title())
            accounts.append(DemoAccount(username, role, password, from_env=bool(given)))
        if role != "admin":
            add_member(session, actor, DEMO_PROJECT, username)
    return accounts
