"""JSONL -> Parquet beside it, streamed in record batches (pyarrow, imported only when asked for).

Two passes over the JSONL files of all splits: the first unifies the schema of every batch of
every split (a column that is null in the first thousand lines, or in the whole training split,
and a string later must still be a string column, in every split's file, or `datasets` cannot
load the splits together), the second writes the batches with that one schema. Memory holds one
batch, whatever the files' sizes.

A Parquet file must read back equal to its JSONL: each written file is read again and compared. A
record Parquet cannot hold as it is refuses the export (nothing is written) and says where: a struct
column has every key of every row, so a key only some objects have (`weight` on assistant messages
only, which OpenAI requires) would read back as `null` on the others.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from exports.errors import ExportError

BATCH_ROWS = 5_000


def _batches(path: Path, rows: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    with open(path, "rb") as f:
        for line in f:
            batch.append(orjson.loads(line))
            if len(batch) >= rows:
                yield batch
                batch = []
    if batch:
        yield batch


def jsonl_to_parquet(pairs: list[tuple[Path, Path]], *, batch_rows: int = BATCH_ROWS) -> None:
    """Write each `(src.jsonl, dst.parquet)` pair's records as Parquet, all with one unified schema."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = None
    for src, _ in pairs:
        for batch in _batches(src, batch_rows):
            found = pa.Table.from_pylist(batch).schema
            schema = found if schema is None else pa.unify_schemas([schema, found],
                                                                   promote_options="permissive")
    schema = schema if schema is not None else pa.schema([])
    for src, dst in pairs:
        with pq.ParquetWriter(dst, schema, compression="zstd") as writer:
            for batch in _batches(src, batch_rows):
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
        _check_round_trip(src, dst, batch_rows)


def _check_round_trip(src: Path, dst: Path, batch_rows: int) -> None:
    """Raise ExportError at the first record whose Parquet copy differs from its JSONL line."""
    import pyarrow.parquet as pq

    split = src.name.split(".")[1] if src.name.startswith(".") else src.stem
    back = (row for b in pq.ParquetFile(dst).iter_batches(batch_size=batch_rows) for row in b.to_pylist())
    line = 0
    for batch in _batches(src, batch_rows):
        for rec in batch:
            line += 1
            got = next(back)
            if got != rec:
                where, detail = _difference(rec, got)
                raise ExportError(
                    f"Parquet cannot hold {split}.jsonl as it is: line {line}, field `{where}`: {detail}; "
                    "export without Parquet (the JSONL files are complete)"
                )


def _difference(want: Any, got: Any, where: str = "") -> tuple[str, str]:
    """The first place where `got` (read back from Parquet) differs from `want` (the JSONL record)."""
    if isinstance(want, dict) and isinstance(got, dict):
        for key in want.keys() | got.keys():
            path = f"{where}.{key}" if where else key
            if key not in want:
                return path, f"Parquet adds `{key}: {got[key]!r}` where the JSONL object has no `{key}`"
            if key not in got:
                return path, "missing from the Parquet copy"
            if want[key] != got[key]:
                return _difference(want[key], got[key], path)
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        for i, (w, g) in enumerate(zip(want, got, strict=True)):
            if w != g:
                return _difference(w, g, f"{where}[{i}]")
    return where or "(record)", f"the JSONL has {want!r}, Parquet gives {got!r}"
