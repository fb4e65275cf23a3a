"""The files load with Hugging Face `datasets` (local files only, offline: nothing is downloaded)."""

from __future__ import annotations

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
    ("sft-prompt-completion", "demos", {}), ("openai-chat", "demos", {"weight_non_human": True}),
    ("openai-legacy", "demos", None),
]


@pytest.mark.parametrize(("fmt", "which", "options"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_export_loads_with_datasets(fmt, which, options, datasets, tmp_path, request):
    rows = request.getfixturevalue({"rankings": "ranking_rows", "panel": "panel_rows", "demos": "demo_rows"}[which])
    if options is None:
        separator, stop = choose_legacy_markers(legacy_texts(rows))
        options = {"separator": separator, "stop": stop}
    result = write_export(tmp_path, fmt, rows, options=options, labeler_version="test", parquet=True,
                          validate=not fmt.startswith("openai"))  # OpenAI wants >= 10 examples
    counts = result.manifest["counts"]
    files = {s: str(tmp_path / f"{s}.jsonl") for s in counts}
    cache = str(tmp_path / "cache")
    ds = datasets.load_dataset("json", data_files=files, cache_dir=cache)
    assert {s: ds[s].num_rows for s in ds} == counts
    from_card = datasets.load_dataset(str(tmp_path), cache_dir=cache)  # the card's configs/data_files
    assert {s: from_card[s].num_rows for s in from_card} == counts
    parquet = datasets.load_dataset("parquet", data_files={s: str(tmp_path / f"{s}.parquet") for s in counts},
                                    cache_dir=cache)
    split = next(iter(counts))
    assert parquet[split].to_list() == ds[split].to_list()
