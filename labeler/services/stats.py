"""Counts of a project's data by status and split: `labeler stats` and the progress dashboard."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Candidate, Demonstration, Prompt, Ranking
from labeler.services.actors import Actor, require_admin
from labeler.services.projects import get_project_for, list_projects


def project_stats(session: Session, actor: Actor, project_name: str) -> dict[str, Any]:
    """Prompts by split; candidates by origin; demonstrations and rankings by status, origin and split."""
    project = get_project_for(session, actor, project_name)
    pid = project.id
    prompts = dict(
        session.execute(
            select(Prompt.split, func.count()).where(Prompt.project_id == pid).group_by(Prompt.split)
        ).all()
    )
    candidates = dict(
        session.execute(
            select(Candidate.origin, func.count())
            .join(Prompt, Prompt.id == Candidate.prompt_id)
            .where(Prompt.project_id == pid)
            .group_by(Candidate.origin)
        ).all()
    )
    return {
        "project": project.name,
        "prompts": {"total": sum(prompts.values()), "by_split": prompts},
        "candidates": {"total": sum(candidates.values()), "by_origin": candidates},
        "demonstrations": _work_counts(session, Demonstration, pid),
        "rankings": _work_counts(session, Ranking, pid),
    }


def _work_counts(session: Session, model: type[Demonstration] | type[Ranking], project_id: int) -> dict[str, Any]:
    rows = session.execute(
        select(model.status, model.origin, Prompt.split, func.count())
        .join(Prompt, Prompt.id == model.prompt_id)
        .where(Prompt.project_id == project_id)
        .group_by(model.status, model.origin, Prompt.split)
    ).all()
    out: dict[str, Any] = {"total": 0, "by_status": {}, "by_origin": {}, "by_split": {}}
    for status, origin, split, n in rows:
        out["total"] += n
        for key, value in (("by_status", status), ("by_origin", origin), ("by_split", split)):
            out[key][value] = out[key].get(value, 0) + n
    return out


def projects_overview(session: Session, actor: Actor) -> list[dict[str, Any]]:
    """One row of counts per project, for the admin overview (admins only)."""
    require_admin(actor)
    rows = []
    for project in list_projects(session, actor):
        data = project_stats(session, actor, project.name)
        rows.append({
            "project": project.name,
            "prompts": data["prompts"]["total"],
            "candidates": data["candidates"]["total"],
            "demonstrations": data["demonstrations"]["by_status"].get("submitted", 0),
            "rankings": data["rankings"]["by_status"].get("submitted", 0),
            "imported rankings": data["rankings"]["by_origin"].get("imported", 0),
            "created": project.created_at,
        })
    return rows
