"""Models judged by preference: `labeler compare`, the `model-comparison` export, the Models page.

Design constraints:
- The figures are the pure ones of `analytics.comparison` (win rates with ties counted half,
  Bradley–Terry ratings on an Elo-like scale anchored at a mean of 1000, 95% Poisson-bootstrap
  intervals over prompts); this module only feeds it comparison rows.
- The database does the pairing and the first aggregation: one GROUP BY query yields, per prompt and
  pair of models, the wins, ties and comparisons; the rows are streamed (`yield_per`) into the tally,
  which folds them in chunks, so memory holds rounds × model pairs, never the rankings.
- **Human judgments** (the default): rankings `submitted` or `accepted`, by labelers only unless
  `include_imported` (imported rankings are other people's judgments, often of other models' outputs),
  not "none acceptable", never gold tasks. Every pair of ranked candidates of two different models in
  one ranking is one comparison; candidates without a model (some imports) compare nothing.
- **A reward model as the judge**: the same pairs of candidates of different models, each judged by
  the reward model's scores (`candidate_scores`; the higher score wins, equal scores tie), one judgment
  per prompt. By default over the prompts humans ranked under the same filters, so the two reports
  stand side by side; `over="scored"` takes every prompt whose candidates the model scored.
- Access: admins, and reviewers who are members of the project (as the quality report).
- A comparison round (`comparison_round`) is a generation run (`services.generate`, `per_model`):
  one candidate per model per prompt; labelers never see which model wrote what.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Select, case, exists, func, select
from sqlalchemy.orm import Session, aliased

from analytics.comparison import PRIOR, ROUNDS, Comparison, ComparisonTally
from db.models import Assignment, Candidate, CandidateScore, Project, Prompt, Ranking, RankingItem
from labeler.errors import Invalid
from labeler.services.actors import Actor, require_admin, require_role
from labeler.services.engine import Progress
from labeler.services.generate import GenerationRequest, GenerationSummary, plan_generation, run_generation
from labeler.services.projects import get_project_for

COUNTED = ("submitted", "accepted")
CHUNK = 5000
Over = Literal["ranked", "scored"]
Split = Literal["train", "valid", "test"]


@dataclass
class ModelComparison:
    """A comparison report: who judged, over what, and the figures."""

    project: str
    judge: str  # "humans" or "reward-model"
    reward_model: str | None
    filters: dict[str, Any]
    comparison: Comparison
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = {"project": self.project, "judge": self.judge, "reward_model": self.reward_model,
                "filters": self.filters, **self.comparison.to_dict()}
        data["notes"] = [*self.notes, *self.comparison.notes]
        return data


def compare_models(
    session: Session, actor: Actor, project_name: str, *, models: list[str] | tuple[str, ...] = (),
    splits: list[Split] | tuple[Split, ...] = (), include_imported: bool = False,
    reward_model: str | None = None, over: Over = "ranked", rounds: int = ROUNDS, seed: int = 0,
    prior: float = PRIOR, anchor: str | None = None,
) -> ModelComparison:
    """Win rates and Bradley–Terry ratings of the models of a project's candidates (admins, reviewers)."""
    require_role(actor, "admin", "reviewer")
    project = get_project_for(session, actor, project_name)
    return comparison_of(session, project, models=models, splits=splits, include_imported=include_imported,
                         reward_model=reward_model, over=over, rounds=rounds, seed=seed, prior=prior, anchor=anchor)


def comparison_of(
    session: Session, project: Project, *, models: list[str] | tuple[str, ...] = (),
    splits: list[Split] | tuple[Split, ...] = (), include_imported: bool = False,
    reward_model: str | None = None, over: Over = "ranked", rounds: int = ROUNDS, seed: int = 0,
    prior: float = PRIOR, anchor: str | None = None,
) -> ModelComparison:
    """`compare_models` for a project the caller may already see (the export checks its own access)."""
    models = tuple(dict.fromkeys(m.strip() for m in models if m and m.strip()))
    if len(models) == 1:
        raise Invalid(f"--models: a comparison needs two models or more, got only `{models[0]}`")
    if rounds < 0 or rounds > 10_000:
        raise Invalid(f"rounds: expected 0 to 10000 bootstrap rounds, got {rounds}")
    if over not in ("ranked", "scored"):
        raise Invalid(f"over: expected `ranked` or `scored`, got `{over}`")
    if anchor is not None and models and anchor not in models:
        raise Invalid(f"anchor: `{anchor}` is not one of the models compared ({', '.join(models)})")
    rm = _reward_model_key(session, project.id, reward_model) if reward_model else None
    origins = ("human", "imported") if include_imported else ("human",)
    query = (_rm_query(project.id, rm, models, splits, origins, over) if rm
             else _human_query(project.id, models, splits, origins))
    tally = ComparisonTally(rounds=rounds, seed=seed)
    for chunk in session.connection().execute(query, execution_options={"yield_per": CHUNK}).partitions():
        tally.add_rows(chunk)  # type: ignore[arg-type]
    if anchor is not None and anchor not in tally.index:
        raise Invalid(f"anchor: model `{anchor}` has no comparisons in `{project.name}`")
    filters = {"models": list(models), "splits": list(splits), "rankings": list(origins), "statuses": list(COUNTED)}
    if rm:
        filters["over"] = over
    notes = []
    if not tally.index:
        notes.append("no comparisons yet: a comparison needs rankings (or scores) of candidates from two models")
    missing = [m for m in models if m not in tally.index]
    if missing:
        notes.append("no comparisons for " + ", ".join(f"`{m}`" for m in missing))
    return ModelComparison(project.name, "reward-model" if rm else "humans", rm, filters,
                           tally.result(prior=prior, anchor=anchor), notes)


def _counted_rankings(project_id: int, splits: tuple[str, ...] | list[str], origins: tuple[str, ...]) -> list[Any]:
    """Conditions on Ranking (joined to Prompt) for the rankings that count as judgments."""
    conditions = [Prompt.project_id == project_id, Ranking.status.in_(COUNTED), Ranking.origin.in_(origins),
                  Ranking.none_acceptable.is_(False),
                  ~exists().where(Assignment.id == Ranking.assignment_id, Assignment.gold.is_not(None))]
    if splits:
        conditions.append(Prompt.split.in_(list(splits)))
    return conditions


def _human_query(project_id: int, models: tuple[str, ...], splits: tuple[str, ...] | list[str],
                 origins: tuple[str, ...]) -> Select:
    """Per prompt and pair of models (a < b): a's wins, ties and comparisons over the counted rankings.

    Items are paired once (first candidate id below the second: C(K,2) rows per ranking, found by a
    range scan of the (ranking, candidate) index), then oriented by model name.
    """
    ia, ib = aliased(RankingItem), aliased(RankingItem)
    ca, cb = aliased(Candidate), aliased(Candidate)
    first = ca.model < cb.model
    a_wins = case((first, case((ia.rank < ib.rank, 1), else_=0)), else_=case((ib.rank < ia.rank, 1), else_=0))
    query = (
        select(Ranking.prompt_id, case((first, ca.model), else_=cb.model).label("a"),
               case((first, cb.model), else_=ca.model).label("b"),
               func.sum(a_wins), func.sum(case((ia.rank == ib.rank, 1), else_=0)), func.count())
        .select_from(Ranking)
        .join(Prompt, Prompt.id == Ranking.prompt_id)
        .join(ia, ia.ranking_id == Ranking.id)
        .join(ib, (ib.ranking_id == Ranking.id) & (ib.candidate_id > ia.candidate_id))
        .join(ca, ca.id == ia.candidate_id)
        .join(cb, cb.id == ib.candidate_id)
        .where(*_counted_rankings(project_id, splits, origins), ia.rank.is_not(None), ib.rank.is_not(None),
               ca.model != cb.model)
        .group_by(Ranking.prompt_id, "a", "b")
        .order_by(Ranking.prompt_id)  # grouped by prompt: the tally counts distinct prompts as they pass
    )
    if models:
        query = query.where(ca.model.in_(models), cb.model.in_(models))
    return query


def _rm_query(project_id: int, rm: str, models: tuple[str, ...], splits: tuple[str, ...] | list[str],
              origins: tuple[str, ...], over: Over) -> Select:
    """Per prompt and pair of models (a < b): the reward model's judgments of their candidates' pairs."""
    ca, cb = aliased(Candidate), aliased(Candidate)
    sa, sb = aliased(CandidateScore), aliased(CandidateScore)
    query = (
        select(ca.prompt_id, ca.model, cb.model,
               func.sum(case((sa.score > sb.score, 1), else_=0)), func.sum(case((sa.score == sb.score, 1), else_=0)),
               func.count())
        .select_from(ca)
        .join(cb, (cb.prompt_id == ca.prompt_id) & (ca.model < cb.model))
        .join(sa, (sa.candidate_id == ca.id) & (sa.reward_model == rm))
        .join(sb, (sb.candidate_id == cb.id) & (sb.reward_model == rm))
        .join(Prompt, Prompt.id == ca.prompt_id)
        .where(Prompt.project_id == project_id)
        .group_by(ca.prompt_id, ca.model, cb.model)
        .order_by(ca.prompt_id)
    )
    if splits:
        query = query.where(Prompt.split.in_(list(splits)))
    if models:
        query = query.where(ca.model.in_(models), cb.model.in_(models))
    if over == "ranked":
        ranked = (select(Ranking.id).where(Ranking.prompt_id == ca.prompt_id)
                  .where(*_counted_rankings(project_id, splits, origins)[1:]))
        query = query.where(ranked.exists())
    return query


def _reward_model_key(session: Session, project_id: int, given: str) -> str:
    """The `candidate_scores.reward_model` value `given` names: as stored, or a folder resolved as `score` stores it."""
    known = reward_models_of(session, project_id)
    if given in known:
        return given
    resolved = str(Path(given).expanduser().resolve())
    if resolved in known:
        return resolved
    listed = ", ".join(f"`{k}`" for k in known) or "none yet (run `labeler score`)"
    raise Invalid(f"--reward-model: no scores by `{given}` in this project; reward models with scores: {listed}")


def reward_models_of(session: Session, project_id: int) -> list[str]:
    """The reward models that scored candidates of a project, by name."""
    return list(session.scalars(
        select(CandidateScore.reward_model).distinct()
        .join(Candidate, Candidate.id == CandidateScore.candidate_id)
        .join(Prompt, Prompt.id == Candidate.prompt_id)
        .where(Prompt.project_id == project_id).order_by(CandidateScore.reward_model)))


def list_reward_models(session: Session, actor: Actor, project_name: str) -> list[str]:
    """The reward models with scores in a project (admins, reviewers of the project)."""
    require_role(actor, "admin", "reviewer")
    return reward_models_of(session, get_project_for(session, actor, project_name).id)


def project_models(session: Session, actor: Actor, project_name: str) -> list[tuple[str, int]]:
    """The models that wrote a project's candidates, with how many each wrote (admins, reviewers)."""
    require_role(actor, "admin", "reviewer")
    project = get_project_for(session, actor, project_name)
    rows = session.execute(
        select(Candidate.model, func.count()).join(Prompt, Prompt.id == Candidate.prompt_id)
        .where(Prompt.project_id == project.id, Candidate.model.is_not(None))
        .group_by(Candidate.model).order_by(Candidate.model))
    return [(m, n) for m, n in rows]


# ---------------------------------------------------------------------------------------------
# A comparison round


def round_request(project: str, models: list[str] | tuple[str, ...], *, splits: tuple[Split, ...] = (),
                  limit: int | None = None, **options: Any) -> GenerationRequest:
    """The generation request of a comparison round: one candidate per model on each prompt of the set."""
    names = tuple(dict.fromkeys(m.strip() for m in models if m and m.strip()))
    if len(names) < 2:
        raise Invalid(f"a comparison round needs two models or more, got {len(names)}: "
                      "pass them as --models a,b (remote names or local:<path>)")
    try:
        return GenerationRequest(project=project, models=names, per_model=True, splits=splits, limit=limit, **options)
    except ValueError as e:  # pydantic names the bad value
        raise Invalid(f"invalid comparison round: {e}") from None


def plan_comparison_round(session: Session, actor: Actor, request: GenerationRequest) -> Any:
    """What a round would ask (a dry run; admins only)."""
    require_admin(actor)
    return plan_generation(session, actor, request)


def comparison_round(actor: Actor, request: GenerationRequest, *, url: str | None = None,
                     progress: Progress | None = None) -> GenerationSummary:
    """Generate a round's candidates (admins only); rankings of them then fill the comparison report."""
    require_admin(actor)
    if not request.per_model:
        raise Invalid("a comparison round generates one candidate per model: build it with `round_request`")
    return run_generation(actor, request, url=url, progress=progress)
