"""Fuzz benchmark: the structured reader fuzz suite (tests/security/test_reader_fuzz.py) at full size.

The normal test run fuzzes 100 files per reader and store; this runs `--fuzz-examples` (default 640) per
reader (7 JSON readers and the CSV path) on each backend: 8 x 640 x 2 = 10,240 files.
Target (issue 20): 0 tracebacks and 0 partial imports. Writes the counts per reader and store.

    python bench/fuzz/run.py --fuzz-examples 640 --backends sqlite,postgres
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import ROOT, write_table  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fuzz-examples", type=int, default=640, help="files per reader and backend")
    parser.add_argument("--backends", default="sqlite,postgres")
    args, _ = parser.parse_known_args()  # the other benches' options pass through `make bench`
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        runs = {backend: _start(backend, Path(tmp) / f"{backend}.jsonl", args.fuzz_examples)
                for backend in args.backends.split(",")}  # the backends run side by side (one core each)
        for backend, (proc, report) in runs.items():
            stdout, stderr = proc.communicate()
            print(stdout[-3000:], flush=True)
            if proc.returncode not in (0, 1):
                raise SystemExit(f"the fuzz run on {backend} failed to run ({proc.returncode}):\n{stderr[-3000:]}")
            rows += _rows(backend, report, stdout)
    print(write_table("fuzz", rows, ["backend", "reader", "files", "imported", "refused", "crashes", "met"],
                      "Reader fuzz: structured inputs per reader and store (0 crashes, 0 partial imports)"))


def _start(backend: str, report: Path, examples: int) -> tuple[subprocess.Popen, Path]:
    env = dict(os.environ, LABELER_FUZZ_EXAMPLES=str(examples), LABELER_FUZZ_REPORT=str(report))
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "tests/security/test_reader_fuzz.py", "-q", "-rf",
                             "-p", "no:cacheprovider", "-k", backend], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    return proc, report


def _rows(backend: str, report: Path, stdout: str) -> list[dict]:
    """Files, outcomes and failing tests (a crash or a partial import) per reader."""
    failed = Counter(re.findall(r"^FAILED \S+?\[[a-z]+-?([a-z-]*)\]", stdout, re.MULTILINE))
    counts: Counter = Counter()
    for line in report.read_text().splitlines() if report.exists() else []:
        item = json.loads(line)
        counts[(item["path"], item["outcome"])] += 1
    rows = []
    for reader in sorted({p for p, _ in counts}):
        crashes = failed.get(reader if reader != "csv" else "", 0)
        rows.append({"backend": backend, "reader": reader, "files": counts[(reader, "imported")]
                     + counts[(reader, "refused")], "imported": counts[(reader, "imported")],
                     "refused": counts[(reader, "refused")], "crashes": crashes, "met": "yes" if not crashes else "NO"})
    return rows


if __name__ == "__main__":
    main()
