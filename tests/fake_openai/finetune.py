"""Routes of the fake OpenAI server: files and fine-tuning jobs (events, checkpoints, cancel).

It checks what a client sends the way OpenAI's fine-tuning API does, independently of the project's
own validators (so a test that passes here is a second opinion, not the same code twice):
- `POST /v1/files` takes multipart/form-data with `purpose=fine-tune` and a JSONL file; every line
  must be a chat example (`{"messages": [...]}`) or a preference example (`{"input": {"messages":
  [...]}, "preferred_output": [...], "non_preferred_output": [...]}`), all of one kind; a bad line
  is refused with 400 naming it. Files are `uploaded`, then `processed` after `file_polls` reads.
- `POST /v1/fine_tuning/jobs` checks the model, the files (they exist, are processed, are of the
  kind the `method` trains on, the training file has at least 10 examples), the `method` payload
  and its hyperparameters, and the suffix.
- A job advances one status per read: validating_files -> queued -> running -> succeeded, adding
  events and checkpoints (with train/valid loss) on the way; `fine_tuned_model` is set at the end.

Test knobs live in `server.state["finetune"]` (see `settings`): how many reads a file takes to
be processed, whether processing ends in `error`, and whether a job ends `failed`.
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import re
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

if TYPE_CHECKING:
    from tests.fake_openai.server import FakeOpenAI, Request

MIN_EXAMPLES = 10
ROLES = frozenset({"system", "user", "assistant"})
MESSAGE_KEYS = frozenset({"role", "content", "name", "weight"})
CHAT_KEYS = frozenset({"messages", "tools", "parallel_tool_calls", "functions"})
PREFERENCE_KEYS = frozenset({"input", "preferred_output", "non_preferred_output"})
STEPS = ("validating_files", "queued", "running", "succeeded")
HYPERPARAMETERS = {
    "supervised": {"n_epochs": (int, 1, 50), "batch_size": (int, 1, 256),
                   "learning_rate_multiplier": (float, 0.0, 10.0)},
    "dpo": {"n_epochs": (int, 1, 50), "batch_size": (int, 1, 256),
            "learning_rate_multiplier": (float, 0.0, 10.0), "beta": (float, 0.0, 2.0)},
}
KIND_OF_METHOD = {"supervised": "chat", "dpo": "preference"}
ORG = "org-fake"
_ids = itertools.count(1)
_lock = threading.Lock()


def settings(server: FakeOpenAI) -> dict[str, Any]:
    """The test knobs: `file_polls` (reads until processed), `file_error` (processing fails with
    this text), `job_error` (the job ends `failed` with this message)."""
    return server.state.setdefault("finetune", {"file_polls": 1, "file_error": None, "job_error": None})


def files(server: FakeOpenAI) -> dict[str, dict[str, Any]]:
    """Uploaded files by id; each holds its FileObject fields plus `content` (bytes) and `kind`."""
    return server.state.setdefault("files", {})


def jobs(server: FakeOpenAI) -> dict[str, dict[str, Any]]:
    """Fine-tuning jobs by id; each holds its FineTuningJob fields plus `events`, `checkpoints`,
    and `request` (the JSON body the job was created with)."""
    return server.state.setdefault("jobs", {})


def _new_id(prefix: str) -> str:
    with _lock:
        return f"{prefix}-{next(_ids):06d}{int(time.time() * 1000) % 10**6:06d}"


# -- multipart -----------------------------------------------------------------------------------


def parse_multipart(request: Request) -> dict[str, tuple[str | None, bytes]]:
    """The form fields of a multipart/form-data body: name -> (filename, bytes)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data") or "boundary=" not in content_type:
        raise ValueError(f"expected multipart/form-data with a boundary, got content type `{content_type}`")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
    if not message.is_multipart():
        raise ValueError("the multipart body could not be parsed")
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise ValueError("a multipart part has no name")
        payload = part.get_payload(decode=True)
        fields[name] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return fields


# -- OpenAI's file rules -------------------------------------------------------------------------


def _messages(value: Any, where: str, *, weights: bool) -> list[str]:
    """The roles of a valid message list; ValueError naming `where` otherwise."""
    if not isinstance(value, list) or not value:
        raise ValueError(f"{where}: expected a non-empty list of messages")
    roles = []
    for i, m in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(m, dict):
            raise ValueError(f"{at}: expected an object with `role` and `content`")
        extra = set(m) - MESSAGE_KEYS
        if extra:
            raise ValueError(f"{at}: unrecognized key(s) {sorted(extra)}")
        if m.get("role") not in ROLES:
            raise ValueError(f"{at}.role: invalid role {m.get('role')!r}; expected one of {sorted(ROLES)}")
        if not isinstance(m.get("content"), str):
            raise ValueError(f"{at}.content: expected a string")
        if "weight" in m:
            if not weights or m["role"] != "assistant":
                raise ValueError(f"{at}.weight: only assistant messages of chat examples take a weight")
            if m["weight"] not in (0, 1) or isinstance(m["weight"], bool):
                raise ValueError(f"{at}.weight: must be 0 or 1")
        roles.append(m["role"])
    return roles


def _check_chat(rec: dict[str, Any]) -> None:
    extra = set(rec) - CHAT_KEYS
    if extra:
        raise ValueError(f"unrecognized key(s) {sorted(extra)}")
    if "assistant" not in _messages(rec.get("messages"), "messages", weights=True):
        raise ValueError("messages: no assistant message; each example needs at least one")


def _check_preference(rec: dict[str, Any]) -> None:
    extra = set(rec) - PREFERENCE_KEYS
    if extra:
        raise ValueError(f"unrecognized key(s) {sorted(extra)}")
    inp = rec.get("input")
    if not isinstance(inp, dict) or set(inp) - {"messages", "tools", "parallel_tool_calls"}:
        raise ValueError("input: expected an object with `messages`")
    if _messages(inp.get("messages"), "input.messages", weights=False)[-1] != "user":
        raise ValueError("input.messages: the last message must be a user message")
    for field in ("preferred_output", "non_preferred_output"):
        if _messages(rec.get(field), field, weights=False) != ["assistant"]:
            raise ValueError(f"{field}: expected exactly one assistant message")
    if rec["preferred_output"] == rec["non_preferred_output"]:
        raise ValueError("preferred_output and non_preferred_output are identical")


def check_jsonl(content: bytes, filename: str) -> tuple[str, int]:
    """(kind, examples) of a fine-tuning file; ValueError naming the line on any fault."""
    if not filename.endswith(".jsonl"):
        raise ValueError(f"invalid file format for fine-tuning: `{filename}` is not a .jsonl file")
    if content.startswith(b"\xef\xbb\xbf"):
        raise ValueError(f"{filename}: line 1: the file starts with a byte order mark")
    kind = None
    lines = content.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for number, raw in enumerate(lines, 1):
        where = f"{filename}: line {number}"
        try:
            rec = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"{where}: invalid JSON: {e}") from None
        if not isinstance(rec, dict):
            raise ValueError(f"{where}: expected a JSON object")
        this = "preference" if "input" in rec else "chat"
        if kind is not None and this != kind:
            raise ValueError(f"{where}: a {this} example in a file of {kind} examples")
        kind = this
        try:
            (_check_preference if this == "preference" else _check_chat)(rec)
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None
    if kind is None:
        raise ValueError(f"{filename}: the file is empty")
    return kind, len(lines)


# -- responses -----------------------------------------------------------------------------------


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    """An object without the server's private fields (those starting with `_`)."""
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def _page(items: list[dict[str, Any]], query: str, default_limit: int = 20) -> dict[str, Any]:
    """A cursor page as the SDK reads it: `after` is the last id of the previous page."""
    params = parse_qs(query)
    limit = int(params.get("limit", [default_limit])[0])
    after = params.get("after", [None])[0]
    if after is not None:
        ids = [i["id"] for i in items]
        items = items[ids.index(after) + 1:] if after in ids else []
    return {"object": "list", "data": [_public(i) for i in items[:limit]], "has_more": len(items) > limit}


def _not_found(kind: str, ident: str) -> tuple[int, Any]:
    from tests.fake_openai.server import error_body

    return 404, error_body(404, f"No such {kind}: {ident}", "not_found")


def _bad(message: str, param: str | None = None) -> tuple[int, Any]:
    from tests.fake_openai.server import error_body

    body = error_body(400, message)
    body["error"]["param"] = param
    return 400, body


# -- files ---------------------------------------------------------------------------------------


def upload_file(server: FakeOpenAI, request: Request, match: re.Match[str]) -> tuple[int, Any]:
    """POST /v1/files."""
    form = parse_multipart(request)
    purpose = form.get("purpose", (None, b""))[1].decode()
    if purpose != "fine-tune":
        return _bad(f"purpose `{purpose}`: this server takes only `fine-tune` files", "purpose")
    if "file" not in form or not form["file"][0]:
        return _bad("no file in the upload", "file")
    filename, content = form["file"]
    assert filename is not None
    try:
        kind, examples = check_jsonl(content, filename)
    except ValueError as e:
        return _bad(str(e), "file")
    obj = {"id": _new_id("file"), "object": "file", "bytes": len(content), "created_at": int(time.time()),
           "filename": filename, "purpose": "fine-tune", "status": "uploaded", "status_details": None,
           "_content": content, "_kind": kind, "_examples": examples, "_reads": 0}
    files(server)[obj["id"]] = obj
    return 200, _public(obj)


def get_file(server: FakeOpenAI, request: Request, match: re.Match[str]) -> tuple[int, Any]:
    """GET /v1/files/{id}: `uploaded` until read `file_polls` times, then `processed` (or `error`)."""
    obj = files(server).get(match.group(1))
    if obj is None:
        return _not_found("file", match.group(1))
    knobs = settings(server)
    obj["_reads"] += 1
    if obj["status"] == "uploaded" and obj["_reads"] >= knobs["file_polls"]:
        if knobs["file_error"]:
            obj["status"], obj["status_details"] = "error", knobs["file_error"]
        else:
            obj["status"] = "processed"
    return 200, _public(obj)


def list_files(server: FakeOpenAI, request: Request, match: re.Match[str]) -> tuple[int, Any]:
    """GET /v1/files."""
    return 200, _page(list(files(server).values()), request.query, default_limit=10_000)


def file_content(server: FakeOpenAI, request: Request, match: re.Match[str]) -> tuple[int, Any]:
    """GET /v1/files/{id}/content: the bytes as uploaded."""
    obj = files(server).get(match.group(1))
    if obj is None:
        return _not_found("file", match.group(1))
    return 200, obj["_content"]


# -- jobs ----------------------------------------------------------------------------------------


def _method(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(type, hyperparameters) of the `method` payload; ValueError on anything OpenAI would refuse."""
    method = body.get("method")
    if method is None:
        return "supervised", dict(body.get("hyperparameters") or {})
    if not isinstance(method, dict) or method.get("type") not in HYPERPARAMETERS:
        raise ValueError(f"method.type: expected `supervised` or `dpo`, got {method!r}")
    kind = method["type"]
    extra = set(method) - {"type", kind}
    if extra:
        raise ValueError(f"method: unexpected key(s) {sorted(extra)} for type `{kind}`")
    config = method.get(kind) or {}
    if not isinstance(config, dict) or set(config) - {"hyperparameters"}:
        raise ValueError(f"method.{kind}: expected an object with `hyperparameters`")
    hp = config.get("hyperparameters") or {}
    for name, value in hp.items():
        if name not in HYPERPARAMETERS[kind]:
            raise ValueError(f"method.{kind}.hyperparameters.{name}: unknown for `{kind}`")
        typ, low, high = HYPERPARAMETERS[kind][name]
        if value == "auto":
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or (typ is int and not isinstance(value, int)):
            raise ValueError(f"method.{kind}.hyperparameters.{name}: expected {typ.__name__} or `auto`, got {value!r}")
        if not low < value <= high and not (typ is int and value == low):
            raise ValueError(f"method.{kind}.hyperparameters.{name}: {value} is out of range")
    if body.get("hyperparameters"):
        raise ValueError("hyperparameters: give them inside `method`, not at the top level")
    return kind, dict(hp)


def _usable_file(server: FakeOpenAI, file_id: Any, param: str, kind: str) -> dict[str, Any]:
    obj = files(server).get(file_id) if isinstance(file_id, str) else None
    if obj is None:
        raise ValueError(f"{param}: invalid file id {file_id!r}")
    if obj["status"] != "processed":
        raise ValueError(f"{param}: file {file_id} is not ready ({obj['status']}); try again when processed")
    if obj["_kind"] != kind:
        raise ValueError(f"{param}: file {file_id} holds {obj['_kind']} examples; this method needs {kind} examples")
    return obj


def create_job(server: FakeOpenAI, request: Request, match: re.Match[str]) -> tuple[int, Any]:
    """POST /v1/fine_tuning/jobs."""
    body = request.json()
    if not isinstance(body, dict):
        return _bad("expected a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        return _bad("model: required", "model")
    try:
        method, hp = _method(body)
    except ValueError as e:
        return _bad(str(e), "method")
    try:
        train = _usable_file(server, body.get("training_file"), "training_file", KIND_OF_METHOD[method])
        if body.get("validation_file") is not None:
            _usable_file(server, body["validation_file"], "validation_file", KIND_OF_METHOD[method])
    except ValueError as e:
        return _bad(str(e), str(e).split(":")[0])
    if train["_examples"] < MIN_EXAMPLES:
        return _bad(f"training_file: has {train['_examples']} example(s), but must have at least {MIN_EXAMPLES}",
                    "training_file")
    suffix = body.get("suffix")
    if suffix is not None and (not isinstance(suffix, str) or not 0 < len(suffix) <= 64):
        return _bad("suffix: expected a string of 1 to 64 characters", "suffix")
    job_id = _new_id("ftjob")
    resolved = {k: ("auto" if v is None else v) for k, v in
                {"n_epochs": hp.get("n_epochs"), "batch_size": hp.get("batch_size"),
                 "learning_rate_multiplier": hp.get("learning_rate_multiplier")}.items()}
    job = {
        "id": job_id, "object": "fine_tuning.job", "created_at": int(time.time()), "error": None,
        "fine_tuned_model": None, "finished_at": None, "hyperparameters": resolved, "model": model,
        "organization_id": ORG, "result_files": [], "seed": body.get("seed") or 42,
        "status": "validating_files", "trained_tokens": None, "training_file": body["training_file"],
        "validation_file": body.get("validation_file"), "estimated_finish": None, "integrations": [],
        "metadata": body.get("metadata"),
        "method": {"type": method, method: {"hyperparameters": dict(hp)}},
        "suffix": suffix, "_events": [], "_checkpoints": [], "_request": body,
    }
    jobs(server)[job_id] = job
    _event(job, f"Validating training file: {body['training_file']}")
    return 200, _public(job)


def _event(job: dict[str, Any], message: str, *, level: str = "info", data: Any = None,
           type: str = "message") -> None:
    job["_events"].append({"id": _new_id("ftevent"), "object": "fine_tuning.job.event", "created_at":
                           int(time.time()), "level": level, "message": message, "data": data, "type": type})


def _advance(job: dict[str, Any], server: FakeOpenAI) -> None:
    """One step forward, with the events and checkpoints that step brings."""
    if job["status"] not in STEPS[:-1]:
        return
    nxt = STEPS[STEPS.index(job["status"]) + 1]
    error = settings(server)["job_error"]
    if nxt == "queued":
        _event(job, "Files validated, moving job to queued state")
    elif nxt == "running":
        _event(job, "Fine-tuning job started")
        for step, (train_loss, valid_loss) in enumerate([(1.8, 1.9), (1.1, 1.3), (0.7, 1.0)], 1):
            metrics = {"step": step * 10, "train_loss": train_loss, "valid_loss": valid_loss,
                       "train_mean_token_accuracy": round(1 - train_loss / 3, 3),
                       "valid_mean_token_accuracy": round(1 - valid_loss / 3, 3)}
            _event(job, f"Step {step * 10}/30: training loss={train_loss}", data=metrics, type="metrics")
            if error is None:
                job["_checkpoints"].append({
                    "id": _new_id("ftckpt"), "object": "fine_tuning.job.checkpoint", "created_at": int(time.time()),
                    "fine_tuned_model_checkpoint": f"ft:{job['model']}:{ORG}::{job['id']}:ckpt-step-{step * 10}",
                    "fine_tuning_job_id": job["id"], "metrics": {**metrics, "full_valid_loss": valid_loss},
                    "step_number": step * 10})
    elif error is not None:
        nxt = "failed"
        job["error"] = {"code": "invalid_training_file", "message": error, "param": "training_file"}
        _event(job, f"Fine-tuning job failed: {error}", level="error")
    else:
        job["fine_tuned_model"] = f"ft:{job['model']}:{ORG}:{job['suffix'] or ''}:{job['id'][-8:]}"
        job["trained_tokens"] = 12_345
        job["result_files"] = [_new_id("file")]
        _event(job, f"New fine-tuned model created: {job['fine_tuned_model']}")
        _event(job, "The job has successfully completed")
    if nxt in ("succeeded", "failed"):
        job["finished_at"] = int(time.time())
    job["status"] = nxt


def _job(server: FakeOpenAI, match: re.Match[str]) -> dict[str, Any] | None:
    return jobs(server).get(match.group(1))


def get_job(server: FakeOpenAI, request: Request, match: re.Match[str]) -> tuple[int, Any]:
    """GET /v1/fine_tuning/jobs/{id}: every read moves the job one status forward."""
    job = _job(server, match)
    if job is None:
        return _not_found("fine-tuning job", match.group(1))
    _advance(job, server)
    return 200, _public(job)


def list_jobs(server: FakeOpenAI, request: Request, match: re.Match[str]) -> tuple[int, Any]:
    """GET /v1/fine_tuning/jobs: newest first."""
    return 200, _page(list(reversed(jobs(server).values())), request.query)


def list_events(server: FakeOpenAI, request: Request, match: re.Match[str]) -> tuple[int, Any]:
    """GET /v1/fine_tuning/jobs/{id}/events: newest first, as OpenAI lists them."""
    job = _job(server, match)
    if job is None:
        return _not_found("fine-tuning job", match.group(1))
    return 200, _page(list(reversed(job["_events"])), request.query)


def list_checkpoints(server: FakeOpenAI, request: Request, match: re.Match[str]) -> tuple[int, Any]:
    """GET /v1/fine_tuning/jobs/{id}/checkpoints: newest first."""
    job = _job(server, match)
    if job is None:
        return _not_found("fine-tuning job", match.group(1))
    return 200, _page(list(reversed(job["_checkpoints"])), request.query, default_limit=10)


def cancel_job(server: FakeOpenAI, request: Request, match: re.Match[str]) -> tuple[int, Any]:
    """POST /v1/fine_tuning/jobs/{id}/cancel: only a job that has not finished."""
    job = _job(server, match)
    if job is None:
        return _not_found("fine-tuning job", match.group(1))
    if job["status"] in ("succeeded", "failed", "cancelled"):
        return _bad(f"job {job['id']} has already {job['status']}; it cannot be cancelled")
    job["status"], job["finished_at"] = "cancelled", int(time.time())
    _event(job, "Fine-tuning job cancelled")
    return 200, _public(job)


def install(server: FakeOpenAI) -> None:
    """Register this module's routes on `server`."""
    routes = [
        ("POST", r"/v1/files", upload_file),
        ("GET", r"/v1/files", list_files),
        ("GET", r"/v1/files/([^/]+)", get_file),
        ("GET", r"/v1/files/([^/]+)/content", file_content),
        ("POST", r"/v1/fine_tuning/jobs", create_job),
        ("GET", r"/v1/fine_tuning/jobs", list_jobs),
        ("GET", r"/v1/fine_tuning/jobs/([^/]+)", get_job),
        ("GET", r"/v1/fine_tuning/jobs/([^/]+)/events", list_events),
        ("GET", r"/v1/fine_tuning/jobs/([^/]+)/checkpoints", list_checkpoints),
        ("POST", r"/v1/fine_tuning/jobs/([^/]+)/cancel", cancel_job),
    ]
    for method, pattern, handler in routes:
        server.route(method, pattern)(handler)
