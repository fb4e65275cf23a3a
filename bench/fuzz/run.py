"""Fuzz benchmark: the structured reader fuzz suite (tests/security/test_reader_fuzz.py) at full size.

The normal test run fuzzes 100 files per reader and store; this runs `--fuzz-examples` (default 600) per
reader (7 JSON readers and the CSV path) on each backend: 8 x 600 x 2 = 9,600 files, plus the normal run's.
Target (issue 20): 0 tracebacks and 0 partial imports. Writes the counts per reader and store.

    python bench/fuzz/run.py --fuzz-examples 600 --backends sqlite,postgres
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
    parser.add_argument("--fuzz-examples", type=int, default=600, help="files per reader and backend")
    parser.add_argument("--backends", default="sqlite,postgres")
    args, _ = parser.parse_known_args()  # the other benches' options pass through `make bench`
    rows = []
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "outcomes.jsonl"
            env = dict(os.environ, LABELER_FUZZ_EXAMPLES=str(args.fuzz_examples), LABELER_FUZZ_REPORT=str(report))
            done = subprocess.run([sys.executable, "-m", "pytest", "tests/security/test_reader_fuzz.py", "-q", "-rf",
                                   "-p", "no:cacheprovider", "-k", backend], cwd=ROOT, env=env, capture_output=True,
                                  text=True)
            print(done.stdout[-3000:], flush=True)
            failed = Counter(re.findall(r"^FAILED \S+?\[[a-z]+-?([a-z-]*)\]", done.stdout, re.MULTILINE))
            counts: Counter = Counter()
            for line in report.read_text().splitlines() if report.exists() else []:
                item = json.loads(line)
                counts[(item["path"], item["outcome"])] += 1
        for reader in sorted({p for p, _ in counts}):
            files = counts[(reader, "imported")] + counts[(reader, "refused")]
            rows.append({"backend": backend, "reader": reader, "files": files,
                         "imported": counts[(reader, "imported")], "refused": counts[(reader, "refused")],
                         "crashes": failed.get(reader if reader != "csv" else "", 0),
                         "met": "yes" if not failed else "NO"})
        if done.returncode not in (0, 1):
            raise SystemExit(f"the fuzz run failed to run ({done.returncode}):\n{done.stderr[-3000:]}")
    print(write_table("fuzz", rows, ["backend", "reader", "files", "imported", "refused", "crashes", "met"],
                      "Reader fuzz: structured inputs per reader and store (0 crashes, 0 partial imports)"))


if __name__ == "__main__":
    main()
