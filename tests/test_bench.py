"""The benchmark harness itself: the report `make bench` writes, and a short end-to-end labeler run.

The figures are `make bench`'s business (never timed here); these tests keep the harness working.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import run as bench_run

ROOT = Path(__file__).resolve().parents[1]


def _rows(out: Path, name: str, rows: list[dict]) -> None:
    (out / f"{name}.json").write_text(json.dumps({"machine": "test", "rows": rows}))
    (out / f"{name}.md").write_text(f"## {name} details\n")


def test_the_report_has_one_summary_table_and_the_growth_of_each_cost(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(bench_run, "OUT", tmp_path)
    _rows(tmp_path, "import", [
        {"backend": "sqlite", "size": 10_000, "seconds": 0.25, "prompts_per_s": 40_000, "target": ">= 50,000/s",
         "met": "NO", "x_floor": 1.5, "peak_rss_mb": 100.0},
        {"backend": "sqlite", "size": 1_000_000, "seconds": 50.0, "prompts_per_s": 20_000, "target": ">= 50,000/s",
         "met": "NO", "x_floor": 2.5, "peak_rss_mb": 110.0},
    ])
    _rows(tmp_path, "queue", [
        {"backend": "postgres", "size": size, "operation": "next_task ranking", "p95_ms": p95,
         "target": "p95 <= 20 ms", "met": "yes"} for size, p95 in ((10_000, 4.0), (1_000_000, 5.0))
    ])
    _rows(tmp_path, "export", [
        {"backend": "sqlite", "rankings": 10_000, "pairs": 60_000, "seconds": 0.6, "pairs_per_s": 100_000,
         "x_floor": 2.0, "target": ">= 100,000/s, <= 3x floor", "met": "yes", "peak_rss_mb": 150.0},
    ])
    bench_run.record_run("import", "--sizes 10000,1000000", 60.0)
    bench_run.write_report()

    report = json.loads((tmp_path / "results.json").read_text())
    figures = {(r["bench"], r["size"], r["figure"]): r for r in report["summary"]}
    assert figures[("import", 1_000_000, "prompts/s")]["met"] == "NO"
    assert figures[("export", 10_000, "pairs/s")]["x_floor"] == 2.0
    assert figures[("queue", 1_000_000, "next_task ranking p95 ms")]["value"] == 5.0
    growth = {(r["bench"], r["cost"]): r for r in report["growth"]}
    per_prompt = growth[("import", "µs per prompt")]  # 25 µs at 10k, 50 µs at 1M: not linear
    assert (per_prompt["small"], per_prompt["large"], per_prompt["as_expected"]) == (25.0, 50.0, "NO")
    assert growth[("queue", "next_task ranking p95 ms")]["as_expected"] == "yes"
    assert ("export", "µs per pair") not in growth  # one size: nothing to compare
    markdown = (tmp_path / "RESULTS.md").read_text()
    assert "## Summary" in markdown and "## Growth with the data" in markdown
    assert "## import details" in markdown
    assert 'make bench BENCH_ARGS="--only import --sizes 10000,1000000"' in markdown


@pytest.mark.slow
def test_a_short_end_to_end_run_loses_nothing_and_checks_the_database() -> None:
    out = subprocess.run([sys.executable, "bench/e2e/run.py", "--one", "sqlite", "3000", "4", "3", "2", "0"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    row = json.loads(out.stdout.strip().splitlines()[-1])
    assert row["submissions"] > 0 and row["stored"] >= row["submissions"]
    assert (row["lost"], row["over_collected"], row["duplicate_leases"], row["counter_mismatches"],
            row["errors"]) == (0, 0, 0, 0, 0), row
