"""Projects, their validated settings, and memberships.

Settings are a pydantic model stored as JSON: validated on every write, read back with defaults
for keys a newer version added, so old projects keep working.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Membership, Project, User
from labeler.errors import Conflict, Forbidden, Invalid, NotFound
from labeler.services.actors import Actor, require_admin
from labeler.services.auth import get_user_or_raise
from labeler.services.bounds import CandidatesK, Concurrency, MaxTokens, Seed, Temperature, TimeoutS, TopP
from labeler.services.events import record_event
from labeler.services.margins import model_key, route_margins

# InstructGPT's per-output metadata (Ouyang et al. 2022, table 3), as short slugs.
INSTRUCTGPT_FLAGS = (
    "fails_instruction",
    "hallucination",
    "inappropriate_for_assistant",
    "sexual_content",
    "violent_content",
    "encourages_harm",
    "denigrates_protected_class",
    "harmful_advice",
    "expresses_opinion",
    "expresses_moral_judgment",
)


class ProjectSettings(BaseModel):
    """What shapes labeling and import hygiene in one project."""

    model_config = ConfigDict(extra="forbid")

    task_kinds: list[Literal["demonstration", "ranking"]] = Field(
        default_factory=lambda: ["demonstration", "ranking"], min_length=1
    )
    k_min: int = Field(default=2, ge=2, le=9, description="fewest candidates shown in a ranking")
    k_max: int = Field(default=9, ge=2, le=9, description="most candidates shown in a ranking")
    labels_per_item: int = Field(default=1, ge=1, le=10, description="labelers per prompt and kind")
    lease_minutes: int = Field(default=30, ge=1, le=24 * 60)
    likert_points: int = Field(default=7, ge=2, le=10, description="Likert scale 1..N")
    flags: list[str] = Field(default_factory=lambda: list(INSTRUCTGPT_FLAGS))
    ties_allowed: bool = True
    # Import hygiene defaults (each can be overridden per import).
    dedup_prefix_chars: int = Field(default=200, ge=0, description="0 turns prefix dedup off")
    max_prompts_per_user: int = Field(default=200, ge=1)
    split: tuple[int, int, int] = (80, 10, 10)
    scrub_pii: bool = False
    # --- Model in the loop (services/generate.py, services/finetune.py) ---
    # The server and the NAME of the environment variable holding its key; keys are never stored.
    model_base_url: str | None = Field(default=None, description="OpenAI-compatible server; None = OPENAI_BASE_URL")
    model_api_key_env: str = Field(default="OPENAI_API_KEY", description="environment variable holding the key")
    generation_models: list[str] = Field(default_factory=list, description="models candidates are sampled from")
    # Bounds are the shared types of labeler.services.bounds: a request is held to the same ones.
    generation_k: CandidatesK | None = Field(default=None, description="candidates per prompt; None = k_max")
    generation_temperature: Temperature = 1.0
    generation_top_p: TopP = 1.0
    generation_max_tokens: MaxTokens = 512
    generation_seed: Seed | None = Field(default=0, description="base seed sent with requests; None = none")
    generation_concurrency: Concurrency = 8
    model_timeout_s: TimeoutS = 60.0
    suggestion_model: str | None = Field(default=None, description="drafts replies on the Demonstrate page")
    suggestion_temperature: Temperature = 0.7
    suggestion_max_tokens: MaxTokens = 1024
    # --- The reward model in the loop (services/scoring.py, services/queue.py) ---
    # `uncertain-first` hands out ranking tasks whose two best candidates the routing reward model
    # scores closest (prompts.rm_margin) before the rest; fewest labels still come first.
    queue_order: Literal["random", "uncertain-first"] = "random"
    routing_reward_model: str | None = Field(
        default=None, description="reward model whose margins route `uncertain-first`; None = the last one scored "
                                  "(the first model scored becomes it)")

    @field_validator("routing_reward_model")
    @classmethod
    def _routing_model_key(cls, v: str | None) -> str | None:
        return model_key(v) if v and v.strip() else None  # stored as its scores are: the resolved folder

    @field_validator("model_api_key_env")
    @classmethod
    def _key_env_is_a_name(cls, v: str) -> str:
        # The value is never echoed: it may be a key pasted by mistake.
        v = v.strip()
        if not re.fullmatch(r"[A-Z_][A-Z0-9_]{0,63}", v):
            raise ValueError(
                "must be the NAME of an environment variable (like OPENAI_API_KEY), not a key: "
                "put the key in an environment variable and name that variable here"
            )
        return v

    @field_validator("model_base_url")
    @classmethod
    def _base_url_without_secrets(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        v = v.strip().rstrip("/")
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL such as http://localhost:8000/v1")
        if parts.username or parts.password or parts.query:
            raise ValueError("must not carry credentials or a query: put the key in an environment variable")
        return v

    @field_validator("generation_models")
    @classmethod
    def _clean_models(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(m.strip() for m in v if m.strip()))

    @field_validator("suggestion_model")
    @classmethod
    def _clean_suggestion_model(cls, v: str | None) -> str | None:
        return v.strip() or None if v is not None else None
    # --- end model in the loop ---
    # --- Quality: review, gold and qualification (services/review.py, services/gold.py) ---
    qualification_tasks: int = Field(
        default=0, ge=0, le=100, description="gold tasks a new labeler must do before real work (0 = none)")
    qualification_threshold: float = Field(
        default=0.75, ge=0.0, le=1.0, description="mean gold score needed to qualify (InstructGPT: about 0.75)")
    gold_rate: float = Field(
        default=0.0, ge=0.0, le=0.5, description="share of a qualified labeler's tasks that are gold checks")
    slipping_threshold: float = Field(
        default=0.6, ge=0.0, le=1.0, description="a qualified labeler whose recent gold mean falls below slips")
    slipping_window: int = Field(default=20, ge=1, le=1000, description="recent gold results the slipping mean uses")
    # --- end quality ---
    # --- Scope labels (services/scope.py) ---
    scope_labels: bool = Field(default=False, description="labelers mark each prompt answerable or off-limits")
    scope_reasons: list[str] = Field(
        default_factory=lambda: ["out_of_scope", "unsafe", "professional_advice", "personal_data", "other"],
        description="reason categories an off-limits label may carry")

    @field_validator("scope_reasons")
    @classmethod
    def _clean_scope_reasons(cls, v: list[str]) -> list[str]:
        reasons = list(dict.fromkeys(r.strip() for r in v if r.strip()))
        if any(len(r) > 100 for r in reasons):
            raise ValueError("a scope reason is at most 100 characters")
        return reasons
    # --- end scope labels ---

    @field_validator("task_kinds")
    @classmethod
    def _unique_kinds(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(v))

    @field_validator("flags")
    @classmethod
    def _clean_flags(cls, v: list[str]) -> list[str]:
        flags = [f.strip() for f in v if f.strip()]
        if len(set(flags)) != len(flags):
            raise ValueError("flags must be unique")
        return flags

    @field_validator("split")
    @classmethod
    def _split_sums_to_100(cls, v: tuple[int, int, int]) -> tuple[int, int, int]:
        if sum(v) != 100 or min(v) < 0:
            raise ValueError(f"split {'/'.join(map(str, v))} must be three non-negative parts summing to 100")
        return v

    @model_validator(mode="after")
    def _k_range(self) -> ProjectSettings:
        if self.k_min > self.k_max:
            raise ValueError(f"k_min ({self.k_min}) is larger than k_max ({self.k_max})")
        return self


def parse_settings(values: dict[str, Any]) -> ProjectSettings:
    """Validate settings, turning pydantic's errors into one readable Invalid."""
    try:
        return ProjectSettings.model_validate(values)
    except ValidationError as e:
        problems = "; ".join(
            f"`{'.'.join(map(str, err['loc'])) or 'settings'}`: {err['msg']}" for err in e.errors()
        )
        raise Invalid(f"invalid project settings: {problems}") from None


def settings_of(project: Project) -> ProjectSettings:
    """The stored settings with defaults filled in."""
    return parse_settings(project.settings or {})


NAME_MAX = 100


def get_project_or_raise(session: Session, name: str) -> Project:
    """The project named `name`, or NotFound."""
    project = session.scalar(select(Project).where(Project.name == name))
    if project is None:
        raise NotFound(f"project `{name}` not found")
    return project


def create_project(
    session: Session, actor: Actor, name: str, guidelines: str = "", settings: dict[str, Any] | None = None
) -> Project:
    """Create a project with validated settings (admins only)."""
    require_admin(actor)
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise Invalid(f"project name must be 1-{NAME_MAX} characters")
    parsed = parse_settings(settings or {})
    if session.scalar(select(Project.id).where(Project.name == name)) is not None:
        raise Conflict(f"project `{name}` already exists")
    project = Project(
        name=name, guidelines=guidelines, settings=parsed.model_dump(mode="json"), created_by=actor.id
    )
    session.add(project)
    session.flush()
    record_event(session, actor, "project.create", "project", project.id, name=name)
    return project


def update_project(
    session: Session,
    actor: Actor,
    name: str,
    *,
    guidelines: str | None = None,
    settings: dict[str, Any] | None = None,
    new_name: str | None = None,
) -> Project:
    """Change guidelines, settings (merged over the current ones) or the name (admins only)."""
    require_admin(actor)
    project = get_project_or_raise(session, name)
    if settings:
        before = settings_of(project)
        merged = {**before.model_dump(mode="json"), **settings}
        project.settings = parse_settings(merged).model_dump(mode="json")
        routing = settings_of(project).routing_reward_model
        if routing != before.routing_reward_model:  # the uncertain-first queue follows the new model at once
            route_margins(session, project.id, routing)
    if guidelines is not None:
        project.guidelines = guidelines
    if new_name is not None and new_name.strip() != project.name:
        if session.scalar(select(Project.id).where(Project.name == new_name.strip())) is not None:
            raise Conflict(f"project `{new_name}` already exists")
        project.name = new_name.strip()
    record_event(session, actor, "project.update", "project", project.id, settings=settings or {})
    return project


def list_projects(session: Session, actor: Actor) -> list[Project]:
    """Projects the actor may see: all for admins, their memberships for everyone else."""
    query = select(Project).order_by(Project.name)
    if not actor.is_admin:
        query = query.join(Membership, Membership.project_id == Project.id).where(
            Membership.user_id == actor.id
        )
    return list(session.scalars(query))


def get_project_for(session: Session, actor: Actor, name: str) -> Project:
    """The project, if the actor is an admin or a member of it."""
    project = get_project_or_raise(session, name)
    if not actor.is_admin and not is_member(session, project.id, actor.id):
        raise Forbidden(f"`{actor.username}` is not a member of project `{name}`")
    return project


def is_member(session: Session, project_id: int, user_id: int | None) -> bool:
    """True when the user works on the project."""
    if user_id is None:
        return False
    found = session.scalar(
        select(Membership.id).where(Membership.project_id == project_id, Membership.user_id == user_id)
    )
    return found is not None


def add_member(session: Session, actor: Actor, project_name: str, username: str) -> Membership:
    """Let a user work on a project (admins only); adding twice is a no-op."""
    require_admin(actor)
    project = get_project_or_raise(session, project_name)
    user = get_user_or_raise(session, username)
    existing = session.scalar(
        select(Membership).where(Membership.project_id == project.id, Membership.user_id == user.id)
    )
    if existing is not None:
        return existing
    membership = Membership(project_id=project.id, user_id=user.id)
    session.add(membership)
    session.flush()
    record_event(session, actor, "member.add", "project", project.id, username=username)
    return membership


def remove_member(session: Session, actor: Actor, project_name: str, username: str) -> None:
    """Take a user off a project (admins only)."""
    require_admin(actor)
    project = get_project_or_raise(session, project_name)
    user = get_user_or_raise(session, username)
    membership = session.scalar(
        select(Membership).where(Membership.project_id == project.id, Membership.user_id == user.id)
    )
    if membership is None:
        raise NotFound(f"`{username}` is not a member of project `{project_name}`")
    session.delete(membership)
    record_event(session, actor, "member.remove", "project", project.id, username=username)


def list_members(session: Session, actor: Actor, project_name: str) -> list[User]:
    """The users working on a project (admins only)."""
    require_admin(actor)
    project = get_project_or_raise(session, project_name)
    query = (
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.project_id == project.id)
        .order_by(User.username)
    )
    return list(session.scalars(query))


def membership(session: Session, project_id: int, user_id: int | None) -> Membership | None:
    """The user's membership of the project, if any."""
    if user_id is None:
        return None
    return session.scalar(select(Membership).where(Membership.project_id == project_id,
                                                   Membership.user_id == user_id))


def require_not_paused(actor: Actor, project: Project, member: Membership | None) -> None:
    """Forbidden when the actor is paused on the project."""
    if member is not None and member.paused:
        raise Forbidden(f"`{actor.username}` is paused on project `{project.name}`: an admin paused your work "
                        "here; ask them to resume it")


def prompt_preview(messages: list[Any] | None, chars: int = 120) -> str:
    """The start of a conversation's last user turn, on one line."""
    users = [m for m in messages or [] if isinstance(m, dict) and m.get("role") == "user"]
    text = " ".join(str(users[-1].get("content", "")).split()) if users else ""
    return text if len(text) <= chars else text[: chars - 1] + "…"
