"""`make bench`: run every benchmark, then gather their figures into one table (markdown and JSON).

Each bench folder's run.py writes its detailed rows to bench/out/<name>.json. This script reads them
back and writes bench/out/RESULTS.md and bench/out/results.json: one summary table (each figure,
its DESIGN.md target, whether it is met, and for exports the ratio to the floor), a table of how
each cost grows with the data, then every bench's detailed table.

Pass options through BENCH_ARGS, e.g. `make bench BENCH_ARGS="--sizes 10000,100000 --backends sqlite"`;
`--only queue,export` runs a subset, `--report` only rebuilds the report from bench/out.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

from bench.common import OUT, ROOT, machine_details

BENCHES = ["cli", "import", "queue", "export", "generate", "local", "score", "compare", "e2e", "web", "profile", "fuzz"]
# The tables the benches write, in report order (bench/import writes two).
TABLES = ["cli", "import", "import_rm", "queue", "export", "generate", "local", "score", "compare", "e2e", "web",
          "profile", "fuzz"]
# How a cost should grow with the data (DESIGN.md: flat queue operations, linear imports and exports,
# memory flat). A per-unit cost that stays within this factor from the smallest to the largest size
# is "as expected".
GROWTH_TOLERANCE = 1.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated benches to run (default: all)")
    parser.add_argument("--report", action="store_true", help="only rebuild the report from bench/out")
    args, passthrough = parser.parse_known_args()
    names = args.only.split(",") if args.only else BENCHES
    unknown = set(names) - set(BENCHES)
    if unknown:
        raise SystemExit(f"unknown bench {sorted(unknown)}: choose from {', '.join(BENCHES)}")
    if not args.report:
        for name in names:
            print(f"== bench/{name}", flush=True)
            started = time.perf_counter()
            subprocess.run([sys.executable, str(ROOT / "bench" / name / "run.py"), *passthrough], check=True,
                           cwd=ROOT)
            record_run(name, " ".join(passthrough), time.perf_counter() - started)
    write_report()
    print(f"results: {OUT / 'RESULTS.md'} and {OUT / 'results.json'}")


def record_run(name: str, args: str, seconds: float) -> None:
    """Remember how each bench's latest figures were made (the report may gather several runs)."""
    path = OUT / "runs.json"
    runs = json.loads(path.read_text()) if path.exists() else {}
    runs[name] = {"args": args, "minutes": round(seconds / 60, 1), "finished": time.strftime("%Y-%m-%d %H:%M")}
    path.write_text(json.dumps(runs, indent=2))


# ---------------------------------------------------------------------------------------------
# The summary: one row per figure


def load(name: str) -> list[dict[str, Any]]:
    path = OUT / f"{name}.json"
    return json.loads(path.read_text())["rows"] if path.exists() else []


def figure(bench: str, backend: str, size: Any, name: str, value: Any, target: str = "-", met: str = "-",
           x_floor: Any = "") -> dict[str, Any]:
    return {"bench": bench, "backend": backend, "size": size, "figure": name, "value": value, "target": target,
            "met": met, "x_floor": x_floor}


def summary_rows() -> list[dict[str, Any]]:
    """Each bench's headline figures, with the target and verdict the bench itself recorded."""
    rows = []
    for r in load("cli"):
        rows.append(figure("cli", "sqlite", "demo", f"{r['command']}: median / max s",
                           f"{r['median_s']} / {r['max_s']}", r["target"], r["met"]))
    for r in load("import"):
        rows.append(figure("import", r["backend"], r["size"], "prompts/s", r["prompts_per_s"], r["target"],
                           r["met"], r.get("x_floor", "")))
    for r in load("import_rm"):
        rows.append(figure("import (RM shape)", r["backend"], r["size"], "ranked prompts/s, peak MB (with worker)",
                           f"{r['prompts_per_s']}, {r['peak_total_mb']}", r["target"], r["met"]))
    for r in load("queue"):
        order = r.get("order", "random")
        label = r["operation"] + ("" if order == "random" else f" ({order})")
        rows.append(figure("queue", r["backend"], r["size"], f"{label} p95 ms", r["p95_ms"], r["target"], r["met"]))
    for r in load("export"):
        rows.append(figure("export", r["backend"], r["rankings"], "pairs/s", r["pairs_per_s"], r["target"],
                           r["met"], r["x_floor"]))
    for r in load("generate"):
        rows.append(figure("generate", r["backend"], r["prompts"], f"prompts/s at concurrency {r['concurrency']}",
                           r["prompts_per_s"], x_floor=r["x_floor"]))
    for r in load("local"):
        if r["bench"] == "generate":
            rows.append(figure("local", "cpu", r["model"], f"{r['case']}: first candidate s; tokens/s",
                               f"{r['first_candidate_s']}; {r['tokens_per_s']}"))
        else:
            rows.append(figure("local", "cpu", f"{r['model']} ({r['params']})", f"train {r['case']} steps/s",
                               r["steps_per_s"]))
    for r in load("score"):
        rows.append(figure("score", r["backend"], f"{r['model']}, {r['candidates']}", "candidates scored/s",
                           r["candidates_per_s"], x_floor=r.get("x_floor", "")))
    for r in load("compare"):
        rows.append(figure("compare", r["backend"], r["rankings"], "model comparison report s, peak MB",
                           f"{r['seconds']}, {r['peak_rss_mb']}"))
    for r in load("e2e"):
        size = r["prompts"]
        rows.append(figure("e2e", r["backend"], size, f"{r['labelers']} labelers for {r['seconds']} s: submissions/s",
                           r["submissions_per_s"], r["target"], r["met"]))
        rows.append(figure("e2e", r["backend"], size, "lost / over-collected / errors",
                           f"{r['lost']} / {r['over_collected']} / {r['errors']}", "0 / 0 / 0", r["met"]))
        rows.append(figure("e2e", r["backend"], size, "next_task / submit p95 ms under load",
                           f"{r['next_task_p95_ms']} / {r['submit_p95_ms']}"))
    for r in load("web"):
        rows.append(figure("web", r["setup"], r["sessions"], "submit -> next task visible p50 / p95 ms",
                           f"{r['next_visible_p50_ms']} / {r['next_visible_p95_ms']}", "p95 <= 300 ms",
                           "yes" if (r["next_visible_p95_ms"] or 10**9) <= 300 else "NO"))
        rows.append(figure("web", r["setup"], r["sessions"], "app CPU ms per submission; labelers per core",
                           f"{r['app_cpu_ms_per_submission']}; {r['labelers_per_core']}"))
    for backend in sorted({r["backend"] for r in load("fuzz")}):
        mine = [r for r in load("fuzz") if r["backend"] == backend]
        crashes = sum(r["crashes"] for r in mine)
        rows.append(figure("fuzz", backend, sum(r["files"] for r in mine), "fuzzed files failing (traceback or partial "
                           "import)", crashes, "0", "yes" if not crashes else "NO"))
    return rows


# ---------------------------------------------------------------------------------------------
# Growth: the same cost at the smallest and the largest size


def growth_rows() -> list[dict[str, Any]]:
    """Per-unit costs at the smallest and largest size of each bench and backend, against the expected shape."""
    rows = []

    def compare(bench: str, backend: str, measure: str, expected: str, points: list[tuple[int, float]]) -> None:
        if len(points) < 2:
            return
        (small, a), (large, b) = min(points), max(points)
        ratio = b / a if a else float("inf")
        rows.append({"bench": bench, "backend": backend, "cost": measure, "expected": expected,
                     "small_size": small, "small": round(a, 2), "large_size": large, "large": round(b, 2),
                     "ratio": round(ratio, 2), "as_expected": "yes" if ratio <= GROWTH_TOLERANCE else "NO"})

    for backend in backends("import"):
        mine = [r for r in load("import") if r["backend"] == backend]
        compare("import", backend, "µs per prompt", "linear (per-prompt cost flat)",
                [(r["size"], r["seconds"] / r["size"] * 1e6) for r in mine])
        compare("import", backend, "peak RSS MiB", "flat", [(r["size"], r["peak_rss_mb"]) for r in mine])
    for backend in backends("import_rm"):
        mine = [r for r in load("import_rm") if r["backend"] == backend]
        compare("import (RM shape)", backend, "µs per ranked prompt", "linear (per-prompt cost flat)",
                [(r["size"], r["seconds"] / r["size"] * 1e6) for r in mine])
        compare("import (RM shape)", backend, "peak MiB with worker", "flat",
                [(r["size"], r["peak_total_mb"]) for r in mine])
    for backend in backends("queue"):
        mine = [r for r in load("queue") if r["backend"] == backend]
        for operation, order in sorted({(r["operation"], r.get("order", "random")) for r in mine}):
            label = operation + ("" if order == "random" else f" ({order})")
            compare("queue", backend, f"{label} p95 ms", "flat",
                    [(r["size"], r["p95_ms"]) for r in mine
                     if r["operation"] == operation and r.get("order", "random") == order])
    for backend in backends("export"):
        mine = [r for r in load("export") if r["backend"] == backend]
        compare("export", backend, "µs per pair", "linear (per-pair cost flat)",
                [(r["rankings"], r["seconds"] / r["pairs"] * 1e6) for r in mine])
        compare("export", backend, "peak RSS MiB", "flat", [(r["rankings"], r["peak_rss_mb"]) for r in mine])
    return rows


def backends(bench: str) -> list[str]:
    return list(dict.fromkeys(r["backend"] for r in load(bench)))


# ---------------------------------------------------------------------------------------------
# Writing


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


SUMMARY_COLUMNS = ["bench", "backend", "size", "figure", "value", "target", "met", "x_floor"]
GROWTH_COLUMNS = ["bench", "backend", "cost", "expected", "small_size", "small", "large_size", "large", "ratio",
                  "as_expected"]


def command_for(name: str, args: str) -> str:
    """The make command that reproduces one bench's figures."""
    return f"`make bench BENCH_ARGS=\"{' '.join(filter(None, ['--only', name, args]))}\"`"


def write_report() -> None:
    details = machine_details()
    summary, growth = summary_rows(), growth_rows()
    runs_path = OUT / "runs.json"
    runs = json.loads(runs_path.read_text()) if runs_path.exists() else {}
    run_rows = [{"bench": name, "command": command_for(name, run["args"]),
                 "minutes": run["minutes"], "finished": run["finished"]} for name, run in runs.items()]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(
        {"machine": details, "runs": runs, "summary": summary, "growth": growth,
         "benches": {name: load(name) for name in TABLES if load(name)}}, indent=2))
    parts = [
        "# Benchmark results", "",
        "Machine: " + "; ".join(f"{k} {v}" for k, v in details.items()), "",
        "## Summary", "",
        "Each figure with its target from DESIGN.md (`-`: DESIGN.md sets none). `x_floor`: the time relative to "
        "the bare floor measured in the same run.", "",
        table(summary, SUMMARY_COLUMNS),
        "## Growth with the data", "",
        f"Each cost at the smallest and the largest size measured; `as_expected` when the per-unit cost (or "
        f"the latency, or the memory) grows by at most {GROWTH_TOLERANCE}x.", "",
        table(growth, GROWTH_COLUMNS) if growth else "(one size per bench in this run: nothing to compare)\n",
    ]
    parts += [(OUT / f"{name}.md").read_text() for name in TABLES if (OUT / f"{name}.md").exists()]
    if run_rows:
        parts += ["## How these figures were made", "", table(run_rows, ["bench", "command", "minutes", "finished"])]
    (OUT / "RESULTS.md").write_text("\n".join(parts))


if __name__ == "__main__":
    main()
