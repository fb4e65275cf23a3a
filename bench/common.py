"""Shared bench plumbing: fresh databases on each backend, peak memory, result tables."""

from __future__ import annotations

import json
import platform
import re
import resource
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.pgserver import start_postgres

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"


def peak_rss_mb() -> float:
    """Peak resident memory of this process since it started, in MiB.

    Linux's VmHWM, the high-water mark of this program's own memory. Not getrusage's ru_maxrss: it
    keeps the high-water mark of the memory replaced at exec, which for a child started by a big
    parent (subprocess uses vfork) is the parent's, so every child reported the parent's size.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # without /proc (KiB, as on Linux)


class TreePeak:
    """Peak resident memory of this process and its children together (an import's parsing worker),
    sampled every 20 ms in a thread: VmHWM only knows one process."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreePeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_mb = max(self.peak_mb, sum(_rss_kib(pid) for pid in ["self", *_children()]) / 1024)


def _children() -> list[str]:
    pids: list[str] = []
    for task in Path("/proc/self/task").glob("*/children"):
        try:
            pids += task.read_text().split()
        except OSError:
            pass
    return pids


def _rss_kib(pid: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:  # the child has just exited
        pass
    return 0


@contextmanager
def backend_url(backend: str, folder: Path):
    """A fresh database URL on `backend` (sqlite: a file in `folder`; postgres: a durable server)."""
    if backend == "sqlite":
        path = folder / "bench.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        yield f"sqlite:///{path}"
        return
    server = start_postgres(durable=True)  # fsync on: figures a team can trust
    try:
        yield server.url
    finally:
        server.stop()


def run_child(script: Path, args: list[str]) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter (clean peak memory) and parse its JSON line."""
    out = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"{script.name} {' '.join(args)} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    """One line describing where the figures were taken."""
    return ", ".join(f"{k} {v}" for k, v in machine_details().items())


def machine_details() -> dict[str, str]:
    """CPU, cores, memory, Python and database versions of this machine."""
    import os
    import sqlite3

    details = {"cpu": _cpu_model(), "cores": str(os.cpu_count()), "memory": _memory(),
               "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
               "python loop": f"{python_loop_ms():.0f} ms"}
    try:
        from tests.pgserver import find_pg_bin

        out = subprocess.run([str(find_pg_bin() / "postgres"), "--version"], capture_output=True, text=True)
        version = re.search(r"\(PostgreSQL\) (\S+)", out.stdout)  # "postgres (PostgreSQL) 15.18 (Debian ...)"
        details["postgresql"] = f"{version.group(1) if version else out.stdout.strip()} (fsync on)"
    except Exception:  # noqa: BLE001 - a machine without PostgreSQL still gets its SQLite figures
        details["postgresql"] = "not installed"
    return details


def python_loop_ms() -> float:
    """A fixed pure-Python workload, best of 3: compares the speed of machines (and of one shared
    machine on different days), which the CPU's name alone does not."""
    import time

    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        sum(i * i for i in range(2_000_000))
        best = min(best, time.perf_counter() - started)
    return best * 1000


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory() -> str:
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        return f"{kib / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        return "unknown"


def write_table(name: str, rows: list[dict[str, Any]], columns: list[str], title: str) -> str:
    """Write bench/out/<name>.json and .md; return the markdown."""
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))
    lines = [f"## {title}", "", "| " + " | ".join(columns) + " |",
             "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    md = "\n".join(lines) + "\n"
    (OUT / f"{name}.md").write_text(md)
    return md
