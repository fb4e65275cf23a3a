"""JSONL -> Parquet beside it, streamed in record batches (pyarrow, imported only when asked for).

Two passes over the JSONL file: the first unifies the schema of every batch (a column that is
null in the first thousand lines and a string later must still be a string column), the second
writes the batches with that schema. Memory holds one batch, whatever the file's size.
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


def jsonl_to_parquet(src: Path, dst: Path, *, batch_rows: int = BATCH_ROWS) -> int:
    """Write `src`'s records to `dst` as Parquet; return the number of rows written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = None
    for batch in _batches(src, batch_rows):
        found = pa.Table.from_pylist(batch).schema
        schema = found if schema is None else pa.unify_schemas([schema, found], promote_options="permissive")
    if schema is None:
        schema = pa.schema([])
    n = 0
    with pq.ParquetWriter(dst, schema, compression="zstd") as writer:
        for batch in _batches(src, batch_rows):
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            n += len(batch)
    return n
