"""Where the model lives: one resolved endpoint (server + key) and error messages safe to show.

Design constraints:
- Keys come from the environment only. A project names the *variable* (`model_api_key_env`), never
  the key, so no key reaches the database; `Endpoint.api_key` is hidden from `repr`.
- Any OpenAI-compatible server works (OpenAI, Azure OpenAI, vLLM, Ollama, llama.cpp server,
  Together): the project's `model_base_url` wins over `OPENAI_BASE_URL`, which wins over the SDK's
  default (api.openai.com).
- Every message built from an SDK error goes through `redact` (labeler/redaction.py), which removes any
  key this process has resolved, in any case or echoed masked, and anything shaped like one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import openai

from labeler.errors import Invalid, LabelerError
from labeler.redaction import DEFAULT_KEY_ENV, redact, remember_key

__all__ = ["DEFAULT_KEY_ENV", "Endpoint", "ModelError", "describe_api_error", "model_configured", "redact",
           "resolve_endpoint"]

if TYPE_CHECKING:
    from labeler.services.projects import ProjectSettings

BASE_URL_ENV = "OPENAI_BASE_URL"



class ModelError(LabelerError):
    """A model server refused or failed a request (message from `describe_api_error`: no key in it)."""


@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible server and the key for it (the key never shows in repr)."""

    base_url: str | None  # None = the SDK's default (api.openai.com)
    api_key: str = field(repr=False)

    def client(self, *, timeout: float = 60.0, max_retries: int = 2) -> openai.OpenAI:
        """A synchronous SDK client; the SDK retries 408/409/429/5xx and timeouts with backoff."""
        return openai.OpenAI(base_url=self.base_url, api_key=self.api_key, timeout=timeout, max_retries=max_retries)

    def async_client(self, *, timeout: float = 60.0, max_retries: int = 2) -> openai.AsyncOpenAI:
        """An asyncio SDK client (same retry rules as `client`)."""
        return openai.AsyncOpenAI(
            base_url=self.base_url, api_key=self.api_key, timeout=timeout, max_retries=max_retries
        )

    @property
    def server(self) -> str:
        """The server's address, for messages (`api.openai.com` when none is configured)."""
        return self.base_url or "https://api.openai.com/v1"


def resolve_endpoint(settings: ProjectSettings | None = None) -> Endpoint:
    """The endpoint for a project (or the process environment): raises Invalid when there is no key.

    The project's `model_base_url` and `model_api_key_env` (the NAME of a variable) override
    `OPENAI_BASE_URL` / `OPENAI_API_KEY`.
    """
    key_env = (settings.model_api_key_env if settings is not None else None) or DEFAULT_KEY_ENV
    base_url = (settings.model_base_url if settings is not None else None) or os.environ.get(BASE_URL_ENV) or None
    api_key = (os.environ.get(key_env) or "").strip()
    if not api_key:
        where = f"the server at {base_url}" if base_url else "OpenAI (no OPENAI_BASE_URL or `model_base_url` set)"
        raise Invalid(
            f"no model API key: set the environment variable `{key_env}` to the key for {where}; "
            "a local server that checks no key (vLLM, Ollama, llama.cpp) takes any value, e.g. `local`"
        )
    remember_key(api_key)
    return Endpoint(base_url=base_url.rstrip("/") if base_url else None, api_key=api_key)


def model_configured(settings: ProjectSettings | None = None) -> bool:
    """True when an endpoint resolves (a key is set) for these settings or the environment."""
    try:
        resolve_endpoint(settings)
    except Invalid:
        return False
    return True


def describe_api_error(exc: BaseException) -> str:
    """One line saying what failed (status and the server's message); never contains a key."""
    if isinstance(exc, openai.APITimeoutError):
        text = f"the request timed out ({_where(exc)})"
    elif isinstance(exc, openai.APIConnectionError):
        text = f"cannot reach the model server ({_where(exc)}): {_cause(exc)}"
    elif isinstance(exc, openai.APIStatusError):
        text = f"{exc.status_code} {_status_hint(exc.status_code)}: {_server_message(exc)}"
    elif isinstance(exc, openai.APIResponseValidationError):
        text = f"malformed answer from the model server ({_where(exc)}): {exc.message}"
    elif isinstance(exc, openai.APIError):
        text = f"model API error: {exc.message}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return redact(" ".join(text.split()))


# -- helpers ---------------------------------------------------------------------------------------


def _where(exc: openai.APIError) -> str:
    try:
        url = exc.request.url
    except (AttributeError, RuntimeError):
        return "unknown address"
    return f"{url.scheme}://{url.host}{':' + str(url.port) if url.port else ''}{url.path}"


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    return str(cause) if cause is not None and str(cause) else type(cause or exc).__name__


def _status_hint(status: int) -> str:
    return {
        400: "bad request",
        401: "the API key was refused",
        403: "permission denied",
        404: "not found (check the model name and the server URL)",
        408: "request timeout",
        409: "conflict",
        422: "unprocessable request",
        429: "rate limited or out of quota",
    }.get(status, "server error" if status >= 500 else "error")


def _server_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:500]
        if isinstance(inner, str):
            return inner[:500]
    return str(exc.message)[:500]
