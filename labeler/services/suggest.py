"""Suggestions: a model's draft of the next assistant turn of a demonstration.

Design constraints:
- **A user of the model engine**: one request through the backend the project's settings name
  (`engine.backend_for`), with the engine's answer checks; never the whole run loop.
- **No transaction across the model call**: `suggest_reply` only reads, in a read session, so no
  write lock is held while the model answers; what it returns is stored by the submit.
- **Failures are `ModelError`** with a message safe to show (`llm.describe_api_error`: no key).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Prompt
from labeler.errors import Conflict, Invalid
from labeler.services.actors import Actor
from labeler.services.engine import (
    ChatRequest,
    PromptFailed,
    Refused,
    RunSettings,
    backend_for,
    model_ready,
    run_coroutine,
)
from labeler.services.llm import ModelError
from labeler.services.projects import ProjectSettings, get_project_for, settings_of
from labeler.services.queue import own_assignment_and_project, require_open
from labeler.services.submissions import check_turns

RETRIES = 2  # a labeler waits for the answer: fewer retries than a batch run


def suggestion_model_for(session: Session, actor: Actor, project_name: str) -> str | None:
    """The model that drafts replies in this project, or None when suggestions are off or it cannot be asked."""
    settings = settings_of(get_project_for(session, actor, project_name))
    model = settings.suggestion_model
    return model if model and model_ready(settings, model) else None


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
    context = _suggestion_context(turns)
    prompt = session.scalar(select(Prompt.messages).where(Prompt.id == assignment.prompt_id)) or []
    return request_suggestion(settings, [*prompt, *context], turn=len(context))


def _suggestion_context(turns: list[dict] | None) -> list[dict]:
    checked = check_turns(turns or [{"role": "assistant", "content": ""}], final=False)
    if checked[-1]["role"] != "assistant":
        raise Invalid("the last turn is a user turn: a suggestion drafts an assistant turn")
    context = checked[:-1]
    for i, turn in enumerate(context, 1):
        if not turn["content"].strip():
            raise Invalid(f"turn {i} (`{turn['role']}`) is empty: write it before asking for a suggestion")
    return context


def request_suggestion(settings: ProjectSettings, messages: list[dict], turn: int = 0) -> dict:
    """One draft reply from the project's suggestion model; Invalid without a key, ModelError on failure."""
    model = settings.suggestion_model
    assert model, "request_suggestion needs a suggestion model"
    request = ChatRequest(model=model, messages=messages, n=1, temperature=settings.suggestion_temperature,
                          max_tokens=settings.suggestion_max_tokens)
    backend = backend_for(settings, RunSettings(None, 1, settings.model_timeout_s, RETRIES), [model])

    async def once():  # noqa: ANN202 - the backend's Completion
        try:
            return await backend.complete(request)
        finally:
            await backend.aclose()

    try:
        answer = run_coroutine(once())
    except Refused as e:
        raise ModelError(f"no suggestion: {e}") from None
    except PromptFailed as e:
        raise ModelError(f"no suggestion: {getattr(e, 'reason', e)}") from None
    if not answer.choices:
        raise ModelError(f"no suggestion: `{model}` returned an empty reply")
    choice = answer.choices[0]
    params = {"temperature": request.temperature, "max_tokens": request.max_tokens, "n": 1}
    return {"text": choice.text, "model": model, "params": params, "seed": None, "finish_reason": choice.finish_reason,
            "usage": answer.usage, "turn": turn, **answer.meta(0)}
