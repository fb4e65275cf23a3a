"""Generation: candidate replies for a project's prompts, from one or several models.

Design constraints:
- **A user of the model engine** (`labeler.services.engine`): the engine runs the requests within
  bounds, retries, counts usage and stores through `_Generation.store`; this module plans what each
  prompt misses and turns answers into candidate rows.
- **Resume is re-planning**: a prompt already holding K candidates is skipped; one holding fewer
  gets only the missing ones. A comparison round (`per_model`) asks instead for one candidate from
  each named model that has none on the prompt yet, whatever else the prompt holds.
  Several models share K (each model's share counts the candidates it
  already has), so a resumed run completes the split instead of starting over.
- **`n` shortfall**: a server that returns fewer choices than `n` (Ollama ignores `n`) is asked again
  for the rest, each call with the next seed so the samples differ.
- **Secrets**: the key lives only in `llm.Endpoint`; every message comes from `llm.describe_api_error`.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from db.models import Candidate, Prompt
from labeler.errors import Invalid
from labeler.services import session_scope
from labeler.services.actors import Actor, require_admin
from labeler.services.bounds import CandidatesK, MaxTokens, Temperature, TopP
from labeler.services.engine import (
    Ask,
    ChatRequest,
    Progress,
    PromptFailed,
    PromptPlan,
    Result,
    Runner,
    RunOptions,
    RunSettings,
    RunSummary,
    Stored,
    allocate,
    backend_for,
    prompt_tokens,
    resolve_run,
)
from labeler.services.engine.runner import CHUNK
from labeler.services.events import record_event
from labeler.services.ingest_labels import text_hash
from labeler.services.llm import BASE_URL_ENV, model_configured, redact
from labeler.services.projects import get_project_or_raise, settings_of

SAMPLE = 3  # requests shown by a dry run
GenerationSummary = RunSummary  # what a run did
__all__ = ["GenerationRequest", "GenerationSummary", "allocate", "plan_generation", "run_generation"]


class GenerationRequest(RunOptions):
    """What to generate; None means the project's setting."""

    project: str
    k: CandidatesK | None = None  # candidates wanted per prompt (default: generation_k, else k_max)
    models: tuple[str, ...] = ()  # default: the project's generation_models
    temperature: Temperature | None = None
    top_p: TopP | None = None
    max_tokens: MaxTokens | None = None
    per_model: bool = False  # a comparison round: one candidate from each model per prompt (K is not used)
    splits: tuple[Literal["train", "valid", "test"], ...] = ()  # only prompts of these splits (default all)


@dataclass(frozen=True)
class GenerationConfig:
    """A request resolved against the project's settings."""

    project: str
    project_id: int
    k: int
    models: tuple[str, ...]
    params: dict[str, Any]  # temperature, top_p, max_tokens
    seed: int | None
    run: RunSettings
    per_model: bool = False
    splits: tuple[str, ...] = ()

    @property
    def limit(self) -> int | None:
        return self.run.limit


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


# ---------------------------------------------------------------------------------------------
# Planning


def resolve_request(session: Session, actor: Actor, request: GenerationRequest) -> GenerationConfig:
    """The request with the project's defaults filled in (admins only; bounds were checked when it was made)."""
    require_admin(actor)
    project = get_project_or_raise(session, request.project)
    s = settings_of(project)
    models = tuple(dict.fromkeys(m.strip() for m in request.models if m.strip())) or tuple(s.generation_models)
    if not models:
        raise Invalid(f"no model to generate with: pass `--model NAME` or set `generation_models` "
                      f"of project `{project.name}`")
    k = len(models) if request.per_model else request.k if request.k is not None else (s.generation_k or s.k_max)
    params = {
        "temperature": s.generation_temperature if request.temperature is None else request.temperature,
        "top_p": s.generation_top_p if request.top_p is None else request.top_p,
        "max_tokens": s.generation_max_tokens if request.max_tokens is None else request.max_tokens,
    }
    return GenerationConfig(project.name, project.id, k, models, params, s.generation_seed, resolve_run(request, s),
                            request.per_model, tuple(request.splits))


def _candidate_count():  # noqa: ANN202 - a correlated scalar subquery
    return (select(func.count(Candidate.id)).where(Candidate.prompt_id == Prompt.id)
            .correlate(Prompt).scalar_subquery())


def _have(config: GenerationConfig):  # noqa: ANN202 - a correlated scalar subquery
    """What a prompt holds towards the run's goal: its candidates, or (per model) the models already there."""
    if not config.per_model:
        return _candidate_count()
    return (select(func.count(func.distinct(Candidate.model)))
            .where(Candidate.prompt_id == Prompt.id, Candidate.model.in_(config.models))
            .correlate(Prompt).scalar_subquery())


def _pending(config: GenerationConfig, have):  # noqa: ANN001, ANN202 - SQL conditions
    """Prompts of the run: the project's (in its splits) that still miss candidates; never paraphrases."""
    conditions = [Prompt.project_id == config.project_id, have < config.k, Prompt.source_prompt_id.is_(None)]
    if config.splits:
        conditions.append(Prompt.split.in_(config.splits))
    return conditions


def count_pending(session: Session, config: GenerationConfig) -> int:
    """Prompts of the run still missing candidates (at most `limit`)."""
    query = select(Prompt.id).where(*_pending(config, _have(config)))
    if config.limit:
        query = query.limit(config.limit)
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


def pending_chunk(session: Session, config: GenerationConfig, after_id: int, size: int) -> list[PromptPlan]:
    """The next `size` prompts (by id, after `after_id`) needing candidates, with what to ask for each."""
    have = _have(config)
    rows = session.execute(
        select(Prompt.id, Prompt.messages, have)
        .where(Prompt.id > after_id, *_pending(config, have))
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
        if config.per_model:  # one from each model missing on the prompt
            shares = {m: 0 if per_model[m] else 1 for m in config.models}
        else:
            shares = allocate(config.k - n_have, config.models, per_model, config.k)
        asks = tuple(Ask(m, n, None if config.seed is None else config.seed + per_model[m])
                     for m, n in shares.items() if n > 0)
        plans.append(PromptPlan(pid, list(messages), n_have, asks))
    return plans


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
                                        **_request(config, p.messages, ask.model, ask.n, ask.seed).body()})
    plan.est_completion_tokens_max = plan.candidates * config.params["max_tokens"]
    return plan


def _request(config: GenerationConfig, messages: list[dict[str, Any]], model: str, n: int,
             seed: int | None) -> ChatRequest:
    return ChatRequest(model=model, messages=messages, n=n, seed=seed, **config.params)


# ---------------------------------------------------------------------------------------------
# Running


def run_generation(
    actor: Actor, request: GenerationRequest, *, url: str | None = None, progress: Progress | None = None
) -> GenerationSummary:
    """Generate the missing candidates of a project's prompts (admins only); commits prompt by prompt.

    Raises Invalid before any request when there is no model, no key, or nothing sensible to do.
    """
    require_admin(actor)
    with session_scope(url, write=False) as s:
        config = resolve_request(s, actor, request)
        backend = backend_for(settings_of(get_project_or_raise(s, request.project)), config.run, config.models)
        total = count_pending(s, config)
    summary = RunSummary(config.project, list(config.models), config.k, prompts_planned=total)
    Runner(_Generation(config), backend, summary, concurrency=config.run.concurrency, limit=config.limit,
           url=url, progress=progress).run()
    with session_scope(url) as s:
        record_event(s, actor, "generation.run", "project", config.project_id, models=list(config.models),
                     k=config.k, params=config.params, prompts_done=summary.prompts_done,
                     candidates=summary.candidates, failed=summary.failed, aborted=summary.aborted,
                     prompt_tokens=summary.prompt_tokens, completion_tokens=summary.completion_tokens)
    return summary


class _Generation:
    """The engine's hooks for generation: plan the missing candidates, ask for them, store them."""

    stores = "candidates"

    def __init__(self, config: GenerationConfig) -> None:
        self.config = config

    def pending(self, session: Session, after_id: int, size: int) -> list[PromptPlan]:
        return pending_chunk(session, self.config, after_id, size)

    async def work(self, run: Runner, plan: PromptPlan) -> list[dict[str, Any]]:
        """All of a prompt's asks (model after model)."""
        rows: list[dict[str, Any]] = []
        for ask in plan.asks:
            rows += await self._ask(run, plan, ask)
        return rows

    async def _ask(self, run: Runner, plan: PromptPlan, ask: Ask) -> list[dict[str, Any]]:
        """`ask.n` candidates from one model, asking again while the server returns fewer than asked."""
        rows: list[dict[str, Any]] = []
        seed, calls = ask.seed, 0
        while len(rows) < ask.n:
            calls += 1
            if calls > ask.n + 2:
                raise PromptFailed(f"`{ask.model}`: {len(rows)} of {ask.n} replies after {calls - 1} requests "
                                   "(the others were empty)")
            request = _request(self.config, plan.messages, ask.model, ask.n - len(rows), seed)
            answer = await run.complete(request)
            got = answer.choices
            params = {"temperature": request.temperature, "top_p": request.top_p,
                      "max_tokens": request.max_tokens, "n": request.n}
            for choice in got[: ask.n - len(rows)]:
                rows.append({
                    "prompt_id": plan.prompt_id, "text": choice.text, "text_hash": text_hash(choice.text),
                    "origin": "generated", "model": ask.model, "params": params, "seed": seed,
                    "finish_reason": choice.finish_reason,
                    "usage": {**answer.usage, "choices": len(got)},  # the request's usage, shared by its choices
                    "meta": answer.meta(choice.index),
                })
            if seed is not None:
                seed += max(1, len(got))
        return rows

    def store(self, session: Session, batch: list[Result]) -> Stored:
        return _store(session, batch, None if self.config.per_model else self.config.k)


def _store(session: Session, results: list[Result], k: int | None) -> Stored:
    """Insert the prompts' new candidates not stored yet (each up to K, if given); (prompt id, stored, duplicates)."""
    known: dict[int, set[str]] = {r.prompt_id: set() for r in results}
    for pid, th in session.execute(select(Candidate.prompt_id, Candidate.text_hash)
                                   .where(Candidate.prompt_id.in_(list(known)))):
        known[pid].add(th)
    rows, outcome = [], []
    for result in results:
        hashes = known[result.prompt_id]
        room = len(result.rows) if k is None else max(0, k - len(hashes))  # another run may have filled it
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


# ---------------------------------------------------------------------------------------------
# Settings

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
