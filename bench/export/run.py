"""Export benchmark: N stored rankings of K=4 exported as `pairs` through the real export service.

Target (DESIGN.md): >= 100,000 pairs/s, and within 3x of the floor: the same rows read with a bare
query and written with orjson to the same disk. Peak memory is reported for both, at two sizes,
to show it stays flat. Each measurement runs in a fresh interpreter.

    python bench/export/run.py --export-sizes 10000,100000 --backends sqlite,postgres
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

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import backend_url, peak_rss_mb, run_child, write_table  # noqa: E402

TARGET = 100_000
K = 4
FILLER = "The quick brown fox jumps over the lazy dog. "


BLOCK = 100_000  # rankings inserted row by row; larger stores are copies of this block made in the database


def populate(url: str, n: int, seed: int = 3) -> None:
    """A project with n prompts, each with K candidates and one submitted human ranking (no ties).

    The first BLOCK are built in Python and inserted; the rest are copies of them made by
    INSERT ... SELECT with shifted ids (and candidate texts marked with the copy's number, so no two
    examples are the same): 1M rankings in about a minute instead of several.
    """
    build(url, min(n, BLOCK), seed)
    copy = 1
    while copy * BLOCK < n:
        replicate(url, copy, min(BLOCK, n - copy * BLOCK))
        copy += 1
    if url.startswith("postgresql"):
        from labeler.services import get_engine

        with get_engine(url).connect() as conn:  # what autovacuum would have done after a bulk load
            conn.exec_driver_sql("ANALYZE")
            conn.commit()


def replicate(url: str, copy: int, count: int) -> None:
    """Copy the first `count` prompts (with their candidates, rankings and items) as copy number `copy`."""
    from sqlalchemy import func, insert, literal, select

    from db.models import Candidate, Prompt, Ranking, RankingItem
    from labeler.services import session_scope

    shift = copy * BLOCK

    def copy_rows(model, where, changed: dict) -> None:  # noqa: ANN001 - a mapped class and a clause
        table = model.__table__
        columns = [col for col in table.columns if not (col.primary_key and col.name not in changed)]
        exprs = [changed[col.name].label(col.name) if col.name in changed else col for col in columns]
        s.execute(insert(table).from_select([col.name for col in columns], select(*exprs).where(where)))

    p, c, r, i = (m.__table__.c for m in (Prompt, Candidate, Ranking, RankingItem))
    with session_scope(url) as s:
        copy_rows(Prompt, p.id <= count, {"id": p.id + shift,  # a new hash of the same width
                                                 "content_hash": func.substr(p.content_hash, 1, 26)
                                                 + literal(f"copy{copy:02d}")})
        copy_rows(Candidate, c.prompt_id <= count, {"id": c.id + shift * K, "prompt_id": c.prompt_id + shift,
                                                    "text": c.text + literal(f" (copy {copy})")})
        copy_rows(Ranking, r.id <= count, {"id": r.id + shift, "prompt_id": r.prompt_id + shift})
        copy_rows(RankingItem, i.ranking_id <= count, {"ranking_id": i.ranking_id + shift,
                                                      "candidate_id": i.candidate_id + shift * K})


def build(url: str, n: int, seed: int) -> None:
    """The first n prompts, candidates, rankings and items, made in Python and inserted in chunks."""
    from sqlalchemy import insert

    from db.base import utcnow
    from db.models import Candidate, Prompt, Ranking, RankingItem
    from labeler.hygiene import assign_split, content_hash
    from labeler.services import session_scope
    from labeler.services.actors import OPERATOR
    from labeler.services.admin import upgrade_database
    from labeler.services.auth import create_user
    from labeler.services.projects import create_project

    rng = random.Random(seed)
    upgrade_database(url)
    with session_scope(url) as s:
        create_project(s, OPERATOR, "bench")
        labeler_id = create_user(s, OPERATOR, "ann", "labeler", "bench password").id
    now = utcnow()
    for start in range(0, n, 5000):
        ids = range(start + 1, min(n, start + 5000) + 1)
        with session_scope(url) as s:
            s.execute(insert(Prompt.__table__), [
                {"id": i, "project_id": 1, "messages": [{"role": "user", "content": f"Question {i}: {FILLER * 3}"}],
                 "split": assign_split(str(i)), "content_hash": content_hash(str(i)), "created_at": now}
                for i in ids])
            s.execute(insert(Candidate.__table__), [
                {"id": (i - 1) * K + j + 1, "prompt_id": i, "text": f"Answer {j} to {i}. {FILLER * 9}",
                 "text_hash": content_hash(f"{i}.{j}"), "origin": "generated", "model": "m", "created_at": now}
                for i in ids for j in range(K)])
            s.execute(insert(Ranking.__table__), [
                {"id": i, "prompt_id": i, "labeler_id": labeler_id, "status": "submitted", "origin": "human",
                 "submitted_at": now, "created_at": now, "updated_at": now, "display_order": []} for i in ids])
            rows = []
            for i in ids:
                ranks = list(range(1, K + 1))
                rng.shuffle(ranks)
                rows += [{"ranking_id": i, "candidate_id": (i - 1) * K + j + 1, "rank": ranks[j],
                          "likert": None, "position": j} for j in range(K)]
            s.execute(insert(RankingItem.__table__), rows)


def measure_export(url: str, out: Path) -> None:
    """Child: the real export service; prints seconds, pairs and peak memory."""
    from labeler.services import session_scope
    from labeler.services.actors import OPERATOR
    from labeler.services.export import ExportRequest, export_dataset

    start = time.perf_counter()
    with session_scope(url) as s:
        summary = export_dataset(s, OPERATOR, ExportRequest(format="pairs", project="bench", out_dir=out))
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "pairs": sum(summary.counts.values()), "peak_rss_mb": peak_rss_mb()}))


def measure_floor(url: str, out: Path) -> None:
    """Child: a bare query of the same rows, pairs built inline, written with orjson to one file."""
    import orjson
    from sqlalchemy import text

    from labeler.services import get_engine

    # Each store's faster form of the project filter (as the export service picks it).
    in_project = ("r.prompt_id IN (SELECT id FROM prompts WHERE project_id = 1)" if url.startswith("sqlite")
                  else "p.project_id = 1")
    sql = text(
        "SELECT r.id, p.messages, c.text, ri.rank FROM rankings r JOIN prompts p ON p.id = r.prompt_id "
        "JOIN ranking_items ri ON ri.ranking_id = r.id JOIN candidates c ON c.id = ri.candidate_id "
        f"WHERE {in_project} AND r.status IN ('submitted', 'accepted') ORDER BY r.prompt_id, r.id"
    )
    start, pairs = time.perf_counter(), 0
    dumps, loads = orjson.dumps, orjson.loads
    with get_engine(url).connect() as conn, (out / "floor.jsonl").open("wb") as fh:
        result = conn.execution_options(yield_per=8000).execute(sql)
        group: list = []
        for row in result:
            if group and group[0][0] != row[0]:
                pairs += _write_pairs(fh, group, dumps, loads)
                group = []
            group.append(row)
        pairs += _write_pairs(fh, group, dumps, loads)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "pairs": pairs, "peak_rss_mb": peak_rss_mb()}))


def _write_pairs(fh, group, dumps, loads) -> int:  # noqa: ANN001
    if not group:
        return 0
    messages = group[0][1] if isinstance(group[0][1], list) else loads(group[0][1])
    items = sorted(group, key=lambda r: r[3])
    n = 0
    for a in range(len(items)):
        for b in range(a + 1, len(items)):
            fh.write(dumps({"prompt": messages, "chosen": [{"role": "assistant", "content": items[a][2]}],
                            "rejected": [{"role": "assistant", "content": items[b][2]}],
                            "group_id": f"r{group[0][0]}", "margin": float(items[b][3] - items[a][3])}) + b"\n")
            n += 1
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Its own size option: `make bench` passes --sizes (prompts stored) to every bench, and an export's
    # size is the rankings it writes (6 pairs each).
    parser.add_argument("--export-sizes", default="10000,100000", help="rankings per run (K=4: 6 pairs each)")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "URL", "OUT"), help=argparse.SUPPRESS)
    args, _unknown = parser.parse_known_args()
    if args.child:
        kind, url, out = args.child
        (measure_export if kind == "export" else measure_floor)(url, Path(out))
        return
    rows = []
    for backend in args.backends.split(","):
        for size in map(int, args.export_sizes.split(",")):
            with tempfile.TemporaryDirectory() as tmp, backend_url(backend, Path(tmp)) as url:
                populate(url, size)
                os.sync()  # the store's gigabytes on disk first: their writeback would slow the export's writes
                real = run_child(Path(__file__), ["--child", "export", url, str(Path(tmp) / "real")])
                (Path(tmp) / "floor").mkdir()
                floor = run_child(Path(__file__), ["--child", "floor", url, str(Path(tmp) / "floor")])
            per_s = real["pairs"] / real["seconds"]
            ratio = real["seconds"] / floor["seconds"]
            row = {"backend": backend, "rankings": size, "pairs": real["pairs"], "seconds": round(real["seconds"], 2),
                   "pairs_per_s": round(per_s), "floor_s": round(floor["seconds"], 2), "x_floor": round(ratio, 2),
                   "target": f">= {TARGET:,}/s, <= 3x floor",
                   "met": "yes" if per_s >= TARGET and ratio <= 3 else "NO",
                   "peak_rss_mb": round(real["peak_rss_mb"], 1), "floor_rss_mb": round(floor["peak_rss_mb"], 1)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    cols = ["backend", "rankings", "pairs", "seconds", "pairs_per_s", "floor_s", "x_floor", "target", "met",
            "peak_rss_mb", "floor_rss_mb"]
    print(write_table("export", rows, cols, "Export (pairs from stored K=4 rankings, validated)"))


if __name__ == "__main__":
    main()
