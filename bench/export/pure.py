"""Throughput of the pure export path: `pairs` + the writer on generated K=4 rankings, next to the floor.

The floor builds the same pair dicts inline and writes them with orjson straight to a file: what
any exporter must at least pay. Each measurement runs in a fresh interpreter (clean peak memory).
No database here: the service-level benchmark (query -> rows -> export) lives beside it.

    python bench/export/pure.py [--rows 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from exports import RankedItem, RankingRow, write_export  # noqa: E402

FILLER = "The quick brown fox jumps over the lazy dog. "


def rows(n: int, k: int = 4):
    """`n` rankings of `k` candidates (prompt ~150 characters, answers ~400), made lazily."""
    for i in range(n):
        yield RankingRow(
            ranking_id=i + 1, prompt_id=i + 1, split="valid" if i % 10 == 0 else "train",
            messages=[{"role": "user", "content": f"Prompt {i}: " + FILLER * 3}],
            items=[RankedItem(candidate_id=k * i + j, text=f"Answer {j}: " + FILLER * (8 + j), model="m",
                              rank=j + 1, likert=None, flags=(), position=j) for j in range(k)],
            labeler="ann", submitted_at="2025-01-01T00:00:00Z",
        )


def floor(n: int, out: Path) -> int:
    """The same pair dicts, built inline and written with orjson, one file per split."""
    import orjson

    files = {s: open(out / f"{s}.jsonl", "wb", buffering=1 << 20) for s in ("train", "valid")}
    count = 0
    for row in rows(n):
        prompt = [{"role": m["role"], "content": m["content"]} for m in row.messages]
        items = sorted(row.items, key=lambda it: it.rank)
        f = files[row.split]
        for a in range(len(items)):
            for b in range(a + 1, len(items)):
                f.write(orjson.dumps({
                    "prompt": prompt, "chosen": [{"role": "assistant", "content": items[a].text}],
                    "rejected": [{"role": "assistant", "content": items[b].text}],
                    "group_id": f"r{row.ranking_id}", "margin": float(items[b].rank - items[a].rank),
                }, option=orjson.OPT_APPEND_NEWLINE))
                count += 1
    for f in files.values():
        f.close()
    return count


def measure(mode: str, n: int) -> dict:
    """One measurement in this process."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        start = time.perf_counter()
        if mode == "rows-only":
            pairs = sum(1 for _ in rows(n)) * 6
        elif mode == "floor":
            pairs = floor(n, out)
        else:
            result = write_export(out, "pairs", rows(n), labeler_version="bench", validate=mode == "labeler")
            pairs = sum(result.manifest["counts"].values())
        seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"mode": mode, "rows": n, "pairs": pairs, "seconds": round(seconds, 2),
            "pairs_per_s": round(pairs / seconds), "peak_rss_mib": round(peak, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per mode, interleaved; the best counts")
    parser.add_argument("--mode")
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(measure(args.mode, args.rows)))
        return
    best: dict[str, dict] = {}
    for _ in range(args.repeat):  # interleaved, so a noisy neighbour hurts every mode alike
        for mode in ("rows-only", "floor", "labeler-novalidate", "labeler"):
            out = subprocess.run([sys.executable, __file__, "--rows", str(args.rows), "--mode", mode],
                                 capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(json.dumps(r), flush=True)
            if mode not in best or r["seconds"] < best[mode]["seconds"]:
                best[mode] = r
    results = list(best.values())
    floor_s = next(r["seconds"] for r in results if r["mode"] == "floor")
    for r in results:
        print(f"{r['mode']:>20}: {r['pairs_per_s']:>9,} pairs/s  {r['seconds']:>6} s  "
              f"{r['peak_rss_mib']:>7} MiB peak  {r['seconds'] / floor_s:.2f}x floor")


if __name__ == "__main__":
    main()
