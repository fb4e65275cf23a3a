"""Labelled work for the admin console tests, made through the queue and labeling services."""

from __future__ import annotations

from labeler.services import session_scope
from labeler.services.actors import Actor
from labeler.services.labeling import ItemSubmission, RankingSubmission, submit_demonstration, submit_ranking
from labeler.services.queue import next_task


def submit_work(labeler: Actor, project: str, demonstrations: int = 0, rankings: int = 0,
                flag: str | None = None) -> None:
    """`labeler` writes `demonstrations` demonstrations and ranks `rankings` prompts in `project`: the candidate
    shown first is best, Likert 7, 6, ... down the display order, `flag` set on the one shown last."""
    for kind, n in (("demonstration", demonstrations), ("ranking", rankings)):
        for i in range(n):
            with session_scope() as s:
                task = next_task(s, labeler, project, kind)
                assert task is not None, f"no {kind} task left for {labeler.username} in {project}"
                if kind == "demonstration":
                    submit_demonstration(s, labeler, task.assignment_id,
                                         [{"role": "assistant", "content": f"Answer {i} by {labeler.username}."}],
                                         seconds_spent=30.0 + i)
                else:
                    last = len(task.candidates) - 1
                    items = [ItemSubmission(candidate_id=c.candidate_id, rank=r + 1, likert=7 - r,
                                            flags=[flag] if flag and r == last else [])
                             for r, c in enumerate(task.candidates)]
                    submit_ranking(s, labeler, task.assignment_id, RankingSubmission(items=items, seconds_spent=20.0))
