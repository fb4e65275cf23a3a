"""`labeler train`: TRL's trainers on an export folder, run locally as a recorded job in its own process.

`labeler train sft|reward|dpo|kto` checks the export and starts the run, returning at once;
`labeler train status JOB` reads its status and losses back into the store; `labeler train cancel JOB`
stops it; `labeler train use JOB --project P` adds the trained model to a project's generation
models. The service (`labeler.services.train`) never imports torch or TRL; the worker process does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from labeler.cli.base import _actor, _print_json, _typer, app, console, ensure_migrated, lazy, session_scope

train = lazy("labeler.services.train")

train_app = _typer("Train locally with TRL (sft, reward, dpo, kto) on an export folder; follow and cancel runs.")
app.add_typer(train_app, name="train")

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _start(kind: str, export: Path, base_model: Path, out: Path | None, epochs: float, max_steps: int | None,
           lr: float, batch_size: int, max_length: int, lora: bool, as_json: bool) -> None:
    ensure_migrated()
    request = train.TrainRequest(kind=kind, export_dir=export, base_model=base_model, out=out, epochs=epochs,
                                 max_steps=max_steps, lr=lr, batch_size=batch_size, max_length=max_length, lora=lora)
    with session_scope() as s:
        job = train.start_training(s, _actor(s), request)
        data = train.training_summary(job)
    if as_json:
        _print_json(data)
        return
    console.print(escape(f"training job {data['id']} ({data['provider_job_id']}) started: {kind} on {export}; "
                         f"`labeler train status {data['id']}` follows it"))


def _command(kind: str, trainer: str) -> None:
    def command(
        export: Annotated[Path, typer.Option(help="An export folder (with manifest.json) to train on.")],
        base_model: Annotated[Path, typer.Option(help="A local model folder to start from.")],
        out: Annotated[Path | None, typer.Option(help="Where the trained model goes (default: the data folder).")]
        = None,
        epochs: Annotated[float, typer.Option(help="Training epochs (ignored with --max-steps).")] = 1.0,
        max_steps: Annotated[int | None, typer.Option(help="Stop after this many optimiser steps.")] = None,
        lr: Annotated[float, typer.Option(help="Learning rate.")] = 5e-5,
        batch_size: Annotated[int, typer.Option(help="Examples per device batch.")] = 2,
        max_length: Annotated[int, typer.Option(help="Longest tokenised example.")] = 512,
        lora: Annotated[bool, typer.Option(help="Train a PEFT LoRA adapter (needs `peft`).")] = False,
        as_json: AsJson = False,
    ) -> None:
        _start(kind, export, base_model, out, epochs, max_steps, lr, batch_size, max_length, lora, as_json)

    command.__doc__ = f"Run TRL's {trainer} on an export, as a local job in its own process (returns at once)."
    train_app.command(kind)(command)


for _kind, _trainer in (("sft", "SFTTrainer"), ("reward", "RewardTrainer"), ("dpo", "DPOTrainer"),
                        ("kto", "KTOTrainer")):
    _command(_kind, _trainer)


@train_app.command("status")
def train_status(job: Annotated[str, typer.Argument(help="Job id.")], as_json: AsJson = False) -> None:
    """Read a run's status, step and losses back into the store and show them."""
    ensure_migrated()
    with session_scope() as s:
        data = train.training_summary(train.refresh_training(s, _actor(s), job))
    if as_json:
        _print_json(data)
        return
    console.print(escape(f"job {data['id']} ({data['method']}): {data['status']}, step {data['step']}, "
                         f"train loss {data['train_loss']}, model {data['fine_tuned_model'] or '-'}"))


@train_app.command("cancel")
def train_cancel(job: Annotated[str, typer.Argument(help="Job id.")], as_json: AsJson = False) -> None:
    """Stop a run (at its next step) and record it as cancelled."""
    ensure_migrated()
    with session_scope() as s:
        data = train.training_summary(train.cancel_training(s, _actor(s), job))
    if as_json:
        _print_json(data)
        return
    console.print(escape(f"job {data['id']}: cancelled"))


@train_app.command("use")
def train_use(
    job: Annotated[str, typer.Argument(help="Job id of a finished sft, dpo or kto run.")],
    project: Annotated[str, typer.Option(help="Project whose generation models get the trained model.")],
) -> None:
    """Add a trained model to a project's generation models: the next `generate` samples from it."""
    ensure_migrated()
    with session_scope() as s:
        model = train.use_trained_model(s, _actor(s), job, project)
    console.print(escape(f"project `{project}` now generates with `{model}` too"))
