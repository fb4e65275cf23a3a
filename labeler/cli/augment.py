"""`labeler augment`: paraphrase augmentation (N rewordings of each prompt, stored as pending paraphrases)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from labeler.cli.base import _actor, _print_json, app, console, ensure_migrated, lazy, session_scope
from labeler.cli.generation import _progress, finish_run

augment_service = lazy("labeler.services.augment")


def _say(text: str) -> None:
    console.print(text, soft_wrap=True)


@app.command("augment")
def augment(
    project: Annotated[str, typer.Option(help="Project whose prompts get paraphrases.")],
    paraphrases: Annotated[int, typer.Option("--paraphrases", "-n", help="Rewordings asked per prompt (1..20).")] = 3,
    model: Annotated[str | None, typer.Option(help="Model that rewords (default: the project's suggestion "
                                                   "model, else its first generation model).")] = None,
    split: Annotated[str | None, typer.Option(help="Only prompts of this split (train, valid, test).")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many source prompts in this run.")] = None,
    temperature: Annotated[float, typer.Option(help="Sampling temperature of the rewording request.")] = 0.9,
    dedup_prefix: Annotated[bool, typer.Option(help="Also drop rewordings sharing the project's dedup prefix "
                                                    "with a stored prompt.")] = True,
    concurrency: Annotated[int | None, typer.Option(help="Requests in flight (default: the project's).")] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds per request before a retry.")] = None,
    max_retries: Annotated[int, typer.Option(help="Retries of 429, 5xx and timeouts, with backoff.")] = 3,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count the prompts that would be asked.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Ask the model for N rewordings of each prompt; store them as pending paraphrases (resumable)."""
    ensure_migrated()
    request = augment_service.AugmentRequest(
        project=project, paraphrases=paraphrases, model=model, split=split, limit=limit, temperature=temperature,
        dedup_prefix=dedup_prefix, concurrency=concurrency, timeout=timeout, max_retries=max_retries)
    with session_scope(write=False) as s:
        actor = _actor(s)
        if dry_run:
            n = augment_service.count_sources(s, actor, request)
    if dry_run:
        if as_json:
            _print_json({"project": project, "prompts": n, "paraphrases_asked": n * paraphrases})
        else:
            _say(f"dry run for `{escape(project)}`: {n} prompt(s) would be asked for {paraphrases} rewording(s) "
                 "each; nothing was sent")
        return
    with _progress(quiet=as_json, label="paraphrasing") as progress:
        summary = augment_service.run_augment(actor, request, progress=progress)
    finish_run(summary, as_json, _print_summary, "augmentation")


def _print_summary(s: augment_service.AugmentSummary) -> None:
    _say(f"paraphrased `{escape(s.project)}` with {escape(s.models[0])} in {s.seconds:.1f}s: {s.prompts_done} of "
         f"{s.prompts_planned} prompt(s) done, {s.failed} failed")
    _say(f"  rewordings: {s.asked} asked, {s.paraphrases} stored (pending review), {s.short} short "
         f"({s.duplicates} duplicate(s) dropped)")
    _say(f"  requests: {s.requests}; tokens: {s.prompt_tokens:,} in, {s.completion_tokens:,} out")
    for f in s.failures[:20]:
        _say(f"  prompt {f.prompt_id}: {escape(f.reason)}")
    if s.failed > 20:
        _say(f"  ... and {s.failed - 20} more")
