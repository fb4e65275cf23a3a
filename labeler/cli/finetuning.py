"""`labeler finetune`: launch fine-tune jobs from an export, follow them, cancel them.

Each action is one service call (`start_finetune`, `refresh_finetune`, `cancel_finetune`), which runs
its network steps outside any database transaction; the command shows a spinner saying what happens.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from labeler.cli.base import (
    _actor,
    _print_json,
    _typer,
    app,
    console,
    ensure_migrated,
    err_console,
    lazy,
    session_scope,
)
from labeler.errors import LabelerError

finetune = lazy("labeler.services.finetune")

finetune_app = _typer("Fine-tuning: launch jobs from an export on an OpenAI-compatible API, follow, cancel.")
app.add_typer(finetune_app, name="finetune")

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@contextmanager
def _spinner(first: str, quiet: bool) -> Iterator[Any]:
    """A status line on stderr that each step updates (nothing under --json)."""
    if quiet:
        yield lambda _message: None
        return
    with err_console.status(escape(first)) as status:
        yield lambda message: status.update(escape(message))


@finetune_app.command("create")
def finetune_create(
    export: Annotated[Path, typer.Option(help="An export folder (with manifest.json) to train on.")],
    model: Annotated[str, typer.Option(help="Base model to fine-tune, e.g. gpt-4o-mini-2024-07-18.")],
    method: Annotated[str, typer.Option(help="supervised (openai-chat, sft-messages) or dpo (openai-preference).")]
    = "supervised",
    suffix: Annotated[str | None, typer.Option(help="Up to 64 characters added to the fine-tuned model's name.")]
    = None,
    epochs: Annotated[int | None, typer.Option(help="Training epochs (default: the server's `auto`).")] = None,
    beta: Annotated[float | None, typer.Option(help="dpo: how far the model may move from the base (0..2].")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Examples per batch (default `auto`).")] = None,
    lr_multiplier: Annotated[float | None, typer.Option(help="Learning-rate multiplier (default `auto`).")] = None,
    as_json: AsJson = False,
) -> None:
    """Validate an export, upload its train and valid files, create the job and record it."""
    ensure_migrated()
    with session_scope(write=False) as s:
        actor = _actor(s)
    with _spinner(f"checking {export}", as_json) as say:
        job = finetune.start_finetune(actor, export, model, method, suffix=suffix, epochs=epochs, beta=beta,
                                      batch_size=batch_size, learning_rate_multiplier=lr_multiplier, progress=say)
        data = finetune.job_summary(job)
    if as_json:
        _print_json(data)
        return
    console.print(f"fine-tuning job #{data['id']} created: {escape(data['provider_job_id'])} "
                  f"({data['method']} on {escape(data['base_model'])}, status {data['status']})")
    console.print(f"  files: train {escape(str(data['training_file_id']))}"
                  + (f", valid {escape(str(data['validation_file_id']))}" if data["validation_file_id"] else ""))
    console.print(f"  follow it with `labeler finetune status {data['id']}`")


def _refresh(ref: str | int, quiet: bool) -> dict[str, Any]:
    """Fetch a job from its server and store it; its summary with events and checkpoints."""
    with session_scope(write=False) as s:
        actor = _actor(s)
    with _spinner(f"reading job {ref}", quiet):
        return finetune.job_summary(finetune.refresh_finetune(actor, ref), with_events=True)


def _when(value: Any) -> str:
    if isinstance(value, int):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return str(value or "")


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) else ""


def _show_job(data: dict[str, Any], n_events: int) -> None:
    model = escape(data["base_model"]) + (f" -> {escape(data['fine_tuned_model'])}" if data["fine_tuned_model"]
                                          else "")
    console.print(f"job #{data['id']} {escape(data['provider_job_id'])}: [bold]{data['status']}[/bold]")
    console.print(f"  model: {model}")
    hp = ", ".join(f"{k} {v}" for k, v in (data["hyperparameters"] or {}).items()) or "server defaults"
    console.print(f"  method: {data['method']} ({escape(hp)}); server {escape(str(data['base_url']))}")
    console.print(f"  files: train {escape(str(data['training_file_id']))}"
                  + (f", valid {escape(str(data['validation_file_id']))}" if data["validation_file_id"] else "")
                  + (f"; export #{data['export_id']}" if data["export_id"] else ""))
    events = data["events"]
    if events:
        shown = events[-n_events:] if n_events > 0 else []
        table = Table("time (UTC)", "level", "message", title=f"events (last {len(shown)} of {len(events)})")
        for e in shown:
            table.add_row(_when(e.get("created_at")), str(e.get("level")), escape(str(e.get("message"))))
        console.print(table)
    else:
        console.print("  no events yet")
    if data["checkpoints"]:
        table = Table("step", "train loss", "valid loss", "train acc", "valid acc", "checkpoint", title="checkpoints")
        table.columns[-1].overflow = "fold"
        for c in data["checkpoints"]:
            m = c.get("metrics") or {}
            table.add_row(str(c.get("step_number")), _num(m.get("train_loss")), _num(m.get("valid_loss")),
                          _num(m.get("train_mean_token_accuracy")), _num(m.get("valid_mean_token_accuracy")),
                          escape(str(c.get("fine_tuned_model_checkpoint") or "")))
        console.print(table)


@finetune_app.command("status")
def finetune_status(
    job: Annotated[str | None, typer.Argument(help="Our job number or the provider's job id (default: the latest).")]
    = None,
    refresh: Annotated[bool, typer.Option("--refresh/--no-refresh", help="Ask the server first (default).")] = True,
    events: Annotated[int, typer.Option(help="How many of the latest events to show.")] = 20,
    as_json: AsJson = False,
) -> None:
    """A job's status, events and checkpoint metrics, fetched from its server and stored."""
    ensure_migrated()
    ref: str | int | None = job
    if ref is None:
        with session_scope(write=False) as s:
            jobs = finetune.list_jobs(s, _actor(s))
            if not jobs:
                raise LabelerError("no fine-tuning jobs recorded yet: start one with `labeler finetune create`")
            ref = jobs[0].id
    if refresh:
        data = _refresh(ref, as_json)
    else:
        with session_scope(write=False) as s:
            data = finetune.job_summary(finetune.get_job(s, _actor(s), ref), with_events=True)
    if as_json:
        _print_json(data)
    else:
        _show_job(data, events)


@finetune_app.command("list")
def finetune_list(
    project: Annotated[str | None, typer.Option(help="Only jobs trained on this project's exports.")] = None,
    refresh: Annotated[bool, typer.Option("--refresh", help="Ask the server about unfinished jobs first.")] = False,
    as_json: AsJson = False,
) -> None:
    """Recorded fine-tuning jobs with status, models and the latest checkpoint's losses."""
    ensure_migrated()
    with session_scope(write=False) as s:
        rows = [finetune.job_summary(j) for j in finetune.list_jobs(s, _actor(s), project)]
    if refresh:
        for row in rows:
            if row["status"] not in finetune.TERMINAL:
                _refresh(row["id"], as_json)
        with session_scope(write=False) as s:
            rows = [finetune.job_summary(j) for j in finetune.list_jobs(s, _actor(s), project)]
    if as_json:
        _print_json(rows)
        return
    if not rows:
        console.print("no fine-tuning jobs recorded")
        return
    table = Table("#", "job", "status", "method", "base model", "loss (train/valid)", "fine-tuned model")
    for column in table.columns[1:]:
        column.overflow = "fold"
    for r in rows:
        loss = f"{_num(r['train_loss'])} / {_num(r['valid_loss'])}" if r["train_loss"] is not None else ""
        table.add_row(str(r["id"]), escape(r["provider_job_id"]), r["status"], r["method"], escape(r["base_model"]),
                      loss, escape(r["fine_tuned_model"] or ""))
    console.print(table)


@finetune_app.command("cancel")
def finetune_cancel(
    job: Annotated[str, typer.Argument(help="Our job number or the provider's job id.")],
    as_json: AsJson = False,
) -> None:
    """Cancel a job that has not finished, on its server, and record it."""
    ensure_migrated()
    with session_scope(write=False) as s:
        actor = _actor(s)
    with _spinner(f"cancelling {job}", as_json):
        data = finetune.job_summary(finetune.cancel_finetune(actor, job))
    if as_json:
        _print_json(data)
    else:
        console.print(f"job #{data['id']} {escape(data['provider_job_id'])}: {data['status']}")
