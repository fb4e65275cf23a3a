"""Queue benchmark: next_task and submit latency with N prompts stored, on SQLite and PostgreSQL.

Targets (DESIGN.md): next_task p95 <= 20 ms and submit p95 <= 30 ms with 1,000,000 prompts stored.
Each operation is timed as the app runs it: its own write transaction, commit included.

The store is set up mid-project, so the queue has history to walk past: the oldest 40% of the
prompts are fully labelled (counters at labels_per_item, with their completed leases in
`assignments`), and the prompts at the head of the queue have 4 candidates each. Eight labelers
take turns: lease a demonstration, submit it; lease a ranking, submit it.

    python bench/queue/run.py --sizes 10000,1000000 --backends sqlite,postgres --ops 300
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import backend_url, peak_rss_mb, run_child, write_table  # noqa: E402

TARGETS_MS = {"next_task": 20.0, "submit": 30.0}
LABELS_PER_ITEM = 2
LABELERS = 8
DONE_SHARE = 0.4
CANDIDATES = 4
WARMUP = 10


def seed(url: str, n: int, head: int, labelers: int = LABELERS, labels_per_item: int = LABELS_PER_ITEM,
         order: str = "random") -> None:
    """Project, labelers and n prompts (the oldest DONE_SHARE fully labelled), inserted in bulk.

    The `head` prompts at the head of the queue (right after the labelled ones) get CANDIDATES each;
    with `order = uncertain-first` they also get a reward-model margin (random: the queue walks them by
    margin), and every other prompt stays unscored, as after `labeler score` on the candidates there are.
    bench/e2e seeds through this too, with its own labelers and labels_per_item and candidates on every open prompt.
    """
    from sqlalchemy import bindparam, insert, update

    from db.base import utcnow
    from db.models import Assignment, Candidate, Prompt
    from labeler.services import session_scope
    from labeler.services.actors import OPERATOR
    from labeler.services.auth import create_user
    from labeler.services.projects import add_member, create_project

    with session_scope(url) as s:
        create_project(s, OPERATOR, "bench", "Be helpful.",
                       {"labels_per_item": labels_per_item, "k_max": CANDIDATES, "queue_order": order})
        for i in range(labelers):
            create_user(s, OPERATOR, f"labeler{i}", "labeler", "bench password")
            add_member(s, OPERATOR, "bench", f"labeler{i}")
    done = int(n * DONE_SHARE)
    now = utcnow()
    chunk = 50_000
    with session_scope(url) as s:
        for start in range(0, n, chunk):
            rows = [
                {"id": i + 1, "project_id": 1, "split": "train", "source": "bench", "meta": {},
                 "messages": [{"role": "user", "content": f"question {i}: explain the difference between a and b"}],
                 "content_hash": f"{i:032x}", "created_at": now,
                 "demonstration_count": labels_per_item if i < done else 0,
                 "ranking_count": labels_per_item if i < done else 0}
                for i in range(start, min(n, start + chunk))
            ]
            s.execute(insert(Prompt.__table__), rows)
        # The completed leases behind the labelled prompts (demonstrations; labels_per_item labelers each).
        for start in range(0, done, chunk):
            rows = [
                {"project_id": 1, "prompt_id": i + 1, "user_id": 1 + (i + j) % labelers, "kind": "demonstration",
                 "status": "completed", "leased_at": now, "expires_at": now + timedelta(minutes=30),
                 "finished_at": now}
                for i in range(start, min(done, start + chunk)) for j in range(labels_per_item)
            ]
            s.execute(insert(Assignment.__table__), rows)
        head_ids = range(done + 1, min(n, done + head) + 1)
        for start in range(0, len(head_ids), chunk // CANDIDATES):
            s.execute(insert(Candidate.__table__), [
                {"prompt_id": pid, "text": f"reply {j} to prompt {pid}", "text_hash": f"{pid:016x}{j:016x}",
                 "origin": "generated", "params": {}, "usage": {}, "meta": {}}
                for pid in head_ids[start:start + chunk // CANDIDATES] for j in range(CANDIDATES)
            ])
        if order == "uncertain-first":
            rng = random.Random(0)
            s.execute(update(Prompt.__table__).where(Prompt.__table__.c.id == bindparam("pid"))
                      .values(rm_margin=bindparam("margin")),
                      [{"pid": pid, "margin": rng.uniform(0, 5)} for pid in head_ids])
    if url.startswith("postgresql"):
        from labeler.services import get_engine

        with get_engine(url).connect() as conn:  # what autovacuum would have done after a bulk load
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
            conn.exec_driver_sql(f"SELECT setval('prompts_id_seq', {n})")
            conn.commit()


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by the nearest-rank method."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))]


def one(backend: str, size: int, ops: int, order: str = "random") -> None:
    """Child process: seed a fresh database, time `ops` leases and submits of each kind, print JSON."""
    from labeler.services import session_scope
    from labeler.services.admin import upgrade_database
    from labeler.services.auth import actor_for, get_user_or_raise
    from labeler.services.labeling import RankingSubmission, submit_demonstration, submit_ranking
    from labeler.services.queue import next_task

    timings: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp, backend_url(backend, Path(tmp)) as url:
        upgrade_database(url)
        started = time.perf_counter()
        seed(url, size, ops * 2 + 200, order=order)
        seed_s = time.perf_counter() - started
        with session_scope(url) as s:
            actors = [actor_for(get_user_or_raise(s, f"labeler{i}")) for i in range(LABELERS)]
        for i in range(ops + WARMUP):
            actor = actors[i % LABELERS]
            for kind in ("demonstration", "ranking"):
                t0 = time.perf_counter()
                with session_scope(url) as s:
                    task = next_task(s, actor, "bench", kind)
                t1 = time.perf_counter()
                assert task is not None
                with session_scope(url) as s:
                    if kind == "demonstration":
                        submit_demonstration(s, actor, task.assignment_id,
                                             [{"role": "assistant", "content": "Here is the difference."}],
                                             seconds_spent=30)
                    else:
                        items = [{"candidate_id": c.candidate_id, "rank": r + 1, "likert": 5}
                                 for r, c in enumerate(task.candidates)]
                        submit_ranking(s, actor, task.assignment_id,
                                       RankingSubmission.model_validate({"items": items, "seconds_spent": 40}))
                t2 = time.perf_counter()
                if i >= WARMUP:
                    timings.setdefault(f"next_task {kind}", []).append((t1 - t0) * 1000)
                    timings.setdefault(f"submit {kind}", []).append((t2 - t1) * 1000)
    print(json.dumps({
        "backend": backend, "size": size, "order": order, "seed_s": round(seed_s, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "timings": {name: {"n": len(v), "p50_ms": round(statistics.median(v), 2),
                           "p95_ms": round(percentile(v, 0.95), 2), "max_ms": round(max(v), 2)}
                    for name, v in timings.items()},
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000", help="prompts stored")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--ops", type=int, default=300, help="timed leases and submits per kind")
    parser.add_argument("--orders", default="random,uncertain-first",
                        help="project queue orders to time (`uncertain-first` walks ranking tasks by margin)")
    parser.add_argument("--one", nargs=4, metavar=("BACKEND", "SIZE", "OPS", "ORDER"), help=argparse.SUPPRESS)
    args, _unknown = parser.parse_known_args()  # `make bench` passes the same args to every bench
    if args.one:
        one(args.one[0], int(args.one[1]), int(args.one[2]), args.one[3])
        return
    rows = []
    runs = [(size, backend, order) for size in map(int, args.sizes.split(","))
            for backend in args.backends.split(",") for order in args.orders.split(",")]
    for size, backend, order in runs:
        result = run_child(Path(__file__), ["--one", backend, str(size), str(args.ops), order])
        for name, t in result["timings"].items():
            if order != "random" and not name.endswith("ranking"):
                continue  # the order changes only the ranking pick
            target = TARGETS_MS[name.split()[0]]
            rows.append({"backend": backend, "size": size, "order": order, "operation": name, **t,
                         "target": f"p95 <= {target:g} ms", "met": "yes" if t["p95_ms"] <= target else "NO",
                         "seed_s": result["seed_s"]})
            print(json.dumps(rows[-1]), flush=True)
    cols = ["backend", "size", "order", "operation", "n", "p50_ms", "p95_ms", "max_ms", "target", "met", "seed_s"]
    print(write_table("queue", rows, cols, "Work queue (one transaction per operation, commit included)"))


if __name__ == "__main__":
    main()
