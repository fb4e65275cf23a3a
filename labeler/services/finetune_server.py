"""Fine-tuning: launch and follow jobs on any OpenAI-compatible fine-tuning API, from a written export.

Design constraints:
- Nothing is uploaded before the export's files pass the project's own validators
  (`exports.validate`) for the format the method trains on (supervised: `openai-chat`, or
  `sft-messages` whose lines pass OpenAI's chat rules; dpo: `openai-preference`), and still match
  the checksums its manifest recorded.
- Network and database are separate steps: `prepare_finetune` only reads, `launch_finetune` and
  `fetch_job_state` talk to the server without a session, `record_finetune_job` / `apply_job_state`
  are short writes. The CLI and the app run them in separate transactions, so no write transaction
  (SQLite has one writer) stays open while files upload or a server is slow. `create_finetune_job`,
  `refresh_job` and `cancel_job` chain the steps for a caller that holds one session.
- Keys are only touched by `labeler.services.llm`; the stored `base_url` has no credentials; every
  text from the server or the SDK goes through `describe_api_error` / `redact` before it is shown,
  stored or raised.
- Retries are the SDK's own (`max_retries`: exponential backoff with jitter, Retry-After honoured)
  for timeouts, 408, 409, 429 and 5xx; other failures are reported at once.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import openai
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Export, FinetuneJob, Project
from exports import ExportError, Report, validate_file
from labeler.errors import Invalid, LabelerError, NotFound
from labeler.services.actors import Actor, require_admin
from labeler.services.events import record_event
from labeler.services.llm import Endpoint, describe_api_error, redact, resolve_endpoint
from labeler.services.projects import get_project_or_raise, settings_of

METHODS = ("supervised", "dpo")
# The export formats each method trains on, and the rules their files are checked against.
METHOD_FORMATS: dict[str, tuple[str, ...]] = {"supervised": ("openai-chat", "sft-messages"),
                                              "dpo": ("openai-preference",)}
CHECK_AS = {"openai-chat": "openai-chat", "sft-messages": "openai-chat", "openai-preference": "openai-preference"}
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
MAX_EVENTS = 1000          # newest events kept per job (a long job logs one metrics event per step)
MAX_SUFFIX = 64            # OpenAI's limit on `suffix`
TIMEOUT = 120.0            # seconds per request (an upload of a large file needs more than a chat call)
MAX_RETRIES = 3
POLL_INTERVAL = 2.0
MAX_WAIT = 30 * 60.0       # seconds to wait for the server to process the uploaded files

Progress = Callable[[str], None]


@dataclass(frozen=True)
class FinetunePlan:
    """A checked request: the export's files passed validation; nothing has been sent yet."""

    export_dir: Path
    format: str
    method: str
    model: str
    hyperparameters: dict[str, Any]
    suffix: str | None
    train: Path
    valid: Path | None
    counts: dict[str, int]
    export_id: int | None
    project_id: int | None
    endpoint: Endpoint = field(repr=False)
    reports: tuple[Report, ...] = ()

    @property
    def base_url(self) -> str:
        """The server's address without credentials (what is stored and shown)."""
        return public_url(self.endpoint.server)


@dataclass(frozen=True)
class LaunchedJob:
    """What the server answered when the job was created."""

    plan: FinetunePlan
    provider_job_id: str
    status: str
    training_file_id: str
    validation_file_id: str | None


@dataclass(frozen=True)
class JobTarget:
    """A recorded job and the endpoint to reach it (for a network step without a session)."""

    id: int
    provider_job_id: str
    status: str
    endpoint: Endpoint = field(repr=False)


@dataclass(frozen=True)
class JobState:
    """A job as the server reports it: status, resulting model, events and checkpoints."""

    status: str
    fine_tuned_model: str | None
    error: str | None
    trained_tokens: int | None
    events: list[dict[str, Any]]
    checkpoints: list[dict[str, Any]]


# -- checking the request ------------------------------------------------------------------------


def public_url(url: str) -> str:
    """`url` without user, password, query or fragment: safe to store and show."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def _hyperparameters(method: str, epochs: int | None, beta: float | None, batch_size: int | None,
                     learning_rate_multiplier: float | None) -> dict[str, Any]:
    """The hyperparameters to send, checked; unset ones are left to the server (`auto`)."""
    if method not in METHODS:
        raise Invalid(f"unknown fine-tuning method `{method}`: expected one of {', '.join(METHODS)}")
    if beta is not None and method != "dpo":
        raise Invalid("`beta` is a dpo hyperparameter: use it with `--method dpo`")
    checks = {"n_epochs": (epochs, 1, 50), "batch_size": (batch_size, 1, 256)}
    hp: dict[str, Any] = {}
    for name, (value, low, high) in checks.items():
        if value is not None:
            if not low <= value <= high:
                raise Invalid(f"`{name}` must be within {low}..{high}, got {value}")
            hp[name] = value
    if learning_rate_multiplier is not None:
        if not 0 < learning_rate_multiplier <= 10:
            raise Invalid(f"`learning_rate_multiplier` must be above 0 and at most 10, got {learning_rate_multiplier}")
        hp["learning_rate_multiplier"] = learning_rate_multiplier
    if beta is not None:
        if not 0 < beta <= 2:
            raise Invalid(f"`beta` must be above 0 and at most 2, got {beta}")
        hp["beta"] = beta
    return hp


def _manifest(export_dir: Path) -> dict[str, Any]:
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


def _split_file(export_dir: Path, manifest: dict[str, Any], split: str) -> tuple[Path, str] | None:
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
    manifest = _manifest(folder)
    fmt = str(manifest.get("format"))
    if fmt not in METHOD_FORMATS[method]:
        accepted = " or ".join(f"`{f}`" for f in METHOD_FORMATS[method])
        raise Invalid(f"the export in {folder} is `{fmt}`; {method} fine-tuning takes {accepted} exports")
    train = _split_file(folder, manifest, "train")
    if train is None:
        raise Invalid(f"the export in {folder} has no train split: nothing to fine-tune on")
    valid = _split_file(folder, manifest, "valid")
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


# -- talking to the server -----------------------------------------------------------------------


def _client(endpoint: Endpoint, timeout: float, max_retries: int) -> openai.OpenAI:
    return endpoint.client(timeout=timeout, max_retries=max_retries)


def _call(doing: str, endpoint: Endpoint, fn: Callable[[], Any]) -> Any:
    """Run one SDK call; its failures become a LabelerError saying what failed, with no key in it."""
    where = public_url(endpoint.server)
    try:
        return fn()
    except openai.NotFoundError as e:
        raise NotFound(f"{doing} at {where}: {describe_api_error(e)}") from None
    except (openai.BadRequestError, openai.AuthenticationError, openai.PermissionDeniedError,
            openai.UnprocessableEntityError) as e:
        raise Invalid(f"{doing} at {where}: {describe_api_error(e)}") from None
    except openai.APIError as e:
        raise LabelerError(f"{doing} at {where}: {describe_api_error(e)}") from None
    except ValueError as e:  # the SDK parses JSON bodies itself: a malformed answer surfaces as JSONDecodeError
        raise LabelerError(f"{doing} at {where}: malformed answer from the server: "
                           f"{redact(type(e).__name__ + ': ' + str(e))}") from None


def _text(obj: Any, name: str, doing: str, *, required: bool = True) -> str | None:
    """A string field of an SDK object, checked (lenient parsing lets a malformed answer through)."""
    value = getattr(obj, name, None)
    if isinstance(value, str) and value:
        return value
    if required:
        raise LabelerError(f"{doing}: malformed answer from the server: no `{name}` in {type(obj).__name__}")
    return None


def _upload(client: openai.OpenAI, endpoint: Endpoint, path: Path, label: str, progress: Progress) -> str:
    size = path.stat().st_size
    progress(f"uploading {label} ({size:,} bytes)")
    with open(path, "rb") as fh:
        obj = _call(f"uploading {path.name}", endpoint, lambda: client.files.create(
            file=(f"{label}.jsonl", fh, "application/jsonl"), purpose="fine-tune"))
    return str(_text(obj, "id", f"uploading {path.name}"))


def _wait_processed(client: openai.OpenAI, endpoint: Endpoint, file_ids: dict[str, str], progress: Progress,
                    poll_interval: float, max_wait: float) -> None:
    """Poll each uploaded file until the server has processed it (bounded by `max_wait`)."""
    deadline = time.monotonic() + max_wait
    pending = dict(file_ids)
    while pending:
        for label, file_id in list(pending.items()):
            obj = _call(f"checking file {file_id}", endpoint, lambda fid=file_id: client.files.retrieve(fid))
            status = getattr(obj, "status", None)
            if status in ("error", "failed", "deleted"):
                details = redact(str(getattr(obj, "status_details", None) or "no details given"))
                raise Invalid(f"the server could not process {label} (file {file_id}): {status}: {details}")
            if status in (None, "processed"):  # some compatible servers report no status: ready on upload
                del pending[label]
        if not pending:
            return
        if time.monotonic() > deadline:
            names = ", ".join(f"{label} ({fid})" for label, fid in pending.items())
            raise LabelerError(f"the server had not processed {names} after {max_wait:.0f} s; no job was created "
                               "(the files stay uploaded; try again later)")
        progress(f"waiting for the server to process {', '.join(pending)}")
        time.sleep(poll_interval)


def _method_payload(method: str, hp: dict[str, Any]) -> dict[str, Any]:
    return {"type": method, method: {"hyperparameters": dict(hp)}}


def launch_finetune(plan: FinetunePlan, progress: Progress | None = None, *, poll_interval: float = POLL_INTERVAL,
                    max_wait: float = MAX_WAIT, timeout: float = TIMEOUT,
                    max_retries: int = MAX_RETRIES) -> LaunchedJob:
    """Upload the files, wait until they are processed, create the job (network only, no session)."""
    say = progress or (lambda _message: None)
    client = _client(plan.endpoint, timeout, max_retries)
    stem = plan.export_dir.name
    train_id = _upload(client, plan.endpoint, plan.train, f"{stem}-train", say)
    valid_id = _upload(client, plan.endpoint, plan.valid, f"{stem}-valid", say) if plan.valid else None
    waiting = {plan.train.name: train_id, **({plan.valid.name: valid_id} if plan.valid and valid_id else {})}
    _wait_processed(client, plan.endpoint, waiting, say, poll_interval, max_wait)
    say(f"creating the {plan.method} job on {plan.model}")
    extra: dict[str, Any] = {"suffix": plan.suffix} if plan.suffix else {}
    if valid_id:
        extra["validation_file"] = valid_id
    doing = "creating the fine-tuning job"
    job = _call(doing, plan.endpoint, lambda: client.fine_tuning.jobs.create(
        model=plan.model, training_file=train_id, method=_method_payload(plan.method, plan.hyperparameters),
        **extra))
    return LaunchedJob(plan=plan, provider_job_id=str(_text(job, "id", doing)),
                       status=_text(job, "status", doing, required=False) or "created",
                       training_file_id=train_id, validation_file_id=valid_id)


def _event(obj: Any) -> dict[str, Any]:
    return {"object": "fine_tuning.job.event", "id": str(getattr(obj, "id", "") or ""),
            "created_at": _int(getattr(obj, "created_at", None)), "level": str(getattr(obj, "level", "info") or "info"),
            "type": getattr(obj, "type", None) or "message", "message": redact(str(getattr(obj, "message", "") or "")),
            "data": _plain(getattr(obj, "data", None))}


def _checkpoint(obj: Any) -> dict[str, Any]:
    metrics = getattr(obj, "metrics", None)
    values = metrics.model_dump(exclude_none=True) if hasattr(metrics, "model_dump") else _plain(metrics)
    values = values if isinstance(values, dict) else {}
    return {"object": "fine_tuning.job.checkpoint", "id": str(getattr(obj, "id", "") or ""),
            "created_at": _int(getattr(obj, "created_at", None)),
            "step_number": _int(getattr(obj, "step_number", None)),
            "fine_tuned_model_checkpoint": getattr(obj, "fine_tuned_model_checkpoint", None),
            "metrics": {k: v for k, v in values.items() if isinstance(v, int | float) and not isinstance(v, bool)}}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _plain(value: Any) -> Any:
    """JSON-safe copy of a value from the server (numbers, strings, lists, objects)."""
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return None


def _collect(pages: Iterable[Any], limit: int) -> list[Any]:
    items = []
    for item in pages:
        items.append(item)
        if len(items) >= limit:
            break
    return items


def fetch_job_state(endpoint: Endpoint, provider_job_id: str, *, timeout: float = 60.0,
                    max_retries: int = MAX_RETRIES) -> JobState:
    """The job's status, events (newest MAX_EVENTS) and checkpoints from the server (network only)."""
    client = _client(endpoint, timeout, max_retries)
    doing = f"reading fine-tuning job {provider_job_id}"
    job = _call(doing, endpoint, lambda: client.fine_tuning.jobs.retrieve(provider_job_id))
    status = str(_text(job, "status", doing))
    events = _optional(doing + " events", endpoint, lambda: _collect(
        client.fine_tuning.jobs.list_events(provider_job_id, limit=100), MAX_EVENTS))
    checkpoints = _optional(doing + " checkpoints", endpoint, lambda: _collect(
        client.fine_tuning.jobs.checkpoints.list(provider_job_id, limit=100), MAX_EVENTS))
    error = getattr(job, "error", None)
    message = None
    if error is not None and getattr(error, "message", None):
        code = getattr(error, "code", None)
        message = redact(f"{code}: {error.message}" if code else str(error.message))
    tokens = getattr(job, "trained_tokens", None)
    return JobState(
        status=status, fine_tuned_model=_text(job, "fine_tuned_model", doing, required=False), error=message,
        trained_tokens=tokens if isinstance(tokens, int) else None,
        # Servers list events newest first; reversed, then a stable sort keeps same-second events in order.
        events=sorted((_event(e) for e in reversed(events)), key=lambda e: e["created_at"] or 0),
        checkpoints=sorted((_checkpoint(c) for c in checkpoints), key=lambda c: c["step_number"] or 0),
    )


def _optional(doing: str, endpoint: Endpoint, fn: Callable[[], list[Any]]) -> list[Any]:
    """A listing some compatible servers lack (404): empty then, other failures reported."""
    try:
        return _call(doing, endpoint, fn)
    except NotFound:
        return []


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


def create_finetune_job(
    session: Session, actor: Actor, export_dir: str | Path, model: str, method: str = "supervised",
    suffix: str | None = None, epochs: int | None = None, beta: float | None = None, *,
    batch_size: int | None = None, learning_rate_multiplier: float | None = None,
    progress: Progress | None = None, poll_interval: float = POLL_INTERVAL, max_wait: float = MAX_WAIT,
    timeout: float = TIMEOUT, max_retries: int = MAX_RETRIES,
) -> FinetuneJob:
    """Validate an export, upload it, create the job and record it (admins only), in one session.

    Edges that hold a write transaction should rather call `prepare_finetune` (read session),
    `launch_finetune` (no session) and `record_finetune_job` (write session).
    """
    plan = prepare_finetune(session, actor, export_dir, model, method, suffix=suffix, epochs=epochs, beta=beta,
                            batch_size=batch_size, learning_rate_multiplier=learning_rate_multiplier)
    launched = launch_finetune(plan, progress, poll_interval=poll_interval, max_wait=max_wait, timeout=timeout,
                               max_retries=max_retries)
    return record_finetune_job(session, actor, launched)


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


def refresh_job(session: Session, actor: Actor, job: FinetuneJob | int | str, *,
                max_retries: int = MAX_RETRIES) -> FinetuneJob:
    """Fetch a job's status, events and checkpoints from its server and store them (admins only)."""
    target = job_target(session, actor, job)
    state = fetch_job_state(target.endpoint, target.provider_job_id, max_retries=max_retries)
    return apply_job_state(session, actor, target.id, state)


def cancel_on_server(target: JobTarget, *, max_retries: int = MAX_RETRIES) -> str:
    """Ask the server to cancel a job; the status it answers (network only)."""
    if target.status in TERMINAL:
        raise Invalid(f"fine-tuning job {target.id} ({target.provider_job_id}) has already {target.status}")
    client = _client(target.endpoint, 60.0, max_retries)
    doing = f"cancelling fine-tuning job {target.provider_job_id}"
    answer = _call(doing, target.endpoint, lambda: client.fine_tuning.jobs.cancel(target.provider_job_id))
    return _text(answer, "status", doing, required=False) or "cancelled"


def mark_cancelled(session: Session, actor: Actor, job: FinetuneJob | int | str, status: str) -> FinetuneJob:
    """Store the status a cancel request answered (admins only)."""
    require_admin(actor)
    row = _job(session, job)
    before, row.status = row.status, status
    record_event(session, actor, "finetune.cancel", "finetune_job", row.id, provider_job_id=row.provider_job_id,
                 status=status, previous=before)
    session.flush()
    return row


def cancel_job(session: Session, actor: Actor, job: FinetuneJob | int | str, *,
               max_retries: int = MAX_RETRIES) -> FinetuneJob:
    """Cancel a job on its server and record it (admins only)."""
    target = job_target(session, actor, job)
    return mark_cancelled(session, actor, target.id, cancel_on_server(target, max_retries=max_retries))


def list_jobs(session: Session, actor: Actor, project: str | None = None) -> list[FinetuneJob]:
    """Recorded fine-tuning jobs, newest first (admins only)."""
    require_admin(actor)
    query = select(FinetuneJob).order_by(FinetuneJob.id.desc())
    if project:
        query = query.where(FinetuneJob.project_id == get_project_or_raise(session, project).id)
    return list(session.scalars(query))


# -- presenting ----------------------------------------------------------------------------------


def job_events(job: FinetuneJob) -> list[dict[str, Any]]:
    """The job's stored events, oldest first."""
    return [e for e in job.events or [] if isinstance(e, dict) and e.get("object") != "fine_tuning.job.checkpoint"]


def job_checkpoints(job: FinetuneJob) -> list[dict[str, Any]]:
    """The job's stored checkpoints with their metrics, by step."""
    return [e for e in job.events or [] if isinstance(e, dict) and e.get("object") == "fine_tuning.job.checkpoint"]


def loss_curve(job: FinetuneJob) -> list[dict[str, Any]]:
    """(step, train_loss, valid_loss) points: from metrics events, else from the checkpoints."""
    points: dict[int, dict[str, Any]] = {}
    sources = [e.get("data") for e in job_events(job) if e.get("type") == "metrics"]
    if not any(isinstance(d, dict) for d in sources):
        sources = [{**c["metrics"], "step": c.get("step_number") or c["metrics"].get("step")}
                   for c in job_checkpoints(job)]
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
        "id": job.id, "provider_job_id": job.provider_job_id, "status": job.status, "method": job.method,
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
