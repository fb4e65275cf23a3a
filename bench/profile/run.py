"""Where the time goes: the import and the export on SQLite under cProfile, grouped by layer.

The two targets this machine misses (import >= 50,000 prompts/s, export >= 100,000 pairs/s) are read
against this table: how much is the database's own work, how much is ours (parsing, hashing, dedup,
building rows, validating, writing). Each function's own time goes to its layer; a builtin such as
`dict.get` goes to the layer of whoever called it. cProfile slows Python code more than C code, so
the shares lean towards the Python layers; the bench's plain timings are the figures to quote.

    python bench/profile/run.py --profile-prompts 100000 --profile-rankings 50000
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import json
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.common import OUT, run_child, write_table  # noqa: E402

# (layer, fragments of a function's file or builtin name); the first match wins.
LAYERS = [
    ("SQLite itself", ("sqlite3",)),
    ("SQLAlchemy", ("sqlalchemy/",)),
    ("validation (exports/checks, validate)", ("exports/checks.py", "exports/validate.py",
                                               "exports/message_checks.py", "exports/tokens.py")),
    ("writing (encode, checksum, fsync)", ("exports/writer.py", "fsync", "BufferedWriter")),
    ("pairs format (exports/)", ("exports/",)),
    ("rows from the query (services/export)", ("labeler/services/export.py",)),
    ("reading and parsing (readers, JSON)", ("labeler/readers/", "json/", "gzip", "codecs")),
    ("normalize, hash, split (hygiene)", ("labeler/hygiene.py", "labeler/bloom.py", "unicodedata")),
    ("dedup, caps, batching (services/ingest)", ("labeler/services/ingest",)),
    ("pydantic", ("pydantic",)),
]
OTHER = "other"


def load_bench(name: str):
    """A sibling bench's run.py as a module (they live in folders named like keywords)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / name / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def layer_of(func: tuple[str, int, str]) -> str | None:
    """The layer of a profiled function, or None for a builtin that belongs to its caller."""
    filename, _line, name = func
    where = name if filename == "~" else filename
    for layer, fragments in LAYERS:
        if any(f in where for f in fragments):
            return layer
    return None if filename == "~" else OTHER


def by_layer(profile: cProfile.Profile) -> dict[str, float]:
    """Seconds of own time per layer; builtins without a layer are charged to their callers' layers."""
    stats = pstats.Stats(profile).stats  # func -> (calls, primitive calls, own time, cumulative, callers)
    seconds: dict[str, float] = {}
    for func, (_cc, _nc, own, _cum, callers) in stats.items():
        layer = layer_of(func)
        if layer is not None:
            seconds[layer] = seconds.get(layer, 0.0) + own
            continue
        for caller, (_c, _n, caller_own, _cum2) in callers.items():  # own time spent on behalf of each caller
            target = layer_of(caller) or OTHER
            seconds[target] = seconds.get(target, 0.0) + caller_own
    return seconds


def profile_import(prompts: int) -> dict[str, float]:
    """Child: import a generated file of `prompts` into a fresh SQLite database under cProfile.

    All in this process, so that every layer shows: for a big file the real import parses in a
    second process, which a profile of this one would not see.
    """
    from labeler.readers import pipeline
    from labeler.services import session_scope
    from labeler.services.actors import OPERATOR
    from labeler.services.admin import upgrade_database
    from labeler.services.ingest import ImportOptions, import_file
    from labeler.services.projects import create_project

    file = OUT / "data" / f"prompts_{prompts}.jsonl"
    if not file.exists():
        file.parent.mkdir(parents=True, exist_ok=True)
        load_bench("import").generate(file, prompts)
    pipeline.PARALLEL_MIN_BYTES = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/profile.db"
        upgrade_database(url)
        with session_scope(url) as s:
            create_project(s, OPERATOR, "bench")
        profile = cProfile.Profile()
        started = time.perf_counter()
        with profile, session_scope(url) as s:
            import_file(s, OPERATOR, "bench", file, ImportOptions(format="prompts"))
        return {"seconds": time.perf_counter() - started, "units": prompts, "layers": by_layer(profile)}


def profile_export(rankings: int) -> dict[str, float]:
    """Child: export `rankings` stored K=4 rankings as validated pairs from SQLite under cProfile."""
    from labeler.services import session_scope
    from labeler.services.actors import OPERATOR
    from labeler.services.export import ExportRequest, export_dataset

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/profile.db"
        load_bench("export").populate(url, rankings)
        profile = cProfile.Profile()
        started = time.perf_counter()
        with profile, session_scope(url) as s:
            summary = export_dataset(s, OPERATOR, ExportRequest(format="pairs", project="bench",
                                                                out_dir=Path(tmp) / "out"))
        return {"seconds": time.perf_counter() - started, "units": sum(summary.counts.values()),
                "layers": by_layer(profile)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile-prompts", type=int, default=100_000, help="prompts imported under the profiler")
    parser.add_argument("--profile-rankings", type=int, default=50_000, help="rankings exported (6 pairs each)")
    parser.add_argument("--child", nargs=2, metavar=("WHAT", "SIZE"), help=argparse.SUPPRESS)
    args, _unknown = parser.parse_known_args()  # `make bench` passes the same args to every bench
    if args.child:
        what, size = args.child
        result = (profile_import if what == "import" else profile_export)(int(size))
        print(json.dumps(result))
        return
    rows = []
    for what, size, unit in (("import", args.profile_prompts, "prompt"), ("export", args.profile_rankings, "pair")):
        result = run_child(Path(__file__), ["--child", what, str(size)])
        total = sum(result["layers"].values())
        for layer, seconds in sorted(result["layers"].items(), key=lambda kv: -kv[1]):
            if seconds / total < 0.005:
                continue
            rows.append({"run": f"{what} ({result['units']:,} {unit}s, SQLite)", "layer": layer,
                         "seconds": round(seconds, 2), "share": f"{seconds / total:.0%}",
                         "µs_per_unit": round(seconds / result["units"] * 1e6, 2)})
        print(json.dumps({"run": what, "profiled_s": round(result["seconds"], 2)}), flush=True)
    print(write_table("profile", rows, ["run", "layer", "seconds", "share", "µs_per_unit"],
                      "Where the time goes (cProfile, SQLite; own time per layer)"))


if __name__ == "__main__":
    main()
