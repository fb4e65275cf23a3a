"""Commands for the database, accounts and projects."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from labeler.cli.base import (
    MaxPerUser,
    ScrubPii,
    Split,
    _actor,
    _print_json,
    _read_password,
    app,
    console,
    db_app,
    ensure_migrated,
    lazy,
    project_app,
    session_scope,
    user_app,
)
from labeler.errors import LabelerError

services = lazy("labeler.services")
auth = lazy("labeler.services.auth")
projects = lazy("labeler.services.projects")

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
    return services.get_engine(services.database_url()).url.render_as_string(hide_password=True)


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
        auth.create_user(s, lazy("labeler.services.actors").OPERATOR, admin, "admin", password)
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
Guidelines = Annotated[Path | None, typer.Option(help="Markdown file with the labeling guidelines.")]
QueueOrder = Annotated[str | None, typer.Option(
    help="Ranking queue order: random (oldest first) or uncertain-first (smallest reward-model margin first).")]
RoutingRewardModel = Annotated[str | None, typer.Option(
    help="Reward model whose margins route uncertain-first (default: the last one scored).")]

# The settings options `project create` and `project update` both take, declared once:
# (option parameter, settings field, its type with help).
SETTINGS_OPTIONS: tuple[tuple[str, str, Any], ...] = (
    ("task_kinds", "task_kinds", TaskKinds), ("k_min", "k_min", KMin), ("k_max", "k_max", KMax),
    ("labels_per_item", "labels_per_item", LabelsPerItem), ("lease_minutes", "lease_minutes", LeaseMinutes),
    ("likert_points", "likert_points", LikertPoints), ("flags", "flags", Flags), ("ties", "ties_allowed", Ties),
    ("dedup_prefix_chars", "dedup_prefix_chars", DedupPrefix), ("max_per_user", "max_prompts_per_user", MaxPerUser),
    ("split", "split", Split), ("scrub_pii", "scrub_pii", ScrubPii), ("queue_order", "queue_order", QueueOrder),
    ("routing_reward_model", "routing_reward_model", RoutingRewardModel),
)


def _settings_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give a command the project settings options; it receives the ones given as `settings` (a dict)."""
    hints = typing.get_type_hints(command, include_extras=True)  # this module's annotations are strings
    own = [p.replace(annotation=hints[p.name]) for p in inspect.signature(command).parameters.values()
           if p.name != "settings"]
    extra = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=kind)
             for name, _, kind in SETTINGS_OPTIONS]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> None:
        given = {field: kwargs.pop(name) for name, field, _ in SETTINGS_OPTIONS}
        command(settings=_settings_from_options(**given), **kwargs)

    wrapper.__signature__ = inspect.Signature(own + extra)  # type: ignore[attr-defined]  # what typer reads
    del wrapper.__wrapped__  # typer must read the signature above, not the command's own
    return wrapper


@project_app.command("create")
@_settings_options
def project_create(name: str, guidelines: Guidelines = None, *, settings: dict[str, Any]) -> None:
    """Create a project; settings not given take their defaults."""
    ensure_migrated()
    text = _read_guidelines(guidelines)
    with session_scope() as s:
        project = projects.create_project(s, _actor(s), name, text or "", settings)
        console.print(f"project `{escape(project.name)}` created")


@project_app.command("update")
@_settings_options
def project_update(
    name: str,
    rename: Annotated[str | None, typer.Option(help="New project name.")] = None,
    guidelines: Guidelines = None,
    *,
    settings: dict[str, Any],
) -> None:
    """Change a project's settings or guidelines; what is not given stays as it is."""
    ensure_migrated()
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


