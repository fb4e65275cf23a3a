"""End-to-end benchmark: N simulated labelers working through the services for a fixed time.

Target (DESIGN.md): 32 concurrent labelers for 60 s: no lost submission, no task leased beyond its
overlap, no error. The labelers are threads in one process, as the Streamlit server serves its
sessions (one process, a thread per session). Each loops until the deadline: lease a task
(`next_task`), submit it, alternating demonstrations and rankings, and now and then skip one
instead, each operation in its own write transaction, timed commit included. `--think-ms 0` (the
default) is the worst case: nobody pauses to read or write.

The store is the queue bench's (bench/queue/run.py `seed`): the oldest 40% of the prompts fully
labelled, candidates on every open prompt. After the deadline the database is checked: every
acknowledged submission stored, no prompt collected more than labels_per_item times per kind, no
labeler leased the same task twice, and every queue counter equal to its active leases plus results.

    python bench/e2e/run.py --seconds 60 --labelers 32
    python bench/e2e/run.py --seconds 5 --labelers 8 --prompts 10000 --backends sqlite
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import backend_url, peak_rss_mb, run_child, write_table  # noqa: E402
from bench.queue.run import DONE_SHARE, percentile, seed  # noqa: E402

KINDS = ("demonstration", "ranking")
SKIP_SHARE = 0.05  # leased tasks given back with a reason instead of submitted
TARGET = "no lost, no over-collection, no error"
SAMPLES = 5  # error messages kept per run, to say what went wrong


@dataclass
class Tally:
    """What one labeler thread did (merged after the run; threads never share one)."""

    next_task_ms: list[float] = field(default_factory=list)
    submit_ms: list[float] = field(default_factory=list)
    acknowledged: dict[str, list[int]] = field(default_factory=lambda: {k: [] for k in KINDS})
    skips: int = 0
    empty: int = 0  # next_task found nothing left of that kind
    conflicts: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


def _pause(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)


def _submit(s, actor, task) -> int:  # noqa: ANN001 - a Session, an Actor and a Task
    """Submit the leased task as a labeler would: a one-turn reply, or every candidate ranked."""
    from labeler.services.labeling import RankingSubmission, submit_demonstration, submit_ranking

    if task.kind == "demonstration":
        return submit_demonstration(s, actor, task.assignment_id,
                                    [{"role": "assistant", "content": "Here is the difference."}], seconds_spent=30)
    items = [{"candidate_id": c.candidate_id, "rank": r + 1, "likert": 5} for r, c in enumerate(task.candidates)]
    return submit_ranking(s, actor, task.assignment_id,
                          RankingSubmission.model_validate({"items": items, "seconds_spent": 40}))


def labeler(url: str, actor, deadline: float, think_s: float, rng: random.Random, tally: Tally) -> None:  # noqa: ANN001
    """One labeler's session: lease, (think,) submit or skip, (think,) until the deadline."""
    from labeler.errors import Conflict
    from labeler.services import session_scope
    from labeler.services.queue import next_task, skip_task

    turn = 0
    while time.perf_counter() < deadline:
        kind = KINDS[turn % 2]
        turn += 1
        try:
            t0 = time.perf_counter()
            with session_scope(url) as s:
                task = next_task(s, actor, "bench", kind)
            tally.next_task_ms.append((time.perf_counter() - t0) * 1000)
            if task is None:
                tally.empty += 1
                continue
            _pause(think_s)
            if rng.random() < SKIP_SHARE:
                with session_scope(url) as s:
                    skip_task(s, actor, task.assignment_id, "unclear prompt")
                tally.skips += 1
            else:
                t0 = time.perf_counter()
                with session_scope(url) as s:
                    result_id = _submit(s, actor, task)
                tally.submit_ms.append((time.perf_counter() - t0) * 1000)
                tally.acknowledged[kind].append(result_id)  # session_scope exited: committed
        except Conflict as e:
            tally.conflicts[str(e)[:120]] += 1
        except Exception as e:  # noqa: BLE001 - any other exception is what the bench is here to find
            tally.errors.append(f"{type(e).__name__}: {str(e)[:300]}")
        _pause(think_s)


def verify(url: str, acknowledged: dict[str, set[int]], labels_per_item: int, first_open: int) -> dict[str, int]:
    """Check the database after the run: lost submissions, over-collection, duplicate leases, counters."""
    from sqlalchemy import func, select

    from db.models import Assignment, Demonstration, Prompt, Ranking
    from labeler.services import session_scope

    models = {"demonstration": Demonstration, "ranking": Ranking}
    counted = ("submitted", "accepted")
    out = {"lost": 0, "over_collected": 0, "duplicate_leases": 0, "counter_mismatches": 0, "stored": 0}
    with session_scope(url, write=False) as s:
        for kind, model in models.items():
            stored = set(s.scalars(select(model.id).where(model.status == "submitted")))
            out["lost"] += len(acknowledged[kind] - stored)
            out["stored"] += len(stored)
            per_prompt = (select(model.prompt_id).where(model.origin == "human", model.status.in_(counted))
                          .group_by(model.prompt_id).having(func.count() > labels_per_item))
            out["over_collected"] += s.scalar(select(func.count()).select_from(per_prompt.subquery()))
            # The counter audit (tests/services/queue_data.py audit_counters), in SQL, on the prompts the run
            # worked on: the seeded history has completed leases but no stored results behind its counters.
            leases = (select(func.count()).where(Assignment.prompt_id == Prompt.id, Assignment.kind == kind,
                                                 Assignment.status == "active", Assignment.gold.is_(None))
                      .scalar_subquery())
            results = (select(func.count()).where(model.prompt_id == Prompt.id, model.origin == "human",
                                                  model.status.in_(counted)).scalar_subquery())
            counter = getattr(Prompt, f"{kind}_count")
            out["counter_mismatches"] += s.scalar(
                select(func.count()).select_from(Prompt)
                .where(Prompt.id >= first_open, counter != leases + results)
            )
        twice = (select(Assignment.prompt_id).group_by(Assignment.prompt_id, Assignment.kind, Assignment.user_id)
                 .having(func.count() > 1))
        out["duplicate_leases"] = s.scalar(select(func.count()).select_from(twice.subquery()))
    return out


def ms(values: list[float], q: float) -> float | None:
    """The q-quantile of `values` in ms, rounded; None when nothing was timed."""
    if not values:
        return None
    return round(statistics.median(values) if q == 0.5 else percentile(values, q), 2)


def one(backend: str, prompts: int, labelers: int, seconds: float, labels_per_item: int, think_ms: float) -> None:
    """Child process: seed a fresh database, run the labeler threads until the deadline, verify, print JSON."""
    from labeler.services import session_scope
    from labeler.services.admin import upgrade_database
    from labeler.services.auth import actor_for, get_user_or_raise

    with tempfile.TemporaryDirectory() as tmp, backend_url(backend, Path(tmp)) as url:
        upgrade_database(url)
        started = time.perf_counter()
        done = int(prompts * DONE_SHARE)
        seed(url, prompts, head=prompts - done, labelers=labelers, labels_per_item=labels_per_item)
        seed_s = time.perf_counter() - started
        with session_scope(url) as s:
            actors = [actor_for(get_user_or_raise(s, f"labeler{i}")) for i in range(labelers)]
        tallies = [Tally() for _ in actors]
        start = time.perf_counter()
        deadline = start + seconds
        threads = [threading.Thread(target=labeler, args=(url, actor, deadline, think_ms / 1000, random.Random(i),
                                                          tally), name=f"labeler{i}")
                   for i, (actor, tally) in enumerate(zip(actors, tallies, strict=True))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        acknowledged = {k: {i for t in tallies for i in t.acknowledged[k]} for k in KINDS}
        checks = verify(url, acknowledged, labels_per_item, done + 1)
    conflicts = sum((t.conflicts for t in tallies), Counter())
    errors = [e for t in tallies for e in t.errors]
    next_ms = [v for t in tallies for v in t.next_task_ms]
    submit_ms = [v for t in tallies for v in t.submit_ms]
    submissions = sum(len(v) for v in acknowledged.values())
    print(json.dumps({
        "backend": backend, "prompts": prompts, "labelers": labelers, "seconds": seconds,
        "elapsed_s": round(elapsed, 1),
        "submissions": submissions, "submissions_per_s": round(submissions / elapsed, 1),
        "skips": sum(t.skips for t in tallies), "empty": sum(t.empty for t in tallies),
        "conflicts": sum(conflicts.values()), "errors": len(errors), **checks,
        "next_task_p50_ms": ms(next_ms, 0.5), "next_task_p95_ms": ms(next_ms, 0.95),
        "next_task_max_ms": round(max(next_ms), 1) if next_ms else None,
        "submit_p50_ms": ms(submit_ms, 0.5), "submit_p95_ms": ms(submit_ms, 0.95),
        "submit_max_ms": round(max(submit_ms), 1) if submit_ms else None,
        "seed_s": round(seed_s, 1), "peak_rss_mb": round(peak_rss_mb(), 1),
        "conflict_samples": dict(conflicts.most_common(SAMPLES)),
        "error_samples": dict(Counter(errors).most_common(SAMPLES)),
    }))


def met(row: dict) -> bool:
    """The target: nothing lost, nothing collected or leased beyond its overlap, no error, counters right."""
    return not (row["lost"] or row["over_collected"] or row["duplicate_leases"] or row["counter_mismatches"]
                or row["errors"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--labelers", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--prompts", type=int, default=100_000, help="prompts stored")
    parser.add_argument("--labels-per-item", type=int, default=2)
    parser.add_argument("--think-ms", type=float, default=0, help="pause between actions (0 = worst case)")
    parser.add_argument("--sizes", help=argparse.SUPPRESS)  # the other benches' option: accepted, not used
    parser.add_argument("--one", nargs=6, help=argparse.SUPPRESS)
    args, _unknown = parser.parse_known_args()  # `make bench` passes the same args to every bench
    if args.one:
        backend, prompts, labelers, seconds, per_item, think = args.one
        one(backend, int(prompts), int(labelers), float(seconds), int(per_item), float(think))
        return
    if args.labels_per_item > args.labelers:
        raise SystemExit(f"--labels-per-item {args.labels_per_item} needs at least as many labelers")
    rows = []
    for backend in args.backends.split(","):
        row = run_child(Path(__file__), ["--one", backend, str(args.prompts), str(args.labelers), str(args.seconds),
                                         str(args.labels_per_item), str(args.think_ms)])
        row.update(target=TARGET, met="yes" if met(row) else "NO")
        rows.append(row)
        print(json.dumps(row), flush=True)
        if row["met"] == "NO":
            print(f"e2e {backend}: TARGET NOT MET ({TARGET}): lost {row['lost']}, over-collected "
                  f"{row['over_collected']}, duplicate leases {row['duplicate_leases']}, counter mismatches "
                  f"{row['counter_mismatches']}, errors {row['errors']} {row['error_samples']}", flush=True)
        if row["empty"]:
            print(f"e2e {backend}: the queue ran dry {row['empty']} times: store more --prompts", flush=True)
    cols = ["backend", "prompts", "labelers", "seconds", "submissions", "submissions_per_s", "skips", "conflicts",
            "errors", "lost", "over_collected", "duplicate_leases", "counter_mismatches", "next_task_p50_ms",
            "next_task_p95_ms", "submit_p50_ms", "submit_p95_ms", "target", "met", "seed_s", "peak_rss_mb"]
    print(write_table("e2e", rows, cols, f"{args.labelers} concurrent labelers for {args.seconds:g} s "
                      f"(think {args.think_ms:g} ms; one transaction per operation, commit included)"))


if __name__ == "__main__":
    main()
