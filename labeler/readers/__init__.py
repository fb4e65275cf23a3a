"""File readers: every import format streamed as ImportRecord, Reject and Notice values.

Readers are pure (no database) and stream: memory does not grow with the file. A bad record
becomes a `Reject`, something skipped on purpose a `Notice`; only whole-file problems raise
`Invalid`. The ingest service decides what to store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from labeler.errors import Invalid
from labeler.readers.chat import read_chat
from labeler.readers.csvfile import read_csv
from labeler.readers.detect import FORMATS, detect_format
from labeler.readers.hh import read_hh
from labeler.readers.oasst import read_oasst, read_oasst_tree
from labeler.readers.preference import read_openai_preference, read_trl
from labeler.readers.prompts import read_prompts
from labeler.readers.records import CandidateIn, ImportRecord, Message, Notice, Reject
from labeler.readers.source import DEFAULT_MAX_RECORD_BYTES, check_file

Item = ImportRecord | Reject | Notice
Reader = Callable[[str | Path, int], Iterator[Item]]

READERS: dict[str, Reader] = {
    "prompts": read_prompts,
    "csv": read_csv,
    "openai-chat": read_chat,
    "hh-rlhf": read_hh,
    "oasst": read_oasst,
    "oasst-tree": read_oasst_tree,
    "trl-preference": read_trl,
    "openai-preference": read_openai_preference,
}
__all__ = [
    "FORMATS",
    "READERS",
    "CandidateIn",
    "ImportRecord",
    "Message",
    "Notice",
    "Reject",
    "detect_format",
    "read_records",
]


def read_records(
    path: str | Path, fmt: str, *, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
) -> Iterator[Item]:
    """Stream the records of `path` read as format `fmt` (see `FORMATS`)."""
    reader = READERS.get(fmt)
    if reader is None:
        raise Invalid(
            f"unknown import format `{fmt}` for {Path(path).name}; known formats: {', '.join(FORMATS)}"
        )
    if max_record_bytes < 1:
        raise Invalid(f"`max_record_bytes` must be positive, got {max_record_bytes}")
    check_file(path)
    return reader(path, max_record_bytes)
