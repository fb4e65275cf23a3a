"""`labeler score`: a reward model scores a project's candidates (resumable), for agreement and routing.

The service (`labeler.services.scoring`) imports torch only when it loads the model, and only if
there is something to score; this module imports no service until the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from labeler.cli.base import _actor, _print_json, app, console, ensure_migrated, lazy, session_scope
from labeler.cli.generation import _progress

scoring = lazy("labeler.services.scoring")


@app.command("score")
def score(
    project: Annotated[str, typer.Option(help="Project whose candidates are scored.")],
    reward_model: Annotated[Path, typer.Option(help="A reward model folder (e.g. from `labeler train reward`).")],
    split: Annotated[str | None, typer.Option(help="Only prompts of this split (train, valid or test).")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many prompts (with unscored candidates).")] = None,
    batch_size: Annotated[int, typer.Option(help="Replies per forward pass.")] = 16,
    max_length: Annotated[int, typer.Option(help="Longest text in tokens (longer ones keep their end).")] = 1024,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Score every candidate (conversation + reply) with a reward model; resumable: scored ones are skipped."""
    ensure_migrated()
    request = scoring.ScoreRequest(project=project, reward_model=reward_model, split=split, limit=limit,
                                   batch_size=batch_size, max_length=max_length)
    with session_scope(write=False) as s:
        actor = _actor(s)
    with _progress(quiet=as_json, label="scoring", unit="replies") as progress:
        summary = scoring.score_project(actor, request, progress=progress)
    if as_json:
        _print_json(summary.to_dict())
        return
    where = f" ({summary.split} split)" if summary.split else ""
    console.print(f"scored `{escape(summary.project)}`{where} with {escape(summary.reward_model)} in "
                  f"{summary.seconds:.1f}s: {summary.scored} new score(s) on {summary.prompts} prompt(s), "
                  f"{summary.skipped} skipped (scored before)", soft_wrap=True)
    if summary.routing:
        console.print("margins updated: this is the project's routing reward model (`uncertain-first`)")
    for note in summary.notes:
        console.print(escape(note), soft_wrap=True)
