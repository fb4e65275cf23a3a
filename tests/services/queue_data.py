"""Builders and checks shared by the queue and labeling tests: prompts with candidates, counter audits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from db.base import utcnow
from db.models import Assignment, Candidate, Demonstration, Event, Project, Prompt, Ranking, RankingItem
from labeler.services import session_scope


def add_prompts(project: str, n: int, candidates: int = 4) -> list[int]:
    """Store `n` one-turn prompts, each with `candidates` generated replies; their ids, oldest first."""
    with session_scope() as s:
        pid = s.scalar(select(Project.id).where(Project.name == project))
        base = s.scalar(select(func.count()).select_from(Prompt)) or 0
        prompts = [
            Prompt(project_id=pid, messages=[{"role": "user", "content": f"question {base + i}"}],
                   content_hash=f"h{base + i:031d}", source="test")
            for i in range(n)
        ]
        s.add_all(prompts)
        s.flush()
        s.add_all(
            Candidate(prompt_id=p.id, text=f"reply {j} to {p.id}", text_hash=f"c{p.id:015d}{j:016d}",
                      origin="generated")
            for p in prompts
            for j in range(candidates)
        )
        return [p.id for p in prompts]


def expire(assignment_id: int, minutes: int = 1) -> None:
    """Move a lease's expiry into the past (time travel without sleeping)."""
    with session_scope() as s:
        s.execute(update(Assignment).where(Assignment.id == assignment_id)
                  .values(expires_at=utcnow() - timedelta(minutes=minutes)))


def counter(prompt_id: int, kind: str) -> int:
    """The stored denormalized count of `kind` on a prompt."""
    with session_scope(write=False) as s:
        return s.scalar(select(getattr(Prompt, f"{kind}_count")).where(Prompt.id == prompt_id))


def audit_counters() -> list[str]:
    """Prompts whose counters differ from active leases + submitted/accepted human results (gold ones never count)."""
    problems = []
    with session_scope(write=False) as s:
        for kind, model in (("demonstration", Demonstration), ("ranking", Ranking)):
            leases = dict(s.execute(
                select(Assignment.prompt_id, func.count()).where(Assignment.kind == kind, Assignment.status == "active",
                                                                 Assignment.gold.is_(None))
                .group_by(Assignment.prompt_id)).all())
            done = dict(s.execute(
                select(model.prompt_id, func.count())
                .outerjoin(Assignment, Assignment.id == model.assignment_id)
                .where(model.origin == "human", model.status.in_(("submitted", "accepted")), Assignment.gold.is_(None))
                .group_by(model.prompt_id)).all())
            for pid, stored in s.execute(select(Prompt.id, getattr(Prompt, f"{kind}_count"))):
                expected = leases.get(pid, 0) + done.get(pid, 0)
                if stored != expected:
                    problems.append(f"prompt {pid} {kind}: stored {stored}, expected {expected}")
    return problems


def snapshot() -> dict:
    """Everything a rejected submission must leave untouched."""
    with session_scope(write=False) as s:
        return {
            "assignments": s.execute(select(Assignment.id, Assignment.status, Assignment.expires_at)
                                     .order_by(Assignment.id)).all(),
            "demonstrations": s.execute(select(Demonstration.id, Demonstration.status, Demonstration.turns,
                                               Demonstration.seconds_spent).order_by(Demonstration.id)).all(),
            "rankings": s.execute(select(Ranking.id, Ranking.status, Ranking.comment).order_by(Ranking.id)).all(),
            "items": s.execute(select(RankingItem.id, RankingItem.rank, RankingItem.likert, RankingItem.flags)
                               .order_by(RankingItem.id)).all(),
            "prompts": s.execute(select(Prompt.id, Prompt.demonstration_count, Prompt.ranking_count)
                                 .order_by(Prompt.id)).all(),
            "events": s.scalar(select(func.count()).select_from(Event)),
        }


@pytest.fixture(autouse=True)
def cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many accounts, none of which logs in: hash their passwords with minimal argon2 cost."""
    from argon2 import PasswordHasher

    monkeypatch.setattr("labeler.services.auth._hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
