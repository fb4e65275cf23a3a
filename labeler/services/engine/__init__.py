"""The model engine: one way to plan model requests, run them concurrently within bounds and with
retries, count usage and store results through hooks.

- `planning`: run options checked once (bounds shared with `ProjectSettings`), K shared between
  models, token estimates, and the backend a project's settings name.
- `backend`: the small `Backend` protocol (`complete`, `aclose`), the request and answer shapes, and
  the OpenAI-compatible backend.
- `local`: the `transformers` backend for `local:<path>` models (a folder or a GGUF file).
- `runner`: the bounded concurrent run loop with group commit, the breaker and progress.

`labeler.services.generate`, `augment` and `suggest` are its users.
"""

from labeler.services.engine.backend import (
    Backend,
    ChatRequest,
    Choice,
    Completion,
    OpenAIBackend,
    PromptFailed,
    Refused,
    RequestFailed,
)
from labeler.services.engine.local import LocalBackend, check_local, is_local
from labeler.services.engine.planning import (
    Ask,
    PromptPlan,
    RunOptions,
    RunSettings,
    allocate,
    backend_for,
    model_ready,
    prompt_tokens,
    resolve_run,
)
from labeler.services.engine.runner import (
    Job,
    Progress,
    PromptFailure,
    Result,
    Runner,
    RunSummary,
    Stored,
    run_coroutine,
)

__all__ = [
    "Ask", "Backend", "ChatRequest", "Choice", "Completion", "Job", "LocalBackend", "OpenAIBackend", "Progress",
    "PromptFailed", "PromptFailure", "PromptPlan", "Refused", "RequestFailed", "Result", "RunOptions", "RunSettings",
    "RunSummary", "Runner", "Stored", "allocate", "backend_for", "check_local", "is_local", "model_ready",
    "prompt_tokens", "resolve_run", "run_coroutine",
]
