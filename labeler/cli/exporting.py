"""Commands for training sets: export, export history, validate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from labeler.cli.base import _actor, _csv, _print_json, app, console, ensure_migrated, err_console, session_scope
from labeler.errors import LabelerError


@app.command("export")
def export_(
    format: Annotated[str, typer.Argument(help="Export format, e.g. pairs, sft-messages, openai-chat (see README).")],
    project: Annotated[str, typer.Option(help="Project to export.")],
    out: Annotated[Path, typer.Option(help="Folder to write <split>.jsonl, manifest.json and README.md into.")],
    status: Annotated[str, typer.Option(help="Comma-separated: submitted, accepted.")] = "submitted,accepted",
    source: Annotated[str | None, typer.Option(help="Comma-separated: human, imported (default both).")] = None,
    split: Annotated[str | None, typer.Option(help="Comma-separated splits (default all).")] = None,
    labeler: Annotated[str | None, typer.Option(help="Comma-separated usernames (default all).")] = None,
    since: Annotated[str | None, typer.Option(help="Only work submitted from this day (ISO; a time is exact).")]
    = None,
    until: Annotated[str | None, typer.Option(help="Only work submitted up to this day, included (ISO; a time "
                                                   "is exact: before it).")] = None,
    aggregate: Annotated[str, typer.Option(help="Rankings: per-labeler or consensus.")] = "per-labeler",
    exclude_flag: Annotated[list[str] | None, typer.Option(help="Drop candidates with this flag (repeatable).")] = None,
    weight_non_human: Annotated[
        bool, typer.Option("--weight-non-human", help="openai-chat: weight 0 on turns no labeler wrote.")
    ] = False,
    include_paraphrases: Annotated[bool, typer.Option(
        "--include-paraphrases", help="Demonstration formats: also each kept paraphrase with its source's "
                                      "demonstration (counted as `augmented`).")] = False,
    allow_overlap: Annotated[bool, typer.Option(
        "--allow-overlap", help="prompts, openai-rft: also prompts the SFT/RM sets of the same filters use.")] = False,
    models: Annotated[str | None, typer.Option(help="model-comparison: comma-separated models (default all).")]
    = None,
    reward_model: Annotated[str | None, typer.Option(
        help="model-comparison: judged by this reward model's scores instead of humans.")] = None,
    parquet: Annotated[bool, typer.Option("--parquet", help="Also write Parquet beside JSONL.")] = False,
    target_model: Annotated[str | None, typer.Option(help="Check token counts against this model.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Export a training set: one file per split, a manifest and a dataset card; validated first."""
    from labeler.services.export import ExportFilters, ExportRequest, date_filter, export_dataset

    ensure_migrated()
    try:
        request = ExportRequest(
            format=format, project=project, out_dir=out, aggregate=aggregate, exclude_flags=exclude_flag or [],
            weight_non_human=weight_non_human, parquet=parquet, target_model=target_model,
            include_paraphrases=include_paraphrases,
            allow_overlap=allow_overlap, models=_csv(models), reward_model=reward_model,
            filters=ExportFilters(
                statuses=_csv(status), origins=_csv(source), splits=_csv(split), labelers=_csv(labeler),
                since=date_filter(since, "--since"), until=date_filter(until, "--until", until=True),
            ),
        )
    except ValueError as e:  # pydantic names the bad option value
        raise LabelerError(f"invalid export options: {e}") from None
    with _records_progress("exporting", quiet=as_json) as progress, session_scope() as s:
        summary = export_dataset(s, _actor(s), request, progress=progress)
    if as_json:
        _print_json(summary.model_dump())
        return
    counts = ", ".join(f"{k} {v}" for k, v in summary.counts.items())
    console.print(f"exported `{summary.format}` to {escape(summary.path)}: {counts} (export #{summary.id})")
    if summary.warnings:
        console.print(f"  validation warnings: {summary.warnings} (see manifest.json)")


class _records_progress:
    """A spinner with a running count of records written."""

    def __init__(self, label: str, quiet: bool) -> None:
        self.quiet = quiet
        self.bar = Progress(TextColumn(label), BarColumn(), TextColumn("{task.completed:,} records"),
                            TimeElapsedColumn(), console=err_console, transient=True)

    def __enter__(self):  # noqa: ANN204
        if self.quiet:
            return None
        self.bar.start()
        task = self.bar.add_task(self.bar.columns[0].text_format, total=None)
        return lambda n: self.bar.update(task, completed=n)

    def __exit__(self, *exc: object) -> None:
        if not self.quiet:
            self.bar.stop()


@app.command("export-history")
def export_history(
    project: Annotated[str | None, typer.Option(help="Only this project's exports.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Past exports with their format, counts, folder and file checksums."""
    from labeler.services.export import list_exports

    ensure_migrated()
    with session_scope(write=False) as s:
        rows = [{"id": e.id, "format": e.format, "path": e.path, "counts": e.counts, "files": e.files,
                 "filters": e.filters, "created_at": e.created_at} for e in list_exports(s, _actor(s), project)]
    if as_json:
        _print_json(rows)
        return
    for r in rows:
        counts = ", ".join(f"{k} {v}" for k, v in r["counts"].items())
        console.print(f"#{r['id']} {r['created_at']:%Y-%m-%d %H:%M} {r['format']} {escape(r['path'])} ({counts})")


@app.command("validate")
def validate(
    path: Annotated[Path, typer.Argument(help="A JSONL training file (made here or elsewhere).")],
    format: Annotated[str, typer.Option(help="The format to check against (see README).")],
    target_model: Annotated[str | None, typer.Option(help="Check token counts against this model.")] = None,
    against: Annotated[
        list[Path] | None, typer.Option(help="Another file of the same set (e.g. validation): no shared examples.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check a training file against its consumer's rules; exit 1 when it has errors."""
    from labeler.services.validation import validate_training_file

    report = validate_training_file(path, format, target_model=target_model, other_files=against or [])
    if as_json:
        _print_json(report.to_dict())
    else:
        console.print(escape(report.to_text()), soft_wrap=True)
    if not report.ok:
        raise typer.Exit(1)


