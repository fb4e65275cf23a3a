"""Import benchmark: generated files through the real import service, on SQLite and PostgreSQL.

Two shapes:
- prompts (`--sizes`): target (DESIGN.md) >= 50,000 prompts/s on SQLite with dedup on, and peak
  memory that does not grow with the file. 20-80 word prompts, 1% exact duplicates, ~40 prompts
  per originating user plus a few heavy users that hit the 200-per-user cap.
- InstructGPT's reward-model set (`--rm-sizes`, bench/import/rm.py): ranked prompts with K = 4..9
  replies as OpenAssistant trees. Target (DESIGN.md, issue 18): its 33,207 prompts in <= 20 s
  (>= 1,650 ranked prompts/s) with peak memory <= 300 MB, flat from 10,000 to 1,000,000. Memory
  is reported for the importing process (`peak_rss_mb`) and with its parsing worker
  (`peak_total_mb`, which the target is checked against).

    python bench/import/run.py --sizes 10000,1000000 --rm-sizes 10000,33207,1000000 --backends sqlite,postgres
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import OUT, TreePeak, backend_url, peak_rss_mb, run_child, write_table  # noqa: E402
from bench.import_rm import generate_rm  # noqa: E402

TARGET = 50_000
RM_TARGET_PER_S, RM_TARGET_MB = 1_650, 300
WORDS = (
    "how what why explain write summarize translate list compare describe the a an of to in for with "
    "python code function data model poem story email recipe history science music travel health money "
    "learn best simple short long detailed example steps reasons difference between my your this that "
    "please can could would should make give tell show help plan idea question answer world city night"
).split()


def generate(path: Path, n: int, seed: int = 7) -> None:
    """Write n prompts as JSONL (`prompt`, `id`, `user`)."""
    rng = random.Random(seed)
    users = max(1, n // 40)
    written: list[str] = []
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            if written and rng.random() < 0.01:
                text = rng.choice(written)  # an exact duplicate
            else:
                text = f"{i} " + " ".join(rng.choices(WORDS, k=rng.randint(20, 80)))
                if len(written) < 10_000:
                    written.append(text)
            user = f"heavy-{i % 3}" if rng.random() < 0.003 else f"user-{rng.randrange(users)}"
            fh.write(json.dumps({"id": f"p{i}", "user": user, "prompt": text}) + "\n")


def one(backend: str, file: Path, fmt: str = "prompts") -> None:
    """Child process: import `file` into a fresh database and print one JSON line of figures."""
    from labeler.services import session_scope
    from labeler.services.actors import OPERATOR
    from labeler.services.admin import upgrade_database
    from labeler.services.ingest import ImportOptions, import_file
    from labeler.services.projects import create_project

    with tempfile.TemporaryDirectory() as tmp, backend_url(backend, Path(tmp)) as url:
        upgrade_database(url)
        with session_scope(url) as s:
            create_project(s, OPERATOR, "bench")
        start, cpu = time.perf_counter(), cpu_seconds()
        with TreePeak() as tree, session_scope(url) as s:
            server = _server_process(s)
            report = import_file(s, OPERATOR, "bench", file, ImportOptions(format=fmt))
            db_cpu = _process_cpu(server) if server else None
        seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    print(json.dumps({
        "backend": backend, "records": report.records, "prompts_added": report.prompts_added,
        "duplicates": report.duplicates_exact + report.duplicates_prefix, "over_cap": report.over_user_cap,
        "candidates_added": report.candidates_added, "rankings_added": report.rankings_added,
        "seconds": round(seconds, 2), "prompts_per_s": round(report.records / seconds),
        "candidates_per_s": round(report.candidates_added / seconds),
        "peak_rss_mb": round(peak_rss_mb(), 1), "peak_total_mb": round(tree.peak_mb, 1), "cpu_s": round(cpu, 2),
        "db_cpu_s": round(db_cpu, 2) if db_cpu is not None else "-",
    }))


def _server_process(session: Any) -> int | None:
    """PostgreSQL: the pid of the server process that runs this session's queries (SQLite runs in ours)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    return session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one()


def _process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the parsing worker; not the database server):
    what the import costs, which a machine shared with other work does not change as it does wall time."""
    import resource

    usages = map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return sum(u.ru_utime + u.ru_stime for u in usages)


def floor(file: Path) -> None:
    """Child process: the SQLite floor — the same rows, pre-built, inserted by bare executemany.

    No parsing, hashing, dedup or validation is timed: only what SQLite itself costs for these
    rows in this schema (same indexes, WAL, one transaction), so the import's figure can be read
    against it.
    """
    import sqlite3

    import orjson

    from labeler.hygiene import assign_split, content_hash, normalize_text, prefix_hash
    from labeler.services.admin import upgrade_database

    rows = []
    with file.open("rb") as fh:
        for line in fh:
            r = orjson.loads(line)
            norm = normalize_text([{"role": "user", "content": r["prompt"]}])
            h = content_hash(norm)
            rows.append((1, orjson.dumps([{"role": "user", "content": r["prompt"]}]).decode(), file.name, r["id"],
                         r["user"], assign_split(r["user"]), h, prefix_hash(norm, 200), "{}", 0, 0,
                         "2026-01-01 00:00:00.000000"))
    rows = list({row[6]: row for row in rows}.values())  # the floor stores no duplicates either
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "floor.db"
        upgrade_database(f"sqlite:///{db}")
        conn = sqlite3.connect(db, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-65536", "foreign_keys=ON"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("INSERT INTO projects (id, name, guidelines, settings, created_at, updated_at) "
                     "VALUES (1, 'floor', '', '{}', '2026-01-01', '2026-01-01')")
        sql = ("INSERT INTO prompts (project_id, messages, source, external_id, origin_user, split, content_hash, "
               "prefix_hash, meta, demonstration_count, ranking_count, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)")
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        for i in range(0, len(rows), 5000):
            conn.executemany(sql, rows[i:i + 5000])
        conn.execute("COMMIT")
        seconds = time.perf_counter() - start
    print(json.dumps({"seconds": round(seconds, 2), "rows": len(rows)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000", help="prompts per file (0: skip this shape)")
    parser.add_argument("--rm-sizes", default="10000,33207,1000000",
                        help="ranked prompts per reward-model-shaped file (0: skip this shape)")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--no-floor", action="store_true", help="skip the bare-SQLite floor measurement")
    parser.add_argument("--one", nargs=3, metavar=("BACKEND", "FILE", "FORMAT"), help=argparse.SUPPRESS)
    parser.add_argument("--floor", metavar="FILE", help=argparse.SUPPRESS)
    args, _unknown = parser.parse_known_args()  # `make bench` passes the same args to every bench
    if args.one:
        one(args.one[0], Path(args.one[1]), args.one[2])
        return
    if args.floor:
        floor(Path(args.floor))
        return
    data = OUT / "data"
    data.mkdir(parents=True, exist_ok=True)
    backends = args.backends.split(",")
    if sizes := _sizes(args.sizes):
        prompts_shape(data, sizes, backends, args.no_floor)
    if sizes := _sizes(args.rm_sizes):
        rm_shape(data, sizes, backends)


def _sizes(option: str) -> list[int]:
    return [n for n in map(int, option.split(",")) if n > 0]


def prompts_shape(data: Path, sizes: list[int], backends: list[str], no_floor: bool) -> None:
    rows = []
    for size in sizes:
        file = data / f"prompts_{size}.jsonl"
        if not file.exists():
            generate(file, size)
        for backend in backends:
            row = run_child(Path(__file__), ["--one", backend, str(file), "prompts"])
            row.update(size=size, target=f">= {TARGET:,}/s" if backend == "sqlite" else "-",
                       met="-" if backend != "sqlite" else "yes" if row["prompts_per_s"] >= TARGET else "NO")
            if backend == "sqlite" and not no_floor:
                bare = run_child(Path(__file__), ["--floor", str(file)])
                row["floor_s"] = bare["seconds"]
                row["floor_per_s"] = round(size / bare["seconds"])
                row["x_floor"] = round(row["seconds"] / bare["seconds"], 2)
            rows.append(row)
            print(json.dumps(row), flush=True)
    cols = ["backend", "size", "prompts_added", "duplicates", "over_cap", "seconds", "prompts_per_s",
            "target", "met", "floor_s", "floor_per_s", "x_floor", "peak_rss_mb"]
    print(write_table("import", rows, cols, "Import (prompts JSONL, dedup on)"))


def rm_shape(data: Path, sizes: list[int], backends: list[str]) -> None:
    """InstructGPT's reward-model shape: every size on every backend, against the issue 18 target."""
    rows = []
    for size in sizes:
        file = data / f"rm_{size}.jsonl"
        if not file.exists():
            generate_rm(file, size)
        for backend in backends:
            row = run_child(Path(__file__), ["--one", backend, str(file), "oasst-tree"])
            met = row["prompts_per_s"] >= RM_TARGET_PER_S and row["peak_total_mb"] <= RM_TARGET_MB
            row.update(size=size, target=f">= {RM_TARGET_PER_S:,}/s, <= {RM_TARGET_MB} MB", met="yes" if met else "NO",
                       file_mb=round(file.stat().st_size / 2**20))
            rows.append(row)
            print(json.dumps(row), flush=True)
    cols = ["backend", "size", "file_mb", "prompts_added", "candidates_added", "rankings_added", "seconds",
            "prompts_per_s", "candidates_per_s", "target", "met", "cpu_s", "db_cpu_s", "peak_rss_mb", "peak_total_mb"]
    print(write_table("import_rm", rows, cols,
                      "Import of existing preferences (InstructGPT's RM shape: OpenAssistant trees, K = 4..9 ranked)"))


if __name__ == "__main__":
    main()
