"""The writer: byte-identical output, all-or-nothing files, manifest, card, Parquet, flat memory."""

from __future__ import annotations

import hashlib
import multiprocessing
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from exports import ExportError, InvalidExport, RankedItem, RankingRow, write_export, write_records

VERSION = "0.1.0-test"


def _export(out, rows, fmt="pairs", **kw):
    return write_export(out, fmt, rows, labeler_version=VERSION, **kw)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def generated_rows(n, *, k=4, fail_at=None):
    """`n` rankings of K candidates over three splits, made lazily (raise at row `fail_at`)."""
    for i in range(n):
        if i == fail_at:
            raise RuntimeError(f"database went away at row {i}")
        yield RankingRow(
            ranking_id=i + 1, prompt_id=i + 1, split=("train", "train", "valid", "test")[i % 4],
            messages=[{"role": "user", "content": f"Question number {i}: what is {i} + {i}?"}],
            items=[RankedItem(candidate_id=10 * i + j, text=f"Answer {j} to {i}: {'x' * (20 + j)}",
                              rank=j + 1, likert=None, flags=[], position=j) for j in range(k)],
        )


def test_same_rows_give_byte_identical_files(tmp_path, ranking_rows):
    a = _export(tmp_path / "a", ranking_rows, parquet=True)
    b = _export(tmp_path / "b", ranking_rows, parquet=True)
    fa, fb = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert sorted(fa) == ["README.md", "manifest.json", "test.jsonl", "test.parquet", "train.jsonl",
                          "train.parquet", "valid.jsonl", "valid.parquet"]
    assert {k: v for k, v in fa.items() if k != "manifest.json"} == {k: v for k, v in fb.items()
                                                                      if k != "manifest.json"}
    a.manifest.pop("created_at"), b.manifest.pop("created_at")
    assert a.manifest == b.manifest


def test_one_file_per_split_and_a_manifest_that_matches_them(tmp_path, ranking_rows):
    when = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    result = _export(tmp_path, ranking_rows, options={"exclude_flags": ["rude", "hallucination"]},
                     filters={"project": "fruit", "status": ["submitted"]}, now=when)
    manifest = orjson.loads((tmp_path / "manifest.json").read_bytes())
    assert manifest == result.manifest
    assert manifest["format"] == "pairs" and manifest["source"] == "rankings"
    assert manifest["counts"] == {"train": 1, "valid": 3, "test": 1}
    assert manifest["options"] == {"exclude_flags": ["hallucination", "rude"]}
    assert manifest["filters"] == {"project": "fruit", "status": ["submitted"]}
    assert manifest["tool"] == {"name": "labeler", "version": VERSION}
    assert manifest["created_at"] == "2025-03-04T05:06:07Z"
    for entry in manifest["files"]:
        data = (tmp_path / entry["path"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["bytes"] == len(data)
        assert entry["records"] == data.count(b"\n") == manifest["counts"][entry["split"]]
    assert manifest["validation"]["train"]["errors"] == 0
    assert manifest["validation"]["train"]["stats"]["examples"] == 1
    text = (tmp_path / "train.jsonl").read_text(encoding="utf-8")
    assert text.endswith("}\n") and "\r" not in text
    # non-ASCII is written as is, not \u-escaped
    assert "Pomme — une pomme, café ☕" in (tmp_path / "test.jsonl").read_text(encoding="utf-8")


def test_the_dataset_card_declares_each_split(tmp_path, ranking_rows):
    _export(tmp_path, ranking_rows)
    card = (tmp_path / "README.md").read_text(encoding="utf-8")
    header = card.split("---\n")[1]
    assert "configs:\n- config_name: default\n  data_files:\n" in header
    for split in ("train", "valid", "test"):
        assert f"  - split: {split}\n    path: {split}.jsonl\n" in header
    assert "# labeler export: `pairs`" in card and "load_dataset(\"json\"" in card


def test_a_failing_row_source_leaves_no_file_and_no_temp_file(tmp_path):
    with pytest.raises(RuntimeError, match="went away"):
        _export(tmp_path, generated_rows(5000, fail_at=3000))
    assert list(tmp_path.iterdir()) == []


def test_a_failure_keeps_the_previous_export_untouched(tmp_path, ranking_rows):
    _export(tmp_path, ranking_rows)
    before = _files(tmp_path)
    with pytest.raises(RuntimeError):
        _export(tmp_path, generated_rows(100, fail_at=50), parquet=True)
    assert _files(tmp_path) == before


def test_an_invalid_export_fails_with_its_report_and_writes_nothing(tmp_path, demo_rows):
    # three training conversations: OpenAI needs at least 10
    with pytest.raises(InvalidExport) as caught:
        _export(tmp_path, demo_rows, fmt="openai-chat")
    assert "train.jsonl: 2 examples: OpenAI needs at least 10 in a training file" in str(caught.value)
    assert [r.name for r in caught.value.reports] == ["train.jsonl", "valid.jsonl"]
    assert list(tmp_path.iterdir()) == []


def test_an_openai_export_without_training_examples_is_invalid(tmp_path, demo_rows):
    valid_only = [r for r in demo_rows if r.split == "valid"]
    with pytest.raises(InvalidExport, match="train.jsonl: 0 examples: OpenAI needs at least 10"):
        _export(tmp_path, valid_only, fmt="openai-chat")
    assert list(tmp_path.iterdir()) == []
    _export(tmp_path, valid_only, fmt="sft-messages")  # TRL has no such rule
    assert (tmp_path / "valid.jsonl").exists()


def test_temporary_files_of_a_killed_export_are_cleared_by_the_next(tmp_path, ranking_rows):
    (tmp_path / ".train.abc123.jsonl.tmp").write_text('{"half": ')
    _export(tmp_path, ranking_rows)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_invalid_records_fail_mid_stream_checks(tmp_path):
    records = [("train", {"prompt": "q", "chosen": "same", "rejected": "same"})]
    with pytest.raises(InvalidExport, match="line 1 of train.jsonl: field `rejected`: same as `chosen`"):
        write_records(tmp_path, records, format="pairs", labeler_version=VERSION)
    assert list(tmp_path.iterdir()) == []
    write_records(tmp_path, records, format="pairs", labeler_version=VERSION, validate=False)
    assert (tmp_path / "train.jsonl").read_text() == '{"prompt":"q","chosen":"same","rejected":"same"}\n'


def test_a_new_export_removes_the_files_of_the_previous_one_it_does_not_write(tmp_path, ranking_rows):
    _export(tmp_path, ranking_rows, parquet=True)
    _export(tmp_path, [r for r in ranking_rows if r.split == "train"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "manifest.json", "train.jsonl"]


def test_parquet_is_readable_and_matches_the_jsonl(tmp_path, ranking_rows, panel_rows):
    pq = pytest.importorskip("pyarrow.parquet")
    _export(tmp_path / "pairs", generated_rows(4_000), parquet=True)  # several record batches
    _export(tmp_path / "rankings", ranking_rows, fmt="rankings", parquet=True)
    for folder in (tmp_path / "pairs", tmp_path / "rankings"):
        for split in ("train", "valid", "test"):
            lines = (folder / f"{split}.jsonl").read_bytes().splitlines()
            table = pq.read_table(folder / f"{split}.parquet")
            assert table.to_pylist() == [orjson.loads(line) for line in lines]


def test_legacy_markers_go_into_the_manifest(tmp_path, marker_rows):
    from exports import choose_legacy_markers, legacy_texts

    separator, stop = choose_legacy_markers(legacy_texts(marker_rows))
    rows = marker_rows * 5  # at least 10 training examples
    result = _export(tmp_path, rows, fmt="openai-legacy", options={"separator": separator, "stop": stop})
    assert result.manifest["options"] == {"separator": "\n\n===\n\n", "stop": " ###END###"}
    with pytest.raises(ExportError, match="the separator '\\\\n\\\\n###\\\\n\\\\n' occurs in its text"):
        _export(tmp_path / "bad", rows, fmt="openai-legacy")
    assert not (tmp_path / "bad").exists() or list((tmp_path / "bad").iterdir()) == []


def test_unknown_formats_options_and_split_names_are_refused(tmp_path, ranking_rows):
    with pytest.raises(ExportError, match="unknown format `nope`; known: sft-messages"):
        _export(tmp_path, ranking_rows, fmt="nope")
    with pytest.raises(ExportError, match="format `pairs`: unknown option `exclude_flag` "
                                          "\\(known: `exclude_flags`, `aggregate`\\)"):
        _export(tmp_path, ranking_rows, options={"exclude_flag": ["rude"]})
    with pytest.raises(ExportError, match="option `aggregate`: expected one of per-labeler, consensus"):
        _export(tmp_path, ranking_rows, options={"aggregate": "majority"})
    with pytest.raises(ExportError, match="split '../x'"):
        write_records(tmp_path, [("../x", {"prompt": "q", "chosen": "a", "rejected": "b"})], format="pairs",
                      labeler_version=VERSION)
    assert list(tmp_path.iterdir()) == []


def test_progress_is_reported(tmp_path):
    seen = []
    _export(tmp_path, generated_rows(5000), progress=seen.append)
    assert seen == [10_000, 20_000, 30_000]


def _peak_bytes(n, folder):
    tracemalloc.start()
    _export(folder, generated_rows(n))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_memory_stays_flat_as_the_rows_grow(tmp_path):
    small = _peak_bytes(1_000, tmp_path / "small")
    large = _peak_bytes(8_000, tmp_path / "large")  # 8x the rows: 48,000 pairs
    assert large < small * 1.5 + 2_000_000, (small, large)


# --- large exports: validation in a second process ---------------------------------------------

def _in_process_only(monkeypatch):
    monkeypatch.setattr("exports.writer.offload_after", lambda: None)


def _offload_early(monkeypatch, after=300):
    monkeypatch.setattr("exports.writer.offload_after", lambda: after)


def test_the_validation_worker_reports_what_in_process_validation_does(tmp_path, monkeypatch):
    _in_process_only(monkeypatch)
    here = _export(tmp_path / "here", generated_rows(400))
    _offload_early(monkeypatch)
    there = _export(tmp_path / "there", generated_rows(400))
    assert there.manifest["validation"] == here.manifest["validation"]
    assert there.manifest["validation"]["train"]["stats"]["examples"] == 200 * 6
    assert there.manifest["files"] == here.manifest["files"]  # the same bytes written
    assert multiprocessing.active_children() == []


def test_the_worker_reads_lines_longer_than_its_read_size(tmp_path, monkeypatch):
    """A record over the worker's 1 MiB read (and the writer's buffer) is read on to its line end."""
    from exports.offload import READ_BYTES

    def rows():
        long = RankedItem(candidate_id=1, text="y" * (READ_BYTES + READ_BYTES // 2), rank=1, position=0)
        for row in generated_rows(700):
            if row.ranking_id == 400:  # past the hand-over, between ordinary lines
                row = RankingRow(ranking_id=400, prompt_id=400, split=row.split, messages=row.messages,
                                 items=[long, *row.items[1:]])
            yield row

    _in_process_only(monkeypatch)
    here = _export(tmp_path / "here", rows())
    _offload_early(monkeypatch)
    there = _export(tmp_path / "there", rows())
    assert there.manifest["validation"] == here.manifest["validation"]
    assert there.manifest["files"] == here.manifest["files"]
    assert there.manifest["validation"]["test"]["stats"]["examples"] == 175 * 6
    assert there.manifest["validation"]["test"]["stats"]["tokens"]["max"] > READ_BYTES // 4


def test_faults_found_by_the_worker_name_their_line(tmp_path, monkeypatch):
    good = [("train", {"prompt": f"q{i}", "chosen": "a", "rejected": "b"}) for i in range(500)]
    bad = [("train", {"prompt": "q", "chosen": "same", "rejected": "same"})]
    new_split = [("test", {"prompt": "t", "chosen": "c", "rejected": "c"})]  # opened after the hand-over
    records = good + bad + good + new_split
    _offload_early(monkeypatch)
    with pytest.raises(InvalidExport) as caught:
        write_records(tmp_path, records, format="pairs", labeler_version=VERSION)
    text = str(caught.value)
    assert "line 501 of train.jsonl: field `rejected`: same as `chosen`" in text
    assert "line 1 of test.jsonl: field `rejected`: same as `chosen`" in text
    assert list(tmp_path.iterdir()) == []
    assert multiprocessing.active_children() == []


def test_a_failure_after_the_hand_over_stops_the_worker_and_leaves_nothing(tmp_path, monkeypatch):
    _offload_early(monkeypatch)
    with pytest.raises(RuntimeError, match="went away"):
        _export(tmp_path, generated_rows(1000, fail_at=600))
    assert list(tmp_path.iterdir()) == []
    assert multiprocessing.active_children() == []


def test_a_validation_worker_that_dies_fails_the_export_clearly_and_leaves_nothing(tmp_path, monkeypatch):
    from exports.offload import ValidationWorker

    take = ValidationWorker.take

    def take_then_die(self, *args):  # noqa: ANN001, ANN202
        take(self, *args)
        self._proc.kill()
        self._proc.join()

    monkeypatch.setattr(ValidationWorker, "take", take_then_die)
    _offload_early(monkeypatch)
    with pytest.raises(ExportError, match="validation process stopped unexpectedly"):
        _export(tmp_path, generated_rows(2000))
    assert list(tmp_path.iterdir()) == []
    assert multiprocessing.active_children() == []
