"""Model comparison benchmark: `labeler compare`'s report over N stored human rankings of K=4 models.

Each ranking ranks one candidate of each of 4 models (6 comparisons); the report pairs them in the
database (one GROUP BY), streams the per-prompt rows into the tally and fits Bradley–Terry 1 + R
times (R bootstrap rounds, default 200). The store is filled as the export benchmark fills it (bulk
inserts, then INSERT ... SELECT copies), with the candidates' models set by one UPDATE. The report
runs in a fresh interpreter: its time and peak memory are its own.

    python bench/compare/run.py                      # 1,000,000 rankings on SQLite (minutes to fill)
    python bench/compare/run.py --rankings 20000     # a quick check
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import backend_url, peak_rss_mb, run_child, write_table  # noqa: E402
from bench.export.run import K, populate  # noqa: E402


def fill(url: str, n: int) -> float:
    """N prompts with K candidates (models m0..m3) and one submitted human ranking each; seconds taken."""
    from sqlalchemy import text

    from labeler.services import session_scope

    start = time.perf_counter()
    populate(url, n)
    with session_scope(url) as s:  # the export bench writes model "m" everywhere: one model per position
        s.execute(text(f"UPDATE candidates SET model = 'm' || CAST((id - 1) % {K} AS VARCHAR(8))"))
    return time.perf_counter() - start


def measure(url: str, rounds: int) -> None:
    """Child: the report through the real service; prints seconds, figures and peak memory."""
    from labeler.services import session_scope
    from labeler.services.actors import OPERATOR
    from labeler.services.compare import compare_models

    start = time.perf_counter()
    with session_scope(url, write=False) as s:
        report = compare_models(s, OPERATOR, "bench", rounds=rounds)
    seconds = time.perf_counter() - start
    data = report.to_dict()
    print(json.dumps({"seconds": seconds, "prompts": data["prompts"], "models": len(data["models"]),
                      "comparisons": sum(p["games"] for p in data["pairs"]) // 2, "peak_rss_mb": peak_rss_mb()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rankings", type=int, default=1_000_000, help="stored rankings (K=4, one per prompt)")
    parser.add_argument("--backends", default="sqlite")
    parser.add_argument("--rounds", type=int, default=200, help="bootstrap rounds")
    parser.add_argument("--child", nargs=2, metavar=("URL", "ROUNDS"), help=argparse.SUPPRESS)
    args, _unknown = parser.parse_known_args()
    if args.child:
        measure(args.child[0], int(args.child[1]))
        return
    rows = []
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory() as tmp, backend_url(backend, Path(tmp)) as url:
            fill_s = fill(url, args.rankings)
            result = run_child(Path(__file__), ["--child", url, str(args.rounds)])
        row = {"backend": backend, "rankings": args.rankings, "comparisons": result["comparisons"],
               "models": result["models"], "rounds": args.rounds, "seconds": round(result["seconds"], 2),
               "peak_rss_mb": round(result["peak_rss_mb"], 1), "fill_s": round(fill_s, 1)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    cols = ["backend", "rankings", "comparisons", "models", "rounds", "seconds", "peak_rss_mb", "fill_s"]
    print(write_table("compare", rows, cols, "Model comparison report (K=4 models per ranking, bootstrap)"))


if __name__ == "__main__":
    main()
