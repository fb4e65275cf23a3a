"""Gold tasks and qualification: expected answers, scores against them, and who may receive real work.

Design constraints:
- **Gold is set apart.** The normal queue never leases a prompt that is gold for that kind, and a gold
  lease (`Assignment.gold` = "qualification" or "check") never touches the prompt counters, so gold
  results never count toward `labels_per_item`. Exports leave gold results out; the review queue leaves
  gold rankings out (they are scored automatically).
- **Labelers never learn that a task is gold**: a gold task is an ordinary `Task`; only admins and
  reviewers see gold. Only the labeler role gets gold (reviewers and admins are the experts who write it).
- Every labeler gets each gold task at most once (the unique assignment per prompt, kind and labeler),
  in the order the gold tasks were marked, so the qualification set is the same for everyone.
- **Qualification** (when the project's `qualification_tasks` N > 0): a labeler whose membership is not
  `qualified` gets only qualification gold until N are done; the mean score of those decides: at least
  `qualification_threshold` qualifies, below it fails (no real work until an admin resets or grants).
  Demonstration gold has no automatic score: the reviewer's verdict gives it (accept 1, edit 0.5,
  reject 0), and the outcome waits for it.
- **Checks**: once qualified, each new task is a gold check with probability `gold_rate` (drawn from
  `GOLD_RNG`, which tests seed), scoring every labeler continuously. A labeler is *slipping* when the mean
  of their last `slipping_window` check scores (at least MIN_SLIPPING_RESULTS of them) is below
  `slipping_threshold`.
- The queue's hot path stays on indexes: the gate reads the membership row the queue already loaded; the
  next gold task walks `gold_tasks (project_id, kind, id)`, probing the labeler's assignments through the
  unique (prompt_id, kind, user_id) index.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models import TASK_KINDS, Assignment, Candidate, GoldTask, Membership, Project, Prompt, User
from labeler.errors import Conflict, Forbidden, Invalid, NotFound
from labeler.services.actors import Actor, require_admin, require_role
from labeler.services.auth import get_user_or_raise
from labeler.services.events import record_event
from labeler.services.projects import (
    ProjectSettings,
    get_project_for,
    get_project_or_raise,
    membership,
    prompt_preview,
    settings_of,
)
from labeler.services.submissions import check_turns, rank_inconsistency

GOLD_RNG = random.Random()  # draws the gold checks; tests seed it (GOLD_RNG.seed(1)) for a fixed sequence
MIN_SLIPPING_RESULTS = 5
REVIEW_SCORES = {"accept": 1.0, "edit": 0.5, "reject": 0.0}  # a reviewer's verdict as a gold demonstration's score
MAX_RANKED = 9


# ---------------------------------------------------------------------------------------------
# Scoring


def ranking_agreement(expected: Mapping[int, int], given: Mapping[int, int | None]) -> float:
    """Pairwise agreement of a labeler's ranks with the expected ranks, 0..1 (1 = the same order).

    Every pair of candidates in the expected ranking counts once. A pair scores 1 when the labeler
    relates it the same way (the same one better, or both tied), 0 when the other way round or when
    either candidate is left unranked (e.g. "none acceptable"), and 0.5 when exactly one side ties
    the pair (a tie neither agrees with nor contradicts a strict order). The score is the mean.
    """
    pairs = list(combinations(sorted(expected), 2))
    if not pairs:
        raise Invalid("a gold ranking needs at least two ranked candidates")
    total = 0.0
    for a, b in pairs:
        ga, gb = given.get(a), given.get(b)
        if ga is None or gb is None:
            continue
        want, got = _sign(expected[a] - expected[b]), _sign(ga - gb)
        if want == got:
            total += 1.0
        elif want == 0 or got == 0:
            total += 0.5
    return total / len(pairs)


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


def expected_ranks(gold: GoldTask) -> dict[int, int]:
    """The expected ranks of a gold ranking, by candidate id."""
    return {int(cid): int(rank) for cid, rank in (gold.expected.get("ranks") or {}).items()}


# ---------------------------------------------------------------------------------------------
# The queue's side: the gate, the next gold task, results


def gold_gate(session: Session, actor: Actor, project: Project, settings: ProjectSettings,
              member: Membership | None) -> str | None:
    """The gold phase the actor's next task must come from ("qualification" or "check"), or None for real work.

    Raises Forbidden for a failed qualification and Conflict while a finished qualification waits for review.
    """
    if member is None or actor.role != "labeler":
        return None
    n = settings.qualification_tasks
    if n > 0 and member.qualification != "qualified":
        if member.qualification == "pending":
            results = qualification_results(session, member)
            if len(results) < n:
                return "qualification"
            evaluate_qualification(session, actor, member, settings, project.name)
        if member.qualification == "failed":
            raise Forbidden(_failed_message(actor.username, project.name, member, settings))
        if member.qualification == "pending":
            waiting = sum(1 for score in qualification_results(session, member) if score is None)
            raise Conflict(f"your qualification for project `{project.name}` is complete: waiting for a reviewer "
                           f"to check {waiting} demonstration(s); real work starts once you pass")
    if settings.gold_rate > 0 and GOLD_RNG.random() < settings.gold_rate:
        return "check"
    return None


def _failed_message(username: str, project: str, member: Membership, settings: ProjectSettings) -> str:
    score = "" if member.qualification_score is None else f" (score {member.qualification_score:.0%}, "
    score += f"{settings.qualification_threshold:.0%} needed)" if score else ""
    return (f"`{username}` did not pass the qualification for project `{project}`{score}: "
            "there is no work here for you until an admin resets your qualification")


def next_gold(session: Session, user_id: int, project_id: int, kind: str) -> GoldTask | None:
    """The first gold task of `kind` (in marking order) the user has never had."""
    return session.scalar(
        select(GoldTask)
        .where(GoldTask.project_id == project_id, GoldTask.kind == kind,
               ~exists().where(Assignment.prompt_id == GoldTask.prompt_id, Assignment.kind == kind,
                               Assignment.user_id == user_id))
        .order_by(GoldTask.id)
        .limit(1)
    )


def qualification_results(session: Session, member: Membership) -> list[float | None]:
    """Scores of the member's finished qualification tasks in the current attempt (None: not scored yet)."""
    query = select(Assignment.gold_score).where(
        Assignment.project_id == member.project_id, Assignment.gold == "qualification",
        Assignment.user_id == member.user_id, Assignment.status == "completed")
    if member.qualification_since is not None:
        query = query.where(Assignment.leased_at >= member.qualification_since)
    return list(session.scalars(query.order_by(Assignment.finished_at, Assignment.id)))


def evaluate_qualification(session: Session, actor: Actor, member: Membership, settings: ProjectSettings,
                           project_name: str) -> None:
    """Decide a pending qualification once N tasks are done and scored: qualified or failed."""
    if member.qualification != "pending" or settings.qualification_tasks <= 0:
        return
    results = qualification_results(session, member)
    if len(results) < settings.qualification_tasks or any(score is None for score in results):
        return
    score = sum(results) / len(results)  # type: ignore[arg-type]
    passed = score >= settings.qualification_threshold
    member.qualification, member.qualification_score = ("qualified" if passed else "failed"), score
    member.qualified_at = utcnow() if passed else None
    session.flush()
    record_event(session, actor, "qualification.pass" if passed else "qualification.fail", "membership", member.id,
                 project=project_name, user_id=member.user_id, score=round(score, 4), tasks=len(results),
                 threshold=settings.qualification_threshold)


def score_ranking_result(session: Session, actor: Actor, assignment: Assignment, project: Project,
                         given: Mapping[int, int | None]) -> None:
    """Score a submitted gold ranking against its expected ranks and store the score with the lease."""
    gold = session.scalar(select(GoldTask).where(GoldTask.prompt_id == assignment.prompt_id,
                                                 GoldTask.kind == "ranking"))
    if gold is None:  # unmarked while leased: nothing to score against
        return
    assignment.gold_score = ranking_agreement(expected_ranks(gold), given)
    _after_result(session, actor, assignment, project)


def score_reviewed_result(session: Session, actor: Actor, assignment: Assignment, project: Project,
                          verdict: str) -> None:
    """A reviewer's verdict on a gold demonstration becomes its score (accept 1, edit 0.5, reject 0)."""
    assignment.gold_score = REVIEW_SCORES[verdict]
    _after_result(session, actor, assignment, project)


def _after_result(session: Session, actor: Actor, assignment: Assignment, project: Project) -> None:
    session.flush()
    if assignment.gold == "qualification":
        member = membership(session, project.id, assignment.user_id)
        if member is not None:
            evaluate_qualification(session, actor, member, settings_of(project), project.name)


def gold_result_submitted(session: Session, actor: Actor, assignment: Assignment, project: Project) -> None:
    """A gold demonstration was submitted: it waits for review (no score yet); the outcome may be due."""
    _after_result(session, actor, assignment, project)


def gold_scores(session: Session, project_id: int) -> dict[int, tuple[float, int]]:
    """Every labeler's mean gold score and number of scored gold results in a project: user id -> (mean, n)."""
    rows = session.execute(
        select(Assignment.user_id, func.avg(Assignment.gold_score), func.count(Assignment.gold_score))
        .where(Assignment.project_id == project_id, Assignment.gold.is_not(None),
               Assignment.status == "completed", Assignment.gold_score.is_not(None))
        .group_by(Assignment.user_id)
    ).all()
    return {uid: (float(mean), int(n)) for uid, mean, n in rows}


# ---------------------------------------------------------------------------------------------
# Marking gold (admins)


@dataclass(frozen=True)
class GoldInfo:
    """One gold task as admins see it, with how labelers did on it."""

    id: int
    prompt_id: int
    kind: str
    preview: str  # the start of the prompt's last user turn
    expected: dict[str, Any]  # {"ranks": {"<candidate_id>": rank}} or {"turns": [...]}
    created_by: str | None
    created_at: datetime
    results: int  # scored results
    mean_score: float | None


def mark_gold(session: Session, actor: Actor, project_name: str, prompt_id: int, kind: str, *,
              ranks: Mapping[int | str, int] | None = None, turns: list[dict] | None = None) -> GoldInfo:
    """Mark a prompt as gold for `kind` with the expected ranking or an exemplary demonstration (admins only).

    Marking it again replaces the expected answer. Gold prompts leave the normal queue for that kind.
    """
    require_admin(actor)
    project = get_project_or_raise(session, project_name)
    settings = settings_of(project)
    if kind not in TASK_KINDS:
        raise Invalid(f"unknown task kind `{kind}`: expected one of {', '.join(TASK_KINDS)}")
    if kind not in settings.task_kinds:
        raise Invalid(f"project `{project.name}` does not collect `{kind}` tasks")
    prompt = session.get(Prompt, prompt_id)
    if prompt is None or prompt.project_id != project.id:
        raise NotFound(f"prompt `{prompt_id}` not found in project `{project.name}`")
    if kind == "ranking":
        if turns is not None or not ranks:
            raise Invalid("a gold ranking needs the expected ranks (candidate id: rank), and no turns")
        expected: dict[str, Any] = {"ranks": _check_gold_ranks(session, prompt_id, ranks, settings)}
    else:
        if ranks is not None or not turns:
            raise Invalid("a gold demonstration needs the exemplary turns, and no ranks")
        expected = {"turns": check_turns(turns, final=True)}
    gold = session.scalar(select(GoldTask).where(GoldTask.prompt_id == prompt_id, GoldTask.kind == kind))
    if gold is None:
        gold = GoldTask(project_id=project.id, prompt_id=prompt_id, kind=kind, expected=expected, created_by=actor.id)
        session.add(gold)
    else:
        gold.expected = expected
    session.flush()
    record_event(session, actor, "gold.mark", "prompt", prompt_id, project=project.name, kind=kind)
    return _infos(session, project.id, gold_id=gold.id)[0]


def _check_gold_ranks(session: Session, prompt_id: int, ranks: Mapping[int | str, int],
                      settings: ProjectSettings) -> dict[str, int]:
    try:
        parsed = {int(cid): int(rank) for cid, rank in ranks.items()}
    except (TypeError, ValueError):
        raise Invalid("gold ranks: expected candidate ids and ranks as whole numbers") from None
    if not 2 <= len(parsed) <= MAX_RANKED:
        raise Invalid(f"gold ranks: rank between 2 and {MAX_RANKED} candidates, got {len(parsed)}")
    known = set(session.scalars(select(Candidate.id).where(Candidate.prompt_id == prompt_id)))
    if unknown := sorted(set(parsed) - known):
        raise Invalid(f"gold ranks: candidate(s) {', '.join(f'`{c}`' for c in unknown)} are not replies to prompt "
                      f"`{prompt_id}` (its candidates: {', '.join(f'`{c}`' for c in sorted(known)) or 'none'})")
    values = list(parsed.values())
    if wrong := rank_inconsistency(dict(sorted(parsed.items()))):
        cid, rank, better = wrong
        raise Invalid(f"gold ranks: candidate `{cid}` has rank {rank}, but {better} candidate(s) rank better, "
                      f"so its rank must be {better + 1} (ranks start at 1; after a tie the next rank skips)")
    if not settings.ties_allowed and len(set(values)) < len(values):
        raise Invalid("gold ranks: this project does not allow ties, so the expected ranking cannot have any")
    return {str(cid): rank for cid, rank in sorted(parsed.items())}


def unmark_gold(session: Session, actor: Actor, project_name: str, prompt_id: int, kind: str) -> None:
    """Return a gold prompt to the normal queue for `kind` (admins only); past gold results keep their scores."""
    require_admin(actor)
    project = get_project_or_raise(session, project_name)
    gold = session.scalar(select(GoldTask).where(GoldTask.project_id == project.id, GoldTask.prompt_id == prompt_id,
                                                 GoldTask.kind == kind))
    if gold is None:
        raise NotFound(f"prompt `{prompt_id}` is not a `{kind}` gold task in project `{project.name}`")
    session.delete(gold)
    session.flush()
    record_event(session, actor, "gold.unmark", "prompt", prompt_id, project=project.name, kind=kind)


def list_gold(session: Session, actor: Actor, project_name: str) -> list[GoldInfo]:
    """The project's gold tasks in marking order, with their results (admins and reviewers of the project)."""
    require_role(actor, "admin", "reviewer")
    project = get_project_for(session, actor, project_name)
    return _infos(session, project.id)


def _infos(session: Session, project_id: int, gold_id: int | None = None) -> list[GoldInfo]:
    query = (select(GoldTask, Prompt.messages, User.username)
             .join(Prompt, Prompt.id == GoldTask.prompt_id)
             .outerjoin(User, User.id == GoldTask.created_by)
             .where(GoldTask.project_id == project_id).order_by(GoldTask.id))
    if gold_id is not None:
        query = query.where(GoldTask.id == gold_id)
    rows = session.execute(query).all()
    stats = {
        (pid, kind): (float(mean) if mean is not None else None, int(n))
        for pid, kind, mean, n in session.execute(
            select(Assignment.prompt_id, Assignment.kind, func.avg(Assignment.gold_score),
                   func.count(Assignment.gold_score))
            .where(Assignment.project_id == project_id, Assignment.gold.is_not(None),
                   Assignment.status == "completed")
            .group_by(Assignment.prompt_id, Assignment.kind))
    }
    out = []
    for gold, messages, creator in rows:
        mean, n = stats.get((gold.prompt_id, gold.kind), (None, 0))
        out.append(GoldInfo(id=gold.id, prompt_id=gold.prompt_id, kind=gold.kind, preview=prompt_preview(messages),
                            expected=dict(gold.expected), created_by=creator, created_at=gold.created_at,
                            results=n, mean_score=mean))
    return out


# ---------------------------------------------------------------------------------------------
# Qualification and pause (admins; labelers see their own progress)


@dataclass(frozen=True)
class QualificationState:
    """Where one labeler stands in a project: qualification, pause, gold scores.

    status: not_started | in_progress | qualified | failed | paused (paused wins; `qualification`
    keeps the underlying outcome). With no qualification set (N = 0), and for reviewers and admins,
    everyone is `qualified`.
    """

    username: str
    status: str
    qualification: str  # not_started | in_progress | qualified | failed
    done: int  # qualification tasks finished in the current attempt
    required: int  # N
    score: float | None  # qualification score: the decided one, or the running mean so far
    threshold: float
    paused: bool
    awaiting_review: int  # finished qualification demonstrations not reviewed yet
    qualified_at: datetime | None
    gold_score: float | None  # mean of every scored gold result (qualification and checks)
    gold_n: int
    recent_score: float | None  # mean of the last `slipping_window` check scores
    recent_n: int
    slipping: bool


def qualification(session: Session, actor: Actor, project_name: str, username: str) -> QualificationState:
    """One user's qualification state (admins and reviewers; a labeler for themselves, without gold scores)."""
    project = get_project_for(session, actor, project_name)
    user = get_user_or_raise(session, username)
    if actor.role not in ("admin", "reviewer") and actor.id != user.id:
        raise Forbidden(f"`{actor.username}` may only see their own qualification")
    state = _state(session, project, settings_of(project), user, membership(session, project.id, user.id))
    if actor.role not in ("admin", "reviewer"):  # no running gold score: it would tell which task was gold
        state = _without_gold(state)
    return state


def my_qualification(session: Session, actor: Actor, project_name: str) -> QualificationState:
    """The actor's own qualification progress in a project (for the labeling pages)."""
    return qualification(session, actor, project_name, actor.username)


def list_qualifications(session: Session, actor: Actor, project_name: str) -> list[QualificationState]:
    """Every labeler member's qualification state, by username (admins and reviewers of the project)."""
    require_role(actor, "admin", "reviewer")
    project = get_project_for(session, actor, project_name)
    settings = settings_of(project)
    rows = session.execute(select(User, Membership).join(Membership, Membership.user_id == User.id)
                           .where(Membership.project_id == project.id, User.role == "labeler")
                           .order_by(User.username)).all()
    return [_state(session, project, settings, user, member) for user, member in rows]


def _without_gold(state: QualificationState) -> QualificationState:
    decided = state.qualification in ("qualified", "failed")
    return QualificationState(
        username=state.username, status=state.status, qualification=state.qualification, done=state.done,
        required=state.required, score=state.score if decided else None, threshold=state.threshold,
        paused=state.paused, awaiting_review=state.awaiting_review, qualified_at=state.qualified_at,
        gold_score=None, gold_n=0, recent_score=None, recent_n=0, slipping=False)


def _state(session: Session, project: Project, settings: ProjectSettings, user: User,
           member: Membership | None) -> QualificationState:
    n = settings.qualification_tasks
    gated = n > 0 and user.role == "labeler"
    results = qualification_results(session, member) if member is not None and gated else []
    scored = [s for s in results if s is not None]
    stored = member.qualification if member is not None else "pending"
    if not gated or stored == "qualified":
        outcome = "qualified"
    elif stored == "failed":
        outcome = "failed"
    else:
        outcome = "in_progress" if results else "not_started"
    if outcome in ("qualified", "failed") and member is not None and member.qualification_score is not None:
        score: float | None = member.qualification_score
    else:
        score = sum(scored) / len(scored) if scored else None
    mean, count = gold_scores_of(session, project.id, user.id)
    recent = list(session.scalars(
        select(Assignment.gold_score)
        .where(Assignment.project_id == project.id, Assignment.gold == "check", Assignment.user_id == user.id,
               Assignment.status == "completed", Assignment.gold_score.is_not(None))
        .order_by(Assignment.finished_at.desc(), Assignment.id.desc())
        .limit(settings.slipping_window)))
    recent_score = sum(recent) / len(recent) if recent else None
    enough = len(recent) >= min(MIN_SLIPPING_RESULTS, settings.slipping_window)
    slipping = (outcome == "qualified" and enough and recent_score is not None
                and recent_score < settings.slipping_threshold)
    paused = bool(member is not None and member.paused)
    return QualificationState(
        username=user.username, status="paused" if paused else outcome, qualification=outcome,
        done=len(results), required=n if gated else 0, score=score, threshold=settings.qualification_threshold,
        paused=paused, awaiting_review=len(results) - len(scored),
        qualified_at=member.qualified_at if member is not None else None, gold_score=mean, gold_n=count,
        recent_score=recent_score, recent_n=len(recent), slipping=slipping)


def gold_scores_of(session: Session, project_id: int, user_id: int) -> tuple[float | None, int]:
    """One user's mean gold score and number of scored gold results in a project."""
    mean, n = session.execute(
        select(func.avg(Assignment.gold_score), func.count(Assignment.gold_score))
        .where(Assignment.project_id == project_id, Assignment.user_id == user_id, Assignment.gold.is_not(None),
               Assignment.status == "completed", Assignment.gold_score.is_not(None))
    ).one()
    return (float(mean) if mean is not None else None), int(n)


def _member_or_raise(session: Session, project: Project, username: str) -> tuple[User, Membership]:
    user = get_user_or_raise(session, username)
    member = membership(session, project.id, user.id)
    if member is None:
        raise NotFound(f"`{username}` is not a member of project `{project.name}`")
    return user, member


def set_paused(session: Session, actor: Actor, project_name: str, username: str, paused: bool) -> None:
    """Pause (no tasks at all in this project) or resume a member (admins only)."""
    require_admin(actor)
    project = get_project_or_raise(session, project_name)
    _user, member = _member_or_raise(session, project, username)
    if member.paused == paused:
        return
    member.paused = paused
    session.flush()
    record_event(session, actor, "member.pause" if paused else "member.resume", "membership", member.id,
                 project=project.name, username=username)


def reset_qualification(session: Session, actor: Actor, project_name: str, username: str) -> None:
    """Start a new qualification attempt (admins only): earlier qualification results stop counting.

    The new attempt uses gold tasks the labeler has not had yet (each gold task comes once per labeler).
    """
    require_admin(actor)
    project = get_project_or_raise(session, project_name)
    _user, member = _member_or_raise(session, project, username)
    member.qualification, member.qualified_at, member.qualification_score = "pending", None, None
    member.qualification_since = utcnow()
    session.flush()
    record_event(session, actor, "qualification.reset", "membership", member.id, project=project.name,
                 username=username)


def grant_qualification(session: Session, actor: Actor, project_name: str, username: str) -> None:
    """Mark a member qualified without (or despite) the qualification set (admins only)."""
    require_admin(actor)
    project = get_project_or_raise(session, project_name)
    _user, member = _member_or_raise(session, project, username)
    member.qualification, member.qualified_at = "qualified", utcnow()
    session.flush()
    record_event(session, actor, "qualification.grant", "membership", member.id, project=project.name,
                 username=username)
