"""Parquet equals JSONL: every format's Parquet file reads back record for record equal to its JSONL
(no null added, nothing reshaped), or the export is refused, naming the line and field, and writes
nothing (OpenAI chat with per-message weights: Parquet would give user turns `weight: null`)."""

from __future__ import annotations

import orjson
import pyarrow.parquet as pq  # pyarrow comes with streamlit: always installed
import pytest

from exports import ExportError, choose_legacy_markers, legacy_texts, write_export
from exports.formats import FORMATS

SOURCE_FIXTURE = {"rankings": "ranking_rows", "demonstrations": "demo_rows", "prompts": "prompt_rows",
                  "scope": "scope_rows", "comparison": "comparison_rows"}


def _options(fmt: str, rows) -> dict:
    if fmt == "openai-legacy":
        separator, stop = choose_legacy_markers(legacy_texts(rows))
        return {"separator": separator, "stop": stop}
    return {}


# openai-chat keeps the `weight` its rows carry on assistant turns only: Parquet cannot (tested below).
@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "openai-chat"])
def test_parquet_reads_back_equal_to_the_jsonl(fmt, tmp_path, request):
    rows = request.getfixturevalue(SOURCE_FIXTURE[FORMATS[fmt].source])
    result = write_export(tmp_path, fmt, rows, options=_options(fmt, rows), labeler_version="test", parquet=True,
                          validate=False)
    for split in result.manifest["counts"]:
        jsonl = [orjson.loads(line) for line in (tmp_path / f"{split}.jsonl").read_bytes().splitlines()]
        assert pq.read_table(tmp_path / f"{split}.parquet").to_pylist() == jsonl


@pytest.mark.parametrize("weight_non_human", [True, False])
def test_parquet_for_per_message_weights_is_refused_with_nothing_written(tmp_path, demo_rows, weight_non_human):
    out = tmp_path / "out"
    with pytest.raises(ExportError) as e:
        write_export(out, "openai-chat", demo_rows, options={"weight_non_human": weight_non_human},
                     labeler_version="test", parquet=True, validate=False)
    assert "field `messages[0].weight`" in str(e.value)
    assert "Parquet adds `weight: None`" in str(e.value)
    assert not out.exists()  # the folder this export created is gone again


def test_the_same_export_without_parquet_is_written(tmp_path, demo_rows):
    result = write_export(tmp_path, "openai-chat", demo_rows, options={"weight_non_human": True},
                          labeler_version="test", validate=False)
    first = orjson.loads((tmp_path / "train.jsonl").read_bytes().splitlines()[0])
    assert all(("weight" in m) == (m["role"] == "assistant") for m in first["messages"])
    assert result.manifest["counts"]
