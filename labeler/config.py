"""Settings from the environment (prefix `LABELER_`), read once per call of `get_settings()`.

The default database is an SQLite file in the working directory, so `labeler` works with no setup.
OpenAI settings are deliberately absent: the SDK reads `OPENAI_API_KEY` / `OPENAI_BASE_URL` itself.

Plain standard library on purpose: every CLI command reads the settings, and pydantic-settings cost
0.27 s of start-up on the reference machine (a third of the `labeler stats` budget).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labeler.errors import Invalid

PREFIX = "LABELER_"


@dataclass(frozen=True)
class Settings:
    """Process-wide configuration; every field can be set as `LABELER_<FIELD>`."""

    database_url: str
    # Login: lock an account for `lockout_minutes` after `lockout_attempts` failures in a row.
    lockout_attempts: int
    lockout_minutes: int
    # A login in the app lasts this long in a browser (reloads and new tabs included), unless ended sooner.
    session_hours: float
    # Imports: the largest single record (line) accepted, and rows written per batch.
    max_record_bytes: int
    import_batch_size: int
    # Files the tool writes (exports, models, caches) live here, beside the default database and never
    # inside the source tree (from the repository root, `./exports` is the exporters' Python package).
    data_dir: Path
    # The app writes exports only inside this folder (the CLI writes wherever `--out` says);
    # default `<data_dir>/exports`.
    export_dir: Path


def _read(field: str, parse: Callable[[str], object], default: object, minimum: float | None = None,
          above: float | None = None) -> object:
    """`LABELER_<FIELD>` parsed, or `default`; a bad value names the variable and what it expects."""
    name = PREFIX + field.upper()
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = parse(raw.strip())
    except ValueError:
        raise Invalid(f"{name}={raw!r}: expected {'an integer' if parse is int else 'a number'}") from None
    if minimum is not None and value < minimum:  # type: ignore[operator]
        raise Invalid(f"{name}={raw!r}: expected at least {minimum}")
    if above is not None and value <= above:  # type: ignore[operator]
        raise Invalid(f"{name}={raw!r}: expected more than {above}")
    return value


def get_settings() -> Settings:
    """Fresh settings from the current environment (cheap; tests change the environment)."""
    cwd = Path.cwd()
    data_dir = Path(os.environ.get(PREFIX + "DATA_DIR") or cwd / "labeler-data")
    export_dir = os.environ.get(PREFIX + "EXPORT_DIR")
    return Settings(
        database_url=os.environ.get(PREFIX + "DATABASE_URL") or f"sqlite:///{cwd / 'labeler.db'}",
        lockout_attempts=_read("lockout_attempts", int, 5, minimum=1),  # type: ignore[arg-type]
        lockout_minutes=_read("lockout_minutes", int, 15, minimum=1),  # type: ignore[arg-type]
        session_hours=_read("session_hours", float, 12.0, above=0),  # type: ignore[arg-type]
        max_record_bytes=_read("max_record_bytes", int, 8 * 2**20, minimum=1024),  # type: ignore[arg-type]
        import_batch_size=_read("import_batch_size", int, 5000, minimum=1),  # type: ignore[arg-type]
        data_dir=data_dir,
        export_dir=Path(export_dir) if export_dir else data_dir / "exports",
    )
