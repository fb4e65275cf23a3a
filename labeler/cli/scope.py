"""`labeler scope ...`: turn scope labels on for a project, label prompts in bulk, list the labels."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from labeler.cli.base import (
    _actor,
    _csv,
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

projects = lazy("labeler.services.projects")
scope = lazy("labeler.services.scope")

scope_app = _typer("Scope labels (answerable / off-limits): enable them, label prompts in bulk, list them.")
app.add_typer(scope_app, name="scope")


@scope_app.command("enable")
def scope_enable(
    project: Annotated[str, typer.Option(help="Project.")],
    reasons: Annotated[str | None, typer.Option(help="Reason categories, comma-separated (default: keep).")] = None,
) -> None:
    """Let labelers mark prompts answerable or off-limits on the Demonstrate and Rank pages."""
    _set_enabled(project, True, reasons)


@scope_app.command("disable")
def scope_disable(project: Annotated[str, typer.Option(help="Project.")]) -> None:
    """Hide the scope control from labelers (labels already given are kept and still exported)."""
    _set_enabled(project, False, None)


def _set_enabled(project: str, enabled: bool, reasons: str | None) -> None:
    ensure_migrated()
    settings: dict[str, object] = {"scope_labels": enabled}
    if reasons is not None:
        settings["scope_reasons"] = _csv(reasons)
    with session_scope() as s:
        stored = projects.settings_of(projects.update_project(s, _actor(s), project, settings=settings))
    state = "on" if stored.scope_labels else "off"
    console.print(f"scope labels {state} for `{escape(project)}`; reasons: "
                  f"{escape(', '.join(stored.scope_reasons)) or 'none'}")


@scope_app.command("set")
def scope_set(
    project: Annotated[str, typer.Option(help="Project.")],
    label: Annotated[str, typer.Option(help="answerable or off-limits.")],
    prompt_ids: Annotated[str | None, typer.Option(help="Prompt ids, comma-separated.")] = None,
    reason: Annotated[str | None, typer.Option(help="Reason category (off-limits only).")] = None,
    split: Annotated[str | None, typer.Option(help="Filter: only these splits, comma-separated.")] = None,
    source: Annotated[str | None, typer.Option(help="Filter: only prompts imported from this source.")] = None,
    unlabeled: Annotated[bool, typer.Option("--unlabeled", help="Filter: only prompts with no label yet.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Decide the scope label of prompts (admins): by --prompt-ids, or by a filter (--split, --source, --unlabeled).

    An admin's label wins over the labelers' votes, which are kept.
    """
    ensure_migrated()
    ids: list[int] | None = None
    where: scope.ScopeFilter | None = None
    if prompt_ids is not None:
        if split or source or unlabeled:
            raise LabelerError("give --prompt-ids or filters (--split, --source, --unlabeled), not both")
        try:
            ids = [int(x) for x in _csv(prompt_ids)]
        except ValueError:
            raise LabelerError(f"--prompt-ids: expected numbers separated by commas, got `{prompt_ids}`") from None
    elif split or source or unlabeled:
        where = scope.ScopeFilter(splits=tuple(_csv(split)), source=source, unlabeled_only=unlabeled)
    else:
        raise LabelerError("say which prompts: --prompt-ids 1,2 or a filter (--split, --source, --unlabeled)")
    bar = Progress(TextColumn("labelling"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=err_console, transient=True, disable=as_json)
    with bar, session_scope() as s:
        task = bar.add_task("labelling", total=None)
        n = scope.bulk_set_scope(s, _actor(s), project, label, reason, prompt_ids=ids, where=where,
                                 progress=lambda done, total: bar.update(task, completed=done, total=total))
        counts = scope.scope_counts(s, _actor(s), project)
    if as_json:
        _print_json({"labelled": n, "label": label, "reason": reason, "counts": counts})
        return
    console.print(f"{n} prompt(s) labelled `{label}`" + (f" ({escape(reason)})" if reason else "")
                  + f"; project now: {_counts_text(counts)}")


@scope_app.command("list")
def scope_list(
    project: Annotated[str, typer.Option(help="Project.")],
    label: Annotated[str | None, typer.Option(help="Only prompts resolved to this label (or `none`).")] = None,
    disputed: Annotated[bool, typer.Option("--disputed", help="Only prompts whose labelers disagree.")] = False,
    limit: Annotated[int, typer.Option(help="Most prompts listed.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Prompts with scope labels: the resolved label, reason, labelers' votes and any admin decision."""
    ensure_migrated()
    with session_scope(write=False) as s:
        actor = _actor(s)
        entries = scope.list_scope(s, actor, project, label=label, disputed=disputed, limit=limit)
        counts = scope.scope_counts(s, actor, project)
    if as_json:
        _print_json({"counts": counts, "prompts": [e.__dict__ for e in entries]})
        return
    console.print(f"`{escape(project)}`: {_counts_text(counts)}")
    if not entries:
        console.print("no prompt matches")
        return
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for col in ("prompt", "split", "label", "reason", "votes", "admin", "text"):
        table.add_column(col)
    for e in entries:
        votes = ", ".join(f"{k} {v}" for k, v in e.votes.items()) or "-"
        table.add_row(str(e.prompt_id), e.split, e.label or ("tie" if e.disputed else "-"), escape(e.reason or ""),
                      votes + (" (disputed)" if e.disputed else ""), e.admin or "", escape(e.preview))
    console.print(table)


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items())
