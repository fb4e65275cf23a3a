"""The quality service's consensus per prompt, for checking it against the export's consensus mode."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy.orm import Session

from exports.aggregate import consensus
from exports.rows import RankingRow
from labeler.services.actors import Actor
from labeler.services.quality import _project, _prompt_groups


def consensus_rankings(
    session: Session, actor: Actor, project_name: str, origins: tuple[str, ...] = ("human",)
) -> Iterator[RankingRow]:
    """One consensus per prompt (`exports.aggregate.consensus`) of its counted rankings of these origins.

    The same rankings and function as `labeler export --aggregate consensus --status submitted,accepted
    --source ...`, so ranks and `agreement` match the export's. Rows carry no texts (candidate ids
    only). Streams: consume it inside the session.
    """
    project = _project(session, actor, project_name)  # checked now, not at the first row
    return (consensus(chosen) for group in _prompt_groups(session, project.id)
            if (chosen := [row for origin, _source, row in group if origin in origins]))
