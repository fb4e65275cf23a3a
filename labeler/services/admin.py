"""Administration: migrate and report the schema revision; accounts and memberships for the admin console.

Every function that reads or changes accounts checks that the actor is an admin (through the auth
and projects services it builds on); generated passwords are returned once and never stored or logged.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from db.base import utcnow
from db.migrate import current_revision, head_revision, upgrade
from db.models import Candidate, Membership, Project, Prompt
from labeler.errors import NotFound
from labeler.services import database_url, get_engine, reachable
from labeler.services.actors import Actor, require_admin
from labeler.services.auth import create_user, get_user_or_raise, list_users, set_password
from labeler.services.projects import (
    add_member,
    get_project_or_raise,
    list_members,
    list_projects,
    prompt_preview,
    remove_member,
)


def upgrade_database(url: str | None = None) -> str:
    """Create the database if needed and apply every migration; return the revision reached."""
    engine = get_engine(url or database_url())
    with reachable(engine):
        upgrade(engine)
    return head_revision()


def schema_status(url: str | None = None) -> tuple[str | None, str]:
    """(current revision, newest shipped revision)."""
    engine = get_engine(url or database_url())
    with reachable(engine):
        return current_revision(engine), head_revision()


# ---- accounts and memberships, for the admin console ----------------------------------------------

GENERATED_PASSWORD_BYTES = 12  # token_urlsafe(12): 16 characters, 96 bits


def users_overview(session: Session, actor: Actor) -> list[dict[str, Any]]:
    """One row per account: role, state, last login and the projects it works on (admins only)."""
    users = list_users(session, actor)
    projects: dict[int, list[str]] = {}
    rows = session.execute(
        select(Membership.user_id, Project.name).join(Project, Project.id == Membership.project_id)
        .order_by(Project.name)
    )
    for user_id, name in rows:
        projects.setdefault(user_id, []).append(name)
    now = utcnow()
    return [
        {"username": u.username, "display name": u.display_name, "role": u.role, "active": u.active,
         "locked": u.locked_until is not None and u.locked_until > now, "last login": u.last_login_at,
         "projects": ", ".join(projects.get(u.id, [])), "created": u.created_at}
        for u in users
    ]


def user_projects(session: Session, actor: Actor, username: str) -> list[str]:
    """Names of the projects a user works on (admins only)."""
    require_admin(actor)
    user = get_user_or_raise(session, username)
    query = (
        select(Project.name).join(Membership, Membership.project_id == Project.id)
        .where(Membership.user_id == user.id).order_by(Project.name)
    )
    return list(session.scalars(query))


def set_user_projects(session: Session, actor: Actor, username: str, project_names: list[str]) -> tuple[
    list[str], list[str]
]:
    """Make `project_names` exactly the user's projects; returns (added, removed) (admins only)."""
    return _make_exactly(set(user_projects(session, actor, username)), project_names,
                         lambda name: get_project_or_raise(session, name),
                         lambda name, add: (add_member if add else remove_member)(session, actor, name, username))


def reset_password(session: Session, actor: Actor, username: str) -> str:
    """Give an account a new random password and return it, to be shown once (admins only).

    Only its argon2id hash is stored; the audit log records that it changed, never the value.
    """
    require_admin(actor)
    password = secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
    set_password(session, actor, username, password)
    return password


def set_project_members(session: Session, actor: Actor, project_name: str, usernames: list[str]) -> tuple[
    list[str], list[str]
]:
    """Make `usernames` exactly the project's members; returns (added, removed) (admins only)."""
    return _make_exactly({u.username for u in list_members(session, actor, project_name)}, usernames,
                         lambda username: get_user_or_raise(session, username),
                         lambda username, add: (add_member if add else remove_member)(session, actor, project_name,
                                                                                       username))


def _make_exactly(current: set[str], names: list[str], check: Callable[[str], object],
                  change: Callable[[str, bool], object]) -> tuple[list[str], list[str]]:
    """Memberships edited as a whole: every name checked before anything changes, then (added, removed)."""
    wanted = set(names)
    for name in sorted(wanted):
        check(name)
    added, removed = sorted(wanted - current), sorted(current - wanted)
    for name in added:
        change(name, True)
    for name in removed:
        change(name, False)
    return added, removed


def create_account(
    session: Session, actor: Actor, username: str, role: str, password: str | None = None, display_name: str = ""
) -> tuple[str, str | None]:
    """Create an account with the typed password, or a generated one when `password` is None.

    Returns (username, the generated password or None); the generated one is to be shown once (admins only).
    """
    generated = secrets.token_urlsafe(GENERATED_PASSWORD_BYTES) if password is None else None
    user = create_user(session, actor, username, role, password if password is not None else generated, display_name)
    return user.username, generated


def admin_projects(session: Session, actor: Actor) -> list[Project]:
    """Every project, for the admin pages (admins only: the first call of each admin page)."""
    require_admin(actor)
    return list_projects(session, actor)


# ---- finding prompts, for the gold page ------------------------------------------------------------

MAX_FOUND = 50


@dataclass(frozen=True)
class PromptCandidate:
    """One reply to a prompt, as the gold page shows it."""

    candidate_id: int
    text: str
    origin: str
    model: str | None


@dataclass(frozen=True)
class PromptDetail:
    """A prompt with its conversation and candidates (admins only)."""

    prompt_id: int
    messages: list[dict]
    split: str
    external_id: str | None
    candidates: list[PromptCandidate]


def find_prompts(
    session: Session, actor: Actor, project_name: str, text: str = "", min_candidates: int = 0, limit: int = 20
) -> list[dict[str, Any]]:
    """Prompts of a project whose conversation or external id contains `text` (case-insensitive), oldest
    first, with their number of candidates (admins only)."""
    require_admin(actor)
    project = get_project_or_raise(session, project_name)
    count = (select(func.count(Candidate.id)).where(Candidate.prompt_id == Prompt.id)
             .correlate(Prompt).scalar_subquery())
    query = select(Prompt.id, Prompt.messages, Prompt.split, count.label("n")).where(Prompt.project_id == project.id)
    needle = text.strip()
    if needle:
        pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(cast(Prompt.messages, String).ilike(pattern, escape="\\"),
                                Prompt.external_id.ilike(pattern, escape="\\")))
    if min_candidates:
        query = query.where(count >= min_candidates)
    rows = session.execute(query.order_by(Prompt.id).limit(max(1, min(limit, MAX_FOUND)))).all()
    return [{"prompt_id": pid, "preview": prompt_preview(messages), "split": split, "candidates": n}
            for pid, messages, split, n in rows]


def prompt_detail(session: Session, actor: Actor, project_name: str, prompt_id: int) -> PromptDetail:
    """One prompt of a project with its candidates (admins only)."""
    require_admin(actor)
    project = get_project_or_raise(session, project_name)
    prompt = session.get(Prompt, prompt_id)
    if prompt is None or prompt.project_id != project.id:
        raise NotFound(f"prompt `{prompt_id}` not found in project `{project.name}`")
    candidates = session.scalars(select(Candidate).where(Candidate.prompt_id == prompt.id).order_by(Candidate.id))
    return PromptDetail(
        prompt_id=prompt.id, messages=list(prompt.messages), split=prompt.split, external_id=prompt.external_id,
        candidates=[PromptCandidate(c.id, c.text, c.origin, c.model) for c in candidates],
    )

