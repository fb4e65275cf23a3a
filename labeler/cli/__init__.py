"""The `labeler` command line: thin commands that parse input, call a service, and print the result.

The commands live in modules by topic; importing them registers them on `app`.
"""

from labeler.cli import (  # noqa: F401 - registers the commands
    accounts,
    augment,
    comparing,
    data,
    exporting,
    finetuning,
    generation,
    quality,
    scope,
    scoring,
    training,
)
from labeler.cli.base import app


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
