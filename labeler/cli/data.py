"""Commands for data: import, stats, the demo project, and serving the app."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from labeler.cli.base import (
    MaxPerUser,
    ScrubPii,
    Split,
    _actor,
    _print_json,
    _state,
    app,
    console,
    ensure_migrated,
    err_console,
    lazy,
    session_scope,
)
from labeler.formats import IMPORT_FORMATS

ingest = lazy("labeler.services.ingest")
stats = lazy("labeler.services.stats")

# ---- import and stats -----------------------------------------------------------------------------


@app.command("import")
def import_(
    path: Annotated[Path, typer.Argument(help="File to import (.jsonl, .json lines, .csv, optionally .gz).")],
    project: Annotated[str, typer.Option(help="Project to import into.")],
    format: Annotated[str, typer.Option(help="auto, or one of: " + ", ".join(IMPORT_FORMATS))] = "auto",
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the valid records; write the others to a rejects file.")
    ] = False,
    rejects: Annotated[Path | None, typer.Option(help="Rejects file (default: <file>.rejects.jsonl here).")] = None,
    max_per_user: MaxPerUser = None,
    split: Split = None,
    scrub_pii: ScrubPii = None,
    dedup_prefix: Annotated[
        bool, typer.Option("--dedup-prefix/--no-dedup-prefix", help="Drop prompts sharing a long prefix.")
    ] = True,
    min_candidates: Annotated[int, typer.Option(help="Skip records with fewer candidate replies.")] = 0,
    max_candidates: Annotated[int | None, typer.Option(help="Skip records with more candidate replies.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Import prompts (and existing candidates, rankings, demonstrations) into a project."""
    ensure_migrated()
    options = ingest.ImportOptions(
        format=format, skip_invalid=skip_invalid, rejects_path=rejects, max_per_user=max_per_user,
        split=split, scrub_pii=scrub_pii, dedup_prefix=dedup_prefix, min_candidates=min_candidates,
        max_candidates=max_candidates,
    )
    with _import_progress(path, quiet=as_json) as progress, session_scope() as s:
        report = ingest.import_file(s, _actor(s), project, path, options, progress=progress)
    if as_json:
        _print_json(report.model_dump())
        return
    _print_import_report(report)


class _import_progress:
    """A progress bar over the file's lines (a spinner and a count when the size is unknown)."""

    def __init__(self, path: Path, quiet: bool) -> None:
        self.total = None if quiet else _count_lines(path)
        self.quiet = quiet
        self.bar = Progress(
            TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TextColumn("lines"),
            TimeElapsedColumn(), console=err_console, transient=True,
        )

    def __enter__(self):  # noqa: ANN204
        if self.quiet:
            return None
        self.bar.start()
        task = self.bar.add_task("import", total=self.total)

        def advance(line: int) -> None:
            self.bar.update(task, completed=self.total if line < 0 and self.total else max(line, 0))

        return advance

    def __exit__(self, *exc: object) -> None:
        if not self.quiet:
            self.bar.stop()


def _count_lines(path: Path) -> int | None:
    """Lines in a plain file (fast, binary); None for compressed or unreadable files."""
    if path.suffix == ".gz" or not path.is_file():
        return None
    with path.open("rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b"")) or None


def _print_import_report(r: ingest.ImportReport) -> None:
    console.print(
        f"imported {r.prompts_added} prompt(s) from {escape(Path(r.file).name)} (format {r.format}) "
        f"in {r.seconds:.1f}s: {r.records} record(s) read"
    )
    lines = {
        "duplicates (same text)": r.duplicates_exact,
        "duplicates (long common prefix)": r.duplicates_prefix,
        "over the per-user cap": r.over_user_cap,
        "candidates added": r.candidates_added,
        "rankings added": r.rankings_added,
        "demonstrations added": r.demonstrations_added,
        "rejected": r.rejected,
    }
    for label, n in lines.items():
        if n:
            console.print(f"  {label}: {n}")
    for kind, n in sorted(r.skipped.items()):
        console.print(f"  {escape(ingest.notice_label(kind))}: {n}")
    for kind, n in sorted(r.pii.items()):
        console.print(f"  PII replaced ({escape(kind)}): {n}")
    if r.by_split:
        console.print("  new prompts by split: " + ", ".join(f"{k} {v}" for k, v in sorted(r.by_split.items())))
    if r.rejects_path:
        console.print(f"  rejected records and reasons: {escape(r.rejects_path)}")



@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (the first worker's, with --workers).")] = 8501,
    workers: Annotated[int, typer.Option(min=1, help="App processes, on ports PORT, PORT+1, ... (a team on "
                                                     "PostgreSQL behind a reverse proxy; see the README).")] = 1,
    nginx: Annotated[bool, typer.Option("--nginx", help="Print an nginx site for these workers and exit.")] = False,
    listen: Annotated[str, typer.Option(help="With --nginx: what nginx listens on (port or address:port).")] = "80",
) -> None:
    """Apply migrations, then start the web app (Streamlit) on the configured database."""
    import os

    from labeler import serving

    if nginx:
        print(serving.nginx_site(serving.worker_ports(port, workers), host, listen), end="")
        return
    from labeler.services.admin import upgrade_database

    upgrade_database()
    if workers == 1:
        console.print(f"labeler app on http://{host}:{port} (Ctrl+C stops it)")
        command = serving.app_command(host, port)
        os.execv(command[0], command)  # the app replaces this process, so a service manager's signals reach it
    last = port + workers - 1
    console.print(f"labeler app: {workers} workers on http://{host}:{port}..{last} (Ctrl+C stops them); "
                  "put a proxy with sticky sessions in front (`labeler serve --nginx`)")
    raise typer.Exit(serving.serve_workers(host, port, workers, lambda line: console.print(line)))


@app.command("demo")
def demo(
    model: Annotated[bool, typer.Option(
        "--model/--no-model", envvar="LABELER_DEMO_MODEL",
        help="With the local extra: set the offline demo model (converted once, about a minute).")] = True,
) -> None:
    """Create the `demo` project (bundled OpenAssistant conversations) and demo accounts, once."""
    from labeler.services.demo import DEMO_PROJECT, ensure_demo_accounts, ensure_demo_project

    ensure_migrated()
    with session_scope() as s:
        report = ensure_demo_project(s, _actor(s))
        accounts = ensure_demo_accounts(s, _actor(s))
    if report is None:
        console.print(f"project `{DEMO_PROJECT}` already exists")
    else:
        console.print(f"project `{DEMO_PROJECT}` created")
        _print_import_report(report)
    console.print("demo accounts (passwords are shown only now; keep them):")
    for a in accounts:
        if a.password is None:
            detail = "already exists, password unchanged"
        elif a.from_env:
            variable = "LABELER_DEMO_ADMIN_PASSWORD" if a.role == "admin" else "LABELER_DEMO_LABELER_PASSWORD"
            detail = f"password from ${variable}"
        else:
            detail = f"password {a.password}"
        console.print(f"  {a.username} ({a.role}): {escape(detail)}")
    if model:
        _demo_model()


def _demo_model() -> None:
    """With the local extra: convert the demo model once, then name it in the demo project."""
    from labeler.services.demo_model import HINT, configure_demo_model, demo_model, prepare_demo_model

    model = demo_model()
    if model is None:
        console.print(escape(HINT))
        return
    console.print("demo model: SmolLM2-135M-Instruct (local; its weights are converted once, about a minute)")
    try:
        prepare_demo_model(model)  # outside any transaction: it takes a while
    except Exception as e:  # noqa: BLE001 - the demo works without it; say why
        console.print(escape(f"demo model not set: cannot load it: {type(e).__name__}: {e}"))
        return
    with session_scope() as s:
        configured = configure_demo_model(s, _actor(s), model)
    console.print("demo model set for Generate and Suggest" if configured
                  else "the demo project already names its models: left as they are")


@app.command("stats")
def stats_(
    project: Annotated[str, typer.Option(help="Project to count.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Counts of prompts, candidates, demonstrations and rankings by status and split."""
    data = _quick_stats(project)
    if data is None:
        ensure_migrated()
        with session_scope(write=False) as s:
            data = stats.project_stats(s, _actor(s), project)
    if as_json:
        _print_json(data)
        return
    console.print(f"[bold]{escape(data['project'])}[/bold]")
    console.print(f"prompts: {data['prompts']['total']}  " + _fmt(data["prompts"]["by_split"]))
    console.print(f"candidates: {data['candidates']['total']}  " + _fmt(data["candidates"]["by_origin"]))
    for kind in ("demonstrations", "rankings"):
        d = data[kind]
        console.print(f"{kind}: {d['total']}  " + _fmt(d["by_status"]) + "  " + _fmt(d["by_split"]))


def _quick_stats(project: str) -> dict[str, Any] | None:
    """The operator's counts of an SQLite file, read without SQLAlchemy (see services/quick_stats.py)."""
    if _state["as"]:  # another account: the services check its membership
        return None
    from labeler.services.quick_stats import operator_project_stats

    return operator_project_stats(project)


def _fmt(counts: dict[str, int]) -> str:
    return "(" + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + ")" if counts else ""
