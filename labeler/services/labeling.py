"""Labeling: drafts and submissions of demonstrations and rankings on the actor's own leases, and "my work".

Design constraints:
- Only the labeler holding a lease may read its draft or submit it; every check happens here.
- A submission is all or nothing: any rule broken raises `Invalid` before anything is written.
- Submitting twice (double click, a rerun) returns the id stored the first time and writes nothing;
  a second submit with *different* work (the same labeler in two tabs) raises `Conflict` saying what
  was kept, so typed work is never dropped without a word.
- Drafts: one draft `Demonstration` row per lease, saved as the labeler types; saving renews the
  lease, and text is never refused for being late (an expired lease keeps its draft, readable
  through `load_draft`). Seconds spent accumulate across drafts and the submit.
- The rules of what may be submitted are in `labeler.services.submissions`; this module applies them
  to the actor's leases and stores the result.
- Ranks use **standard competition ranking** ("1224"): tied candidates share a rank and the next
  rank skips, so a rank always equals 1 + the number of candidates ranked better (1, 1, 3 is valid;
  dense 1, 1, 2 is refused with a message saying so).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from pydantic import ValidationError
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models import Assignment, Demonstration, GoldTask, Project, Prompt, Ranking
from labeler.errors import Conflict, Invalid
from labeler.services.actors import Actor
from labeler.services.events import record_event
from labeler.services.gold import gold_result_submitted, score_ranking_result
from labeler.services.projects import get_project_for, settings_of
from labeler.services.queue import (
    counter_column,
    own_assignment,
    own_assignment_and_project,
    renew_lease,
    require_open,
    require_worker,
)
from labeler.services.submissions import (  # noqa: F401 - the submission models are part of this API
    LABELS,
    ItemSubmission,
    RankingSubmission,
    check_ranking,
    check_seconds,
    check_turns,
)

DONE_STATUSES = ("submitted", "accepted", "rejected")  # work the labeler did, whatever the review said


# ---------------------------------------------------------------------------------------------
# Demonstrations


def _demonstration_lease(session: Session, actor: Actor, assignment_id: int) -> tuple[Assignment, Project]:
    assignment, project = own_assignment_and_project(session, actor, assignment_id, lock=True)
    if assignment.kind != "demonstration":
        raise Invalid(f"task `{assignment_id}` is a `{assignment.kind}` task, not a demonstration")
    return assignment, project


def save_draft(
    session: Session, actor: Actor, assignment_id: int, turns: list[dict], seconds_spent: float = 0.0
) -> None:
    """Store the labeler's unfinished turns for their lease (and renew the lease)."""
    seconds = check_seconds(seconds_spent)
    assignment, project = _demonstration_lease(session, actor, assignment_id)
    if assignment.status == "completed":
        raise Conflict(f"task `{assignment_id}` was already submitted: its draft can no longer change")
    if assignment.status == "released":
        raise Conflict(f"task `{assignment_id}` was skipped: its draft can no longer change")
    checked = check_turns(turns, final=False)
    now = utcnow()
    # Renewed when possible; when someone else took the slot after expiry, the text is still kept.
    renew_lease(session, assignment, settings_of(project), now)
    draft = session.scalar(select(Demonstration).where(Demonstration.assignment_id == assignment.id))
    if draft is None:
        session.add(Demonstration(prompt_id=assignment.prompt_id, labeler_id=actor.id, assignment_id=assignment.id,
                                  turns=checked, status="draft", origin="human", seconds_spent=seconds))
    else:
        draft.turns, draft.seconds_spent, draft.updated_at = checked, draft.seconds_spent + seconds, now
    session.flush()


def load_draft(session: Session, actor: Actor, assignment_id: int) -> list[dict] | None:
    """The draft turns of the actor's lease, or None when there is no open draft."""
    assignment = own_assignment(session, actor, assignment_id)
    if assignment.kind != "demonstration":
        return None
    turns = session.scalar(
        select(Demonstration.turns).where(Demonstration.assignment_id == assignment.id,
                                          Demonstration.status == "draft")
    )
    return [dict(t) for t in turns] if turns is not None else None


def submit_demonstration(
    session: Session,
    actor: Actor,
    assignment_id: int,
    turns: list[dict],
    suggestion: dict | None = None,
    seconds_spent: float = 0.0,
) -> int:
    """Store the demonstration of the actor's lease; the same id again for a repeated submit."""
    seconds = check_seconds(seconds_spent)
    assignment, project = _demonstration_lease(session, actor, assignment_id)
    existing = session.scalar(select(Demonstration).where(Demonstration.assignment_id == assignment.id))
    if assignment.status == "completed" and existing is not None:
        if _same_turns(turns, existing.turns):
            return existing.id  # the same submit again (a double click, a rerun)
        raise Conflict(f"{_elsewhere(assignment_id)}. Kept: {_kept_turns(existing.turns)}")
    require_open(assignment)
    checked = check_turns(turns, final=True)
    if suggestion is not None and not isinstance(suggestion, dict):
        raise Invalid(f"`suggestion`: expected an object (the model's draft and its settings), got "
                      f"{type(suggestion).__name__}")
    now = utcnow()
    if existing is None:
        existing = Demonstration(prompt_id=assignment.prompt_id, labeler_id=actor.id, assignment_id=assignment.id,
                                 origin="human", seconds_spent=0.0)
        session.add(existing)
    existing.turns, existing.status, existing.submitted_at, existing.updated_at = checked, "submitted", now, now
    existing.seconds_spent = (existing.seconds_spent or 0.0) + seconds
    if suggestion is not None:
        existing.suggestion = suggestion
    assignment.status, assignment.finished_at = "completed", now
    session.flush()
    record_event(session, actor, "demonstration.submit", "demonstration", existing.id,
                 assignment_id=assignment.id, prompt_id=assignment.prompt_id, turns=len(checked),
                 with_suggestion=existing.suggestion is not None, seconds_spent=round(existing.seconds_spent, 1))
    if assignment.gold is not None:  # scored by its review (services/gold.py)
        gold_result_submitted(session, actor, assignment, project)
    return existing.id


# ---------------------------------------------------------------------------------------------
# Rankings


def submit_ranking(session: Session, actor: Actor, assignment_id: int, submission: RankingSubmission) -> int:
    """Store the ranking of the actor's lease; the same id again for a repeated submit."""
    if isinstance(submission, dict):
        try:
            submission = RankingSubmission.model_validate(submission)
        except ValidationError as e:
            raise Invalid(f"invalid ranking submission: {e.errors()[0]['msg']}") from None
    seconds = check_seconds(submission.seconds_spent)
    assignment, project = own_assignment_and_project(session, actor, assignment_id, lock=True)
    if assignment.kind != "ranking":
        raise Invalid(f"task `{assignment_id}` is a `{assignment.kind}` task, not a ranking")
    ranking = session.scalar(select(Ranking).where(Ranking.assignment_id == assignment.id))
    if assignment.status == "completed" and ranking is not None:
        if _same_ranking(submission, ranking):
            return ranking.id  # the same submit again (a double click, a rerun)
        raise Conflict(f"{_elsewhere(assignment_id)}. Kept: {_kept_ranking(ranking)}")
    require_open(assignment)
    assert ranking is not None, f"ranking task `{assignment_id}` has no stored display order"
    check_ranking(submission, list(ranking.display_order), settings_of(project))
    given = {it.candidate_id: it for it in submission.items}
    for item in ranking.items:
        sent = given[item.candidate_id]
        item.rank, item.likert, item.flags = sent.rank, sent.likert, list(dict.fromkeys(sent.flags))
    now = utcnow()
    ranking.status, ranking.submitted_at, ranking.updated_at = "submitted", now, now
    ranking.none_acceptable, ranking.comment, ranking.seconds_spent = (
        submission.none_acceptable, submission.comment.strip(), seconds)
    assignment.status, assignment.finished_at = "completed", now
    session.flush()
    record_event(session, actor, "ranking.submit", "ranking", ranking.id, assignment_id=assignment.id,
                 prompt_id=assignment.prompt_id, k=len(ranking.items), none_acceptable=submission.none_acceptable,
                 seconds_spent=round(seconds, 1))
    if assignment.gold is not None:
        score_ranking_result(session, actor, assignment, project, {it.candidate_id: it.rank for it in ranking.items})
    return ranking.id


# ---------------------------------------------------------------------------------------------
# A second submit of a finished lease (the same labeler in two tabs): never dropped without a word

KEPT_CHARS = 300


def _elsewhere(assignment_id: int) -> str:
    return (f"task `{assignment_id}` was already submitted from another tab or window, with different work; "
            "what you sent here was not stored (copy it if you need it)")


def why_lease_gone(session: Session, actor: Actor, assignment_id: int) -> str:
    """Why the actor's remembered lease can no longer be worked on, with the work kept when it was
    submitted from another tab or window ("" when it is still open). Pages show it before moving on."""
    assignment = own_assignment(session, actor, assignment_id)
    if assignment.status == "completed":
        model = Ranking if assignment.kind == "ranking" else Demonstration
        kept = session.scalar(select(model).where(model.assignment_id == assignment.id))
        if kept is None:
            return f"task `{assignment_id}` was already submitted"
        what = _kept_ranking(kept) if isinstance(kept, Ranking) else _kept_turns(kept.turns)
        return (f"task `{assignment_id}` was already submitted from another tab or window; what this tab held "
                f"for it was not stored. Kept: {what}")
    try:
        require_open(assignment)
    except Conflict as e:
        return str(e)
    return ""


def _same_turns(turns: Any, stored: list[dict]) -> bool:
    """True when `turns` is what was stored (as the submit rules would store it)."""
    try:
        return check_turns(turns, final=True) == [dict(t) for t in stored]
    except Invalid:
        return False


def _kept_turns(stored: list[dict]) -> str:
    """The stored turns, shortened, for the message."""
    text = " | ".join(f"{t['role']}: {t['content']}" for t in stored)
    return text if len(text) <= KEPT_CHARS else text[:KEPT_CHARS] + "…"


def _same_ranking(sub: RankingSubmission, ranking: Ranking) -> bool:
    """True when `sub` is the stored ranking (ranks, ratings, flags, none acceptable, comment)."""
    sent = {it.candidate_id: (it.rank, it.likert, list(dict.fromkeys(it.flags))) for it in sub.items}
    stored = {it.candidate_id: (it.rank, it.likert, list(it.flags or [])) for it in ranking.items}
    return (sent == stored and sub.none_acceptable == ranking.none_acceptable
            and sub.comment.strip() == (ranking.comment or ""))


def _kept_ranking(ranking: Ranking) -> str:
    """The stored ranking as the page shows it: `A = 1 (Likert 6), B = 2, …`."""
    label = {cid: LABELS[i] for i, cid in enumerate(ranking.display_order)}
    parts = []
    for it in sorted(ranking.items, key=lambda it: label.get(it.candidate_id, "?")):
        rating = f" (quality {it.likert})" if it.likert is not None else ""
        parts.append(f"{label.get(it.candidate_id, it.candidate_id)} = {it.rank or 'unranked'}{rating}")
    text = ", ".join(parts)
    if ranking.none_acceptable:
        text += "; none acceptable"
    if ranking.comment:
        text += f"; comment: {ranking.comment[:KEPT_CHARS]}"
    return text


# ---------------------------------------------------------------------------------------------
# My work


@dataclass(frozen=True)
class MyWork:
    """A labeler's own figures in one project."""

    today: int  # tasks submitted since 00:00 UTC
    total: int
    median_seconds: float | None
    remaining: dict[str, int]  # per kind: prompts still needing labels in the project


def my_work(session: Session, actor: Actor, project_name: str) -> MyWork:
    """The actor's submitted tasks (today, total), median seconds per task, and what is left in the project."""
    require_worker(actor)
    project = get_project_for(session, actor, project_name)
    settings = settings_of(project)
    midnight = datetime.combine(utcnow().date(), time.min, tzinfo=utcnow().tzinfo)
    done = select(Assignment.finished_at).where(
        Assignment.user_id == actor.id, Assignment.project_id == project.id, Assignment.status == "completed"
    )
    finished = list(session.scalars(done))
    seconds: list[float] = []
    for model in (Demonstration, Ranking):
        seconds += session.scalars(
            select(model.seconds_spent)
            .join(Assignment, Assignment.id == model.assignment_id)
            .where(Assignment.user_id == actor.id, Assignment.project_id == project.id,
                   model.status.in_(DONE_STATUSES))
        ).all()
    remaining = {
        kind: session.scalar(
            select(func.count()).select_from(Prompt).where(
                Prompt.project_id == project.id, counter_column(kind) < settings.labels_per_item,
                ~exists().where(GoldTask.prompt_id == Prompt.id, GoldTask.kind == kind))
        ) or 0
        for kind in settings.task_kinds
    }
    return MyWork(
        today=sum(1 for at in finished if at is not None and at >= midnight),
        total=len(finished),
        median_seconds=statistics.median(seconds) if seconds else None,
        remaining=remaining,
    )
