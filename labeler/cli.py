"""The `labeler` command line: thin commands that parse input, call a service, and print the result.

Every service error (LabelerError) becomes a one-line message and exit status 1; anything else is a
bug and keeps its traceback. Commands act as the built-in local operator (an admin) unless
`--as USER` names an account, whose role the services then check.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer.core import TyperGroup

from labeler import __version__
from labeler.errors import LabelerError
from labeler.services import (
    auth,
    database_url,
    ensure_migrated,
    get_engine,
    ingest,
    projects,
    session_scope,
    stats,
)
from labeler.services.actors import OPERATOR, Actor

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class _Group(TyperGroup):
    """Turns service errors into clean messages (exit 1) for every command below it."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except LabelerError as e:
            err_console.print(f"error: {escape(str(e))}", soft_wrap=True)
            raise typer.Exit(1) from None


def _typer(help_text: str) -> typer.Typer:
    return typer.Typer(
        cls=_Group, help=help_text, no_args_is_help=True, rich_markup_mode=None,
        pretty_exceptions_enable=False, add_completion=False,
    )


app = _typer("labeler: demonstrations, rankings and training-set exports for language models.")
db_app = _typer("Database schema: apply migrations, show the revision.")
user_app = _typer("Accounts: add, list, deactivate, set passwords and roles.")
project_app = _typer("Projects: create, list, show, update settings, manage members.")
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(project_app, name="project")

_state: dict[str, str | None] = {"as": None}


@app.callback()
def _root(
    as_user: Annotated[
        str | None, typer.Option("--as", envvar="LABELER_AS", help="Act as this account (its role is checked).")
    ] = None,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    """labeler: demonstrations, rankings and training-set exports for language models."""
    if version:
        console.print(f"labeler {__version__}")
        raise typer.Exit()
    _state["as"] = as_user


def _actor(session) -> Actor:  # noqa: ANN001 - a Session, kept out of the CLI's imports
    """The acting account: `--as USER` if given, else the local operator."""
    if not _state["as"]:
        return OPERATOR
    user = auth.get_user_or_raise(session, _state["as"])
    if not user.active:
        raise LabelerError(f"account `{user.username}` is deactivated")
    return auth.actor_for(user)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def _read_password(password_stdin: bool, confirm: bool = True) -> str:
    if password_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise LabelerError("no password on standard input")
        return line
    return typer.prompt("Password", hide_input=True, confirmation_prompt=confirm)


# ---- db -------------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the database if needed and apply every migration."""
    from labeler.services.admin import upgrade_database

    revision = upgrade_database()
    console.print(f"database {escape(_safe_url())} is at revision {revision}")


@db_app.command("current")
def db_current() -> None:
    """Show the schema revision of the database and the newest one this version ships."""
    from labeler.services.admin import schema_status

    current, head = schema_status()
    console.print(f"database {escape(_safe_url())}: revision {current or 'none'} (newest {head})")


def _safe_url() -> str:
    """The database URL with any password hidden."""
    return get_engine(database_url()).url.render_as_string(hide_password=True)


@app.command("init")
def init(
    admin: Annotated[str, typer.Option(help="Username of the first admin.")] = "admin",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Migrate the database and create the first admin account (if there is none yet)."""
    from labeler.services.admin import upgrade_database

    upgrade_database()
    with session_scope() as s:
        if auth.count_admins(s):
            console.print("database ready; an admin account already exists")
            return
    password = _read_password(password_stdin)
    with session_scope() as s:
        auth.create_user(s, OPERATOR, admin, "admin", password)
    console.print(f"database ready; admin `{admin}` created")


# ---- users ----------------------------------------------------------------------------------------


@user_app.command("add")
def user_add(
    username: str,
    role: Annotated[str, typer.Option(help="admin, reviewer or labeler.")],
    display_name: Annotated[str, typer.Option(help="Name shown in the app.")] = "",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Add an account; the password is asked for (or read from stdin), never passed as an argument."""
    ensure_migrated()
    password = _read_password(password_stdin)
    with session_scope() as s:
        user = auth.create_user(s, _actor(s), username, role, password, display_name)
        console.print(f"user `{user.username}` added as {user.role}")


@user_app.command("list")
def user_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List accounts with their role and state."""
    ensure_migrated()
    with session_scope(write=False) as s:
        rows = [
            {"username": u.username, "display_name": u.display_name, "role": u.role, "active": u.active,
             "locked": u.locked_until is not None, "last_login_at": u.last_login_at}
            for u in auth.list_users(s, _actor(s))
        ]
    if as_json:
        _print_json(rows)
        return
    table = Table("username", "role", "active", "display name")
    for r in rows:
        table.add_row(escape(r["username"]), r["role"], "yes" if r["active"] else "no", escape(r["display_name"]))
    console.print(table)


@user_app.command("deactivate")
def user_deactivate(username: str) -> None:
    """Deactivate an account: it can no longer log in; its work is kept."""
    ensure_migrated()
    with session_scope() as s:
        auth.set_active(s, _actor(s), username, False)
    console.print(f"user `{username}` deactivated")


@user_app.command("activate")
def user_activate(username: str) -> None:
    """Reactivate an account (also lifts a lockout)."""
    ensure_migrated()
    with session_scope() as s:
        auth.set_active(s, _actor(s), username, True)
    console.print(f"user `{username}` activated")


@user_app.command("passwd")
def user_passwd(
    username: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Set an account's password (also lifts a lockout)."""
    ensure_migrated()
    password = _read_password(password_stdin)
    with session_scope() as s:
        auth.set_password(s, _actor(s), username, password)
    console.print(f"password of `{username}` changed")


@user_app.command("role")
def user_role(username: str, role: str) -> None:
    """Change an account's role (admin, reviewer, labeler)."""
    ensure_migrated()
    with session_scope() as s:
        auth.set_role(s, _actor(s), username, role)
    console.print(f"user `{username}` is now {role}")


# ---- projects -------------------------------------------------------------------------------------

_SETTINGS_HELP = "Comma-separated"


def _settings_from_options(**options: Any) -> dict[str, Any]:
    """Settings the user actually gave (None = keep the default or current value)."""
    out = {k: v for k, v in options.items() if v is not None}
    for key in ("task_kinds", "flags"):
        if key in out:
            out[key] = [part.strip() for part in out[key].split(",") if part.strip()]
    if "split" in out:
        from labeler.hygiene import parse_split

        out["split"] = list(parse_split(out["split"]))
    return out


TaskKinds = Annotated[str | None, typer.Option(help="Comma-separated: demonstration,ranking.")]
KMin = Annotated[int | None, typer.Option(help="Fewest candidates per ranking (2-9).")]
KMax = Annotated[int | None, typer.Option(help="Most candidates per ranking (2-9).")]
LabelsPerItem = Annotated[int | None, typer.Option(help="Labelers per prompt and task kind (1-10).")]
LeaseMinutes = Annotated[int | None, typer.Option(help="Minutes a leased task stays reserved.")]
LikertPoints = Annotated[int | None, typer.Option(help="Likert scale 1..N (default 7).")]
Flags = Annotated[str | None, typer.Option(help="Comma-separated flag names (default: InstructGPT's).")]
Ties = Annotated[bool | None, typer.Option("--ties/--no-ties", help="Allow equal ranks.")]
DedupPrefix = Annotated[int | None, typer.Option(help="Prefix length for near-duplicate prompts (0 = off).")]
MaxPerUser = Annotated[int | None, typer.Option(help="Most prompts kept per originating user.")]
Split = Annotated[str | None, typer.Option(help="train/valid/test percentages, e.g. 80/10/10.")]
ScrubPii = Annotated[bool | None, typer.Option("--scrub-pii/--no-scrub-pii", help="Replace PII on import.")]
Guidelines = Annotated[Path | None, typer.Option(help="Markdown file with the labeling guidelines.")]


@project_app.command("create")
def project_create(
    name: str,
    guidelines: Guidelines = None,
    task_kinds: TaskKinds = None,
    k_min: KMin = None,
    k_max: KMax = None,
    labels_per_item: LabelsPerItem = None,
    lease_minutes: LeaseMinutes = None,
    likert_points: LikertPoints = None,
    flags: Flags = None,
    ties: Ties = None,
    dedup_prefix_chars: DedupPrefix = None,
    max_per_user: MaxPerUser = None,
    split: Split = None,
    scrub_pii: ScrubPii = None,
) -> None:
    """Create a project; settings not given take their defaults."""
    ensure_migrated()
    settings = _settings_from_options(
        task_kinds=task_kinds, k_min=k_min, k_max=k_max, labels_per_item=labels_per_item,
        lease_minutes=lease_minutes, likert_points=likert_points, flags=flags, ties_allowed=ties,
        dedup_prefix_chars=dedup_prefix_chars, max_prompts_per_user=max_per_user, split=split,
        scrub_pii=scrub_pii,
    )
    text = _read_guidelines(guidelines)
    with session_scope() as s:
        project = projects.create_project(s, _actor(s), name, text or "", settings)
        console.print(f"project `{escape(project.name)}` created")


@project_app.command("update")
def project_update(
    name: str,
    rename: Annotated[str | None, typer.Option(help="New project name.")] = None,
    guidelines: Guidelines = None,
    task_kinds: TaskKinds = None,
    k_min: KMin = None,
    k_max: KMax = None,
    labels_per_item: LabelsPerItem = None,
    lease_minutes: LeaseMinutes = None,
    likert_points: LikertPoints = None,
    flags: Flags = None,
    ties: Ties = None,
    dedup_prefix_chars: DedupPrefix = None,
    max_per_user: MaxPerUser = None,
    split: Split = None,
    scrub_pii: ScrubPii = None,
) -> None:
    """Change a project's settings or guidelines; what is not given stays as it is."""
    ensure_migrated()
    settings = _settings_from_options(
        task_kinds=task_kinds, k_min=k_min, k_max=k_max, labels_per_item=labels_per_item,
        lease_minutes=lease_minutes, likert_points=likert_points, flags=flags, ties_allowed=ties,
        dedup_prefix_chars=dedup_prefix_chars, max_prompts_per_user=max_per_user, split=split,
        scrub_pii=scrub_pii,
    )
    with session_scope() as s:
        projects.update_project(
            s, _actor(s), name, guidelines=_read_guidelines(guidelines), settings=settings, new_name=rename
        )
    console.print(f"project `{escape(rename or name)}` updated")


def _read_guidelines(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise LabelerError(f"cannot read guidelines file {path}: {e}") from None


@project_app.command("list")
def project_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the projects you can see."""
    ensure_migrated()
    with session_scope(write=False) as s:
        rows = [{"name": p.name, "created_at": p.created_at, "settings": p.settings}
                for p in projects.list_projects(s, _actor(s))]
    if as_json:
        _print_json(rows)
        return
    table = Table("name", "task kinds", "K", "labels/item", "created")
    for r in rows:
        st = r["settings"]
        table.add_row(escape(r["name"]), ",".join(st["task_kinds"]), f"{st['k_min']}-{st['k_max']}",
                      str(st["labels_per_item"]), f"{r['created_at']:%Y-%m-%d}")
    console.print(table)


@project_app.command("show")
def project_show(name: str, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Show a project's settings and guidelines."""
    ensure_migrated()
    with session_scope(write=False) as s:
        p = projects.get_project_for(s, _actor(s), name)
        data = {"name": p.name, "settings": projects.settings_of(p).model_dump(mode="json"),
                "guidelines": p.guidelines}
    if as_json:
        _print_json(data)
        return
    console.print(f"[bold]{escape(data['name'])}[/bold]")
    for key, value in data["settings"].items():
        console.print(f"  {key}: {escape(str(value))}")
    if data["guidelines"]:
        console.print("\n" + escape(data["guidelines"]))


@project_app.command("add-member")
def project_add_member(name: str, username: str) -> None:
    """Let an account work on a project."""
    ensure_migrated()
    with session_scope() as s:
        projects.add_member(s, _actor(s), name, username)
    console.print(f"`{username}` now works on `{escape(name)}`")


@project_app.command("remove-member")
def project_remove_member(name: str, username: str) -> None:
    """Take an account off a project."""
    ensure_migrated()
    with session_scope() as s:
        projects.remove_member(s, _actor(s), name, username)
    console.print(f"`{username}` removed from `{escape(name)}`")


@project_app.command("members")
def project_members(name: str, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the accounts working on a project."""
    ensure_migrated()
    with session_scope(write=False) as s:
        rows = [{"username": u.username, "role": u.role} for u in projects.list_members(s, _actor(s), name)]
    if as_json:
        _print_json(rows)
        return
    for r in rows:
        console.print(f"{escape(r['username'])} ({r['role']})")


# ---- import and stats -----------------------------------------------------------------------------


@app.command("import")
def import_(
    path: Annotated[Path, typer.Argument(help="File to import (.jsonl, .json lines, .csv, optionally .gz).")],
    project: Annotated[str, typer.Option(help="Project to import into.")],
    format: Annotated[str, typer.Option(help="auto, or one of: " + ", ".join(ingest.FORMATS))] = "auto",
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
        console.print(f"  skipped ({escape(kind)}): {n}")
    for kind, n in sorted(r.pii.items()):
        console.print(f"  PII replaced ({escape(kind)}): {n}")
    if r.by_split:
        console.print("  new prompts by split: " + ", ".join(f"{k} {v}" for k, v in sorted(r.by_split.items())))
    if r.rejects_path:
        console.print(f"  rejected records and reasons: {escape(r.rejects_path)}")


def _csv(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _date(value: str | None, option: str):  # noqa: ANN202 - datetime | None
    if not value:
        return None
    from datetime import UTC, datetime

    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise LabelerError(f"{option}: expected a date like 2026-11-23 or 2026-11-23T08:00, got `{value}`") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@app.command("export")
def export_(
    format: Annotated[str, typer.Argument(help="Export format, e.g. pairs, sft-messages, openai-chat (see README).")],
    project: Annotated[str, typer.Option(help="Project to export.")],
    out: Annotated[Path, typer.Option(help="Folder to write <split>.jsonl, manifest.json and README.md into.")],
    status: Annotated[str, typer.Option(help="Comma-separated: submitted, accepted.")] = "submitted,accepted",
    source: Annotated[str | None, typer.Option(help="Comma-separated: human, imported (default both).")] = None,
    split: Annotated[str | None, typer.Option(help="Comma-separated splits (default all).")] = None,
    labeler: Annotated[str | None, typer.Option(help="Comma-separated usernames (default all).")] = None,
    since: Annotated[str | None, typer.Option(help="Only work submitted on or after this date (ISO).")] = None,
    until: Annotated[str | None, typer.Option(help="Only work submitted before this date (ISO).")] = None,
    aggregate: Annotated[str, typer.Option(help="Rankings: per-labeler or consensus.")] = "per-labeler",
    exclude_flag: Annotated[list[str] | None, typer.Option(help="Drop candidates with this flag (repeatable).")] = None,
    weight_non_human: Annotated[
        bool, typer.Option("--weight-non-human", help="openai-chat: weight 0 on turns no labeler wrote.")
    ] = False,
    parquet: Annotated[bool, typer.Option("--parquet", help="Also write Parquet beside JSONL.")] = False,
    target_model: Annotated[str | None, typer.Option(help="Check token counts against this model.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Export a training set: one file per split, a manifest and a dataset card; validated first."""
    from labeler.services.export import ExportFilters, ExportRequest, export_dataset

    ensure_migrated()
    try:
        request = ExportRequest(
            format=format, project=project, out_dir=out, aggregate=aggregate, exclude_flags=exclude_flag or [],
            weight_non_human=weight_non_human, parquet=parquet, target_model=target_model,
            filters=ExportFilters(
                statuses=_csv(status), origins=_csv(source), splits=_csv(split), labelers=_csv(labeler),
                since=_date(since, "--since"), until=_date(until, "--until"),
            ),
        )
    except ValueError as e:  # pydantic names the bad option value
        raise LabelerError(f"invalid export options: {e}") from None
    with _records_progress("exporting", quiet=as_json) as progress, session_scope() as s:
        summary = export_dataset(s, _actor(s), request, progress=progress)
    if as_json:
        _print_json(summary.model_dump())
        return
    counts = ", ".join(f"{k} {v}" for k, v in summary.counts.items())
    console.print(f"exported `{summary.format}` to {escape(summary.path)}: {counts} (export #{summary.id})")
    if summary.warnings:
        console.print(f"  validation warnings: {summary.warnings} (see manifest.json)")


class _records_progress:
    """A spinner with a running count of records written."""

    def __init__(self, label: str, quiet: bool) -> None:
        self.quiet = quiet
        self.bar = Progress(TextColumn(label), BarColumn(), TextColumn("{task.completed:,} records"),
                            TimeElapsedColumn(), console=err_console, transient=True)

    def __enter__(self):  # noqa: ANN204
        if self.quiet:
            return None
        self.bar.start()
        task = self.bar.add_task(self.bar.columns[0].text_format, total=None)
        return lambda n: self.bar.update(task, completed=n)

    def __exit__(self, *exc: object) -> None:
        if not self.quiet:
            self.bar.stop()


@app.command("export-history")
def export_history(
    project: Annotated[str | None, typer.Option(help="Only this project's exports.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Past exports with their format, counts, folder and file checksums."""
    from labeler.services.export import list_exports

    ensure_migrated()
    with session_scope(write=False) as s:
        rows = [{"id": e.id, "format": e.format, "path": e.path, "counts": e.counts, "files": e.files,
                 "filters": e.filters, "created_at": e.created_at} for e in list_exports(s, _actor(s), project)]
    if as_json:
        _print_json(rows)
        return
    for r in rows:
        counts = ", ".join(f"{k} {v}" for k, v in r["counts"].items())
        console.print(f"#{r['id']} {r['created_at']:%Y-%m-%d %H:%M} {r['format']} {escape(r['path'])} ({counts})")


@app.command("validate")
def validate(
    path: Annotated[Path, typer.Argument(help="A JSONL training file (made here or elsewhere).")],
    format: Annotated[str, typer.Option(help="The format to check against (see README).")],
    target_model: Annotated[str | None, typer.Option(help="Check token counts against this model.")] = None,
    against: Annotated[
        list[Path] | None, typer.Option(help="Another file of the same set (e.g. validation): no shared examples.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check a training file against its consumer's rules; exit 1 when it has errors."""
    from labeler.services.validation import validate_training_file

    report = validate_training_file(path, format, target_model=target_model, other_files=against or [])
    if as_json:
        _print_json(report.to_dict())
    else:
        console.print(escape(report.to_text()), soft_wrap=True)
    if not report.ok:
        raise typer.Exit(1)


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8501,
) -> None:
    """Apply migrations, then start the web app (Streamlit) on the configured database."""
    import subprocess

    from labeler.services.admin import upgrade_database

    upgrade_database()
    app_script = Path(__file__).resolve().parent / "app" / "main.py"
    command = [
        sys.executable, "-m", "streamlit", "run", str(app_script), "--server.address", host,
        "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]
    console.print(f"labeler app on http://{host}:{port} (Ctrl+C stops it)")
    raise typer.Exit(subprocess.call(command))


@app.command("demo")
def demo() -> None:
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


@app.command("stats")
def stats_(
    project: Annotated[str, typer.Option(help="Project to count.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Counts of prompts, candidates, demonstrations and rankings by status and split."""
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


def _fmt(counts: dict[str, int]) -> str:
    return "(" + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + ")" if counts else ""


def main() -> None:
    """Console-script entry point."""
    app()
