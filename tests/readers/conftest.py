"""Fixtures for the reader and hygiene tests: the shared sample data and tiny files written per test."""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import orjson
import pytest

from labeler.readers import ImportRecord, Notice, Reject, read_records
from tests.conftest import IN_CI, SHARED_DATA

DATA = SHARED_DATA.resolve()


@pytest.fixture
def data() -> Path:
    """The shared sample data directory (beside the repository)."""
    if not DATA.is_dir():
        if IN_CI:
            pytest.fail(f"CI=true but the sample data is missing: {DATA}")
        pytest.skip(f"sample data not found at {DATA} (the repository's sibling folder shared/data)")
    return DATA


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """Write `content` (str, bytes, or a list of JSON values, one per line) to a file; gzip it if asked."""

    def _write(name: str, content: str | bytes | list, *, gz: bool = False) -> Path:
        if isinstance(content, list):
            content = b"".join(orjson.dumps(v) + b"\n" for v in content)
        if isinstance(content, str):
            content = content.encode()
        path = tmp_path / name
        path.write_bytes(gzip.compress(content) if gz else content)
        return path

    return _write


def split_items(
    items: Iterable[ImportRecord | Reject | Notice],
) -> tuple[list[ImportRecord], list[Reject], list[Notice]]:
    """Records, rejects and notices, each in file order."""
    records, rejects, notices = [], [], []
    for item in items:
        {ImportRecord: records, Reject: rejects, Notice: notices}[type(item)].append(item)
    return records, rejects, notices


@pytest.fixture
def read() -> Callable[..., tuple[list[ImportRecord], list[Reject], list[Notice]]]:
    """Read a file in a format and split what comes back into records, rejects and notices."""

    def _read(path: Path, fmt: str, **kwargs) -> tuple[list[ImportRecord], list[Reject], list[Notice]]:
        return split_items(read_records(path, fmt, **kwargs))

    return _read


def tally(items: Iterable[ImportRecord | Reject | Notice]) -> dict[str, int]:
    """Counts of records, candidates, rankings, demonstrations, rejects and notices."""
    c: Counter[str] = Counter(records=0, candidates=0, rankings=0, demonstrations=0, rejects=0, notices=0)
    for item in items:
        if isinstance(item, ImportRecord):
            c["records"] += 1
            c["candidates"] += len(item.candidates)
            c["rankings"] += item.has_ranking
            c["demonstrations"] += item.demonstration is not None
        else:
            c["rejects" if isinstance(item, Reject) else "notices"] += 1
    return dict(c)


@pytest.fixture(name="tally")
def tally_fixture() -> Callable[[Iterable[ImportRecord | Reject | Notice]], dict[str, int]]:
    """The `tally` function, for tests."""
    return tally
