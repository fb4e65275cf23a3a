"""The work queue: leases of one task (prompt + kind) to one labeler, fair and safe under concurrency.

Design constraints:
- **Counters.** `Prompt.<kind>_count` = active leases + human results that count (submitted or
  accepted). Every transition keeps it right: lease +1; expiry, skip and rejection -1; submit 0
  (the lease becomes the result). Imported work never touches it, so it never counts toward
  `labels_per_item`.
- **Picking** is one UPDATE of the counter whose subquery picks the prompt, walking the index
  (project_id, <kind>_count, id) from its head: fewest collected labels first, then the oldest
  prompt, `LIMIT 1`, no scan over all prompts. A project with `queue_order = uncertain-first` hands
  out ranking tasks by (ranking_count, rm_margin, id) instead: among prompts with the fewest labels,
  the one the reward model is least sure of first (services/scoring.py keeps `rm_margin`). Prompts
  this labeler already had for this kind are skipped through the unique (prompt_id, kind, user_id)
  index. Ranking tasks also need k_min
  candidates (an index probe per prompt looked at: prompts without candidates at the head of the
  queue are stepped over, so generate candidates before opening a project for ranking).
- **Concurrency.** SQLite: the caller's `session_scope(write=True)` begins with BEGIN IMMEDIATE, so
  writers are serialized. PostgreSQL: the pick is `FOR UPDATE SKIP LOCKED` (concurrent pickers take
  different rows, nobody waits) and the counter moves by a conditional UPDATE (`count < limit`),
  so a prompt can never be collected more than `labels_per_item` times. The same statements run on
  both: SQLite ignores the FOR UPDATE clauses. A labeler's own requests are serialized by locking
  their user row, so two browser tabs never hold two leases of the same kind.
- **Expiry is lazy**: `next_task` reclaims the project's expired leases (through the index on
  assignments (project_id, status, expires_at)) before it picks. `expire_leases` does the same on
  demand (CLI, cron).
- **Drafts survive expiry.** Saving a draft renews the lease. A labeler whose lease expired while a
  draft was open gets that same task back from `next_task` if the prompt still needs a label (the
  slot is taken again); otherwise the draft stays readable with `load_draft`, but cannot be submitted.
- Ranking tasks show between k_min and k_max candidates, a random sample in a random order, stored at
  lease time as a draft `Ranking` (display_order) with one `RankingItem` per candidate (position).
- **Gold** (services/gold.py): prompts marked gold for a kind never enter the normal pick (an index
  probe of gold_tasks (prompt_id, kind)); labelers get them as qualification or check tasks through
  `gold.gold_gate`, leased with `Assignment.gold` set and without touching the counters (expiry, skip
  and renewal leave the counters alone for gold leases). A gold ranking shows exactly the candidates
  of its expected ranking, in a random order. A paused member gets no task and cannot work on one.

Run next_task, skip_task and the submits in write sessions (`session_scope()`, the default);
get_task, load_draft and my_work only read.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, exists, func, select, update
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models import (
    TASK_KINDS,
    Assignment,
    Candidate,
    Demonstration,
    GoldTask,
    Membership,
    Project,
    Prompt,
    Ranking,
    RankingItem,
    User,
)
from labeler.errors import Conflict, Forbidden, Invalid, NotFound
from labeler.services.actors import Actor, require_role
from labeler.services.events import record_event
from labeler.services.gold import expected_ranks, gold_gate, next_gold
from labeler.services.projects import ProjectSettings, require_not_paused, settings_of
from labeler.services.submissions import LABELS

WORKER_ROLES = ("labeler", "reviewer", "admin")
RECLAIM_BATCH = 500  # expired leases reclaimed per next_task call: bounds the call's latency
_rng = random.SystemRandom()


@dataclass(frozen=True)
class TaskCandidate:
    """One candidate as shown in a ranking task."""

    candidate_id: int
    label: str  # "A", "B", ... in display order
    text: str


@dataclass(frozen=True)
class Task:
    """Everything a page needs to show one leased task."""

    assignment_id: int
    project: str
    kind: str  # "demonstration" | "ranking"
    prompt_id: int
    messages: list[dict]  # conversation so far, ends with a user turn
    candidates: list[TaskCandidate]  # ranking: K candidates in the stored display order; [] otherwise
    expires_at: datetime
    guidelines: str
    settings: ProjectSettings


def counter_column(kind: str):  # noqa: ANN201 - an ORM column attribute
    """The prompt's denormalized count for `kind`."""
    return Prompt.demonstration_count if kind == "demonstration" else Prompt.ranking_count


def require_worker(actor: Actor) -> None:
    """Labelers, reviewers and admins may work on tasks, but only as a real account."""
    require_role(actor, *WORKER_ROLES)
    if actor.id is None:
        raise Forbidden(f"`{actor.username}` is not a user account: log in as a user to work on tasks")


def _check_kind(project: Project, settings: ProjectSettings, kind: str) -> None:
    if kind not in TASK_KINDS:
        raise Invalid(f"unknown task kind `{kind}`: expected one of {', '.join(TASK_KINDS)}")
    if kind not in settings.task_kinds:
        enabled = ", ".join(f"`{k}`" for k in settings.task_kinds)
        raise Invalid(f"project `{project.name}` does not collect `{kind}` tasks (it collects {enabled})")


# ---------------------------------------------------------------------------------------------
# Leasing


def next_task(session: Session, actor: Actor, project_name: str, kind: str) -> Task | None:
    """The actor's open task of `kind` in the project, or a newly leased one; None when none is left."""
    require_worker(actor)
    project, member = _project_for_worker(session, actor, project_name)
    settings = settings_of(project)
    _check_kind(project, settings, kind)
    require_not_paused(actor, project, member)
    now = utcnow()
    own = _lock_user_and_find_lease(session, actor, project, kind, now)
    if own is not None:
        return build_task(session, own, project, settings)
    _reclaim(session, project.id, now, RECLAIM_BATCH)
    if kind == "demonstration" and (resumed := _resume_draft(session, actor, project, settings, now)):
        return build_task(session, resumed, project, settings)
    phase = gold_gate(session, actor, project, settings, member)
    leased = _lease_gold(session, actor, project, settings, kind, phase, now) if phase else None
    if leased is None and phase == "qualification":
        raise Conflict(f"you are qualifying for project `{project.name}` and no `{kind}` qualification task is left "
                       "for you: try the other task kind, or ask an admin to add gold tasks")
    if leased is None:
        leased = _lease_new(session, actor, project, settings, kind, now)
    if leased is None:
        return None
    assignment, messages, candidates = leased
    return _task(assignment, project, settings, messages, candidates)


def _project_for_worker(session: Session, actor: Actor, name: str) -> tuple[Project, Membership | None]:
    """Like projects.get_project_for, with the actor's membership, in one round trip (the queue's hot path)."""
    row = session.execute(
        select(Project, Membership)
        .outerjoin(Membership, (Membership.project_id == Project.id) & (Membership.user_id == actor.id))
        .where(Project.name == name)
    ).first()
    if row is None:
        raise NotFound(f"project `{name}` not found")
    if row[1] is None and not actor.is_admin:
        raise Forbidden(f"`{actor.username}` is not a member of project `{name}`")
    return row[0], row[1]


def _lock_user_and_find_lease(
    session: Session, actor: Actor, project: Project, kind: str, now: datetime
) -> Assignment | None:
    """Lock the user's row (serializing their own requests on PostgreSQL) and find their open lease."""
    row = session.execute(
        select(User.active, Assignment)
        .outerjoin(Assignment, (Assignment.user_id == User.id) & (Assignment.project_id == project.id)
                   & (Assignment.kind == kind) & (Assignment.status == "active") & (Assignment.expires_at > now))
        .where(User.id == actor.id)
        .order_by(Assignment.id.desc())
        .limit(1)
        .with_for_update(of=User)
    ).first()
    if row is None:
        raise NotFound(f"user `{actor.username}` not found")
    if not row[0]:
        raise Forbidden(f"`{actor.username}` is deactivated")
    return row[1]


def _resume_draft(
    session: Session, actor: Actor, project: Project, settings: ProjectSettings, now: datetime
) -> Assignment | None:
    """An expired lease of the actor's with an open draft, renewed if its prompt still needs a label."""
    stale = session.scalars(
        select(Assignment)
        .join(Demonstration, Demonstration.assignment_id == Assignment.id)
        .where(Demonstration.labeler_id == actor.id, Demonstration.status == "draft",
               Assignment.project_id == project.id, Assignment.status == "expired")
        .order_by(Assignment.id.desc())
        .limit(3)
        .with_for_update(of=Assignment)
    ).all()
    for assignment in stale:
        if renew_lease(session, assignment, settings, now):
            return assignment
    return None


def _lease_new(
    session: Session, actor: Actor, project: Project, settings: ProjectSettings, kind: str, now: datetime
) -> tuple[Assignment, list, list[TaskCandidate]] | None:
    """Lease the first eligible prompt (fewest labels, then oldest); None when none is eligible.

    One statement picks and counts: `UPDATE prompts SET n = n + 1 WHERE id = (SELECT ... ORDER BY n, id
    LIMIT 1 FOR UPDATE SKIP LOCKED) AND n < limit RETURNING ...` — the same SQL on both backends
    (SQLite drops the FOR UPDATE clause; its writers are serialized by BEGIN IMMEDIATE).
    """
    table = Prompt.__table__
    col = table.c[f"{kind}_count"]
    pick = (
        select(table.c.id)
        .where(
            table.c.project_id == project.id,
            col < settings.labels_per_item,
            ~exists().where(Assignment.prompt_id == table.c.id, Assignment.kind == kind,
                            Assignment.user_id == actor.id),
            ~exists().where(GoldTask.prompt_id == table.c.id, GoldTask.kind == kind),
            table.c.source_prompt_id.is_(None),  # paraphrases are never labeled (services/augment.py)
        )
        .order_by(*_pick_order(kind, settings, col))
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if kind == "ranking":
        n_candidates = select(func.count()).where(Candidate.prompt_id == table.c.id).scalar_subquery()
        pick = pick.where(n_candidates >= settings.k_min)
    row = session.execute(
        update(table)
        .where(table.c.id == pick.scalar_subquery(), col < settings.labels_per_item)
        .values({col: col + 1})
        .returning(table.c.id, table.c.messages)
    ).first()
    if row is None:
        return None
    assignment = Assignment(project_id=project.id, prompt_id=row.id, user_id=actor.id, kind=kind,
                            status="active", leased_at=now,
                            expires_at=now + timedelta(minutes=settings.lease_minutes))
    session.add(assignment)
    session.flush()
    candidates = _prepare_ranking(session, assignment, actor, settings) if kind == "ranking" else []
    return assignment, row.messages, candidates


def _pick_order(kind: str, settings: ProjectSettings, count_column):  # noqa: ANN001, ANN202 - SQL columns
    """Fewest labels first, always (overlap and fairness); then the oldest prompt, or under
    `uncertain-first` ranking the prompt whose two best candidates the routing reward model scores
    closest (`rm_margin`, index ix_prompts_queue_ranking_margin), then the oldest."""
    table = Prompt.__table__
    if kind == "ranking" and settings.queue_order == "uncertain-first":
        return count_column, table.c.rm_margin, table.c.id
    return count_column, table.c.id


def _lease_gold(
    session: Session, actor: Actor, project: Project, settings: ProjectSettings, kind: str, phase: str, now: datetime
) -> tuple[Assignment, list, list[TaskCandidate]] | None:
    """Lease the actor's next gold task of `kind` as a `phase` lease; the counters are not touched."""
    gold = next_gold(session, actor.id, project.id, kind)  # type: ignore[arg-type]
    if gold is None:
        return None
    messages = session.scalar(select(Prompt.messages).where(Prompt.id == gold.prompt_id))
    assignment = Assignment(project_id=project.id, prompt_id=gold.prompt_id, user_id=actor.id, kind=kind,
                            status="active", leased_at=now, gold=phase,
                            expires_at=now + timedelta(minutes=settings.lease_minutes))
    session.add(assignment)
    session.flush()
    candidates = (_prepare_ranking(session, assignment, actor, settings, only=expected_ranks(gold))
                  if kind == "ranking" else [])
    return assignment, messages or [], candidates


def _take_slot(session: Session, prompt_id: int, kind: str, limit: int) -> bool:
    """Count one more label on the prompt, atomically, only while it is below `limit`."""
    table = Prompt.__table__
    c = table.c[f"{kind}_count"]
    result = session.execute(update(table).where(table.c.id == prompt_id, c < limit).values({c: c + 1}))
    return result.rowcount == 1


def release_label(session: Session, prompt_id: int, kind: str, n: int = 1) -> None:
    """Give `n` labels of `kind` on a prompt back to the pool (expiry, skip, a rejected result).

    The review service calls this when it rejects a human demonstration or ranking.
    """
    table = Prompt.__table__
    c = table.c[f"{kind}_count"]
    session.execute(update(table).where(table.c.id == prompt_id).values({c: c - n}))


def _prepare_ranking(
    session: Session, assignment: Assignment, actor: Actor, settings: ProjectSettings, only: Collection[int] = ()
) -> list[TaskCandidate]:
    """Pick up to k_max candidates at random, in a random order, and store that order as a draft ranking.

    `only` (a gold ranking's candidates) shows exactly those, all of them, in a random order.
    """
    texts = dict(session.execute(
        select(Candidate.id, Candidate.text).where(Candidate.prompt_id == assignment.prompt_id)).all())
    if only:
        texts = {cid: text for cid, text in texts.items() if cid in only}
    k = len(texts) if only else min(len(texts), settings.k_max)
    shown = _rng.sample(sorted(texts), k)  # a random sample in random order
    session.add(Ranking(
        prompt_id=assignment.prompt_id, labeler_id=actor.id, assignment_id=assignment.id, status="draft",
        origin="human", display_order=shown,
        items=[RankingItem(candidate_id=cid, position=i) for i, cid in enumerate(shown)],
    ))
    session.flush()
    return [TaskCandidate(cid, LABELS[i], texts[cid]) for i, cid in enumerate(shown)]


def renew_lease(session: Session, assignment: Assignment, settings: ProjectSettings, now: datetime) -> bool:
    """Extend an open lease; take an expired one back if its prompt still needs a label."""
    until = now + timedelta(minutes=settings.lease_minutes)
    if assignment.status == "active":  # still holds its slot, even if past its expiry time
        assignment.expires_at = until
        return True
    if assignment.status == "expired" and (assignment.gold is not None or _take_slot(
        session, assignment.prompt_id, assignment.kind, settings.labels_per_item
    )):
        assignment.status, assignment.expires_at, assignment.finished_at = "active", until, None
        return True
    return False


# ---------------------------------------------------------------------------------------------
# Expiry


def expire_leases(session: Session, project_id: int | None = None) -> int:
    """Return every expired lease (of one project, or all) to the pool; the number reclaimed."""
    return _reclaim(session, project_id, utcnow(), None)


def _reclaim(session: Session, project_id: int | None, now: datetime, limit: int | None) -> int:
    query = (
        select(Assignment.id, Assignment.prompt_id, Assignment.kind, Assignment.gold)
        .where(Assignment.status == "active", Assignment.expires_at <= now)
        .order_by(Assignment.id)
        .with_for_update(skip_locked=True)  # a lease being submitted right now is not touched
    )
    if project_id is not None:
        query = query.where(Assignment.project_id == project_id)
    if limit is not None:
        query = query.limit(limit)
    rows = session.execute(query).all()
    if not rows:
        return 0
    table = Assignment.__table__
    session.execute(
        update(table).where(table.c.id.in_([r.id for r in rows])).values(status="expired", finished_at=now)
    )
    by_prompt = Counter((r.prompt_id, r.kind) for r in rows if r.gold is None)  # gold leases hold no slot
    for kind in TASK_KINDS:
        params = [{"pid": pid, "n": n} for (pid, k), n in sorted(by_prompt.items()) if k == kind]
        if params:
            p = Prompt.__table__
            c = p.c[f"{kind}_count"]
            session.execute(update(p).where(p.c.id == bindparam("pid")).values({c: c - bindparam("n")}), params)
    for obj in list(session.identity_map.values()):  # loaded rows may hold the old status and counts
        if isinstance(obj, (Assignment, Prompt)):
            session.expire(obj)
    return len(rows)


# ---------------------------------------------------------------------------------------------
# One leased task


def own_assignment(session: Session, actor: Actor, assignment_id: int, *, lock: bool = False) -> Assignment:
    """The actor's assignment `assignment_id` (row-locked on PostgreSQL when `lock`)."""
    return own_assignment_and_project(session, actor, assignment_id, lock=lock)[0]


def own_assignment_and_project(
    session: Session, actor: Actor, assignment_id: int, *, lock: bool = False
) -> tuple[Assignment, Project]:
    """The actor's assignment and its project, in one round trip; NotFound or Forbidden otherwise."""
    require_worker(actor)
    query = (
        select(Assignment, Project, Membership)
        .join(Project, Project.id == Assignment.project_id)
        .outerjoin(Membership, (Membership.project_id == Assignment.project_id) & (Membership.user_id == actor.id))
        .where(Assignment.id == assignment_id)
    )
    if lock:
        query = query.with_for_update(of=Assignment).execution_options(populate_existing=True)
    row = session.execute(query).first()
    if row is None:
        raise NotFound(f"task `{assignment_id}` not found")
    assignment, project, membership = row
    if assignment.user_id != actor.id:
        raise Forbidden(f"task `{assignment_id}` is leased to another labeler, not to `{actor.username}`")
    if membership is None and not actor.is_admin:
        raise Forbidden(f"`{actor.username}` is no longer a member of the project of task `{assignment_id}`")
    require_not_paused(actor, project, membership)
    return assignment, project


def require_open(assignment: Assignment, now: datetime | None = None) -> None:
    """Conflict unless the lease is active and unexpired."""
    now = now or utcnow()
    aid = assignment.id
    if assignment.status == "completed":
        raise Conflict(f"task `{aid}` was already submitted")
    if assignment.status == "released":
        raise Conflict(f"task `{aid}` was skipped")
    if assignment.status == "expired" or assignment.expires_at <= now:
        raise Conflict(
            f"your lease on task `{aid}` expired at {assignment.expires_at:%Y-%m-%d %H:%M} UTC: "
            "ask for the next task (an open draft comes back if the prompt still needs it)"
        )


def get_task(session: Session, actor: Actor, assignment_id: int) -> Task:
    """The actor's own active lease `assignment_id`, as a Task."""
    assignment, project = own_assignment_and_project(session, actor, assignment_id)
    require_open(assignment)
    return build_task(session, assignment, project, settings_of(project))


def build_task(session: Session, assignment: Assignment, project: Project, settings: ProjectSettings) -> Task:
    """Assemble the Task a page shows for a stored lease."""
    messages = session.scalar(select(Prompt.messages).where(Prompt.id == assignment.prompt_id))
    candidates: list[TaskCandidate] = []
    if assignment.kind == "ranking":
        order = session.scalar(select(Ranking.display_order).where(Ranking.assignment_id == assignment.id)) or []
        texts = dict(session.execute(select(Candidate.id, Candidate.text).where(Candidate.id.in_(order))).all())
        candidates = [TaskCandidate(cid, LABELS[i], texts[cid]) for i, cid in enumerate(order)]
    return _task(assignment, project, settings, messages or [], candidates)


def _task(assignment: Assignment, project: Project, settings: ProjectSettings, messages: list,
          candidates: list[TaskCandidate]) -> Task:
    return Task(
        assignment_id=assignment.id, project=project.name, kind=assignment.kind, prompt_id=assignment.prompt_id,
        messages=[dict(m) for m in messages], candidates=candidates, expires_at=assignment.expires_at,
        guidelines=project.guidelines, settings=settings,
    )


def skip_task(session: Session, actor: Actor, assignment_id: int, reason: str) -> None:
    """Give the task back with a reason; the prompt returns to the pool (never to this labeler)."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(f"a reason is required to skip task `{assignment_id}`")
    if len(reason) > 2000:
        raise Invalid(f"the reason to skip task `{assignment_id}` is too long: at most 2000 characters")
    assignment = own_assignment(session, actor, assignment_id, lock=True)
    if assignment.status == "completed":
        raise Conflict(f"task `{assignment_id}` was already submitted and cannot be skipped")
    if assignment.status == "released":
        return  # skipped twice (double click): nothing more to do
    if assignment.status == "active" and assignment.gold is None:  # a gold lease holds no slot
        release_label(session, assignment.prompt_id, assignment.kind)
    assignment.status, assignment.skip_reason, assignment.finished_at = "released", reason, utcnow()
    for model in (Demonstration, Ranking):
        session.execute(
            update(model.__table__)
            .where(model.__table__.c.assignment_id == assignment.id, model.__table__.c.status == "draft")
            .values(status="skipped", updated_at=utcnow())
        )
    record_event(session, actor, "task.skip", "assignment", assignment.id, prompt_id=assignment.prompt_id,
                 kind=assignment.kind, reason=reason[:200])
