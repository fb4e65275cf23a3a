"""Reward models as judges: which one a project uses, and how often it agrees with the labelers.

Design constraints:
- **Scores are stored per reward model** (`candidate_scores`, keyed by the model's resolved folder,
  services/scoring.py writes them); a report names the model it used. The default is the project's
  routing model (`routing_reward_model`), else the most recently scored one.
- **Agreement is InstructGPT's measure**: over the candidate pairs that a counted ranking orders
  strictly (C(K,2) pairs minus ties), the share where the reply the reward model scores higher is
  the one the ranking put first; equal scores count as not agreeing (and are counted apart).
  Pairs with an unscored candidate are left out (counted apart). A 95% Wilson score interval goes
  with every share (`analytics.agreement.Rate`).
- **What counts** is what the quality report counts: `submitted` or `accepted` rankings, not
  "none acceptable", no gold leases. The labelers' rankings (origin `human`) and imported ones
  (e.g. the HH-RLHF preferences) are reported apart, per split: held-out splits (valid, test) are
  where the figure means something when the model was trained on the train split.
- **In SQL**: one grouped self-join of ranking items with their scores; no ranking is loaded into Python.
- Scores are for reviewers and admins; nothing a labeler's pages call reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import Session, aliased

from analytics.agreement import Rate
from db.models import SPLITS, Assignment, Candidate, CandidateScore, Project, Prompt, Ranking, RankingItem
from labeler.errors import Invalid
from labeler.services.margins import last_scored_model, model_key  # noqa: F401 - model_key: named here too
from labeler.services.projects import settings_of

COUNTED = ("submitted", "accepted")
INTERVAL = "95% Wilson score interval"


@dataclass(frozen=True)
class RewardModelInfo:
    """A reward model that scored candidates of a project."""

    name: str  # the resolved folder it was loaded from (the key of its scores)
    scored: int  # candidates of the project it scored
    routing: bool  # the project's routing model (`uncertain-first` margins)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "scored": self.scored, "routing": self.routing}


@dataclass(frozen=True)
class SplitAgreement:
    """Agreement of a reward model with one kind of ranking on one split."""

    agree: int
    pairs: int  # strictly ordered pairs with both candidates scored
    score_ties: int  # of `pairs`, equal scores (not agreeing)
    unscored_pairs: int  # strictly ordered pairs left out: a candidate without a score

    @property
    def rate(self) -> Rate:
        return Rate(self.agree, self.pairs)

    def to_dict(self) -> dict[str, Any]:
        r = self.rate.to_dict()
        return {"pairs": self.pairs, "agree": self.agree, "rate": r["rate"], "ci_low": r["low"], "ci_high": r["high"],
                "score_ties": self.score_ties, "unscored_pairs": self.unscored_pairs}


@dataclass(frozen=True)
class RewardModelAgreement:
    """A reward model against the project's rankings, per split: labelers' (human) and imported apart."""

    reward_model: str | None
    scored: int  # candidates of the project this model scored
    candidates: int  # candidates of the project
    labelers: dict[str, SplitAgreement] = field(default_factory=dict)
    imported: dict[str, SplitAgreement] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"reward_model": self.reward_model, "scored_candidates": self.scored, "candidates": self.candidates,
                "interval": INTERVAL,
                "labelers": {split: a.to_dict() for split, a in self.labelers.items()},
                "imported": {split: a.to_dict() for split, a in self.imported.items()}}


# ---------------------------------------------------------------------------------------------
# Which reward model


def list_reward_models(session: Session, project: Project) -> list[RewardModelInfo]:
    """The reward models that scored the project's candidates, most recently scored first."""
    routing = settings_of(project).routing_reward_model
    rows = session.execute(
        select(CandidateScore.reward_model, func.count(), func.max(CandidateScore.id))
        .join(Candidate, Candidate.id == CandidateScore.candidate_id)
        .join(Prompt, Prompt.id == Candidate.prompt_id)
        .where(Prompt.project_id == project.id)
        .group_by(CandidateScore.reward_model)
        .order_by(func.max(CandidateScore.id).desc())).all()
    return [RewardModelInfo(name, n, name == routing) for name, n, _last in rows]


def default_reward_model(session: Session, project: Project) -> str | None:
    """The project's routing reward model, else the most recently scored one (None: nothing scored)."""
    return settings_of(project).routing_reward_model or last_scored_model(session, project.id)


def choose_reward_model(session: Session, project: Project, name: str | None) -> str | None:
    """`name` as stored (as given, or as a resolved folder), or the default; Invalid when it scored nothing here."""
    if name is None:
        return default_reward_model(session, project)
    known = {info.name for info in list_reward_models(session, project)}
    for candidate in (name, model_key(name)):
        if candidate in known:
            return candidate
    listed = ", ".join(f"`{k}`" for k in sorted(known)) or "none yet"
    raise Invalid(f"reward model `{name}` scored no candidate of project `{project.name}` (scored by: {listed}); "
                  f"run `labeler score --project {project.name} --reward-model {name}` first")


# ---------------------------------------------------------------------------------------------
# Agreement with the rankings


def _scored_pairs(reward_model: str) -> tuple[Any, Any, Any]:
    """The two scores (NULL when missing) of strictly ordered pairs of counted rankings (a ranked better than b).

    Returns the score aliases and a builder: call it with the columns to select (which may use the aliases).
    """
    a, b = aliased(RankingItem), aliased(RankingItem)
    sa, sb = aliased(CandidateScore), aliased(CandidateScore)

    def query(*columns: Any) -> Select:
        return (
            select(*columns)
            .select_from(a)
            .join(b, and_(b.ranking_id == a.ranking_id, a.rank < b.rank))
            .join(Ranking, Ranking.id == a.ranking_id)
            .join(Prompt, Prompt.id == Ranking.prompt_id)
            .outerjoin(Assignment, Assignment.id == Ranking.assignment_id)
            .outerjoin(sa, and_(sa.candidate_id == a.candidate_id, sa.reward_model == reward_model))
            .outerjoin(sb, and_(sb.candidate_id == b.candidate_id, sb.reward_model == reward_model))
            .where(Ranking.status.in_(COUNTED), Ranking.none_acceptable.is_(False), Assignment.gold.is_(None))
        )

    return sa, sb, query


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def reward_model_agreement(session: Session, project: Project, reward_model: str | None) -> RewardModelAgreement:
    """The reward model's agreement with the project's counted rankings, per split and origin (SQL)."""
    candidates = session.scalar(select(func.count(Candidate.id)).join(Prompt, Prompt.id == Candidate.prompt_id)
                                .where(Prompt.project_id == project.id)) or 0
    if reward_model is None:
        return RewardModelAgreement(None, 0, candidates)
    scored = session.scalar(
        select(func.count(CandidateScore.id)).join(Candidate, Candidate.id == CandidateScore.candidate_id)
        .join(Prompt, Prompt.id == Candidate.prompt_id)
        .where(Prompt.project_id == project.id, CandidateScore.reward_model == reward_model)) or 0
    sa, sb, pairs = _scored_pairs(reward_model)
    both = and_(sa.score.is_not(None), sb.score.is_not(None))
    rows = session.execute(
        pairs(Prompt.split, Ranking.origin, _count(both), _count(and_(both, sa.score > sb.score)),
                          _count(and_(both, sa.score == sb.score)), _count(~both))
        .where(Prompt.project_id == project.id)
        .group_by(Prompt.split, Ranking.origin)).all()
    labelers: dict[str, SplitAgreement] = {}
    imported: dict[str, SplitAgreement] = {}
    for split, origin, n, agree, ties, unscored in rows:
        target = labelers if origin == "human" else imported
        before = target.get(split, SplitAgreement(0, 0, 0, 0))
        target[split] = SplitAgreement(before.agree + int(agree), before.pairs + int(n), before.score_ties + int(ties),
                                       before.unscored_pairs + int(unscored))
    order = {s: i for i, s in enumerate(SPLITS)}
    return RewardModelAgreement(
        reward_model, scored, candidates,
        labelers=dict(sorted(labelers.items(), key=lambda kv: order.get(kv[0], 99))),
        imported=dict(sorted(imported.items(), key=lambda kv: order.get(kv[0], 99))))


def ranking_disagreement(reward_model: str, project_id: int, status: str = "submitted") -> Any:
    """Per ranking of the project in `status`: `pairs` (strict, both scored) and `disagree` (the model
    scores the reply the ranking put second strictly higher); a subquery to order reviews by."""
    a, b = aliased(RankingItem), aliased(RankingItem)
    sa, sb = aliased(CandidateScore), aliased(CandidateScore)
    return (
        select(a.ranking_id.label("ranking_id"), func.count().label("pairs"),
               _count(sa.score < sb.score).label("disagree"))
        .select_from(a)
        .join(b, and_(b.ranking_id == a.ranking_id, a.rank < b.rank))
        .join(Ranking, Ranking.id == a.ranking_id)
        .join(Prompt, Prompt.id == Ranking.prompt_id)
        .join(sa, and_(sa.candidate_id == a.candidate_id, sa.reward_model == reward_model))
        .join(sb, and_(sb.candidate_id == b.candidate_id, sb.reward_model == reward_model))
        .where(Prompt.project_id == project_id, Ranking.status == status)
        .group_by(a.ranking_id)
        .subquery()
    )


def candidate_scores(session: Session, reward_model: str, candidate_ids: list[int]) -> dict[int, float]:
    """Candidate id -> score by `reward_model` (reviewers' and admins' views only)."""
    if not candidate_ids:
        return {}
    return dict(session.execute(select(CandidateScore.candidate_id, CandidateScore.score)
                                .where(CandidateScore.reward_model == reward_model,
                                       CandidateScore.candidate_id.in_(candidate_ids))).all())
