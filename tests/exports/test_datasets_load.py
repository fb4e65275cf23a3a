"""The files load with Hugging Face `datasets` (local files only, offline: nothing is downloaded)."""

from __future__ import annotations

from datetime import datetime

import pytest

from exports import choose_legacy_markers, legacy_texts, write_export


@pytest.fixture
def datasets(tmp_path_factory, monkeypatch):
    """The `datasets` package, offline, its caches in a temporary folder (skip when not installed)."""
    home = tmp_path_factory.mktemp("hf")
    for name in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(home / "datasets"))
    return pytest.importorskip("datasets")


CASES = [
    ("pairs", "rankings", {}), ("pairs", "panel", {"aggregate": "consensus"}), ("rankings", "rankings", {}),
    ("kto", "rankings", {}), ("openai-preference", "rankings", {}), ("sft-messages", "demos", {}),
    ("sft-prompt-completion", "demos", {}),
    ("openai-legacy", "demos", None),
]  # openai-chat's per-message weights cannot be Parquet: tests/exports/test_parquet_equal.py


@pytest.mark.parametrize(("fmt", "which", "options"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_export_loads_with_datasets(fmt, which, options, datasets, tmp_path, request):
    fixture = {"rankings": "ranking_rows", "panel": "panel_rows", "demos": "demo_rows"}[which]
    rows = request.getfixturevalue(fixture)
    if options is None:
        separator, stop = choose_legacy_markers(legacy_texts(rows))
        options = {"separator": separator, "stop": stop}
    result = write_export(tmp_path, fmt, rows, options=options, labeler_version="test", parquet=True,
                          validate=not fmt.startswith("openai"))  # OpenAI wants >= 10 examples
    counts = result.manifest["counts"]
    files = {s: str(tmp_path / f"{s}.jsonl") for s in counts}
    cache = str(tmp_path / "cache")
    if fmt == "rankings":  # nullable metadata: the splits' JSONL load one by one (see the card)
        ds = {s: datasets.load_dataset("json", data_files=f, split="train", cache_dir=cache)
              for s, f in files.items()}
    else:
        ds = datasets.load_dataset("json", data_files=files, cache_dir=cache)
    assert {s: ds[s].num_rows for s in ds} == counts
    from_card = datasets.load_dataset(str(tmp_path), cache_dir=cache)  # the card's configs: Parquet
    assert {s: from_card[s].num_rows for s in from_card} == counts
    assert {s: _plain(from_card[s].to_list()) for s in counts} == {s: _plain(ds[s].to_list()) for s in counts}


def _plain(value):
    """Drop null struct fields (Arrow gives every struct all its column's fields); ISO times as text."""
    if isinstance(value, datetime):  # pyarrow's JSON reader turns ISO timestamps into timestamps
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
