"""Commands for the model in the loop: generate candidates, and a project's model settings.

Keys are never options: they come from the environment (`OPENAI_API_KEY`, or the variable a
project names in `model_api_key_env`), so they never land in shell history or the database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from labeler.cli.base import (
    _actor,
    _print_json,
    _typer,
    app,
    console,
    ensure_migrated,
    err_console,
    lazy,
    session_scope,
)
from labeler.errors import LabelerError

generate_service = lazy("labeler.services.generate")


def _say(text: str) -> None:
    console.print(text, soft_wrap=True)  # long lines stay whole (grep-able), the terminal wraps them


model_app = _typer("A project's model settings: server, key variable, generation and suggestion models.")
app.add_typer(model_app, name="model")


@app.command("generate")
def generate(
    project: Annotated[str, typer.Option(help="Project whose prompts get candidates.")],
    k: Annotated[int | None, typer.Option("--k", help="Candidates wanted per prompt (default: the project's).")] = None,
    model: Annotated[
        list[str] | None, typer.Option("--model", help="Model to sample from (repeatable: the models share K).")
    ] = None,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature (default: the project's).")] = None,
    top_p: Annotated[float | None, typer.Option(help="Nucleus sampling (default: the project's).")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="Most tokens per candidate (default: the project's).")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many prompts in this run.")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Requests in flight (default: the project's).")] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds per request before a retry.")] = None,
    max_retries: Annotated[int, typer.Option(help="Retries of 429, 5xx and timeouts, with backoff.")] = 3,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be asked and a token estimate.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan or the summary as JSON.")] = False,
) -> None:
    """Generate candidate replies for prompts with fewer than K, from one or several models (resumable)."""
    ensure_migrated()
    request = generate_service.GenerationRequest(
        project=project, k=k, models=tuple(model or ()), temperature=temperature, top_p=top_p,
        max_tokens=max_tokens, limit=limit, concurrency=concurrency, timeout=timeout, max_retries=max_retries,
    )
    with session_scope(write=False) as s:
        actor = _actor(s)
        if dry_run:
            plan = generate_service.plan_generation(s, actor, request)
    if dry_run:
        _print_json(plan.to_dict()) if as_json else _print_plan(plan)
        return
    with _progress(quiet=as_json) as progress:
        summary = generate_service.run_generation(actor, request, progress=progress)
    finish_run(summary, as_json, _print_summary, "generation")


def finish_run(summary: Any, as_json: bool, show: Callable[[Any], None], what: str) -> None:
    """Print a model run's summary (JSON or text); a stopped run is an error, failed prompts exit 1."""
    if as_json:
        _print_json(summary.to_dict())
    else:
        show(summary)
    if summary.aborted:
        raise LabelerError(f"{what} stopped: {summary.aborted}")
    if summary.failures:
        err_console.print(f"{summary.failed} prompt(s) failed: run the same command again to retry them")
        raise typer.Exit(1)


class _progress:
    """A progress bar over the prompts (or other units) planned (stderr, gone when done)."""

    def __init__(self, quiet: bool, label: str = "generating", unit: str = "prompts") -> None:
        self.quiet = quiet or not err_console.is_terminal  # a bar only where someone watches
        self.started = False
        self.bar = Progress(
            TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
            TimeElapsedColumn(), TimeRemainingColumn(), console=err_console, transient=True,
        )

    def __enter__(self):  # noqa: ANN204
        if self.quiet:
            return None
        task = self.bar.add_task("generate", total=None)

        def advance(done: int, total: int) -> None:
            if not self.started:  # started on the first report: a refused start leaves no trace
                self.bar.start()
                self.started = True
            self.bar.update(task, completed=done, total=total or None)

        return advance

    def __exit__(self, *exc: object) -> None:
        if self.started:
            self.bar.stop()


def _print_plan(plan: generate_service.GenerationPlan) -> None:
    params = ", ".join(f"{k} {v}" for k, v in plan.params.items())
    _say(f"dry run for `{escape(plan.project)}`: K = {plan.k}, models {escape(', '.join(plan.models))} "
                  f"({escape(params)}); nothing was sent")
    _say(f"  prompts needing candidates: {plan.prompts}")
    _say(f"  candidates to ask for: {plan.candidates} in {plan.requests} request(s) "
                  "(more if a server returns fewer choices than asked)")
    _say(f"  estimated tokens: ~{plan.est_prompt_tokens:,} in, at most {plan.est_completion_tokens_max:,} out")
    for body in plan.sample:
        last = body["messages"][-1]["content"] if body["messages"] else ""
        preview = " ".join(str(last).split())[:70]
        _say(f"  prompt {body['prompt_id']} (has {body['has']}): {escape(body['model'])} n={body['n']} "
                      f"seed={body.get('seed')} \"{escape(preview)}\"")


def _print_summary(s: generate_service.GenerationSummary) -> None:
    _say(f"generated for `{escape(s.project)}` in {s.seconds:.1f}s: {s.prompts_done} of {s.prompts_planned} "
                  f"prompt(s) done, {s.candidates} candidate(s) stored, {s.failed} failed")
    _say(f"  requests: {s.requests}; tokens: {s.prompt_tokens:,} in, {s.completion_tokens:,} out")
    if s.duplicates:
        _say(f"  duplicates not stored: {s.duplicates}")
    for f in s.failures[:20]:
        _say(f"  prompt {f.prompt_id}: {escape(f.reason)}")
    if s.failed > 20:
        _say(f"  ... and {s.failed - 20} more")


# ---- model settings --------------------------------------------------------------------------------


@model_app.command("set")
def model_set(
    project: Annotated[str, typer.Option(help="Project to configure.")],
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible server, e.g. http://localhost:8000/v1 "
                                                      "('' = OPENAI_BASE_URL).")] = None,
    key_env: Annotated[str | None, typer.Option(help="NAME of the environment variable holding the key.")] = None,
    generation_model: Annotated[
        list[str] | None, typer.Option("--generation-model", help="Default model for generate (repeatable).")
    ] = None,
    suggestion_model: Annotated[
        str | None, typer.Option(help="Model drafting replies on Demonstrate ('' = off).")
    ] = None,
    k: Annotated[int | None, typer.Option("--k", help="Default candidates per prompt.")] = None,
    temperature: Annotated[float | None, typer.Option(help="Default generation temperature.")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="Default most tokens per candidate.")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Default requests in flight.")] = None,
    suggestion_max_tokens: Annotated[int | None, typer.Option(help="Most tokens in a Suggest draft.")] = None,
) -> None:
    """Set a project's model settings (keys stay in the environment; name the variable with --key-env)."""
    from labeler.services.projects import update_project

    values: dict[str, Any] = {
        "model_base_url": base_url, "model_api_key_env": key_env, "generation_k": k,
        "generation_temperature": temperature, "generation_max_tokens": max_tokens,
        "generation_concurrency": concurrency, "suggestion_model": suggestion_model,
        "generation_models": generation_model, "suggestion_max_tokens": suggestion_max_tokens,
    }
    settings = {key: (None if value == "" else value) for key, value in values.items() if value is not None}
    if not settings:
        raise LabelerError("nothing to set: pass at least one option (see --help)")
    ensure_migrated()
    with session_scope() as s:
        update_project(s, _actor(s), project, settings=settings)
    _say(f"model settings of `{escape(project)}` updated: {escape(', '.join(settings))}")


@model_app.command("show")
def model_show(
    project: Annotated[str, typer.Option(help="Project to show.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a project's model settings, and whether its key variable is set (never the key)."""
    from labeler.services.generate import model_settings

    ensure_migrated()
    with session_scope(write=False) as s:
        data = model_settings(s, _actor(s), project)
    if as_json:
        _print_json(data)
        return
    for key, value in data.items():
        _say(f"{key}: {escape(str(value))}")
