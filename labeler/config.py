"""Settings from the environment (prefix `LABELER_`), read once per process.

The default database is an SQLite file in the working directory, so `labeler` works with no setup.
OpenAI settings are deliberately absent: the SDK reads `OPENAI_API_KEY` / `OPENAI_BASE_URL` itself.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / 'labeler.db'}"


class Settings(BaseSettings):
    """Process-wide configuration; every field can be set as `LABELER_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="LABELER_", extra="ignore")

    database_url: str = Field(default_factory=_default_database_url)
    # Login: lock an account for `lockout_minutes` after `lockout_attempts` failures in a row.
    lockout_attempts: int = Field(default=5, ge=1)
    lockout_minutes: int = Field(default=15, ge=1)
    # A login in the app lasts this long in a browser (reloads and new tabs included), unless ended sooner.
    session_hours: float = Field(default=12, gt=0)
    # Imports: the largest single record (line) accepted, and rows written per batch.
    max_record_bytes: int = Field(default=8 * 2**20, ge=1024)
    import_batch_size: int = Field(default=5000, ge=1)
    # Files the tool writes (exports, models, caches) live here, beside the default database and never
    # inside the source tree (from the repository root, `./exports` is the exporters' Python package).
    data_dir: Path = Field(default_factory=lambda: Path.cwd() / "labeler-data")
    # The app writes exports only inside this folder (the CLI writes wherever `--out` says); default
    # `<data_dir>/exports`.
    export_dir: Path | None = None  # None until filled in from data_dir below: always a Path after

    @model_validator(mode="after")
    def _export_dir_in_data_dir(self) -> Settings:
        if self.export_dir is None:
            self.export_dir = self.data_dir / "exports"
        return self


def get_settings() -> Settings:
    """Fresh settings from the current environment (cheap; tests change the environment)."""
    return Settings()
