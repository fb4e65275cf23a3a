"""`labeler validate`: check any training file, also ones made elsewhere, against its consumer's rules."""

from __future__ import annotations

from pathlib import Path

from exports import FORMATS, ExportError, Report, validate_file
from labeler.errors import Invalid


def validate_training_file(
    path: Path, format: str, *, target_model: str | None = None, other_files: list[Path] | None = None
) -> Report:
    """The validation report of one file (errors with line numbers, warnings, statistics)."""
    if format not in FORMATS:
        raise Invalid(f"unknown format `{format}`: expected one of {', '.join(FORMATS)}")
    if not Path(path).is_file():
        raise Invalid(f"{path}: no such file")
    try:
        return validate_file(path, format, target_model=target_model, other_files=tuple(other_files or ()))
    except ExportError as e:
        raise Invalid(str(e)) from None
