"""CLI start-up: wall time of `labeler --help` and `labeler stats` on the demo project (SQLite).

Each command runs in a fresh process, as a user types it, `--runs` times after one warm-up; the
figure is the median and the slowest. Target (first-hour issue): both <= 0.5 s.

    python bench/cli/run.py --runs 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.common import write_table  # noqa: E402

TARGET_S = 0.5
LABELER = Path(sys.executable).with_name("labeler")


def _time(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([str(LABELER), *args], cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args, _ = parser.parse_known_args()
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        env = {**os.environ, "LABELER_DATABASE_URL": f"sqlite:///{cwd / 'labeler.db'}",
               "LABELER_DATA_DIR": str(cwd / "data")}
        env.pop("LABELER_AS", None)
        for setup in (["db", "upgrade"], ["demo", "--no-model"]):
            subprocess.run([str(LABELER), *setup], cwd=cwd, env=env, check=True, capture_output=True)
        rows = []
        for name, command in (("labeler --help", ["--help"]), ("labeler stats --project demo",
                                                               ["stats", "--project", "demo"])):
            _time(command, cwd, env)  # warm-up: the page cache, not the interpreter
            times = [_time(command, cwd, env) for _ in range(args.runs)]
            median, slowest = statistics.median(times), max(times)
            rows.append({"command": name, "runs": args.runs, "median_s": round(median, 3),
                         "max_s": round(slowest, 3), "target": f"<= {TARGET_S} s",
                         "met": "yes" if median <= TARGET_S else "NO"})
    print(write_table("cli", rows, ["command", "runs", "median_s", "max_s", "target", "met"],
                      "CLI start-up (wall time, fresh process each run)"))


if __name__ == "__main__":
    main()
