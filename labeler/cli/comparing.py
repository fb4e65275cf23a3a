"""Commands for models judged by preference: the comparison report, and a comparison round.

`labeler compare --project P` prints the report (labeler/services/compare.py); `labeler compare round`
generates one candidate per model per prompt for labelers to rank (a generation run).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from labeler.cli.base import _actor, _csv, _print_json, _typer, app, console, ensure_migrated, lazy, session_scope
from labeler.cli.generation import _print_plan, _print_summary, _progress, finish_run
from labeler.errors import LabelerError

compare_service = lazy("labeler.services.compare")

compare_app = _typer("Models judged by preference: win rates and Bradley-Terry ratings; comparison rounds.")
app.add_typer(compare_app, name="compare")


@compare_app.callback(invoke_without_command=True)
def compare(
    ctx: typer.Context,
    project: Annotated[str | None, typer.Option(help="Project whose candidates' models are compared.")] = None,
    models: Annotated[str | None, typer.Option(help="Comma-separated models to compare (default: all).")] = None,
    split: Annotated[str | None, typer.Option(help="Comma-separated splits (default all).")] = None,
    include_imported: Annotated[bool, typer.Option(
        "--include-imported", help="Also imported rankings (default: labelers' rankings only).")] = False,
    reward_model: Annotated[str | None, typer.Option(
        help="Judge by this reward model's scores (its folder, as `labeler score` stored them) instead of humans.")]
    = None,
    over: Annotated[str, typer.Option(help="With --reward-model: `ranked` (prompts humans ranked) or `scored` "
                                           "(every scored prompt).")] = "ranked",
    rounds: Annotated[int, typer.Option(help="Bootstrap rounds for the 95% intervals (0: none).")] = 200,
    seed: Annotated[int, typer.Option(help="Bootstrap seed (the same data and seed, the same intervals).")] = 0,
    anchor: Annotated[str | None, typer.Option(help="Pin this model at 1000 (default: the models' mean is 1000).")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Compare models by human preference: win rates (ties half) and Bradley-Terry ratings with 95% intervals."""
    if ctx.invoked_subcommand is not None:
        return
    if not project:
        raise LabelerError("--project: name the project whose models to compare (see `labeler compare --help`)")
    ensure_migrated()
    with session_scope(write=False) as s:
        report = compare_service.compare_models(
            s, _actor(s), project, models=_csv(models), splits=_csv(split), include_imported=include_imported,
            reward_model=reward_model, over=over, rounds=rounds, seed=seed, anchor=anchor)
    if as_json:
        _print_json(report.to_dict())
        return
    print_report(report.to_dict())


def print_report(data: dict[str, Any]) -> None:
    """The report as text: who judged, the ratings with intervals, the win-rate matrix, notes."""
    judge = "humans" if data["judge"] == "humans" else f"reward model `{data['reward_model']}`"
    rankings = " and ".join(data["filters"]["rankings"])
    console.print(f"[bold]{escape(data['project'])}[/bold]: models judged by {escape(judge)} "
                  f"({escape(rankings)} rankings, submitted or accepted) on {data['prompts']:,} prompt(s)",
                  soft_wrap=True)
    for note in data["notes"]:
        console.print(f"note: {escape(note)}", soft_wrap=True)
    if not data["models"]:
        return
    ratings = Table(title="Bradley-Terry ratings (Elo scale)", show_header=True, header_style="bold", box=None,
                    pad_edge=False)
    for col in ("#", "model", "rating", "95% interval", "games", "score"):
        ratings.add_column(col, justify="left" if col == "model" else "right")
    for i, st in enumerate(data["strengths"], 1):
        low_high = "n/a" if st["interval"] is None else f"{st['interval'][0]:.0f} to {st['interval'][1]:.0f}"
        ratings.add_row(str(i), escape(st["model"]), f"{st['rating']:.0f}", low_high, f"{st['games']:,}",
                        f"{st['score']:g}")
    console.print(ratings)
    console.print(f"  {escape(data['method']['scale'])}; {escape(data['method']['interval'])}, "
                  f"{data['method']['rounds']} rounds, seed {data['method']['seed']}", soft_wrap=True)
    matrix = Table(title="win rate of the row model against the column model (ties half; games)",
                   show_header=True, header_style="bold", box=None, pad_edge=False)
    matrix.add_column("")
    for m in data["models"]:
        matrix.add_column(escape(m), justify="right")
    for m, rates, games in zip(data["models"], data["win_rate"], data["games"], strict=True):
        matrix.add_row(escape(m), *("-" if r is None else f"{100 * r:.0f}% ({g})" for r, g in zip(rates, games,
                                                                                                     strict=True)))
    console.print(matrix)


@compare_app.command("round")
def compare_round(
    project: Annotated[str, typer.Option(help="Project whose prompts get one candidate per model.")],
    models: Annotated[str, typer.Option(help="Comma-separated models: remote names or local:<path>.")],
    split: Annotated[str | None, typer.Option(help="Comma-separated splits of the prompt set (default all).")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many prompts in this run.")] = None,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature (default: the project's).")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="Most tokens per candidate (default: the project's).")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Requests in flight (default: the project's).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be asked and a token estimate.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan or the summary as JSON.")] = False,
) -> None:
    """A comparison round: one candidate from each model on every prompt of the set (resumable; names hidden)."""
    ensure_migrated()
    request = compare_service.round_request(
        project, _csv(models), splits=tuple(_csv(split)), limit=limit, temperature=temperature,
        max_tokens=max_tokens, concurrency=concurrency)
    with session_scope(write=False) as s:
        actor = _actor(s)
        if dry_run:
            plan = compare_service.plan_comparison_round(s, actor, request)
    if dry_run:
        _print_json(plan.to_dict()) if as_json else _print_plan(plan)
        return
    with _progress(quiet=as_json) as progress:
        summary = compare_service.comparison_round(actor, request, progress=progress)
    finish_run(summary, as_json, _print_summary, "comparison round")
    if not as_json:
        console.print(f"labelers rank the new candidates on Rank (model names hidden); then "
                      f"`labeler compare --project {escape(project)}`", soft_wrap=True)
