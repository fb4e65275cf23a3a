"""Shared plumbing of the `labeler` command line: the app, its error handling, the acting account.

Every service error (LabelerError) becomes a one-line message and exit status 1; anything else is a
bug and keeps its traceback. Commands act as the built-in local operator (an admin) unless
`--as USER` names an account, whose role the services then check.

The CLI starts fast: command modules import the services (SQLAlchemy, openai, pandas...) only when a
command runs, through `lazy(...)` modules and `session_scope`/`ensure_migrated` below, so
`labeler --help` imports none of them. tests/test_cli_startup.py keeps it that way.
"""

from __future__ import annotations

import importlib
import json
import sys
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from labeler import __version__
from labeler.errors import LabelerError
from labeler.redaction import redact

if TYPE_CHECKING:
    from labeler.services.actors import Actor

Session = Any  # a SQLAlchemy Session: the CLI only passes it on (it imports no SQLAlchemy)


class _LazyModule:
    """A module imported on its first attribute access."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)


def lazy(module: str) -> Any:
    """`module`, imported only when a command first uses it."""
    return _LazyModule(module)


def session_scope(url: str | None = None, *, write: bool = True) -> AbstractContextManager[Session]:
    """The services' `session_scope`, imported when a command opens its first session."""
    from labeler.services import session_scope as scope

    return scope(url, write=write)


def ensure_migrated(url: str | None = None) -> None:
    """The services' `ensure_migrated`, imported when a command first touches the database."""
    from labeler.services import ensure_migrated as check

    check(url)

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class _Group(TyperGroup):
    """Turns service errors into clean messages (exit 1) for every command below it."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except LabelerError as e:
            err_console.print(f"error: {escape(redact(str(e)))}", soft_wrap=True)
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


def _actor(session: Session) -> Actor:
    """The acting account: `--as USER` if given, else the local operator."""
    from labeler.services import auth
    from labeler.services.actors import OPERATOR

    return auth.active_actor(session, _state["as"]) if _state["as"] else OPERATOR


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def _read_password(password_stdin: bool, confirm: bool = True) -> str:
    if password_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise LabelerError("no password on standard input")
        return line
    return typer.prompt("Password", hide_input=True, confirmation_prompt=confirm)



def _csv(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


# Options that both project settings and imports take.
MaxPerUser = Annotated[int | None, typer.Option(help="Most prompts kept per originating user.")]
Split = Annotated[str | None, typer.Option(help="train/valid/test percentages, e.g. 80/10/10.")]
ScrubPii = Annotated[bool | None, typer.Option("--scrub-pii/--no-scrub-pii", help="Replace PII on import.")]
