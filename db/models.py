"""The data model (DESIGN.md "Data model"): typed SQLAlchemy 2 models with the rules as constraints.

Rules live in named constraints where the database can hold them, so that every writer (the app,
the CLI, a second app process, a script) obeys them: one content hash per project, one lease per
prompt, kind and labeler, one result per lease, ranks within 1..9, Likert within 1..7, ...
Enumerated values are short strings checked by CHECK constraints (portable, readable in SQL).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, utcnow

ROLES = ("admin", "reviewer", "labeler")
SPLITS = ("train", "valid", "test")
TASK_KINDS = ("demonstration", "ranking")
ORIGINS = ("human", "imported", "generated")
WORK_STATUSES = ("draft", "submitted", "accepted", "rejected", "skipped")
ASSIGNMENT_STATUSES = ("active", "completed", "released", "expired")
VERDICTS = ("accept", "reject", "edit")
# A gold lease is for qualification (before real work) or a check mixed into real work afterwards.
GOLD_PHASES = ("qualification", "check")
QUALIFICATION_STATUSES = ("pending", "qualified", "failed")
# Scope labels (services/scope.py): should a gatekeeper let the assistant answer this prompt?
SCOPE_LABELS = ("answerable", "off-limits")
# A paraphrased prompt (services/augment.py) waits for an admin to keep or reject it.
PARAPHRASE_STATUSES = ("pending", "kept", "rejected")
# prompts.rm_margin of a prompt the routing reward model has not scored (at least two candidates): far
# above any real score gap, so the uncertain-first queue order puts it behind every scored prompt.
UNSCORED_MARGIN = 1e9


def _one_of(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


class User(Base):
    """A person who logs in: admin, reviewer or labeler."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_one_of("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The user's own view settings (services.preferences keeps the allowed keys); `{}` = every default.
    preferences: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")


class LoginThrottle(Base):
    """Failed logins for one username (as typed) from one client (a hash of its address).

    The lockout lives here, per username and client, so that a stranger guessing elsewhere cannot lock
    a labeler out; unknown usernames are counted alike, so the replies never reveal which names exist.
    """

    __tablename__ = "login_throttles"
    __table_args__ = (
        UniqueConstraint("username", "client"),
        Index("ix_login_throttles_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginSession(Base):
    """A browser's login: only the SHA-256 of its random token is stored, with an expiry."""

    __tablename__ = "login_sessions"
    __table_args__ = (Index("ix_login_sessions_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class Project(Base):
    """A body of work: prompts, guidelines and the settings that shape labeling."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    guidelines: Mapped[str] = mapped_column(Text, default="")
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Membership(Base):
    """Which users work on which project, whether they are paused there, and their qualification."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("project_id", "user_id"),
        CheckConstraint(_one_of("qualification", QUALIFICATION_STATUSES), name="qualification"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A paused member gets no tasks in this project (an admin pauses and resumes).
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Outcome of the qualification set (services/gold.py); only consulted when the project asks for one.
    qualification: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    qualified_at: Mapped[datetime | None]
    qualification_score: Mapped[float | None] = mapped_column(Float)
    # Start of the current attempt: qualification results before it (an admin's reset) no longer count.
    qualification_since: Mapped[datetime | None]


class Prompt(Base):
    """A conversation so far (ending in a user turn) that needs a reply or a ranking."""

    __tablename__ = "prompts"
    __table_args__ = (
        UniqueConstraint("project_id", "content_hash"),
        CheckConstraint(_one_of("split", SPLITS), name="split"),
        CheckConstraint("demonstration_count >= 0 AND ranking_count >= 0", name="counts"),
        Index("ix_prompts_project_id_prefix_hash", "project_id", "prefix_hash"),
        Index("ix_prompts_project_id_origin_user", "project_id", "origin_user"),
        Index("ix_prompts_project_id_split_id", "project_id", "split", "id"),
        # The work queue: fewest collected labels first, then oldest.
        Index("ix_prompts_queue_demonstration", "project_id", "demonstration_count", "id"),
        Index("ix_prompts_queue_ranking", "project_id", "ranking_count", "id"),
        CheckConstraint(_one_of("scope", SCOPE_LABELS), name="scope"),  # NULL (not labelled) passes
        CheckConstraint(_one_of("paraphrase_status", PARAPHRASE_STATUSES), name="paraphrase_status"),
        Index("ix_prompts_project_id_scope_id", "project_id", "scope", "id"),
        # The `uncertain-first` ranking queue: fewest labels, then the reward model's smallest margin.
        Index("ix_prompts_queue_ranking_margin", "project_id", "ranking_count", "rm_margin", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    messages: Mapped[list[Any]]
    source: Mapped[str] = mapped_column(String(300), default="")
    external_id: Mapped[str | None] = mapped_column(String(300))
    origin_user: Mapped[str | None] = mapped_column(String(300))
    split: Mapped[str] = mapped_column(String(8), default="train")
    content_hash: Mapped[str] = mapped_column(String(32))
    prefix_hash: Mapped[str | None] = mapped_column(String(32))
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Denormalized counts of results collected (and leases held) per kind, kept by the services.
    demonstration_count: Mapped[int] = mapped_column(Integer, default=0)
    ranking_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The resolved scope label (services/scope.py resolves the ScopeLabel votes into it); NULL = none yet.
    scope: Mapped[str | None] = mapped_column(String(16))
    scope_reason: Mapped[str | None] = mapped_column(String(100))
    # A paraphrase (services/augment.py) points at the prompt it was written from; NULL for originals.
    source_prompt_id: Mapped[int | None] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"), index=True)
    paraphrase_status: Mapped[str | None] = mapped_column(String(16))
    # The routing reward model's score gap between this prompt's two best candidates (services/scoring.py);
    # UNSCORED_MARGIN until two of its candidates are scored, so that `queue_order = uncertain-first`
    # hands out scored prompts first and never walks past a million candidate-less prompts to find them.
    rm_margin: Mapped[float] = mapped_column(Float, default=UNSCORED_MARGIN, server_default=str(UNSCORED_MARGIN))

    candidates: Mapped[list[Candidate]] = relationship(back_populates="prompt", passive_deletes=True)


class Candidate(Base):
    """One assistant reply to a prompt: generated by a model, imported, or written by a person."""

    __tablename__ = "candidates"
    __table_args__ = (
        UniqueConstraint("prompt_id", "text_hash"),
        CheckConstraint(_one_of("origin", ORIGINS), name="origin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(32))
    origin: Mapped[str] = mapped_column(String(16))
    model: Mapped[str | None] = mapped_column(String(200))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    seed: Mapped[int | None]
    finish_reason: Mapped[str | None] = mapped_column(String(32))
    usage: Mapped[dict[str, Any]] = mapped_column(default=dict)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    prompt: Mapped[Prompt] = relationship(back_populates="candidates")


class CandidateScore(Base):
    """A reward model's score of one candidate (its prompt's conversation plus the reply).

    Keyed by the reward model (its resolved folder), so a newer reward model adds scores beside the
    old ones instead of replacing them.
    """

    __tablename__ = "candidate_scores"
    __table_args__ = (
        UniqueConstraint("reward_model", "candidate_id"),
        Index("ix_candidate_scores_candidate_id", "candidate_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    reward_model: Mapped[str] = mapped_column(String(500))
    score: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Assignment(Base):
    """A lease of one task (prompt + kind) to one labeler, until it expires: the queue's unit."""

    __tablename__ = "assignments"
    __table_args__ = (
        # Never the same prompt to the same labeler twice for the same kind.
        UniqueConstraint("prompt_id", "kind", "user_id"),
        CheckConstraint(_one_of("kind", TASK_KINDS), name="kind"),
        CheckConstraint(_one_of("status", ASSIGNMENT_STATUSES), name="status"),
        CheckConstraint(_one_of("gold", GOLD_PHASES), name="gold"),  # NULL (real work) passes
        Index("ix_assignments_user_id_status", "user_id", "status", "expires_at"),
        Index("ix_assignments_project_id_status_expires_at", "project_id", "status", "expires_at"),
        Index("ix_assignments_project_id_gold", "project_id", "gold", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")
    leased_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    skip_reason: Mapped[str | None] = mapped_column(Text)
    # Gold leases (services/gold.py) never touch the prompt counters and their results are never exported.
    gold: Mapped[str | None] = mapped_column(String(16))
    gold_score: Mapped[float | None] = mapped_column(Float)  # agreement with the expected answer, 0..1


class GoldTask(Base):
    """A prompt an admin marked as gold for one task kind, with the expected answer.

    `expected` is `{"ranks": {"<candidate_id>": rank}}` for a ranking and `{"turns": [...]}` (an
    exemplary demonstration) for a demonstration.
    """

    __tablename__ = "gold_tasks"
    __table_args__ = (
        UniqueConstraint("prompt_id", "kind"),
        CheckConstraint(_one_of("kind", TASK_KINDS), name="kind"),
        Index("ix_gold_tasks_project_id_kind_id", "project_id", "kind", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    expected: Mapped[dict[str, Any]]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScopeLabel(Base):
    """One person's scope label on a prompt: answerable or off-limits, with an optional reason.

    Every labeler's vote is kept (one per prompt and person, changed in place); `by_admin` marks an
    admin's decision, which wins the resolution into `prompts.scope` (services/scope.py); a prompt
    holds at most one, the latest. `user_id` is NULL for the CLI operator (and once a user is deleted).
    """

    __tablename__ = "scope_labels"
    __table_args__ = (
        UniqueConstraint("prompt_id", "user_id"),
        CheckConstraint(_one_of("label", SCOPE_LABELS), name="label"),
        Index("ix_scope_labels_project_id_user_id", "project_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    label: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(100))
    by_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Demonstration(Base):
    """The turns a labeler (or an imported source) wrote after a prompt's conversation."""

    __tablename__ = "demonstrations"
    __table_args__ = (
        CheckConstraint(_one_of("status", WORK_STATUSES), name="status"),
        CheckConstraint(_one_of("origin", ORIGINS), name="origin"),
        CheckConstraint("seconds_spent >= 0", name="seconds_spent"),
        UniqueConstraint("assignment_id"),  # one result per lease: a double submit stores one
        Index("ix_demonstrations_prompt_id_status", "prompt_id", "status"),
        Index("ix_demonstrations_labeler_id_status", "labeler_id", "status"),
        Index("ix_demonstrations_status_submitted_at", "status", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    labeler_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id", ondelete="SET NULL"))
    turns: Mapped[list[Any]]
    suggestion: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    origin: Mapped[str] = mapped_column(String(16), default="human")
    source: Mapped[str | None] = mapped_column(String(300))
    seconds_spent: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None]


class Ranking(Base):
    """One labeler's (or an imported source's) ordering of a prompt's candidates."""

    __tablename__ = "rankings"
    __table_args__ = (
        CheckConstraint(_one_of("status", WORK_STATUSES), name="status"),
        CheckConstraint(_one_of("origin", ORIGINS), name="origin"),
        CheckConstraint("seconds_spent >= 0", name="seconds_spent"),
        UniqueConstraint("assignment_id"),
        Index("ix_rankings_prompt_id_status", "prompt_id", "status"),
        Index("ix_rankings_labeler_id_status", "labeler_id", "status"),
        Index("ix_rankings_status_submitted_at", "status", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    labeler_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    origin: Mapped[str] = mapped_column(String(16), default="human")
    source: Mapped[str | None] = mapped_column(String(300))
    # Candidate ids in the (random) order they were shown, to measure position bias.
    display_order: Mapped[list[Any]] = mapped_column(default=list)
    none_acceptable: Mapped[bool] = mapped_column(Boolean, default=False)
    comment: Mapped[str] = mapped_column(Text, default="")
    seconds_spent: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None]
    # Imported rankings: `time` says whether `submitted_at` is the source's ("source") or the import's
    # ("import"); `margins` lists [better candidate id, worse candidate id, margin] a source gave.
    meta: Mapped[dict[str, Any] | None] = mapped_column(default=None)

    items: Mapped[list[RankingItem]] = relationship(
        back_populates="ranking", cascade="all, delete-orphan", passive_deletes=True
    )


class RankingItem(Base):
    """One candidate's place in a ranking: rank (1 = best, equal = tie), Likert score, flags."""

    __tablename__ = "ranking_items"
    __table_args__ = (
        UniqueConstraint("ranking_id", "candidate_id"),
        CheckConstraint("rank IS NULL OR (rank >= 1 AND rank <= 9)", name="rank"),
        CheckConstraint("likert IS NULL OR (likert >= 1 AND likert <= 10)", name="likert"),
        Index("ix_ranking_items_candidate_id", "candidate_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ranking_id: Mapped[int] = mapped_column(ForeignKey("rankings.id", ondelete="CASCADE"))
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    rank: Mapped[int | None]
    likert: Mapped[int | None]
    flags: Mapped[list[Any]] = mapped_column(default=list)
    position: Mapped[int | None]  # 0-based place on screen

    ranking: Mapped[Ranking] = relationship(back_populates="items")


class Review(Base):
    """A reviewer's verdict on one demonstration or one ranking."""

    __tablename__ = "reviews"
    __table_args__ = (
        CheckConstraint(_one_of("verdict", VERDICTS), name="verdict"),
        CheckConstraint(
            "(demonstration_id IS NULL) <> (ranking_id IS NULL)", name="exactly_one_target"
        ),
        Index("ix_reviews_demonstration_id", "demonstration_id"),
        Index("ix_reviews_ranking_id", "ranking_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    demonstration_id: Mapped[int | None] = mapped_column(
        ForeignKey("demonstrations.id", ondelete="CASCADE")
    )
    ranking_id: Mapped[int | None] = mapped_column(ForeignKey("rankings.id", ondelete="CASCADE"))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    verdict: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    before: Mapped[dict[str, Any] | None] = mapped_column(default=None)  # original, for edits
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Export(Base):
    """A training set written to disk: enough to reproduce it and to verify its files."""

    __tablename__ = "exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="SET NULL"))
    format: Mapped[str] = mapped_column(String(64))
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    files: Mapped[dict[str, Any]] = mapped_column(default=dict)  # name -> sha256
    path: Mapped[str] = mapped_column(Text)
    tool_version: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FinetuneJob(Base):
    """A fine-tune job launched on an OpenAI-compatible API (mirrored locally) or run here with TRL."""

    __tablename__ = "finetune_jobs"
    __table_args__ = (UniqueConstraint("provider_job_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="SET NULL"))
    export_id: Mapped[int | None] = mapped_column(ForeignKey("exports.id", ondelete="SET NULL"))
    provider_job_id: Mapped[str] = mapped_column(String(200))
    # `openai`: any OpenAI-compatible fine-tuning API; `local`: `labeler train` (TRL, in its own process).
    provider: Mapped[str] = mapped_column(String(32), default="openai", server_default="openai")
    base_url: Mapped[str | None] = mapped_column(Text)
    base_model: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(32), default="supervised")
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    training_file_id: Mapped[str | None] = mapped_column(String(200))
    validation_file_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(32), default="created")
    fine_tuned_model: Mapped[str | None] = mapped_column(String(300))
    events: Mapped[list[Any]] = mapped_column(default=list)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Event(Base):
    """Audit log: who did what to which object, when. Never holds secrets."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_object_type_object_id", "object_type", "object_id"),
        Index("ix_events_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[int | None]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
