"""Reward-model margins: the routing order of the `uncertain-first` queue (prompts.rm_margin).

A prompt's margin is its routing reward model's score gap between its two best-scored candidates;
`UNSCORED_MARGIN` until two are scored, so unscored prompts wait behind every scored one. Here, apart
from scoring, because both the scorer (new scores) and the projects service (a new routing model)
keep the margins right, and the projects service sits below the scorer.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import and_, case, func, select, update
from sqlalchemy.orm import Session

from db.models import UNSCORED_MARGIN, Candidate, CandidateScore, Prompt

LOCAL_PREFIX = "local:"  # a local model's prefix (services/engine/local.py), allowed before a folder


def model_key(reward_model: str | Path) -> str:
    """The name a reward model's scores are stored under: its folder, resolved (`local:` and `~` allowed)."""
    text = str(reward_model).strip()
    if text.startswith(LOCAL_PREFIX):
        text = text[len(LOCAL_PREFIX):].strip()
    return str(Path(text).expanduser().resolve())


def last_scored_model(session: Session, project_id: int) -> str | None:
    """The reward model of the project's newest score, or None."""
    return session.scalar(
        select(CandidateScore.reward_model).join(Candidate, Candidate.id == CandidateScore.candidate_id)
        .join(Prompt, Prompt.id == Candidate.prompt_id).where(Prompt.project_id == project_id)
        .order_by(CandidateScore.id.desc()).limit(1))


def recompute_margins(session: Session, project_id: int, reward_model: str,
                      prompt_ids: Sequence[int] | None = None) -> int:
    """Set `prompts.rm_margin` from `reward_model`'s stored scores (best minus second best; UNSCORED_MARGIN
    with fewer than two scored candidates), for the project or only `prompt_ids`; two UPDATEs, rows changed.

    Only rows whose margin changes are written, so a repeat is cheap. The queue's owner calls it when
    the routing model changes; `score_project` calls it for the prompts it scored.
    """
    ranked_scope = [Prompt.project_id == project_id, CandidateScore.reward_model == reward_model]
    scope = [Prompt.project_id == project_id]
    if prompt_ids is not None:
        ranked_scope.append(Candidate.prompt_id.in_(list(prompt_ids)))
        scope.append(Prompt.id.in_(list(prompt_ids)))
    ranked = (
        select(Candidate.prompt_id.label("prompt_id"), CandidateScore.score.label("score"),
               func.row_number().over(partition_by=Candidate.prompt_id,
                                      order_by=(CandidateScore.score.desc(), Candidate.id)).label("place"))
        .join(Candidate, Candidate.id == CandidateScore.candidate_id)
        .join(Prompt, Prompt.id == Candidate.prompt_id)
        .where(*ranked_scope)
        .subquery())
    margins = (
        select(ranked.c.prompt_id,
               (func.max(case((ranked.c.place == 1, ranked.c.score)))
                - func.max(case((ranked.c.place == 2, ranked.c.score)))).label("margin"))
        .where(ranked.c.place <= 2)
        .group_by(ranked.c.prompt_id)
        .having(func.count() == 2)
        .subquery())
    zeroed = session.execute(
        update(Prompt).where(*scope, Prompt.rm_margin != UNSCORED_MARGIN,
                             Prompt.id.not_in(select(margins.c.prompt_id)))
        .values(rm_margin=UNSCORED_MARGIN).execution_options(synchronize_session=False))
    updated = session.execute(
        update(Prompt).where(and_(Prompt.id == margins.c.prompt_id, Prompt.rm_margin != margins.c.margin))
        .values(rm_margin=margins.c.margin).execution_options(synchronize_session=False))
    return max(zeroed.rowcount, 0) + max(updated.rowcount, 0)


def route_margins(session: Session, project_id: int, routing_model: str | None) -> str | None:
    """Margins from `routing_model`, else from the last model scored; every prompt unscored when there is
    none. The model used."""
    model = routing_model or last_scored_model(session, project_id)
    if model is None:
        session.execute(update(Prompt).where(Prompt.project_id == project_id, Prompt.rm_margin != UNSCORED_MARGIN)
                        .values(rm_margin=UNSCORED_MARGIN).execution_options(synchronize_session=False))
        return None
    recompute_margins(session, project_id, model)
    return model
