"""Local training: TRL's SFT, reward, DPO and KTO trainers on an export folder, as a recorded job.

Design constraints:
- **Checked before any process starts**: the export's manifest names its format, which must be one
  the trainer takes (`FORMATS`); its train split must have rows; the base model must be a model
  folder. A bad export is an Invalid with the reason, and nothing is recorded or started.
- **A job like a fine-tune job**: recorded in `finetune_jobs` with provider `local` (method = the
  kind, `fine_tuned_model` = the model folder when it succeeds); the run is its own process
  (`python -m labeler.train_worker RUN_DIR`, started detached), so the CLI and the app return at once.
- **Read back from files**: the worker writes `status.json`; `refresh_training` copies its status,
  step, losses and eval metrics into the job (one short write). `cancel_training` leaves a `cancel`
  file the worker checks every step, and ends the process if it does not stop; `stop_run` does that
  part alone, so the app waits for the worker with no transaction open and then records the cancel.
- **A missing extra is refused up front**: without torch, transformers, datasets or TRL (or peft for
  LoRA) the run is refused with the install command, instead of a worker that fails at its import.
- No torch, transformers or TRL here: only the worker imports them (the app's Fine-tuning page
  imports this module; `training_curve` and `log_tail` read the run's files for it).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Export, FinetuneJob
from labeler.config import get_settings
from labeler.errors import Conflict, Invalid
from labeler.services.actors import Actor, require_admin
from labeler.services.events import record_event
from labeler.services.finetune import (
    curve_of,
    get_job_or_raise,
    job_summary,
    loss_curve,
    read_manifest,
    split_file,
)
from labeler.services.projects import get_project_or_raise, settings_of, update_project

KINDS = ("sft", "reward", "dpo", "kto")
# The export formats each trainer takes as they are.
FORMATS = {"sft": ("sft-messages", "sft-prompt-completion"), "reward": ("pairs",), "dpo": ("pairs",),
           "kto": ("kto",)}
TERMINAL = ("succeeded", "failed", "cancelled")
PROVIDER = "local"
INSTALL = "pip install 'labeler[train]'"
NEEDS = ("torch", "transformers", "datasets", "trl")  # what the worker imports
LOG_LINES = 40


@dataclass(frozen=True)
class TrainRequest:
    """One local training run."""

    kind: str
    export_dir: Path
    base_model: Path
    out: Path | None = None  # default: <data dir>/models/<kind>-<job>
    epochs: float = 1.0
    max_steps: int | None = None
    lr: float = 5e-5
    batch_size: int = 2
    max_length: int = 512
    lora: bool = False


def plan_training(request: TrainRequest) -> dict[str, Any]:
    """The worker's spec, after every check (Invalid says what is wrong and where)."""
    if request.kind not in KINDS:
        raise Invalid(f"unknown trainer `{request.kind}`; known: {', '.join(KINDS)}")
    missing = [name for name in NEEDS if not _installed(name)]
    if missing:
        raise Invalid(f"local training needs {', '.join(f'`{n}`' for n in missing)}, not installed here: "
                      f"`{INSTALL}`: nothing was started")
    export_dir = request.export_dir.expanduser().resolve()
    manifest = read_manifest(export_dir)
    fmt = manifest.get("format")
    if fmt not in FORMATS[request.kind]:
        raise Invalid(f"{export_dir}: a `{fmt}` export cannot train the {request.kind} trainer; it takes "
                      + " or ".join(f"`{f}`" for f in FORMATS[request.kind]) + ": nothing was started")
    files: dict[str, str | None] = {}
    for split in ("train", "valid"):
        found = split_file(export_dir, manifest, split)
        path = found[0] if found else None
        rows = _rows(path) if path is not None else 0
        if split == "train" and not rows:
            raise Invalid(f"{export_dir}: the train split is empty or missing: nothing was started")
        files[split] = str(path) if rows else None
    base = request.base_model.expanduser().resolve()
    if not (base / "config.json").is_file():
        raise Invalid(f"base model {base}: not a model folder (no config.json)")
    for name, value, low in (("--lr", request.lr, 0), ("--epochs", request.epochs, 0)):
        if not value > low:
            raise Invalid(f"{name} must be above {low}, not {value}")
    for name, value in (("--batch-size", request.batch_size), ("--max-length", request.max_length),
                        ("--max-steps", request.max_steps or 1)):
        if value < 1:
            raise Invalid(f"{name} must be at least 1, not {value}")
    if request.lora and not _installed("peft"):
        raise Invalid(f"LoRA (`--lora`) needs `peft`, not installed here: `{INSTALL}`, or train without LoRA: "
                      "nothing was started")
    return {"kind": request.kind, "export": str(export_dir), "format": fmt, "files": files, "base_model": str(base),
            "epochs": request.epochs, "max_steps": request.max_steps, "lr": request.lr,
            "batch_size": request.batch_size, "max_length": request.max_length, "lora": request.lora,
            "export_id": manifest.get("export_id")}


def _installed(name: str) -> bool:
    """Whether the worker could import `name` (found, not imported: this process stays light)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _rows(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return sum(1 for line in f if line.strip())
    except OSError as e:
        raise Invalid(f"{path}: unreadable: {e}") from None


def start_training(session: Session, actor: Actor, request: TrainRequest) -> FinetuneJob:
    """Check the export, record the job and start its process (admins only); returns at once."""
    require_admin(actor)
    spec = plan_training(request)
    run_id = f"local-{uuid.uuid4().hex[:12]}"
    run_dir = get_settings().data_dir / "training" / run_id
    spec["out"] = str((request.out or get_settings().data_dir / "models" / run_id).expanduser().resolve())
    run_dir.mkdir(parents=True)
    (run_dir / "spec.json").write_text(json.dumps(spec, indent=2), encoding="utf-8")
    export = session.get(Export, spec["export_id"]) if isinstance(spec["export_id"], int) else None
    job = FinetuneJob(
        provider=PROVIDER, provider_job_id=run_id, base_url=None, base_model=spec["base_model"], method=spec["kind"],
        hyperparameters={k: spec[k] for k in ("epochs", "max_steps", "lr", "batch_size", "max_length", "lora")}
        | {"run_dir": str(run_dir), "out": spec["out"], "format": spec["format"], "export": spec["export"]},
        training_file_id=spec["files"]["train"], validation_file_id=spec["files"]["valid"], status="running",
        events=[], created_by=actor.id, export_id=export.id if export else None,
        project_id=export.project_id if export else None,
    )
    session.add(job)
    session.flush()
    with open(run_dir / "train.log", "ab") as log:
        subprocess.Popen([sys.executable, "-m", "labeler.train_worker", str(run_dir)], stdout=log,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                         cwd=Path(__file__).resolve().parents[2], env={**os.environ, "WANDB_DISABLED": "true"})
    record_event(session, actor, "train.start", "finetune_job", job.id, provider_job_id=run_id, kind=spec["kind"],
                 export=spec["export"], base_model=spec["base_model"])
    return job


def run_status(job: FinetuneJob) -> dict[str, Any]:
    """What the worker last wrote (an empty dict before it started)."""
    try:
        return json.loads((Path(job.hyperparameters["run_dir"]) / "status.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError):
        return {}


def refresh_training(session: Session, actor: Actor, ref: int | str) -> FinetuneJob:
    """Copy the run's status, losses and eval metrics into its job (admins only; a short write)."""
    require_admin(actor)
    job = _local_job(session, ref)
    state = run_status(job)
    if not state or job.status in TERMINAL:
        return job
    status = state.get("status", "running")
    if status == "running" and not _alive(state.get("pid")) and (time.time() - state.get("started_at", 0)) > 5:
        status, state["error"] = "failed", "the training process ended without a result (see train.log)"
    before = job.status
    job.status = status
    job.events = run_events(state)
    if status == "succeeded":
        job.fine_tuned_model = state.get("model_dir")
    if before != status:
        record_event(session, actor, "train.status", "finetune_job", job.id, status=status, previous=before)
    session.flush()
    return job


def cancel_training(session: Session, actor: Actor, ref: int | str, *, wait: float = 30.0) -> FinetuneJob:
    """Stop a run: a cancel file the worker sees at its next step, then SIGTERM if it has not stopped."""
    require_admin(actor)
    job = _local_job(session, ref)
    if job.status in TERMINAL:
        raise Conflict(f"training job `{job.id}` is already {job.status}")
    stop_run(job, wait=wait)
    before, job.status = job.status, "cancelled"
    record_event(session, actor, "train.cancel", "finetune_job", job.id, previous=before)
    session.flush()
    return job


def stop_run(job: FinetuneJob, *, wait: float = 30.0) -> dict[str, Any]:
    """Ask the run to stop (its cancel file), wait for it, then SIGTERM it if it has not; its last status.

    No session is needed: a caller that must not hold a transaction while the worker finishes its
    step (the app) calls this first, then `cancel_training` with `wait=0` to record the cancel.
    """
    run_dir = Path(job.hyperparameters["run_dir"])
    if run_dir.is_dir():
        (run_dir / "cancel").touch()
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and run_status(job).get("status", "running") == "running":
        time.sleep(0.2)
    state = run_status(job)
    if state.get("status", "running") == "running" and _alive(state.get("pid")):
        os.killpg(state["pid"], signal.SIGTERM)
    return state


def _local_job(session: Session, ref: int | str) -> FinetuneJob:
    job = get_job_or_raise(session, ref)
    if job.provider != PROVIDER:
        raise Invalid(f"job `{ref}` is a remote fine-tuning job: use `labeler finetune`")
    return job


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a finished child not yet reaped is a zombie: not alive
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def list_local_jobs(session: Session, actor: Actor) -> list[FinetuneJob]:
    """Local training jobs, newest first (admins only)."""
    require_admin(actor)
    return list(session.scalars(select(FinetuneJob).where(FinetuneJob.provider == PROVIDER)
                                .order_by(FinetuneJob.id.desc())))


def run_events(state: dict[str, Any]) -> list[dict[str, Any]]:
    """A run's status as job events: its train losses, its eval losses and its error."""
    events = [{"type": "metrics", "data": {"step": p["step"], "train_loss": p["loss"]}}
              for p in state.get("losses", []) if "loss" in p]
    events += [{"type": "metrics", "data": {"step": p["step"], "valid_loss": p["eval_loss"], "eval": p}}
               for p in state.get("eval", []) if "eval_loss" in p]
    if state.get("error"):
        events += [{"type": "message", "level": "error", "message": state["error"]}]
    return events


def training_curve(job: FinetuneJob) -> list[dict[str, Any]]:
    """The loss curve as the run reports it now (its status file), else as last stored in the job."""
    state = run_status(job) if job.status not in TERMINAL else {}
    return curve_of(run_events(state)) if state else loss_curve(job)


def training_error(job: FinetuneJob) -> str | None:
    """Why a run failed, as its worker or `refresh_training` recorded it (None when it did not)."""
    errors = [e.get("message") for e in job.events or [] if isinstance(e, dict) and e.get("level") == "error"]
    return errors[-1] if errors else None


def log_tail(job: FinetuneJob, lines: int = LOG_LINES, *, max_bytes: int = 64_000) -> str:
    """The last `lines` lines of the run's train.log ('' before it has any); reads only the file's end."""
    try:
        with open(Path(job.hyperparameters["run_dir"]) / "train.log", "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - max_bytes))
            data = f.read()
    except (OSError, KeyError, TypeError):
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


def training_summary(job: FinetuneJob) -> dict[str, Any]:
    """A local job as JSON-ready data: the fine-tune summary, its step, loss curve and log file."""
    state = run_status(job)
    return {**job_summary(job), "step": state.get("step"), "max_steps": state.get("max_steps"),
            "loss_curve": loss_curve(job), "log": str(Path(job.hyperparameters["run_dir"]) / "train.log")}


def use_trained_model(session: Session, actor: Actor, ref: int | str, project: str) -> str:
    """Add a succeeded SFT, DPO or KTO run's model to a project's generation models (admins); its name.

    The next `generate` then samples candidates from it too (InstructGPT's loop: SFT, reward model,
    policy, new comparisons); a reward model scores replies and writes none, so it is refused.
    """
    require_admin(actor)
    job = _local_job(session, ref)
    if job.method == "reward":
        raise Invalid(f"job `{job.id}` trained a reward model: it scores replies and cannot generate them")
    if job.status != "succeeded" or not job.fine_tuned_model:
        raise Conflict(f"job `{job.id}` is {job.status}: only a finished run's model can generate "
                       f"(`labeler train status {job.id}`)")
    model = f"local:{job.fine_tuned_model}"
    settings = settings_of(get_project_or_raise(session, project))
    if model not in settings.generation_models:
        update_project(session, actor, project, settings={"generation_models": [*settings.generation_models, model]})
    return model
