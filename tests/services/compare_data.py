"""Rankings, candidates with their models, and reward-model scores stored directly, for the comparison tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import func, select

from db.models import Candidate, CandidateScore, Project, Prompt, Ranking, RankingItem
from labeler.services import session_scope
from labeler.services.ingest_labels import text_hash


def add_prompt(project: str, models: Sequence[str | None], split: str = "train") -> list[int]:
    """A prompt with one candidate per entry of `models` (None: a candidate without a model); the candidate ids."""
    with session_scope() as s:
        pid = s.scalar(select(Project.id).where(Project.name == project))
        n = s.scalar(select(func.count()).select_from(Prompt)) or 0
        prompt = Prompt(project_id=pid, messages=[{"role": "user", "content": f"q{n}"}], content_hash=f"p{n:031d}",
                        split=split)
        s.add(prompt)
        s.flush()
        cands = [Candidate(prompt_id=prompt.id, text=f"reply {i} to {prompt.id}", origin="generated", model=m,
                           text_hash=text_hash(f"reply {i} to {prompt.id}")) for i, m in enumerate(models)]
        s.add_all(cands)
        s.flush()
        return [c.id for c in cands]


def add_ranking(ranks: Mapping[int, int | None], *, status: str = "submitted", origin: str = "human",
                none_acceptable: bool = False) -> int:
    """A ranking of the candidates `ranks` maps to their rank (of one prompt)."""
    with session_scope() as s:
        prompt_id = s.scalar(select(Candidate.prompt_id).where(Candidate.id == next(iter(ranks))))
        ranking = Ranking(prompt_id=prompt_id, status=status, origin=origin, none_acceptable=none_acceptable,
                          display_order=list(ranks),
                          items=[RankingItem(candidate_id=c, rank=r, position=i)
                                 for i, (c, r) in enumerate(ranks.items())])
        s.add(ranking)
        s.flush()
        return ranking.id


def add_scores(reward_model: str, scores: Mapping[int, float]) -> None:
    """A reward model's scores of candidates."""
    with session_scope() as s:
        s.add_all(CandidateScore(candidate_id=c, reward_model=reward_model, score=v) for c, v in scores.items())
