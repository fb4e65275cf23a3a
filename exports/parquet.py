"""JSONL -> Parquet beside it, streamed in record batches (pyarrow, imported only when asked for).

Two passes over the JSONL files of all splits: the first unifies the schema of every batch of
every split (a column that is null in the first thousand lines, or in the whole training split,
and a string later must still be a string column, in every split's file, or `datasets` cannot
load the splits together), the second writes the batches with that one schema. Memory holds one
batch, whatever the files' sizes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

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
