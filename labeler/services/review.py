"""Review: reviewers and admins accept, reject (with a reason) or edit the work labelers submitted.

Design constraints:
- Reviewers and admins of the project only, and nobody reviews their own work (Forbidden).
- The review queue: submitted human work of the project, oldest submission first, never the reviewer's
  own. Gold rankings are left out (they are scored automatically); gold demonstrations are in, and the
  verdict becomes their gold score (services/gold.py). Reviewers may see that an item is gold;
  labelers never do.
- A verdict moves the work out of `submitted` with one conditional UPDATE (`... WHERE status =
  'submitted'`), so two reviewers never both review the same item: the second gets Conflict.
- Reject needs a reason; the prompt's label goes back to the pool (`queue.release_label`) and another
  labeler collects it (the same labeler never gets a prompt twice). A gold lease held no label, so a
  rejected gold result releases nothing.
- Edit (demonstrations only) replaces the turns, keeps the original in `Review.before`, and accepts.
- Every verdict is a `reviews` row and an event; labelers read their rejections, with the reason and
  the reviewer, through `my_rejections`.
- Reward-model scores (services/reward_models.py) are shown to reviewers beside a ranking, with how
  many of its pairs the model orders the other way; `order="rm-disagreement"` hands out the
  ranking the model disagrees with most first (share of its scored pairs, then count, then oldest).
  Labelers never see scores: their pages never call this module for their own tasks' candidates.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from itertools import combinations
from typing import Any

from sqlalchemy import Select, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from db.base import utcnow
from db.models import (
    TASK_KINDS,
    VERDICTS,
    Assignment,
    Candidate,
    Demonstration,
    GoldTask,
    Project,
    Prompt,
    Ranking,
    RankingItem,
    Review,
    User,
)
from labeler.errors import Conflict, Forbidden, Invalid, NotFound
from labeler.services.actors import Actor, require_role
from labeler.services.events import record_event
from labeler.services.gold import score_reviewed_result
from labeler.services.projects import get_project_for, is_member, prompt_preview
from labeler.services.queue import release_label, require_worker
from labeler.services.reward_models import candidate_scores, default_reward_model, ranking_disagreement
from labeler.services.submissions import LABELS, check_turns

REVIEWER_ROLES = ("reviewer", "admin")
ORDERS = ("oldest", "rm-disagreement")  # the review queue's orders
MAX_REASON_CHARS = 2000


@dataclass(frozen=True)
class ReviewRankItem:
    """One candidate of a ranking under review."""

    label: str  # A, B, ... as the labeler saw it
    candidate_id: int
    text: str
    rank: int | None
    likert: int | None
    flags: list[str]
    score: float | None = None  # the reward model's score (reviewers and admins only)


@dataclass(frozen=True)
class ReviewRecord:
    """One verdict given on a demonstration or a ranking."""

    id: int
    verdict: str  # accept | reject | edit
    reason: str
    reviewer: str | None
    at: datetime
    before: dict[str, Any] | None  # the original turns, for an edit


@dataclass(frozen=True)
class ReviewItem:
    """A piece of submitted work as a reviewer sees it."""

    kind: str  # demonstration | ranking
    work_id: int
    project: str
    prompt_id: int
    messages: list[dict]
    labeler: str | None
    submitted_at: datetime | None
    status: str
    turns: list[dict]  # demonstration: the turns written; [] for a ranking
    items: list[ReviewRankItem]  # ranking: candidates in rank order (unranked last); [] for a demonstration
    none_acceptable: bool
    comment: str
    seconds_spent: float
    gold: bool  # a gold task (reviewers may know; labelers never do)
    expected_turns: list[dict] | None  # a gold demonstration's exemplary turns
    history: list[ReviewRecord]
    reward_model: str | None = None  # whose scores `items` carry (a ranking; None: nothing scored)
    rm_pairs: int = 0  # the ranking's strictly ordered pairs with both replies scored
    rm_disagree: int = 0  # of those, pairs the reward model orders the other way


@dataclass(frozen=True)
class Rejection:
    """A labeler's rejected work, with the reviewer's reason."""

    kind: str
    work_id: int
    prompt_id: int
    preview: str
    reason: str
    reviewer: str | None
    at: datetime


def _model(kind: str) -> type[Demonstration] | type[Ranking]:
    if kind not in TASK_KINDS:
        raise Invalid(f"unknown work kind `{kind}`: expected one of {', '.join(TASK_KINDS)}")
    return Demonstration if kind == "demonstration" else Ranking


def _project_for_reviewer(session: Session, actor: Actor, project_name: str) -> Project:
    require_role(actor, *REVIEWER_ROLES)
    return get_project_for(session, actor, project_name)


def _pending(model: type[Demonstration] | type[Ranking], project_id: int, actor: Actor, *columns: Any) -> Select:
    """Submitted human work of the project that the actor may review (not their own, no gold ranking)."""
    query = (select(*columns).join(Prompt, Prompt.id == model.prompt_id)
             .where(Prompt.project_id == project_id, model.status == "submitted", model.origin == "human"))
    if actor.id is not None:
        query = query.where(or_(model.labeler_id.is_(None), model.labeler_id != actor.id))
    if model is Ranking:
        query = query.where(~exists().where(Assignment.id == Ranking.assignment_id, Assignment.gold.is_not(None)))
    return query


def next_review(session: Session, actor: Actor, project_name: str, kind: str | None = None,
                order: str = "oldest") -> ReviewItem | None:
    """The next submitted work the actor may review (of `kind`, or either); None when nothing waits.

    `order`: "oldest" (submission time) or "rm-disagreement" (rankings the reward model disagrees with most).
    """
    project = _project_for_reviewer(session, actor, project_name)
    if order not in ORDERS:
        raise Invalid(f"unknown review order `{order}`: expected one of {', '.join(ORDERS)}")
    if order == "rm-disagreement":
        return _most_disputed(session, actor, project, kind)
    oldest: tuple[datetime, int, str] | None = None
    for k in ([kind] if kind else list(TASK_KINDS)):
        model = _model(k)
        row = session.execute(
            _pending(model, project.id, actor, model.id, model.submitted_at)
            .order_by(model.submitted_at, model.id).limit(1)).first()
        if row is not None and (oldest is None or (row.submitted_at, row.id) < oldest[:2]):
            oldest = (row.submitted_at, row.id, k)
    if oldest is None:
        return None
    return _item(session, oldest[2], oldest[1], project)


def _most_disputed(session: Session, actor: Actor, project: Project, kind: str | None) -> ReviewItem | None:
    if kind == "demonstration":
        raise Invalid("the reward model's disagreement orders rankings: choose rankings to review")
    model = default_reward_model(session, project)
    if model is None:
        raise Invalid(f"no reward model has scored project `{project.name}` yet: run `labeler score --project "
                      f"{project.name} --reward-model DIR`, or review the oldest first")
    stats = ranking_disagreement(model, project.id)
    share = func.coalesce(stats.c.disagree * 1.0 / stats.c.pairs, -1.0)
    row = session.execute(
        _pending(Ranking, project.id, actor, Ranking.id).outerjoin(stats, stats.c.ranking_id == Ranking.id)
        .order_by(share.desc(), func.coalesce(stats.c.disagree, 0).desc(), Ranking.submitted_at, Ranking.id)
        .limit(1)).first()
    return None if row is None else _item(session, "ranking", row.id, project)


def review_counts(session: Session, actor: Actor, project_name: str) -> dict[str, int]:
    """How many items of each kind wait for the actor's review in a project."""
    project = _project_for_reviewer(session, actor, project_name)
    counts = {}
    for kind in TASK_KINDS:
        model = _model(kind)
        counts[kind] = session.scalar(_pending(model, project.id, actor, func.count(model.id))) or 0
    return counts


def get_review_item(session: Session, actor: Actor, kind: str, work_id: int) -> ReviewItem:
    """One piece of work as a reviewer sees it (reviewers and admins of its project)."""
    require_role(actor, *REVIEWER_ROLES)
    work, project = _work_and_project(session, kind, work_id)
    _require_project_access(session, actor, project)
    return _item(session, kind, work.id, project)


def _work_and_project(session: Session, kind: str, work_id: int) -> tuple[Any, Project]:
    model = _model(kind)
    row = session.execute(select(model, Project).join(Prompt, Prompt.id == model.prompt_id)
                          .join(Project, Project.id == Prompt.project_id).where(model.id == work_id)).first()
    if row is None:
        raise NotFound(f"{kind} `{work_id}` not found")
    return row[0], row[1]


def _require_project_access(session: Session, actor: Actor, project: Project) -> None:
    if not actor.is_admin and not is_member(session, project.id, actor.id):
        raise Forbidden(f"`{actor.username}` is not a member of project `{project.name}`")


def _item(session: Session, kind: str, work_id: int, project: Project) -> ReviewItem:
    model = _model(kind)
    work, messages, labeler, gold = session.execute(
        select(model, Prompt.messages, User.username, Assignment.gold)
        .join(Prompt, Prompt.id == model.prompt_id)
        .outerjoin(User, User.id == model.labeler_id)
        .outerjoin(Assignment, Assignment.id == model.assignment_id)
        .where(model.id == work_id)).one()
    expected = None
    if gold is not None and kind == "demonstration":
        stored = session.scalar(select(GoldTask.expected).where(GoldTask.prompt_id == work.prompt_id,
                                                                GoldTask.kind == kind))
        expected = [dict(t) for t in (stored or {}).get("turns", [])] or None
    ranking = kind == "ranking"
    items = _ranked_items(session, work.id) if ranking else []
    rm = default_reward_model(session, project) if ranking else None
    rm_pairs = rm_disagree = 0
    if rm is not None:
        scores = candidate_scores(session, rm, [it.candidate_id for it in items])
        items = [replace(it, score=scores.get(it.candidate_id)) for it in items]
        rm_pairs, rm_disagree = _disagreement(items)
    return ReviewItem(
        kind=kind, work_id=work.id, project=project.name, prompt_id=work.prompt_id,
        messages=[dict(m) for m in messages or []], labeler=labeler, submitted_at=work.submitted_at,
        status=work.status, turns=[] if ranking else [dict(t) for t in work.turns or []],
        items=items,
        none_acceptable=bool(work.none_acceptable) if ranking else False,
        comment=work.comment if ranking else "", seconds_spent=float(work.seconds_spent or 0.0),
        gold=gold is not None, expected_turns=expected, history=_history(session, kind, work.id),
        reward_model=rm, rm_pairs=rm_pairs, rm_disagree=rm_disagree,
    )


def _disagreement(items: list[ReviewRankItem]) -> tuple[int, int]:
    """(pairs ordered strictly with both scored, of those the ones the scores order the other way)."""
    pairs = disagree = 0
    for a, b in combinations([it for it in items if it.rank is not None and it.score is not None], 2):
        if a.rank == b.rank:
            continue
        better, worse = (a, b) if a.rank < b.rank else (b, a)  # type: ignore[operator]
        pairs += 1
        disagree += better.score < worse.score  # type: ignore[operator]
    return pairs, disagree


def _ranked_items(session: Session, ranking_id: int) -> list[ReviewRankItem]:
    rows = session.execute(
        select(RankingItem, Candidate.text).join(Candidate, Candidate.id == RankingItem.candidate_id)
        .where(RankingItem.ranking_id == ranking_id)).all()
    items = [ReviewRankItem(label=LABELS[item.position] if item.position is not None else "?",
                            candidate_id=item.candidate_id, text=text, rank=item.rank, likert=item.likert,
                            flags=list(item.flags or [])) for item, text in rows]
    return sorted(items, key=lambda it: (it.rank is None, it.rank or 0, it.label))


def _history(session: Session, kind: str, work_id: int) -> list[ReviewRecord]:
    target = Review.demonstration_id if kind == "demonstration" else Review.ranking_id
    reviewer = aliased(User)
    rows = session.execute(select(Review, reviewer.username).outerjoin(reviewer, reviewer.id == Review.reviewer_id)
                           .where(target == work_id).order_by(Review.created_at, Review.id)).all()
    return [ReviewRecord(id=r.id, verdict=r.verdict, reason=r.reason, reviewer=name, at=r.created_at,
                         before=dict(r.before) if r.before is not None else None) for r, name in rows]


def review_work(session: Session, actor: Actor, kind: str, work_id: int, verdict: str, reason: str = "",
                turns: list[dict] | None = None) -> int:
    """Accept, reject (a reason is required) or edit (demonstrations) one submitted work; the review's id."""
    require_role(actor, *REVIEWER_ROLES)
    if verdict not in VERDICTS:
        raise Invalid(f"unknown verdict `{verdict}`: expected one of {', '.join(VERDICTS)}")
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON_CHARS:
        raise Invalid(f"the reason is too long: at most {MAX_REASON_CHARS} characters")
    if verdict == "reject" and not reason:
        raise Invalid(f"a reason is required to reject {kind} `{work_id}`: the labeler reads it")
    model = _model(kind)
    work, project = _work_and_project(session, kind, work_id)
    _require_project_access(session, actor, project)
    if actor.id is not None and work.labeler_id == actor.id:
        raise Forbidden(f"{kind} `{work_id}` is `{actor.username}`'s own work: nobody reviews their own work")
    if work.origin != "human":
        raise Invalid(f"{kind} `{work_id}` was {work.origin}, not written by a labeler here: only human work is "
                      "reviewed")
    values: dict[str, Any] = {"status": "rejected" if verdict == "reject" else "accepted", "updated_at": utcnow()}
    before = None
    if verdict == "edit":
        if kind != "demonstration":
            raise Invalid("only demonstrations can be edited; accept or reject a ranking")
        values["turns"] = check_turns(turns, final=True)
        before = {"turns": [dict(t) for t in work.turns or []]}
    if work.status != "submitted":
        raise Conflict(f"{kind} `{work_id}` was already reviewed (it is {work.status})")
    table = model.__table__
    moved = session.execute(update(table).where(table.c.id == work_id, table.c.status == "submitted").values(values))
    if moved.rowcount != 1:  # another reviewer's verdict landed first
        raise Conflict(f"{kind} `{work_id}` was just reviewed by someone else")
    session.expire(work)
    review = Review(reviewer_id=actor.id, verdict=verdict, reason=reason, before=before,
                    demonstration_id=work_id if kind == "demonstration" else None,
                    ranking_id=work_id if kind == "ranking" else None)
    session.add(review)
    assignment = session.get(Assignment, work.assignment_id) if work.assignment_id is not None else None
    if assignment is not None and assignment.gold is not None:
        score_reviewed_result(session, actor, assignment, project, verdict)
    elif verdict == "reject":
        release_label(session, work.prompt_id, kind)  # back to the queue for someone else
    session.flush()
    record_event(session, actor, f"review.{verdict}", kind, work_id, review_id=review.id, prompt_id=work.prompt_id,
                 project=project.name, reason=reason[:200])
    return review.id


def review_history(session: Session, actor: Actor, kind: str, work_id: int) -> list[ReviewRecord]:
    """Every verdict on one work, oldest first (reviewers and admins of its project, and its labeler)."""
    require_worker(actor)
    work, project = _work_and_project(session, kind, work_id)
    if work.labeler_id is None or work.labeler_id != actor.id:
        require_role(actor, *REVIEWER_ROLES)
        _require_project_access(session, actor, project)
    return _history(session, kind, work_id)


def my_rejections(session: Session, actor: Actor, project_name: str) -> list[Rejection]:
    """The actor's rejected work in a project, newest verdict first, with the reason and the reviewer."""
    require_worker(actor)
    project = get_project_for(session, actor, project_name)
    reviewer = aliased(User)
    out: list[Rejection] = []
    for kind in TASK_KINDS:
        model = _model(kind)
        target = Review.demonstration_id if kind == "demonstration" else Review.ranking_id
        rows = session.execute(
            select(model.id, model.prompt_id, Prompt.messages, Review.reason, reviewer.username, Review.created_at)
            .join(Prompt, Prompt.id == model.prompt_id)
            .join(Review, (target == model.id) & (Review.verdict == "reject"))
            .outerjoin(reviewer, reviewer.id == Review.reviewer_id)
            .where(Prompt.project_id == project.id, model.labeler_id == actor.id, model.status == "rejected")
        ).all()
        out += [Rejection(kind=kind, work_id=wid, prompt_id=pid, preview=prompt_preview(messages), reason=reason,
                          reviewer=name, at=at) for wid, pid, messages, reason, name, at in rows]
    return sorted(out, key=lambda r: (r.at, r.work_id), reverse=True)
