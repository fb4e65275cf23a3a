"""`make bench`: run every benchmark folder's run.py and gather their tables into bench/out/RESULTS.md.

Pass sizes through BENCH_ARGS, e.g. `make bench BENCH_ARGS="--sizes 10000,100000"`.
"""

from __future__ import annotations

import subprocess
import sys

from bench.common import OUT, ROOT, machine

BENCHES = ["import", "queue", "export", "generate"]


def main() -> None:
    args = sys.argv[1:]
    for name in BENCHES:
        print(f"== bench/{name}", flush=True)
        subprocess.run([sys.executable, str(ROOT / "bench" / name / "run.py"), *args], check=True, cwd=ROOT)
    parts = [f"# Benchmark results\n\nMachine: {machine()}\n"]
    parts += [(OUT / f"{name}.md").read_text() for name in BENCHES if (OUT / f"{name}.md").exists()]
    (OUT / "RESULTS.md").write_text("\n".join(parts))
    print(f"results: {OUT / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
