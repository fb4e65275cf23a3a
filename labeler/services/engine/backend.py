"""Backends: what the engine asks a model through, and the one shape every answer comes back in.

Design constraints:
- **A small protocol** (`Backend`): `complete(request)` answers one chat request; `aclose()` frees the
  connection pool. The OpenAI-compatible backend is the first; a local backend (`transformers`, a
  folder or a GGUF file) implements the same two methods, so planning, the runner, usage counting
  and storing stay as they are.
- **Two failures, nothing else**: `RequestFailed` (this request failed: the run reports it for
  its prompt and goes on; it is a `PromptFailed`, which a job raises too) and `Refused` (the key
  was refused: nothing else can succeed, the run stops).
- **Answers are checked here**: a choice whose content is not text, or an answer with no `choices`
  list, is a `RequestFailed`; empty choices are dropped (the runner asks again for the shortfall).
- **Secrets**: every message comes from `llm.describe_api_error` (no key in it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import openai
from pydantic import BaseModel, ConfigDict

from labeler.services.llm import Endpoint, describe_api_error


class PromptFailed(Exception):
    """One prompt cannot be completed (the run reports it and goes on)."""


class RequestFailed(PromptFailed):
    """One request failed; `reason` says why without the model's name, `str()` with it."""

    def __init__(self, model: str, reason: str) -> None:
        super().__init__(f"`{model}`: {reason}")
        self.model, self.reason = model, reason


class Refused(Exception):
    """The server refused the key (401/403): no request of this run can succeed."""


class ChatRequest(BaseModel):
    """One chat completion request; unset sampling parameters are left to the server."""

    model_config = ConfigDict(frozen=True)
    model: str
    messages: list[dict[str, Any]]
    n: int = 1
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None

    def body(self) -> dict[str, Any]:
        """The request as sent (unset parameters left out)."""
        return self.model_dump(exclude_none=True)


@dataclass(frozen=True)
class Choice:
    """One non-empty reply of an answer."""

    index: int
    text: str
    finish_reason: str | None


@dataclass(frozen=True)
class Completion:
    """An answer: its non-empty choices, token usage and provenance."""

    model: str  # the model asked
    choices: list[Choice]
    usage: dict[str, int] = field(default_factory=dict)  # prompt_tokens, completion_tokens, total_tokens
    response_id: str | None = None
    system_fingerprint: str | None = None
    served_model: str | None = None  # the model that answered, when it is not the one asked

    def meta(self, index: int) -> dict[str, Any]:
        """Provenance stored with a reply: its choice index, the response id, fingerprint, served model."""
        meta: dict[str, Any] = {"choice_index": index}
        if self.response_id is not None:
            meta["response_id"] = self.response_id
        if self.system_fingerprint is not None:
            meta["system_fingerprint"] = self.system_fingerprint
        if self.served_model is not None:
            meta["served_model"] = self.served_model
        return meta


class Backend(Protocol):
    """Where completions come from (see the module docstring)."""

    async def complete(self, request: ChatRequest) -> Completion:
        """One answer; raises RequestFailed or Refused."""
        ...

    async def aclose(self) -> None:
        """Release connections; the backend is not used after this."""
        ...


class OpenAIBackend:
    """Any OpenAI-compatible server through the `openai` SDK, which retries 408/409/429/5xx and timeouts."""

    def __init__(self, endpoint: Endpoint, *, timeout: float, max_retries: int) -> None:
        self.endpoint, self.timeout, self.max_retries = endpoint, timeout, max_retries
        self._client: openai.AsyncOpenAI | None = None

    async def complete(self, request: ChatRequest) -> Completion:
        if self._client is None:
            self._client = self.endpoint.async_client(timeout=self.timeout, max_retries=self.max_retries)
        try:
            answer = await self._client.chat.completions.create(**request.body())
        except (openai.AuthenticationError, openai.PermissionDeniedError) as e:
            raise Refused(describe_api_error(e)) from None
        except openai.APIError as e:
            raise RequestFailed(request.model, describe_api_error(e)) from None
        except ValueError as e:  # a body that is not JSON (json.JSONDecodeError)
            raise RequestFailed(request.model, "malformed answer from the model server (not JSON: "
                                               f"{type(e).__name__})") from None
        return completion_of(answer, request.model)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def completion_of(answer: Any, model: str) -> Completion:
    """An SDK answer as a Completion; RequestFailed when it is malformed."""
    choices = getattr(answer, "choices", None)
    if not isinstance(choices, list):
        raise RequestFailed(model, "malformed answer from the model server (no `choices` list)")
    out = []
    for i, choice in enumerate(choices):
        content = getattr(getattr(choice, "message", None), "content", None)
        if content is not None and not isinstance(content, str):
            raise RequestFailed(model, f"malformed answer from the model server (choice {i}: content is "
                                       f"{type(content).__name__}, not text)")
        text = (content or "").strip()
        if text:
            index = getattr(choice, "index", i)
            out.append(Choice(index if isinstance(index, int) else i, text, getattr(choice, "finish_reason", None)))
    usage = getattr(answer, "usage", None)
    counts = {name: value for name in ("prompt_tokens", "completion_tokens", "total_tokens")
              if isinstance(value := getattr(usage, name, None), int)}
    served = getattr(answer, "model", None)
    return Completion(model, out, counts, _text(getattr(answer, "id", None)),
                      _text(getattr(answer, "system_fingerprint", None)),
                      served if isinstance(served, str) and served != model else None)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
