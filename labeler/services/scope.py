"""Scope labels: is a prompt one the assistant should answer ("answerable") or not ("off-limits")?

A project turns them on with the setting `scope_labels` (and names the reason categories an
off-limits label may carry in `scope_reasons`). They train a gatekeeper classifier (export formats
`classification` and `classification-openai`).

Design constraints:
- Labelers set a label while they work, only on a prompt they hold an open lease on
  (`set_scope`); admins set labels on many prompts at once, by ids or by a filter (`bulk_set_scope`).
- Every vote is kept (`scope_labels`: one row per prompt and labeler, changed in place), and the
  resolved label is stored on the prompt (`prompts.scope`, `prompts.scope_reason`) so that exports
  and the queue read one column.
- Resolution, redone after every change to a prompt's votes:
  1. an admin's label wins (a prompt holds at most one admin decision: the latest replaces it);
  2. otherwise the majority of the labelers' votes;
  3. a tie leaves the prompt unresolved (NULL: not exported, listed as disputed) until someone
     else votes or an admin decides.
  The reason is the most frequent reason among the votes for the winning label (an admin's own
  reason when an admin decided); a tie between reasons keeps the one given first.
- A reason is only for an off-limits label, and must be one of the project's `scope_reasons`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models import SCOPE_LABELS, Project, Prompt, ScopeLabel
from exports.classification import ScopeRow
from labeler.errors import Invalid, NotFound
from labeler.services.actors import Actor, require_admin, require_role
from labeler.services.events import record_event
from labeler.services.projects import (
    ProjectSettings,
    get_project_for,
    get_project_or_raise,
    prompt_preview,
    settings_of,
)
from labeler.services.queue import own_assignment_and_project, require_open

BULK_CHUNK = 500  # prompts labelled per round trip in a bulk change
MAX_BULK = 100_000  # most prompts one bulk change may touch


@dataclass(frozen=True)
class ScopeVote:
    """One person's label on a prompt."""

    label: str
    reason: str | None
    by_admin: bool


@dataclass(frozen=True)
class ScopeEntry:
    """A prompt's resolved scope label with the votes behind it (for `scope list`)."""

    prompt_id: int
    preview: str
    split: str
    label: str | None  # None: no vote yet, or a tie
    reason: str | None
    votes: dict[str, int] = field(default_factory=dict)  # label -> labelers' votes
    admin: str | None = None  # the admin's decision, if any
    disputed: bool = False  # labelers disagree (whatever the resolution)


@dataclass(frozen=True)
class ScopeFilter:
    """Which prompts a bulk change touches; empty means all of the project's prompts."""

    splits: Sequence[str] = ()
    source: str | None = None  # the import source, exactly
    unlabeled_only: bool = False  # only prompts with no resolved label yet


def _check_label(settings: ProjectSettings, label: str, reason: str | None) -> str | None:
    if label not in SCOPE_LABELS:
        raise Invalid(f"scope label `{label}`: expected one of {', '.join(SCOPE_LABELS)}")
    reason = (reason or "").strip() or None
    if reason is None:
        return None
    if label != "off-limits":
        raise Invalid(f"a reason (`{reason}`) goes only with an `off-limits` label, not with `{label}`")
    if reason not in settings.scope_reasons:
        known = ", ".join(f"`{r}`" for r in settings.scope_reasons) or "none (the project names no reasons)"
        raise Invalid(f"scope reason `{reason}` is not one of the project's reasons: {known}")
    return reason


def _require_enabled(project: Project, settings: ProjectSettings) -> None:
    if not settings.scope_labels:
        raise Invalid(f"project `{project.name}` does not collect scope labels (setting `scope_labels` is off)")


# ---------------------------------------------------------------------------------------------
# Labelers


def set_scope(session: Session, actor: Actor, assignment_id: int, label: str | None,
              reason: str | None = None) -> str | None:
    """Set (or, with `label=None`, withdraw) the actor's scope label on the prompt of their open lease.

    Returns the prompt's resolved label afterwards.
    """
    assignment, project = own_assignment_and_project(session, actor, assignment_id)
    require_open(assignment)
    settings = settings_of(project)
    _require_enabled(project, settings)
    prompt_id = assignment.prompt_id
    _lock_prompts(session, [prompt_id])
    own = session.scalar(select(ScopeLabel).where(ScopeLabel.prompt_id == prompt_id,
                                                  ScopeLabel.user_id == actor.id))
    if label is None:
        if own is not None:
            session.delete(own)
    else:
        reason = _check_label(settings, label, reason)
        if actor.is_admin:  # an admin working a task decides for the prompt, as in a bulk change
            _admin_decides(session, actor, project.id, [prompt_id], label, reason)
            own = None
        elif own is None:
            session.add(ScopeLabel(project_id=project.id, prompt_id=prompt_id, user_id=actor.id, label=label,
                                   reason=reason, by_admin=False))
        else:
            own.label, own.reason, own.updated_at = label, reason, utcnow()
    session.flush()
    resolved = _resolve(session, [prompt_id])[prompt_id]
    record_event(session, actor, "scope.set", "prompt", prompt_id, label=label, reason=reason,
                 assignment_id=assignment_id, resolved=resolved)
    return resolved


def my_scope(session: Session, actor: Actor, assignment_id: int) -> ScopeVote | None:
    """The actor's own label on the prompt of their lease (to show it again), or None."""
    assignment, _ = own_assignment_and_project(session, actor, assignment_id)
    row = session.execute(select(ScopeLabel.label, ScopeLabel.reason, ScopeLabel.by_admin).where(
        ScopeLabel.prompt_id == assignment.prompt_id, ScopeLabel.user_id == actor.id)).first()
    return ScopeVote(*row) if row is not None else None


# ---------------------------------------------------------------------------------------------
# Admins


def bulk_set_scope(
    session: Session, actor: Actor, project_name: str, label: str, reason: str | None = None, *,
    prompt_ids: Sequence[int] | None = None, where: ScopeFilter | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Decide the scope label of many prompts at once (admins only): by ids, or by a filter.

    An admin's decision wins over the labelers' votes (which are kept). Returns the number of
    prompts labelled. Unknown ids, or ids of another project, fail the whole change. `progress(done,
    total)` is called after each chunk.
    """
    require_admin(actor)
    project = get_project_or_raise(session, project_name)
    reason = _check_label(settings_of(project), label, reason)
    if prompt_ids is not None and where is not None:
        raise Invalid("give prompt ids or a filter, not both")
    if prompt_ids is not None:
        ids = sorted(set(prompt_ids))
        if not ids:
            raise Invalid("no prompt ids given")
        found: set[int] = set()
        for chunk in _chunks(ids):
            found.update(session.scalars(select(Prompt.id).where(Prompt.project_id == project.id,
                                                                 Prompt.id.in_(chunk))))
        missing = [i for i in ids if i not in found]
        if missing:
            shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
            raise NotFound(f"prompt(s) {shown} not found in project `{project.name}`")
    else:
        where = where or ScopeFilter()
        query = select(Prompt.id).where(Prompt.project_id == project.id)
        if where.splits:
            query = query.where(Prompt.split.in_(list(where.splits)))
        if where.source is not None:
            query = query.where(Prompt.source == where.source)
        if where.unlabeled_only:
            query = query.where(Prompt.scope.is_(None))
        ids = list(session.scalars(query.order_by(Prompt.id).limit(MAX_BULK + 1)))
        if len(ids) > MAX_BULK:
            raise Invalid(f"the filter selects more than {MAX_BULK:,} prompts: narrow it (split, source)")
    if len(ids) > MAX_BULK:
        raise Invalid(f"{len(ids):,} prompt ids: at most {MAX_BULK:,} in one change")
    done = 0
    for chunk in _chunks(ids):
        _lock_prompts(session, chunk)
        _admin_decides(session, actor, project.id, chunk, label, reason)
        session.flush()
        _resolve(session, chunk)
        done += len(chunk)
        if progress is not None:
            progress(done, len(ids))
    record_event(session, actor, "scope.bulk_set", "project", project.id, label=label, reason=reason,
                 prompts=len(ids), by_ids=prompt_ids is not None,
                 filter=None if prompt_ids is not None else _filter_details(where))
    return len(ids)


def list_scope(
    session: Session, actor: Actor, project_name: str, *, label: str | None = None, disputed: bool = False,
    limit: int = 100,
) -> list[ScopeEntry]:
    """Prompts with scope votes, their resolved label and the votes (admins and reviewers).

    `label` keeps prompts resolved to it (`"none"`: unresolved); `disputed` keeps prompts whose
    labelers disagree.
    """
    require_role(actor, "admin", "reviewer")
    project = get_project_for(session, actor, project_name)
    if label is not None and label not in (*SCOPE_LABELS, "none"):
        raise Invalid(f"scope label `{label}`: expected one of {', '.join(SCOPE_LABELS)} or none")
    voted = select(ScopeLabel.prompt_id).where(ScopeLabel.project_id == project.id)
    query = select(Prompt.id, Prompt.messages, Prompt.split, Prompt.scope, Prompt.scope_reason).where(
        Prompt.project_id == project.id, (Prompt.scope.is_not(None)) | Prompt.id.in_(voted))
    if label == "none":
        query = query.where(Prompt.scope.is_(None))
    elif label is not None:
        query = query.where(Prompt.scope == label)
    if disputed:
        split_votes = (select(ScopeLabel.prompt_id).where(ScopeLabel.project_id == project.id,
                                                          ScopeLabel.by_admin.is_(False))
                       .group_by(ScopeLabel.prompt_id).having(func.count(func.distinct(ScopeLabel.label)) > 1))
        query = query.where(Prompt.id.in_(split_votes))
    rows = session.execute(query.order_by(Prompt.id).limit(max(1, min(limit, 10_000)))).all()
    votes = _votes(session, [r[0] for r in rows])
    out = []
    for pid, messages, split, scope, reason in rows:
        counts = Counter(v.label for v in votes.get(pid, []) if not v.by_admin)
        admin = next((v.label for v in votes.get(pid, []) if v.by_admin), None)
        out.append(ScopeEntry(prompt_id=pid, preview=prompt_preview(messages), split=split, label=scope,
                              reason=reason, votes=dict(sorted(counts.items())), admin=admin,
                              disputed=len(counts) > 1))
    return out


def scope_counts(session: Session, actor: Actor, project_name: str) -> dict[str, int]:
    """Prompts per resolved label (and `none`), for the admin's overview."""
    require_role(actor, "admin", "reviewer")
    project = get_project_for(session, actor, project_name)
    rows = session.execute(select(Prompt.scope, func.count()).where(Prompt.project_id == project.id)
                           .group_by(Prompt.scope)).all()
    counts = {label: 0 for label in (*SCOPE_LABELS, "none")}
    for scope, n in rows:
        counts[scope or "none"] = n
    return counts


# ---------------------------------------------------------------------------------------------
# Export rows


def scope_rows(session: Session, project_id: int, splits: Sequence[str] = (), chunk: int = 2000) -> Iterator[ScopeRow]:
    """Prompts with a resolved scope label, by id, streamed (the `classification` formats' rows).

    Paraphrases waiting for review or rejected (`paraphrase_status` pending or rejected) are left out.
    """
    query = select(Prompt.id, Prompt.split, Prompt.messages, Prompt.scope, Prompt.scope_reason).where(
        Prompt.project_id == project_id, Prompt.scope.is_not(None),
        Prompt.paraphrase_status.is_(None) | (Prompt.paraphrase_status == "kept"))
    if splits:
        query = query.where(Prompt.split.in_(list(splits)))
    rows = session.connection().execute(query.order_by(Prompt.id), execution_options={"yield_per": chunk})
    for pid, split, messages, label, reason in rows:
        yield ScopeRow(prompt_id=pid, split=split, messages=messages, label=label, reason=reason)


# ---------------------------------------------------------------------------------------------
# Resolution


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for i in range(0, len(ids), BULK_CHUNK):
        yield list(ids[i:i + BULK_CHUNK])


def _lock_prompts(session: Session, prompt_ids: list[int]) -> None:
    """Row-lock the prompts (PostgreSQL; SQLite's writers are serialized already), in id order.

    Votes on one prompt are then counted one change at a time: two labelers voting at once cannot
    each resolve from a view that lacks the other's vote.
    """
    session.execute(select(Prompt.id).where(Prompt.id.in_(prompt_ids)).order_by(Prompt.id).with_for_update())


def _filter_details(where: ScopeFilter | None) -> dict[str, object]:
    where = where or ScopeFilter()
    return {"splits": list(where.splits), "source": where.source, "unlabeled_only": where.unlabeled_only}


def _admin_decides(session: Session, actor: Actor, project_id: int, prompt_ids: list[int], label: str,
                   reason: str | None) -> None:
    """Replace any admin decision on these prompts by the actor's (a labeler's own vote is kept)."""
    if actor.id is not None:
        session.execute(delete(ScopeLabel).where(ScopeLabel.prompt_id.in_(prompt_ids),
                                                 ScopeLabel.user_id == actor.id))
    session.execute(delete(ScopeLabel).where(ScopeLabel.prompt_id.in_(prompt_ids), ScopeLabel.by_admin.is_(True)))
    now = utcnow()
    session.add_all([ScopeLabel(project_id=project_id, prompt_id=pid, user_id=actor.id, label=label, reason=reason,
                                by_admin=True, created_at=now, updated_at=now) for pid in prompt_ids])


def _votes(session: Session, prompt_ids: list[int]) -> dict[int, list[ScopeVote]]:
    out: dict[int, list[ScopeVote]] = {}
    for chunk in _chunks(prompt_ids):
        rows = session.execute(select(ScopeLabel.prompt_id, ScopeLabel.label, ScopeLabel.reason, ScopeLabel.by_admin)
                               .where(ScopeLabel.prompt_id.in_(chunk)).order_by(ScopeLabel.id))
        for pid, label, reason, by_admin in rows:
            out.setdefault(pid, []).append(ScopeVote(label, reason, by_admin))
    return out


def resolve_votes(votes: Sequence[ScopeVote]) -> tuple[str | None, str | None]:
    """`(label, reason)` from a prompt's votes, in the order they were given (see the module notes)."""
    admin = [v for v in votes if v.by_admin]
    if admin:
        return admin[-1].label, admin[-1].reason
    counts = Counter(v.label for v in votes)
    if not counts:
        return None, None
    ranked = counts.most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return None, None  # a tie: wait for another vote or an admin
    label = ranked[0][0]
    reasons = Counter(v.reason for v in votes if v.label == label and v.reason)
    reason = reasons.most_common(1)[0][0] if reasons else None  # Counter keeps first-seen order on ties
    return label, reason


def _resolve(session: Session, prompt_ids: list[int]) -> dict[int, str | None]:
    """Store the resolved label of each prompt; returns it."""
    votes = _votes(session, prompt_ids)
    by_value: dict[tuple[str | None, str | None], list[int]] = {}
    for pid in prompt_ids:
        by_value.setdefault(resolve_votes(votes.get(pid, [])), []).append(pid)
    for (label, reason), ids in by_value.items():  # a bulk change is one UPDATE per distinct outcome
        session.execute(update(Prompt).where(Prompt.id.in_(ids)).values(scope=label, scope_reason=reason)
                        .execution_options(synchronize_session=False))
    return {pid: label for (label, _), ids in by_value.items() for pid in ids}


__all__ = [
    "ScopeEntry", "ScopeFilter", "ScopeVote", "bulk_set_scope", "list_scope", "my_scope", "resolve_votes",
    "scope_counts", "scope_rows", "set_scope",
]
