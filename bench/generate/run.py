"""Generation benchmark: N prompts x 4 candidates through the real generation service, at several concurrencies.

The model is the test suite's OpenAI-compatible server (tests/fake_openai) in its own process, answering
every request after a fixed latency (50 ms by default), so the figures show what the tool adds to the
server's time: planning, the SDK, HTTP, and storing each prompt's candidates (group commits). Next to each
run is the **floor**: the same requests sent by a bare `AsyncOpenAI` loop with the same concurrency and
nothing stored. `overhead_ms` is the time each request slot spends per request beyond the server's latency
(wall x concurrency / requests - latency); `x_floor` compares the run with the floor.

    python bench/generate/run.py --generate-prompts 400 --backends sqlite,postgres --concurrency 1,8,32
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.common import backend_url, peak_rss_mb, run_child, write_table  # noqa: E402

K = 4
FILLER = "Please explain it step by step, with an example. "
SERVER = """
import sys
from tests.fake_openai import FakeOpenAI
api = FakeOpenAI(latency=float(sys.argv[1])).start()
api.state["reply_words"] = 60
print(api.base_url, api.api_key, flush=True)
sys.stdin.read()  # serve until the parent closes our stdin
api.stop()
"""


@contextmanager
def fake_server(latency: float):
    """The fake OpenAI server in a child process; yields (base_url, api_key)."""
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(latency)], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        base_url, api_key = proc.stdout.readline().split()
        yield base_url, api_key
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


def populate(url: str, projects: list[str], n: int) -> None:
    """Each project with n one-turn prompts and no candidates."""
    from sqlalchemy import insert

    from db.base import utcnow
    from db.models import Prompt
    from labeler.hygiene import content_hash
    from labeler.services import session_scope
    from labeler.services.actors import OPERATOR
    from labeler.services.admin import upgrade_database
    from labeler.services.projects import create_project

    upgrade_database(url)
    now = utcnow()
    for name in projects:
        with session_scope(url) as s:
            pid = create_project(s, OPERATOR, name).id
            s.execute(insert(Prompt.__table__), [
                {"project_id": pid, "messages": [{"role": "user", "content": f"Question {i}: {FILLER}"}],
                 "split": "train", "content_hash": content_hash(f"{name}.{i}"), "created_at": now}
                for i in range(n)])


def measure_run(url: str, project: str, base_url: str, api_key: str, concurrency: int) -> None:
    """Child: the real generation service; prints seconds, requests, candidates, peak memory."""
    import os

    os.environ.update(OPENAI_BASE_URL=base_url, OPENAI_API_KEY=api_key)
    from labeler.services.actors import OPERATOR
    from labeler.services.generate import GenerationRequest, run_generation

    start = time.perf_counter()
    summary = run_generation(OPERATOR, GenerationRequest(project=project, k=K, models=("bench-model",),
                                                         concurrency=concurrency, max_retries=0), url=url)
    seconds = time.perf_counter() - start
    assert not summary.failures and not summary.aborted, summary.failures[:3] or summary.aborted
    print(json.dumps({"seconds": seconds, "requests": summary.requests, "prompts": summary.prompts_done,
                      "candidates": summary.candidates, "peak_rss_mb": peak_rss_mb()}))


def measure_floor(n: int, base_url: str, api_key: str, concurrency: int) -> None:
    """Child: the same n requests (n=K each) from a bare AsyncOpenAI loop; nothing stored."""
    import asyncio

    import openai

    async def main() -> None:
        sem = asyncio.Semaphore(concurrency)
        async with openai.AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0) as client:
            async def one(i: int) -> None:
                async with sem:
                    await client.chat.completions.create(
                        model="bench-model", n=K, max_tokens=512, temperature=1.0, seed=0,
                        messages=[{"role": "user", "content": f"Question {i}: {FILLER}"}])
            await asyncio.gather(*(one(i) for i in range(n)))

    start = time.perf_counter()
    asyncio.run(main())
    print(json.dumps({"seconds": time.perf_counter() - start, "requests": n, "peak_rss_mb": peak_rss_mb()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Its own size option: `make bench` passes --sizes (prompts stored) to every bench, and generation
    # against a 50 ms server costs real time per prompt, so it is sized separately.
    parser.add_argument("--generate-prompts", default="400", help="prompts per run (K=4 candidates each)")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--concurrency", default="1,8,32", help="requests in flight, one run each")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="the fake server's time per answer")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args, _unknown = parser.parse_known_args()
    if args.child:
        kind, *rest = args.child
        if kind == "run":
            url, project, base_url, api_key, c = rest
            measure_run(url, project, base_url, api_key, int(c))
        else:
            n, base_url, api_key, c = rest
            measure_floor(int(n), base_url, api_key, int(c))
        return
    latency = args.latency_ms / 1000
    levels = [int(c) for c in args.concurrency.split(",")]
    rows = []
    with fake_server(latency) as (base_url, api_key):
        for backend in args.backends.split(","):
            for size in map(int, args.generate_prompts.split(",")):
                with tempfile.TemporaryDirectory() as tmp, backend_url(backend, Path(tmp)) as url:
                    populate(url, [f"bench-c{c}" for c in levels], size)
                    for c in levels:
                        real = run_child(Path(__file__), ["--child", "run", url, f"bench-c{c}", base_url, api_key,
                                                          str(c)])
                        floor = run_child(Path(__file__), ["--child", "floor", str(size), base_url, api_key, str(c)])
                        rows.append(_row(backend, size, c, args.latency_ms, real, floor))
                        print(json.dumps(rows[-1]), flush=True)
    cols = ["backend", "prompts", "concurrency", "latency_ms", "seconds", "prompts_per_s", "candidates_per_s",
            "ideal_s", "overhead_ms", "floor_s", "floor_overhead_ms", "x_floor", "peak_rss_mb"]
    print(write_table("generate", rows, cols,
                      f"Generate ({K} candidates per prompt, one request with n={K} each, fake server in its own "
                      "process)"))


def _row(backend: str, size: int, c: int, latency_ms: float, real: dict, floor: dict) -> dict:
    requests = real["requests"]
    ideal = requests * latency_ms / 1000 / c  # the server's share: its latency, c requests at a time

    def overhead_ms(seconds: float) -> float:
        return round(seconds * c / requests * 1000 - latency_ms, 2)

    return {"backend": backend, "prompts": real["prompts"], "concurrency": c, "latency_ms": latency_ms,
            "seconds": round(real["seconds"], 2), "prompts_per_s": round(real["prompts"] / real["seconds"], 1),
            "candidates_per_s": round(real["candidates"] / real["seconds"], 1), "ideal_s": round(ideal, 2),
            "overhead_ms": overhead_ms(real["seconds"]), "floor_s": round(floor["seconds"], 2),
            "floor_overhead_ms": overhead_ms(floor["seconds"]),
            "x_floor": round(real["seconds"] / floor["seconds"], 2), "peak_rss_mb": round(real["peak_rss_mb"], 1)}


if __name__ == "__main__":
    main()
