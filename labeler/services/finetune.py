"""Fine-tuning: launch and follow jobs on any OpenAI-compatible fine-tuning API, from a written export.

Design constraints:
- Nothing is uploaded before the export's files pass the project's own validators
  (`exports.validate`) for the format the method trains on (supervised: `openai-chat`, or
  `sft-messages` whose lines pass OpenAI's chat rules; dpo: `openai-preference`), and still match
  the checksums its manifest recorded.
- **Network outside a transaction, one way**: `start_finetune`, `refresh_finetune` and
  `cancel_finetune` each read in a read session, talk to the server (`finetune_server`) with no
  session open, then store the answer in one short write (`_outside_transaction`). The app and the
  CLI call one of them per action, so no write transaction (SQLite has one writer) stays open while
  files upload or a server is slow. The steps are public too (`prepare_finetune`, `record_finetune_job`,
  `job_target`, `apply_job_state`, `mark_cancelled`) for callers that hold their own sessions.
- Hyperparameter bounds are the shared types of `labeler.services.bounds`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Export, FinetuneJob, Project
from exports import ExportError, Report, validate_file
from labeler.errors import Invalid, LabelerError, NotFound
from labeler.services import session_scope
from labeler.services.actors import Actor, require_admin
from labeler.services.bounds import BatchSize, Beta, Checked, Epochs, LearningRateMultiplier
from labeler.services.events import record_event
from labeler.services.finetune_server import (
    MAX_EVENTS,
    MAX_RETRIES,
    MAX_WAIT,
    POLL_INTERVAL,
    TERMINAL,
    TIMEOUT,
    FinetunePlan,
    JobState,
    JobTarget,
    LaunchedJob,
    Progress,
    cancel_on_server,
    fetch_job_state,
    launch_finetune,
    public_url,
)
from labeler.services.llm import Endpoint, resolve_endpoint
from labeler.services.projects import get_project_or_raise, settings_of

__all__ = [  # the server side's names that callers of this service use
    "MAX_EVENTS", "MAX_RETRIES", "TERMINAL", "FinetunePlan", "JobState", "JobTarget", "LaunchedJob", "public_url",
]

METHODS = ("supervised", "dpo")
# The export formats each method trains on, and the rules their files are checked against.
METHOD_FORMATS: dict[str, tuple[str, ...]] = {"supervised": ("openai-chat", "sft-messages"),
                                              "dpo": ("openai-preference",)}
CHECK_AS = {"openai-chat": "openai-chat", "sft-messages": "openai-chat", "openai-preference": "openai-preference"}
MAX_SUFFIX = 64            # OpenAI's limit on `suffix`
T = TypeVar("T")
U = TypeVar("U")
V = TypeVar("V")


class Hyperparameters(Checked):
    """What is sent; unset ones are left to the server (`auto`)."""

    n_epochs: Epochs | None = None
    batch_size: BatchSize | None = None
    learning_rate_multiplier: LearningRateMultiplier | None = None
    beta: Beta | None = None


# -- checking the request ------------------------------------------------------------------------


def _hyperparameters(method: str, epochs: int | None, beta: float | None, batch_size: int | None,
                     learning_rate_multiplier: float | None) -> dict[str, Any]:
    """The hyperparameters to send, checked; unset ones are left to the server (`auto`)."""
    if method not in METHODS:
        raise Invalid(f"unknown fine-tuning method `{method}`: expected one of {', '.join(METHODS)}")
    if beta is not None and method != "dpo":
        raise Invalid("`beta` is a dpo hyperparameter: use it with `--method dpo`")
    return Hyperparameters(n_epochs=epochs, batch_size=batch_size, learning_rate_multiplier=learning_rate_multiplier,
                           beta=beta).model_dump(exclude_none=True)


def read_manifest(export_dir: Path) -> dict[str, Any]:
    """An export folder's manifest (Invalid when the folder is not a finished labeler export)."""
    path = export_dir / "manifest.json"
    if not export_dir.is_dir():
        raise Invalid(f"{export_dir}: no such folder")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise Invalid(f"{export_dir}: no manifest.json: not a finished labeler export "
                      "(write one with `labeler export openai-chat --project NAME --out DIR`)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise Invalid(f"{path}: unreadable manifest: {e}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise Invalid(f"{path}: not a labeler export manifest (no `files` list)")
    return manifest


def split_file(export_dir: Path, manifest: dict[str, Any], split: str) -> tuple[Path, str] | None:
    """(path, sha256) of a split's JSONL file, as the manifest lists it."""
    for entry in manifest["files"]:
        if isinstance(entry, dict) and entry.get("split") == split and entry.get("kind", "jsonl") == "jsonl":
            name = str(entry.get("path", ""))
            if "/" in name or "\\" in name or name.startswith("."):
                raise Invalid(f"{export_dir / 'manifest.json'}: file `{name}` is not a plain file name")
            return export_dir / name, str(entry.get("sha256", ""))
    return None


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _validate(export_dir: Path, fmt: str, method: str, model: str, train: Path,
              valid: Path | None) -> tuple[Report, ...]:
    """Both files against the method's rules; Invalid with every report when one has errors."""
    check = CHECK_AS[fmt]
    try:
        reports = [validate_file(train, check, target_model=model, other_files=[valid] if valid else ())]
        if valid is not None:
            reports.append(validate_file(valid, check, target_model=model, min_examples=0))
    except (ExportError, OSError) as e:
        raise Invalid(f"{export_dir}: {e}") from None
    if any(not r.ok for r in reports):
        text = "\n".join(r.to_text() for r in reports)
        rules = f" (checked as `{check}`)" if check != fmt else ""
        raise Invalid(f"the `{fmt}` export in {export_dir} is not fit for {method} fine-tuning{rules}; "
                      f"nothing was uploaded:\n{text}")
    return tuple(reports)


def prepare_finetune(
    session: Session, actor: Actor, export_dir: str | Path, model: str, method: str = "supervised", *,
    suffix: str | None = None, epochs: int | None = None, beta: float | None = None,
    batch_size: int | None = None, learning_rate_multiplier: float | None = None,
) -> FinetunePlan:
    """Check a fine-tune request against an export (admins only); reads only, sends nothing."""
    require_admin(actor)
    model = (model or "").strip()
    if not model:
        raise Invalid("give the base model to fine-tune (e.g. `gpt-4o-mini-2024-07-18`)")
    hp = _hyperparameters(method, epochs, beta, batch_size, learning_rate_multiplier)
    suffix = (suffix or "").strip() or None
    if suffix is not None and len(suffix) > MAX_SUFFIX:
        raise Invalid(f"`suffix` is {len(suffix)} characters long; at most {MAX_SUFFIX} are allowed")
    folder = Path(export_dir).expanduser().resolve()
    manifest = read_manifest(folder)
    fmt = str(manifest.get("format"))
    if fmt not in METHOD_FORMATS[method]:
        accepted = " or ".join(f"`{f}`" for f in METHOD_FORMATS[method])
        raise Invalid(f"the export in {folder} is `{fmt}`; {method} fine-tuning takes {accepted} exports")
    train = split_file(folder, manifest, "train")
    if train is None:
        raise Invalid(f"the export in {folder} has no train split: nothing to fine-tune on")
    valid = split_file(folder, manifest, "valid")
    for path, _ in (train, valid) if valid else (train,):
        if not path.is_file():
            raise Invalid(f"{path}: listed in manifest.json but missing")
    record = session.scalar(select(Export).where(Export.path == str(folder)).order_by(Export.id.desc()))
    project = _project_of(session, record, manifest)
    endpoint = resolve_endpoint(settings_of(project) if project is not None else None)
    reports = _validate(folder, fmt, method, model, train[0], valid[0] if valid else None)
    for path, sha in (train, valid) if valid else (train,):
        if sha and _file_sha256(path) != sha:
            raise Invalid(f"{path} changed since the export was written (its sha256 differs from manifest.json); "
                          "export again rather than edit an export")
    counts = manifest.get("counts") if isinstance(manifest.get("counts"), dict) else {}
    return FinetunePlan(
        export_dir=folder, format=fmt, method=method, model=model, hyperparameters=hp, suffix=suffix,
        train=train[0], valid=valid[0] if valid else None, counts=dict(counts),
        export_id=record.id if record else None, project_id=project.id if project else None,
        endpoint=endpoint, reports=reports,
    )


def _project_of(session: Session, record: Export | None, manifest: dict[str, Any]) -> Project | None:
    """The export's project: from its recorded row, else from the manifest's filters (if it exists here)."""
    if record is not None and record.project_id is not None:
        return session.get(Project, record.project_id)
    name = (manifest.get("filters") or {}).get("project") if isinstance(manifest.get("filters"), dict) else None
    if isinstance(name, str) and name:
        try:
            return get_project_or_raise(session, name)
        except NotFound:
            return None
    return None


# -- the store -----------------------------------------------------------------------------------


def record_finetune_job(session: Session, actor: Actor, launched: LaunchedJob) -> FinetuneJob:
    """Record a job the server created (admins only); a short write."""
    require_admin(actor)
    plan = launched.plan
    job = FinetuneJob(
        project_id=plan.project_id, export_id=plan.export_id, provider_job_id=launched.provider_job_id,
        base_url=plan.base_url, base_model=plan.model, method=plan.method, hyperparameters=plan.hyperparameters,
        training_file_id=launched.training_file_id, validation_file_id=launched.validation_file_id,
        status=launched.status, events=[], created_by=actor.id,
    )
    session.add(job)
    session.flush()
    record_event(session, actor, "finetune.create", "finetune_job", job.id, provider_job_id=job.provider_job_id,
                 model=plan.model, method=plan.method, export=str(plan.export_dir), format=plan.format,
                 hyperparameters=plan.hyperparameters, server=plan.base_url)
    return job


def get_job_or_raise(session: Session, ref: int | str) -> FinetuneJob:
    """A recorded job by our id (a number) or the provider's job id, or NotFound."""
    text = str(ref).strip()
    job = session.get(FinetuneJob, int(text)) if text.isdigit() else None
    if job is None:
        job = session.scalar(select(FinetuneJob).where(FinetuneJob.provider_job_id == text))
    if job is None:
        raise NotFound(f"fine-tuning job `{text}` not found")
    return job


def get_job(session: Session, actor: Actor, job: int | str) -> FinetuneJob:
    """A recorded job by our id or the provider's (admins only)."""
    require_admin(actor)
    return get_job_or_raise(session, job)


def _job(session: Session, job: FinetuneJob | int | str) -> FinetuneJob:
    return job if isinstance(job, FinetuneJob) else get_job_or_raise(session, job)


def job_target(session: Session, actor: Actor, job: FinetuneJob | int | str) -> JobTarget:
    """A job and the endpoint it lives on (admins only): the key from the environment, the server stored."""
    require_admin(actor)
    row = _job(session, job)
    if row.provider != "openai":
        raise Invalid(f"job `{row.id}` is a {row.provider} training run: `labeler train status|cancel {row.id}`")
    project = session.get(Project, row.project_id) if row.project_id is not None else None
    resolved = resolve_endpoint(settings_of(project) if project is not None else None)
    stored = row.base_url or "https://api.openai.com/v1"
    # The resolved address may carry credentials the stored one lost; use it when it is the same server.
    endpoint = resolved if public_url(resolved.server) == stored else Endpoint(base_url=stored,
                                                                              api_key=resolved.api_key)
    return JobTarget(id=row.id, provider_job_id=row.provider_job_id, status=row.status, endpoint=endpoint)


def apply_job_state(session: Session, actor: Actor, job: FinetuneJob | int | str, state: JobState) -> FinetuneJob:
    """Store what the server reported about a job (admins only); a short write."""
    require_admin(actor)
    row = _job(session, job)
    before = row.status
    entries = list(state.events)
    if state.error and not any(state.error in e["message"] for e in entries):
        entries.append({"object": "fine_tuning.job.event", "id": "job-error", "created_at": None, "level": "error",
                        "type": "message", "message": f"job failed: {state.error}", "data": None})
    row.events = entries + list(state.checkpoints)
    row.status = state.status
    if state.fine_tuned_model:
        row.fine_tuned_model = state.fine_tuned_model
    if before != row.status:
        record_event(session, actor, "finetune.status", "finetune_job", row.id, provider_job_id=row.provider_job_id,
                     status=row.status, previous=before, fine_tuned_model=row.fine_tuned_model)
    session.flush()
    return row


def mark_cancelled(session: Session, actor: Actor, job: FinetuneJob | int | str, status: str) -> FinetuneJob:
    """Store the status a cancel request answered (admins only)."""
    require_admin(actor)
    row = _job(session, job)
    before, row.status = row.status, status
    record_event(session, actor, "finetune.cancel", "finetune_job", row.id, provider_job_id=row.provider_job_id,
                 status=status, previous=before)
    session.flush()
    return row


def list_jobs(session: Session, actor: Actor, project: str | None = None) -> list[FinetuneJob]:
    """Recorded fine-tuning jobs, newest first (admins only)."""
    require_admin(actor)
    query = select(FinetuneJob).order_by(FinetuneJob.id.desc())
    if project:
        query = query.where(FinetuneJob.project_id == get_project_or_raise(session, project).id)
    return list(session.scalars(query))


# -- the sequences: network outside a transaction -------------------------------------------------


def _outside_transaction(read: Callable[[Session], T], network: Callable[[T], U],
                         write: Callable[[Session, T, U], V], url: str | None) -> V:
    """Read in a read session, call the server with no session open, store the answer in one short write."""
    with session_scope(url, write=False) as s:
        found = read(s)
    answer = network(found)
    with session_scope(url) as s:
        return write(s, found, answer)


def start_finetune(
    actor: Actor, export_dir: str | Path, model: str, method: str = "supervised", *, suffix: str | None = None,
    epochs: int | None = None, beta: float | None = None, batch_size: int | None = None,
    learning_rate_multiplier: float | None = None, progress: Progress | None = None, url: str | None = None,
    poll_interval: float = POLL_INTERVAL, max_wait: float = MAX_WAIT, timeout: float = TIMEOUT,
    max_retries: int = MAX_RETRIES,
) -> FinetuneJob:
    """Validate an export, upload it, create the job on the server and record it (admins only)."""

    def record(session: Session, plan: FinetunePlan, launched: LaunchedJob) -> FinetuneJob:
        try:
            return record_finetune_job(session, actor, launched)
        except LabelerError as e:
            raise LabelerError(f"job {launched.provider_job_id} was created on {plan.base_url} but could "
                               f"not be recorded: {e}") from None

    return _outside_transaction(
        lambda s: prepare_finetune(s, actor, export_dir, model, method, suffix=suffix, epochs=epochs, beta=beta,
                                   batch_size=batch_size, learning_rate_multiplier=learning_rate_multiplier),
        lambda plan: launch_finetune(plan, progress, poll_interval=poll_interval, max_wait=max_wait,
                                     timeout=timeout, max_retries=max_retries),
        record, url)


def refresh_finetune(actor: Actor, job: int | str, *, url: str | None = None,
                     max_retries: int = MAX_RETRIES) -> FinetuneJob:
    """Fetch a job's status, events and checkpoints from its server and store them (admins only)."""
    return _outside_transaction(
        lambda s: job_target(s, actor, job),
        lambda target: fetch_job_state(target.endpoint, target.provider_job_id, max_retries=max_retries),
        lambda s, target, state: apply_job_state(s, actor, target.id, state), url)


def cancel_finetune(actor: Actor, job: int | str, *, url: str | None = None,
                    max_retries: int = MAX_RETRIES) -> FinetuneJob:
    """Cancel a job that has not finished, on its server, and record it (admins only)."""
    return _outside_transaction(
        lambda s: job_target(s, actor, job),
        lambda target: cancel_on_server(target, max_retries=max_retries),
        lambda s, target, status: mark_cancelled(s, actor, target.id, status), url)


# -- presenting ----------------------------------------------------------------------------------


def job_events(job: FinetuneJob) -> list[dict[str, Any]]:
    """The job's stored events, oldest first."""
    return [e for e in job.events or [] if isinstance(e, dict) and e.get("object") != "fine_tuning.job.checkpoint"]


def job_checkpoints(job: FinetuneJob) -> list[dict[str, Any]]:
    """The job's stored checkpoints with their metrics, by step."""
    return [e for e in job.events or [] if isinstance(e, dict) and e.get("object") == "fine_tuning.job.checkpoint"]


def loss_curve(job: FinetuneJob) -> list[dict[str, Any]]:
    """(step, train_loss, valid_loss) points: from metrics events, else from the checkpoints."""
    return curve_of(job.events or [])


def curve_of(events: list[Any]) -> list[dict[str, Any]]:
    """`loss_curve` of a list of stored events (a job's, or a local run's before they are stored)."""
    points: dict[int, dict[str, Any]] = {}
    dicts = [e for e in events if isinstance(e, dict)]
    sources = [e.get("data") for e in dicts if e.get("type") == "metrics"]
    if not any(isinstance(d, dict) for d in sources):
        sources = [{**c["metrics"], "step": c.get("step_number") or c["metrics"].get("step")}
                   for c in dicts if c.get("object") == "fine_tuning.job.checkpoint"]
    for data in sources:
        if isinstance(data, dict) and isinstance(data.get("step"), int | float):
            point = points.setdefault(int(data["step"]), {"step": int(data["step"])})
            for name in ("train_loss", "valid_loss"):
                if isinstance(data.get(name), int | float):
                    point[name] = float(data[name])
    return [points[s] for s in sorted(points)]


def job_summary(job: FinetuneJob, *, with_events: bool = False) -> dict[str, Any]:
    """A job as JSON-ready data for the CLI and the app."""
    checkpoints = job_checkpoints(job)
    last = checkpoints[-1]["metrics"] if checkpoints else {}
    data: dict[str, Any] = {
        "id": job.id, "provider": job.provider, "provider_job_id": job.provider_job_id, "status": job.status,
        "method": job.method,
        "base_model": job.base_model, "fine_tuned_model": job.fine_tuned_model, "base_url": job.base_url,
        "hyperparameters": job.hyperparameters, "training_file_id": job.training_file_id,
        "validation_file_id": job.validation_file_id, "export_id": job.export_id, "project_id": job.project_id,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "updated_at": job.updated_at.isoformat() if job.updated_at else None,
        "train_loss": last.get("train_loss"), "valid_loss": last.get("valid_loss"),
        "events": len(job_events(job)), "checkpoints": len(checkpoints),
    }
    if with_events:
        data["events"] = job_events(job)
        data["checkpoints"] = checkpoints
    return data
