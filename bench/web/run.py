"""Web-tier capacity: k headless Chromium sessions ranking against the real app, one process or two behind nginx.

What a labeler's browser does: log in, open Rank, and loop until the deadline: rank A 1st and B
2nd with the keyboard (the client-side control: no server round trip), Ctrl+Enter, and wait for the
next task's prompt to be visible at the top of the page. Reported per k and setup: submissions,
submit -> next-task-visible p50/p95, and the app processes' CPU seconds per submission (from /proc,
so the browsers' own CPU is not counted), hence how many labelers one core carries at one
submission per 30 s. The store is PostgreSQL (the team setup), durable, with K = 2 candidates per
prompt and one label per prompt.

On a 2-core machine Chromium and the app share the cores, so latencies at high k measure the
machine as much as the app; CPU per submission is the figure that carries over to a bigger machine.

    python bench/web/run.py --sessions 1,4,16,32 --seconds 45 --setups one,two
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import ROOT, backend_url, run_child, write_table  # noqa: E402
from bench.queue.run import percentile  # noqa: E402
from bench.ui.run import NEXT_JS, ROOT_JS  # noqa: E402

CHROMIUM = os.environ.get("LABELER_CHROMIUM", "/usr/bin/chromium")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PASSWORD = "bench password 1"
SUBMIT_EVERY_S = 30  # a labeler's pace for the capacity figure (InstructGPT's rankings took minutes)
TICKS = os.sysconf("SC_CLK_TCK")
ERROR = '[data-testid="stElementContainer"]:not([data-stale="true"]) [data-testid="stAlertContentError"]'


def seed(url: str, sessions: int, prompts: int) -> None:
    """Users, a ranking project and its prompts with two candidates each (through the import service)."""
    from labeler.services import session_scope
    from labeler.services.actors import OPERATOR
    from labeler.services.admin import upgrade_database
    from labeler.services.auth import create_user
    from labeler.services.ingest import ImportOptions, import_file
    from labeler.services.projects import add_member, create_project

    upgrade_database(url)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trees.jsonl"
        with path.open("w") as fh:
            for i in range(prompts):
                replies = [{"message_id": f"m{i}.{j}", "role": "assistant", "text": f"Reply {j} to question {i}.",
                            "replies": []} for j in range(2)]
                prompt = {"message_id": f"m{i}", "role": "prompter", "text": f"Question {i}: how?", "replies": replies}
                fh.write(json.dumps({"message_tree_id": f"m{i}", "prompt": prompt}) + "\n")
        with session_scope(url) as s:
            create_project(s, OPERATOR, "web", "", {"task_kinds": ["ranking"], "k_min": 2, "k_max": 2})
            for n in range(sessions):
                create_user(s, OPERATOR, f"l{n}", "labeler", PASSWORD)
                add_member(s, OPERATOR, "web", f"l{n}")
            import_file(s, OPERATOR, "web", path, ImportOptions(format="oasst-tree"))


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read().decode()
    except OSError:
        return None


def _wait(condition, what: str, timeout: float = 90) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


def start_app(url: str, setup: str, tmp: Path) -> tuple[str, list[subprocess.Popen], list[int]]:
    """`labeler serve` (one worker, or two with nginx in front); returns the URL, processes and app pids."""
    from labeler.serving import nginx_site

    workers = 1 if setup == "one" else 2
    base = 18600 + (os.getpid() % 500) * 4
    env = {**os.environ, "LABELER_DATABASE_URL": url, "COLUMNS": "200"}  # log lines unwrapped
    log = tmp / "serve.log"
    command = [sys.executable, "-c", "from labeler.cli import main; main()", "serve", "--workers", str(workers),
               "--port", str(base)]
    procs = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)]
    for port in range(base, base + workers):
        _wait(lambda p=port: (_get(f"http://127.0.0.1:{p}/_stcore/health") or "").strip() == "ok", f"app on {port}")
    if workers == 1:  # `labeler serve` execs the app: its pid is the app's
        return f"http://127.0.0.1:{base}", procs, [procs[0].pid]
    pids = [int(pid) for _port, pid in re.findall(r":(\d+) started \(pid (\d+)\)", log.read_text())]
    proxy_port = base + 3
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    conf = tmp / "nginx.conf"
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf.write_text(f"{user}pid {tmp / 'nginx.pid'};\nerror_log {tmp / 'error.log'};\nevents {{}}\nhttp {{\n"
                    f"    access_log off;\n" + "".join(f"    {k}_temp_path {tmp / k};\n" for k in kinds)
                    + nginx_site([base, base + 1], listen=f"127.0.0.1:{proxy_port}") + "}\n")
    procs.append(subprocess.Popen([NGINX, "-p", str(tmp), "-c", str(conf), "-g", "daemon off;"]))
    _wait(lambda: _get(f"http://127.0.0.1:{proxy_port}/healthz") is not None, "nginx")
    return f"http://127.0.0.1:{proxy_port}", procs, pids


def stop(procs: list[subprocess.Popen], pids: list[int]) -> None:
    """SIGTERM (the supervisor stops its workers), then SIGKILL whatever is left after 20 s."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def cpu_of(pids: list[int]) -> float:
    """User + system CPU seconds of these processes (and their threads) so far."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


async def labeler(browser, base: str, name: str, run: dict, latencies: list[float], errors: list[str]) -> int:  # noqa: ANN001
    """One browser session: log in, wait for the others, then rank and submit until the deadline."""
    from playwright.async_api import expect

    context = await browser.new_context(base_url=base)
    context.set_default_timeout(120_000)
    page = await context.new_page()
    app = page.get_by_test_id("stApp")
    failed = page.locator(ERROR)
    done = 0
    try:
        async with run["logins"]:  # a few at a time: 32 first page loads at once time out on 2 cores
            await page.goto("/", timeout=300_000)
            await page.get_by_label("Username").fill(name)
            await page.get_by_label("Password", exact=True).fill(PASSWORD)
            await page.get_by_role("button", name="Log in").click()
            await page.get_by_test_id("stSidebarNav").get_by_text("Rank", exact=True).click()
            await page.locator(".rank-root").wait_for(timeout=120_000)
        run["ready"] += 1
        await run["go"].wait()
        while time.monotonic() < run["deadline"]:
            old = await page.evaluate(f"() => ({ROOT_JS})().dataset.aid")
            await page.locator(".rank-root").focus()
            for key in ("1", "ArrowDown", "2"):  # A first, B second: no server round trip
                await page.keyboard.press(key)
            started = time.perf_counter()
            await page.keyboard.press("Control+Enter")
            await page.wait_for_function(f"old => ({NEXT_JS})(old) || !!document.querySelector({ERROR!r})",
                                         arg=old, timeout=120_000, polling="raf")
            if await failed.count():
                errors.append(f"{name}: {(await failed.first.inner_text())[:200]}")
                await page.reload()  # as a person would: start again from a fresh page
                await page.locator(".rank-root").wait_for(timeout=120_000)
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            done += 1
            await expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=120_000)
    except Exception as e:  # noqa: BLE001 - counted and reported, the other sessions go on
        errors.append(f"{name}: {type(e).__name__}: {str(e).splitlines()[0][:200]}")
        run["ready"] += 1
    finally:
        await context.close()
    return done


async def drive(base: str, sessions: int, seconds: float, pids: list[int]) -> dict:
    from playwright.async_api import async_playwright

    latencies: list[float] = []
    errors: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox",
                                          "--disable-gpu", "--disable-dev-shm-usage"])
        run = {"ready": 0, "go": asyncio.Event(), "deadline": 0.0, "logins": asyncio.Semaphore(4)}
        tasks = [asyncio.create_task(labeler(browser, base, f"l{n}", run, latencies, errors)) for n in range(sessions)]
        while run["ready"] < sessions:  # every session logged in with a task on screen: the clock starts
            await asyncio.sleep(0.1)
        cpu = cpu_of(pids)
        run["deadline"] = time.monotonic() + seconds
        run["go"].set()
        counts = await asyncio.gather(*tasks)
        cpu = cpu_of(pids) - cpu
        await browser.close()
    return {"submissions": sum(counts), "latencies": latencies, "errors": errors, "app_cpu_s": cpu}


def one(setup: str, sessions: int, seconds: float) -> None:
    """Child: a fresh PostgreSQL, the app in `setup`, k sessions for `seconds`; one JSON line."""
    with tempfile.TemporaryDirectory() as tmp, backend_url("postgres", Path(tmp)) as url:
        seed(url, sessions, prompts=max(500, sessions * 60))
        base, procs, pids = start_app(url, setup, Path(tmp))
        try:
            result = asyncio.run(drive(base, sessions, seconds, pids))
        finally:
            stop(procs, pids)
        stored = _stored(url)
    lat = result["latencies"]
    n = result["submissions"]
    per = result["app_cpu_s"] / n if n else None
    print(json.dumps({
        "setup": "1 process" if setup == "one" else "2 processes + nginx", "sessions": sessions,
        "seconds": seconds, "submissions": n, "stored": stored, "errors": len(result["errors"]),
        "first_error": result["errors"][0] if result["errors"] else "",
        "next_visible_p50_ms": round(statistics.median(lat)) if lat else None,
        "next_visible_p95_ms": round(percentile(lat, 0.95)) if lat else None,
        "app_cpu_s": round(result["app_cpu_s"], 1), "app_cpu_ms_per_submission": round(per * 1000) if per else None,
        "labelers_per_core": round(SUBMIT_EVERY_S / per) if per else None,
    }))


def _stored(url: str) -> int:
    from sqlalchemy import func, select

    from db.models import Ranking
    from labeler.services import session_scope

    with session_scope(url, write=False) as s:
        return s.scalar(select(func.count()).select_from(Ranking).where(Ranking.status == "submitted"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default="1,4,16,32", help="browser sessions at once")
    parser.add_argument("--seconds", type=float, default=45.0, help="how long each run lasts")
    parser.add_argument("--setups", default="one,two", help="one: one app process; two: two behind nginx")
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args, _unknown = parser.parse_known_args()
    if args.one:
        one(args.one[0], int(args.one[1]), float(args.one[2]))
        return
    rows = []
    for setup in args.setups.split(","):
        for k in map(int, args.sessions.split(",")):
            row = run_child(Path(__file__), ["--one", setup, str(k), str(args.seconds)])
            rows.append(row)
            print(json.dumps(row), flush=True)
    cols = ["setup", "sessions", "seconds", "submissions", "stored", "errors", "next_visible_p50_ms",
            "next_visible_p95_ms", "app_cpu_s", "app_cpu_ms_per_submission", "labelers_per_core", "first_error"]
    print(write_table("web", rows, cols, f"Web tier: k Chromium sessions ranking (labelers per core at one "
                                         f"submission per {SUBMIT_EVERY_S} s)"))


if __name__ == "__main__":
    main()
