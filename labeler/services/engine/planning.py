"""Request planning shared by the engine's users: run options, K shared between models, token estimates.

Design constraints:
- **Resume is re-planning**: a user of the engine plans only what is missing (a prompt holding K
  candidates is skipped; one holding fewer gets only the missing ones), so a run interrupted at any
  point completes the work instead of starting over.
- **Several models share K**: `allocate` gives each model its share, counting what it already has.
- **Backends by model name**: `local:<path>` models run in this process (`engine.local`), others on
  the project's OpenAI-compatible server.
- **Options are checked once**: `RunOptions` declares its bounds with the types `ProjectSettings`
  uses (`labeler.services.bounds`); `resolve` fills what is unset from the project's settings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from exports.tokens import PER_EXAMPLE, PER_MESSAGE, approx_tokens
from labeler.errors import Invalid
from labeler.services.bounds import Checked, Concurrency, Limit, Retries, TimeoutS
from labeler.services.engine.backend import Backend, OpenAIBackend
from labeler.services.engine.local import LocalBackend, check_local, is_local
from labeler.services.llm import resolve_endpoint
from labeler.services.projects import ProjectSettings


class RunOptions(Checked):
    """How a run talks to the model; None means the project's setting."""

    limit: Limit | None = None  # at most this many prompts in this run
    concurrency: Concurrency | None = None
    timeout: TimeoutS | None = None  # seconds per request, before the backend's retries
    max_retries: Retries = 3


@dataclass(frozen=True)
class RunSettings:
    """Run options resolved against a project's settings."""

    limit: int | None
    concurrency: int
    timeout: float
    max_retries: int


def resolve_run(options: RunOptions, settings: ProjectSettings) -> RunSettings:
    """The options with the project's defaults filled in."""
    return RunSettings(options.limit, options.concurrency or settings.generation_concurrency,
                       float(options.timeout or settings.model_timeout_s), options.max_retries)


def backend_for(settings: ProjectSettings, run: RunSettings, models: Sequence[str] = ()) -> Backend:
    """The backend for `models`: `local:` models in this process, others on the project's server.

    Raises Invalid before any request: a local model without the extra or its files, a remote one
    without a key. With no models named, the project's server.
    """
    local = [m for m in models if is_local(m)]
    for model in local:
        check_local(model)
    remote = None
    if not local or len(local) < len(models):
        remote = OpenAIBackend(resolve_endpoint(settings), timeout=run.timeout, max_retries=run.max_retries)
    return remote if not local else LocalBackend(remote)


def model_ready(settings: ProjectSettings, model: str) -> bool:
    """True when `model` can be asked: a usable local model, or a server key is set."""
    try:
        check_local(model) if is_local(model) else resolve_endpoint(settings)
    except Invalid:
        return False
    return True


@dataclass(frozen=True)
class Ask:
    """One model's share of a prompt: `n` replies, the first with `seed` (then seed + 1, ...)."""

    model: str
    n: int
    seed: int | None


@dataclass(frozen=True)
class PromptPlan:
    """A prompt that needs replies: what it has and what will be asked."""

    prompt_id: int
    messages: list[dict[str, Any]]
    have: int
    asks: tuple[Ask, ...]

    @property
    def wanted(self) -> int:
        return sum(a.n for a in self.asks)


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
