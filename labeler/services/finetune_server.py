"""The fine-tuning API of an OpenAI-compatible server: upload, wait, create, read and cancel jobs.

Design constraints:
- **Network only**: no function here takes a session; `labeler.services.finetune` runs them between
  a read session and one short write (no write transaction stays open while files upload or a
  server is slow).
- Keys are only touched by `labeler.services.llm`; the stored `base_url` has no credentials
  (`public_url`); every text from the server or the SDK goes through `describe_api_error` / `redact`
  before it is shown, stored or raised.
- Retries are the SDK's own (`max_retries`: exponential backoff with jitter, Retry-After honoured)
  for timeouts, 408, 409, 429 and 5xx; other failures are reported at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import openai

from exports import Report
from labeler.errors import Invalid, LabelerError, NotFound
from labeler.services.llm import Endpoint, describe_api_error, redact

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
MAX_EVENTS = 1000          # newest events kept per job (a long job logs one metrics event per step)
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


def public_url(url: str) -> str:
    """`url` without user, password, query or fragment: safe to store and show."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))



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


def cancel_on_server(target: JobTarget, *, max_retries: int = MAX_RETRIES) -> str:
    """Ask the server to cancel a job; the status it answers (network only)."""
    if target.status in TERMINAL:
        raise Invalid(f"fine-tuning job {target.id} ({target.provider_job_id}) has already {target.status}")
    client = _client(target.endpoint, 60.0, max_retries)
    doing = f"cancelling fine-tuning job {target.provider_job_id}"
    answer = _call(doing, target.endpoint, lambda: client.fine_tuning.jobs.cancel(target.provider_job_id))
    return _text(answer, "status", doing, required=False) or "cancelled"
