"""Generation: candidate replies from one or several models, and reply suggestions for demonstrations.

Design constraints:
- **A run owns its transactions** (the one service that does): it lasts minutes to hours, and each
  prompt's new candidates must be stored together or not at all so that an interrupted run resumes
  where it stopped. It reads and writes in short sessions from `session_scope(url)`; no transaction
  is ever open across a model call, so labelers keep working on SQLite (one writer) meanwhile.
- **Resume is re-planning**: a prompt already holding K candidates is skipped; one holding fewer
  gets only the missing ones. Several models share K (each model's share counts the candidates it
  already has), so a resumed run completes the split instead of starting over.
- **Bounded concurrency**: the model calls run on an asyncio loop in the calling thread, with at most
  `concurrency` requests in flight (a semaphore) and pending prompts read in chunks (memory flat).
- **Group commit**: finished prompts queue up for one writer, which stores everything waiting in one
  short transaction (each prompt whole); a failed batch is retried prompt by prompt, so one bad
  prompt never takes others with it.
- **`n` shortfall**: a server that returns fewer choices than `n` (Ollama ignores `n`) is asked again
  for the rest, each call with the next seed so the samples differ.
- **Failures**: the SDK retries 408/409/429/5xx, dropped connections and timeouts with exponential
  backoff (honouring Retry-After); what still fails is reported per prompt and the run goes on. A
  refused key (401/403) stops the run at once, and so do `BREAKER` failures in a row before any
  success (a wrong URL or model name would otherwise fail every prompt slowly).
- **Secrets**: the key lives only in `llm.Endpoint`; every message comes from `llm.describe_api_error`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from typing import Any

import openai
from sqlalchemy import func, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from db.models import Candidate, Prompt
from exports.tokens import PER_EXAMPLE, PER_MESSAGE, approx_tokens
from labeler.errors import Conflict, Invalid
from labeler.services import session_scope
from labeler.services.actors import Actor, require_admin
from labeler.services.events import record_event
from labeler.services.ingest_labels import text_hash
from labeler.services.llm import (
    BASE_URL_ENV,
    Endpoint,
    ModelError,
    describe_api_error,
    model_configured,
    redact,
    resolve_endpoint,
)
from labeler.services.projects import ProjectSettings, get_project_for, get_project_or_raise, settings_of
from labeler.services.queue import own_assignment_and_project, require_open
from labeler.services.submissions import check_turns

CHUNK = 500  # pending prompts read per query
WRITE_BATCH = 256  # most prompts stored in one transaction
BREAKER = 10  # failures in a row, before any success, that stop a run
SAMPLE = 3  # requests shown by a dry run
Progress = Callable[[int, int], None]  # (prompts finished, prompts planned)


@dataclass(frozen=True)
class GenerationRequest:
    """What to generate; None means the project's setting."""

    project: str
    k: int | None = None  # candidates wanted per prompt (default: generation_k, else k_max)
    models: tuple[str, ...] = ()  # default: the project's generation_models
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    limit: int | None = None  # at most this many prompts in this run
    concurrency: int | None = None
    timeout: float | None = None  # seconds per request, before the SDK's retries
    max_retries: int = 3


@dataclass(frozen=True)
class GenerationConfig:
    """A request resolved against the project's settings."""

    project: str
    project_id: int
    k: int
    models: tuple[str, ...]
    params: dict[str, Any]  # temperature, top_p, max_tokens
    seed: int | None
    limit: int | None
    concurrency: int
    timeout: float
    max_retries: int


@dataclass(frozen=True)
class Ask:
    """One model's share of a prompt: `n` candidates, the first with `seed` (then seed + 1, ...)."""

    model: str
    n: int
    seed: int | None


@dataclass(frozen=True)
class PromptPlan:
    """A prompt that needs candidates: what it has and what will be asked."""

    prompt_id: int
    messages: list[dict[str, Any]]
    have: int
    asks: tuple[Ask, ...]

    @property
    def wanted(self) -> int:
        return sum(a.n for a in self.asks)


@dataclass
class GenerationPlan:
    """What a run would do (a dry run): counts, a token estimate and the first requests."""

    project: str
    models: list[str]
    k: int
    params: dict[str, Any]
    prompts: int = 0
    candidates: int = 0
    requests: int = 0
    est_prompt_tokens: int = 0
    est_completion_tokens_max: int = 0  # max_tokens for every candidate: an upper bound
    sample: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PromptFailure:
    """A prompt whose candidates were not stored, and why."""

    prompt_id: int
    reason: str


@dataclass
class GenerationSummary:
    """What a run did."""

    project: str
    models: list[str]
    k: int
    prompts_planned: int = 0
    prompts_done: int = 0
    candidates: int = 0
    duplicates: int = 0  # replies identical to a stored one (or to each other), not stored
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failures: list[PromptFailure] = field(default_factory=list)
    aborted: str | None = None  # why the run stopped early, if it did
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return len(self.failures)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failed": self.failed}


# ---------------------------------------------------------------------------------------------
# Planning


def resolve_request(session: Session, actor: Actor, request: GenerationRequest) -> GenerationConfig:
    """The request with the project's defaults filled in and checked (admins only)."""
    require_admin(actor)
    project = get_project_or_raise(session, request.project)
    s = settings_of(project)
    models = tuple(dict.fromkeys(m.strip() for m in request.models if m.strip())) or tuple(s.generation_models)
    if not models:
        raise Invalid(f"no model to generate with: pass `--model NAME` or set `generation_models` "
                      f"of project `{project.name}`")
    k = request.k if request.k is not None else (s.generation_k or s.k_max)
    if not 1 <= k <= 9:
        raise Invalid(f"`k` must be within 1..9 (candidates per prompt), got {k}")
    params = {
        "temperature": _in_range("temperature", request.temperature, s.generation_temperature, 0.0, 2.0),
        "top_p": _in_range("top_p", request.top_p, s.generation_top_p, 0.0, 1.0),
        "max_tokens": int(_in_range("max_tokens", request.max_tokens, s.generation_max_tokens, 1, 65536)),
    }
    if request.limit is not None and request.limit < 1:
        raise Invalid(f"`limit` must be at least 1, got {request.limit}")
    concurrency = request.concurrency or s.generation_concurrency
    if not 1 <= concurrency <= 256:
        raise Invalid(f"`concurrency` must be within 1..256, got {concurrency}")
    timeout = request.timeout or s.model_timeout_s
    if timeout <= 0 or request.max_retries < 0:
        raise Invalid("`timeout` must be positive and `max_retries` non-negative")
    return GenerationConfig(project.name, project.id, k, models, params, s.generation_seed, request.limit,
                            concurrency, float(timeout), request.max_retries)


def _in_range(name: str, value: float | None, default: float, low: float, high: float) -> float:
    value = default if value is None else value
    if not low <= value <= high:
        raise Invalid(f"`{name}` must be within {low:g}..{high:g}, got {value:g}")
    return value


def _candidate_count():  # noqa: ANN202 - a correlated scalar subquery
    return (select(func.count(Candidate.id)).where(Candidate.prompt_id == Prompt.id)
            .correlate(Prompt).scalar_subquery())


def count_pending(session: Session, config: GenerationConfig) -> int:
    """Prompts of the project with fewer than K candidates (at most `limit`)."""
    query = select(Prompt.id).where(Prompt.project_id == config.project_id, _candidate_count() < config.k,
                                    Prompt.source_prompt_id.is_(None))  # paraphrases are not ranked
    if config.limit:
        query = query.limit(config.limit)
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


def pending_chunk(session: Session, config: GenerationConfig, after_id: int, size: int) -> list[PromptPlan]:
    """The next `size` prompts (by id, after `after_id`) needing candidates, with what to ask for each."""
    have = _candidate_count()
    rows = session.execute(
        select(Prompt.id, Prompt.messages, have)
        .where(Prompt.project_id == config.project_id, Prompt.id > after_id, have < config.k,
               Prompt.source_prompt_id.is_(None))
        .order_by(Prompt.id).limit(size)
    ).all()
    if not rows:
        return []
    by_model: dict[int, Counter[str]] = {}
    for pid, model, n in session.execute(
        select(Candidate.prompt_id, Candidate.model, func.count())
        .where(Candidate.prompt_id.in_([r[0] for r in rows]), Candidate.model.in_(config.models))
        .group_by(Candidate.prompt_id, Candidate.model)
    ):
        by_model.setdefault(pid, Counter())[model] = n
    plans = []
    for pid, messages, n_have in rows:
        per_model = by_model.get(pid, Counter())
        shares = allocate(config.k - n_have, config.models, per_model, config.k)
        asks = tuple(Ask(m, n, None if config.seed is None else config.seed + per_model[m])
                     for m, n in shares.items() if n > 0)
        plans.append(PromptPlan(pid, list(messages), n_have, asks))
    return plans


def allocate(need: int, models: tuple[str, ...], have: Counter[str], k: int) -> dict[str, int]:
    """Split `need` new candidates between models so each ends as close as possible to its share of K.

    Shares are K split evenly (the first models take the remainder); each slot goes to the model
    furthest below its share, counting what it already has.
    """
    quota = {m: k // len(models) + (1 if i < k % len(models) else 0) for i, m in enumerate(models)}
    shares = dict.fromkeys(models, 0)
    for _ in range(max(0, need)):
        model = min(models, key=lambda m: (have[m] + shares[m] - quota[m], models.index(m)))
        shares[model] += 1
    return shares


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """Approximate tokens of a request's messages (4 bytes a token, plus OpenAI's per-message overhead)."""
    return sum(PER_MESSAGE + approx_tokens(str(m.get("content", ""))) for m in messages) + PER_EXAMPLE


def plan_generation(session: Session, actor: Actor, request: GenerationRequest) -> GenerationPlan:
    """What a run would ask (a dry run): prompts, candidates, requests, token estimate, first requests."""
    config = resolve_request(session, actor, request)
    plan = GenerationPlan(config.project, list(config.models), config.k, config.params)
    after = 0
    while config.limit is None or plan.prompts < config.limit:
        size = CHUNK if config.limit is None else min(CHUNK, config.limit - plan.prompts)
        chunk = pending_chunk(session, config, after, size)
        if not chunk:
            break
        after = chunk[-1].prompt_id
        for p in chunk:
            plan.prompts += 1
            plan.candidates += p.wanted
            plan.requests += len(p.asks)
            plan.est_prompt_tokens += prompt_tokens(p.messages) * len(p.asks)
            for ask in p.asks:
                if len(plan.sample) < SAMPLE:
                    plan.sample.append({"prompt_id": p.prompt_id, "has": p.have,
                                        **_request_body(config, p.messages, ask.model, ask.n, ask.seed)})
    plan.est_completion_tokens_max = plan.candidates * config.params["max_tokens"]
    return plan


def _request_body(config: GenerationConfig, messages: list[dict[str, Any]], model: str, n: int,
                  seed: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": messages, "n": n, **config.params}
    if seed is not None:
        body["seed"] = seed
    return body


# ---------------------------------------------------------------------------------------------
# Running


class _PromptFailed(Exception):
    """One prompt cannot be completed (reported, the run goes on)."""


class _Fatal(Exception):
    """The run cannot go on (the key was refused)."""


@dataclass
class _Result:
    """A prompt's new candidates, ready to store."""

    prompt_id: int
    rows: list[dict[str, Any]]


def run_generation(
    actor: Actor, request: GenerationRequest, *, url: str | None = None, progress: Progress | None = None
) -> GenerationSummary:
    """Generate the missing candidates of a project's prompts (admins only); commits prompt by prompt.

    Raises Invalid before any request when there is no model, no key, or nothing sensible to do.
    """
    require_admin(actor)
    with session_scope(url, write=False) as s:
        config = resolve_request(s, actor, request)
        endpoint = resolve_endpoint(settings_of(get_project_or_raise(s, request.project)))
        total = count_pending(s, config)
    run = _Run(actor, config, endpoint, url, progress, total)
    summary = _run_coroutine(run.main())
    with session_scope(url) as s:
        record_event(s, actor, "generation.run", "project", config.project_id, models=list(config.models),
                     k=config.k, params=config.params, prompts_done=summary.prompts_done,
                     candidates=summary.candidates, failed=summary.failed, aborted=summary.aborted,
                     prompt_tokens=summary.prompt_tokens, completion_tokens=summary.completion_tokens)
    return summary


def _run_coroutine(coro: Coroutine[Any, Any, GenerationSummary]) -> GenerationSummary:
    """asyncio.run, also from a thread that already runs an event loop (then in a helper thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


class _Run:
    """One generation run: schedules prompts, calls the model, hands results to the writer.

    Paraphrase augmentation (labeler.services.augment) reuses it by overriding `_pending`, `_ask`, `_store`.
    """

    stores = "candidates"  # what a failed store message names

    def __init__(self, actor: Actor, config: GenerationConfig, endpoint: Endpoint, url: str | None,
                 progress: Progress | None, total: int) -> None:
        self.config, self.endpoint, self.url, self.progress = config, endpoint, url, progress
        self.summary = GenerationSummary(config.project, list(config.models), config.k, prompts_planned=total)
        self.finished = 0
        self.failures_in_a_row = 0
        self.any_success = False
        self.started = time.perf_counter()

    # -- the loop -------------------------------------------------------------------------------

    async def main(self) -> GenerationSummary:
        self.sem = asyncio.Semaphore(self.config.concurrency)
        self.queue: asyncio.Queue[_Result | None] = asyncio.Queue()
        writer = asyncio.create_task(self._writer())
        client = self.endpoint.async_client(timeout=self.config.timeout, max_retries=self.config.max_retries)
        self.client = client
        in_flight: set[asyncio.Task[None]] = set()
        self._report()  # 0 of N: the bar appears before the first answer
        try:
            async with client:
                await self._schedule(in_flight)
                if self.summary.aborted:
                    for task in in_flight:
                        task.cancel()
                if in_flight:
                    await asyncio.gather(*in_flight, return_exceptions=True)
        finally:
            await self.queue.put(None)
            await writer
        self.summary.seconds = round(time.perf_counter() - self.started, 3)
        self._report()
        return self.summary

    async def _schedule(self, in_flight: set[asyncio.Task[None]]) -> None:
        window = self.config.concurrency * 2  # prompts in flight: enough to keep every request slot busy
        after, scheduled, limit = 0, 0, self.config.limit
        while not self.summary.aborted and (limit is None or scheduled < limit):
            size = CHUNK if limit is None else min(CHUNK, limit - scheduled)
            with session_scope(self.url, write=False) as s:
                chunk = self._pending(s, after, size)
            if not chunk:
                return
            after = chunk[-1].prompt_id
            for plan in chunk:
                while len(in_flight) >= window:
                    _, in_flight_left = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                    in_flight.intersection_update(in_flight_left)
                if self.summary.aborted:
                    return
                in_flight.add(asyncio.create_task(self._prompt(plan)))
                scheduled += 1

    def _pending(self, session: Session, after_id: int, size: int) -> list[PromptPlan]:
        """The next prompts to work on (a subclass, e.g. augment's, plans other work)."""
        return pending_chunk(session, self.config, after_id, size)

    async def _prompt(self, plan: PromptPlan) -> None:
        """All of a prompt's asks (model after model); its rows go to the writer only when all succeed."""
        try:
            rows: list[dict[str, Any]] = []
            for ask in plan.asks:
                rows += await self._ask(plan, ask)
        except _Fatal as e:
            if not self.summary.aborted:
                self.summary.aborted = str(e)
            return
        except _PromptFailed as e:
            self._fail(plan.prompt_id, str(e))
            return
        await self.queue.put(_Result(plan.prompt_id, rows))

    async def _ask(self, plan: PromptPlan, ask: Ask) -> list[dict[str, Any]]:
        """`ask.n` candidates from one model, asking again while the server returns fewer than asked."""
        rows: list[dict[str, Any]] = []
        seed, calls = ask.seed, 0
        while len(rows) < ask.n:
            calls += 1
            if calls > ask.n + 2:
                raise _PromptFailed(f"`{ask.model}`: {len(rows)} of {ask.n} replies after {calls - 1} requests "
                                    "(the others were empty)")
            body = _request_body(self.config, plan.messages, ask.model, ask.n - len(rows), seed)
            answer = await self._call(body)
            got = _choices(answer, ask.model)
            self.summary.requests += 1
            usage = _usage(answer)
            self.summary.prompt_tokens += usage.get("prompt_tokens", 0)
            self.summary.completion_tokens += usage.get("completion_tokens", 0)
            params = {k: body[k] for k in ("temperature", "top_p", "max_tokens", "n")}
            for index, text, finish in got[: ask.n - len(rows)]:
                rows.append({
                    "prompt_id": plan.prompt_id, "text": text, "text_hash": text_hash(text), "origin": "generated",
                    "model": ask.model, "params": params, "seed": seed, "finish_reason": finish,
                    "usage": {**usage, "choices": len(got)},  # the request's usage, shared by its choices
                    "meta": _meta(answer, ask.model, index),
                })
            if seed is not None:
                seed += max(1, len(got))
        return rows

    async def _call(self, body: dict[str, Any]) -> Any:
        try:
            async with self.sem:
                return await self.client.chat.completions.create(**body)
        except (openai.AuthenticationError, openai.PermissionDeniedError) as e:
            raise _Fatal(describe_api_error(e)) from None
        except openai.APIError as e:
            raise _PromptFailed(f"`{body['model']}`: {describe_api_error(e)}") from None
        except ValueError as e:  # a body that is not JSON (json.JSONDecodeError)
            raise _PromptFailed(f"`{body['model']}`: malformed answer from the model server (not JSON: "
                                f"{type(e).__name__})") from None

    def _fail(self, prompt_id: int, reason: str) -> None:
        self.summary.failures.append(PromptFailure(prompt_id, reason))
        self.failures_in_a_row += 1
        self.finished += 1
        if not self.any_success and self.failures_in_a_row >= BREAKER and not self.summary.aborted:
            self.summary.aborted = f"stopped after {BREAKER} failures in a row and no success; the last: {reason}"
        self._report()

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(self.finished, self.summary.prompts_planned)

    # -- the writer -----------------------------------------------------------------------------

    async def _writer(self) -> None:
        """Store finished prompts: everything waiting goes into one transaction."""
        done = False
        while not done:
            first = await self.queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < WRITE_BATCH and not self.queue.empty():
                nxt = self.queue.get_nowait()
                if nxt is None:
                    done = True
                    break
                batch.append(nxt)
            stored, failed = await asyncio.to_thread(self._store_batch, batch)
            for _pid, new, duplicates in stored:
                self.summary.prompts_done += 1
                self.summary.candidates += new
                self.summary.duplicates += duplicates
                self.finished += 1
                self.any_success, self.failures_in_a_row = True, 0
            for pid, reason in failed:
                self._fail(pid, reason)
            self._report()

    def _store_batch(self, batch: list[_Result]) -> tuple[list[tuple[int, int, int]], list[tuple[int, str]]]:
        try:
            with session_scope(self.url) as s:
                return self._store(s, batch), []
        except SQLAlchemyError:
            pass  # one prompt spoiled the batch: store them one by one to find it
        stored, failed = [], []
        for result in batch:
            try:
                with session_scope(self.url) as s:
                    stored += self._store(s, [result])
            except SQLAlchemyError as e:
                failed.append((result.prompt_id, f"could not store the {self.stores}: {type(e).__name__}: "
                                                 f"{str(getattr(e, 'orig', None) or e).splitlines()[0]}"))
        return stored, failed

    def _store(self, session: Session, batch: list[_Result]) -> list[tuple[int, int, int]]:
        return _store(session, batch, self.config.k)


def _store(session: Session, results: list[_Result], k: int) -> list[tuple[int, int, int]]:
    """Insert the prompts' new candidates not stored yet (each prompt up to K); (prompt id, stored, duplicates)."""
    known: dict[int, set[str]] = {r.prompt_id: set() for r in results}
    for pid, th in session.execute(select(Candidate.prompt_id, Candidate.text_hash)
                                   .where(Candidate.prompt_id.in_(list(known)))):
        known[pid].add(th)
    rows, outcome = [], []
    for result in results:
        hashes = known[result.prompt_id]
        room = max(0, k - len(hashes))  # another run may have filled the prompt meanwhile
        new = duplicates = 0
        for row in result.rows:
            if row["text_hash"] in hashes:
                duplicates += 1
                continue
            hashes.add(row["text_hash"])
            if new < room:
                rows.append(row)
                new += 1
        outcome.append((result.prompt_id, new, duplicates))
    if rows:
        session.execute(insert(Candidate.__table__), rows)  # Core: one executemany for the batch
    return outcome


def _choices(answer: Any, model: str) -> list[tuple[int, str, str | None]]:
    """(index, text, finish_reason) of each non-empty choice; _PromptFailed when the answer is malformed."""
    choices = getattr(answer, "choices", None)
    if not isinstance(choices, list):
        raise _PromptFailed(f"`{model}`: malformed answer from the model server (no `choices` list)")
    out = []
    for i, choice in enumerate(choices):
        message = getattr(choice, "message", None)
        content = getattr(message, "content", None)
        if content is not None and not isinstance(content, str):
            raise _PromptFailed(f"`{model}`: malformed answer from the model server (choice {i}: content is "
                                f"{type(content).__name__}, not text)")
        text = (content or "").strip()
        if text:
            index = getattr(choice, "index", i)
            out.append((index if isinstance(index, int) else i, text, getattr(choice, "finish_reason", None)))
    return out


def _usage(answer: Any) -> dict[str, int]:
    usage = getattr(answer, "usage", None)
    out = {}
    for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
        value = getattr(usage, name, None)
        if isinstance(value, int):
            out[name] = value
    return out


def _meta(answer: Any, model: str, index: int) -> dict[str, Any]:
    meta: dict[str, Any] = {"choice_index": index}
    for name in ("id", "system_fingerprint"):
        value = getattr(answer, name, None)
        if isinstance(value, str):
            meta["response_id" if name == "id" else name] = value
    served = getattr(answer, "model", None)
    if isinstance(served, str) and served != model:
        meta["served_model"] = served
    return meta


# ---------------------------------------------------------------------------------------------
# Settings and suggestions

MODEL_FIELDS = (
    "model_base_url", "model_api_key_env", "generation_models", "generation_k", "generation_temperature",
    "generation_top_p", "generation_max_tokens", "generation_seed", "generation_concurrency", "model_timeout_s",
    "suggestion_model", "suggestion_temperature", "suggestion_max_tokens",
)


def model_settings(session: Session, actor: Actor, project_name: str) -> dict[str, Any]:
    """A project's model settings, the server they resolve to, and whether the key variable is set (admins)."""
    require_admin(actor)
    settings = settings_of(get_project_or_raise(session, project_name))
    data: dict[str, Any] = {name: getattr(settings, name) for name in MODEL_FIELDS}
    data["k"] = settings.generation_k or settings.k_max  # what `generate` asks for when K is not given
    data["key_set"] = model_configured(settings)
    data["server"] = redact(settings.model_base_url or os.environ.get(BASE_URL_ENV) or "https://api.openai.com/v1")
    return data


def suggestion_model_for(session: Session, actor: Actor, project_name: str) -> str | None:
    """The model that drafts replies in this project, or None when suggestions are off or no key is set."""
    settings = settings_of(get_project_for(session, actor, project_name))
    return settings.suggestion_model if settings.suggestion_model and model_configured(settings) else None


def suggest_reply(session: Session, actor: Actor, assignment_id: int, turns: list[dict] | None = None) -> dict:
    """A model's draft of the next assistant turn of the actor's demonstration lease.

    `turns` are the editor's turns after the prompt (the last, an assistant turn, is the one drafted;
    the ones before it are context). Returns what `submit_demonstration(..., suggestion=...)` stores:
    text, model, params, seed, finish_reason, usage, turn (its index). Only reads the database: call it
    in a read session, so no write lock is held during the model's answer.
    """
    assignment, project = own_assignment_and_project(session, actor, assignment_id)
    if assignment.kind != "demonstration":
        raise Invalid(f"task `{assignment_id}` is a `{assignment.kind}` task: suggestions are for demonstrations")
    require_open(assignment)
    settings = settings_of(project)
    if not settings.suggestion_model:
        raise Conflict(f"project `{project.name}` has no suggestion model: an admin sets `suggestion_model`")
    endpoint = resolve_endpoint(settings)
    context = _suggestion_context(turns)
    prompt = session.scalar(select(Prompt.messages).where(Prompt.id == assignment.prompt_id)) or []
    return request_suggestion(endpoint, settings, [*prompt, *context], turn=len(context))


def _suggestion_context(turns: list[dict] | None) -> list[dict]:
    checked = check_turns(turns or [{"role": "assistant", "content": ""}], final=False)
    if checked[-1]["role"] != "assistant":
        raise Invalid("the last turn is a user turn: a suggestion drafts an assistant turn")
    context = checked[:-1]
    for i, turn in enumerate(context, 1):
        if not turn["content"].strip():
            raise Invalid(f"turn {i} (`{turn['role']}`) is empty: write it before asking for a suggestion")
    return context


def request_suggestion(endpoint: Endpoint, settings: ProjectSettings, messages: list[dict], turn: int = 0) -> dict:
    """One draft reply from the project's suggestion model; ModelError with a safe message on failure."""
    model = settings.suggestion_model
    assert model, "request_suggestion needs a suggestion model"
    params = {"temperature": settings.suggestion_temperature, "max_tokens": settings.suggestion_max_tokens, "n": 1}
    client = endpoint.client(timeout=settings.model_timeout_s, max_retries=2)
    try:
        with client:
            answer = client.chat.completions.create(model=model, messages=messages, **params)  # type: ignore[arg-type]
        got = _choices(answer, model)
    except openai.APIError as e:
        raise ModelError(f"no suggestion: {describe_api_error(e)}") from None
    except ValueError:
        raise ModelError("no suggestion: malformed answer from the model server (not JSON)") from None
    except _PromptFailed as e:
        raise ModelError(f"no suggestion: {e}") from None
    if not got:
        raise ModelError(f"no suggestion: `{model}` returned an empty reply")
    _index, text, finish = got[0]
    return {"text": text, "model": model, "params": params, "seed": None, "finish_reason": finish,
            "usage": _usage(answer), "turn": turn, **_meta(answer, model, 0)}
