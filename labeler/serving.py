"""Serving the web app: one Streamlit process, or N of them for a team behind a reverse proxy.

Design constraints: Streamlit keeps each browser session, its websocket, uploads and media in the
process that opened it, so N processes need a proxy with sticky sessions; everything that must
outlive a process (leases, drafts, submissions, accounts) is in the database they share, so a
labeler whose process stops logs in again through another and finds their work. The workers share
one cookie secret, so Streamlit's XSRF cookie stays valid when a session moves to another process.
A worker that exits is started again (after a pause, so a crash loop does not spin).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from labeler.app.server import config_flags
from labeler.errors import LabelerError

RESTART_PAUSE_S = 2.0
STICKY_COOKIE = "labeler_node"


def app_entry_point() -> Path:
    """The Streamlit script inside the installed package, wherever and however it is installed."""
    script = Path(str(files("labeler.app").joinpath("main.py")))
    if not script.is_file():
        raise LabelerError(f"the app's entry point is missing from the installed package: {script}")
    return script


def app_command(host: str, port: int) -> list[str]:
    """The `streamlit run` command line of one app process."""
    return [
        sys.executable, "-m", "streamlit", "run", str(app_entry_point()), *config_flags(), "--server.address", host,
        "--server.port", str(port),
    ]


def worker_ports(port: int, workers: int) -> list[int]:
    """The ports of N workers: `port`, `port + 1`, ..."""
    return [port + i for i in range(workers)]


def serve_workers(host: str, port: int, workers: int, say: Callable[[str], None]) -> int:
    """Run N app processes until SIGINT/SIGTERM; restart any that exits meanwhile. Returns the exit status."""
    env = {**os.environ}
    env.setdefault("STREAMLIT_SERVER_COOKIE_SECRET", secrets.token_urlsafe(32))  # one secret for all workers
    procs: dict[int, subprocess.Popen] = {}
    stopping = False

    def start(p: int) -> None:
        procs[p] = subprocess.Popen(app_command(host, p), env=env)
        say(f"worker on http://{host}:{p} started (pid {procs[p].pid})")

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for p in worker_ports(port, workers):
            start(p)
        while not stopping:
            for p, proc in list(procs.items()):
                if proc.poll() is not None and not stopping:
                    say(f"worker on port {p} (pid {proc.pid}) exited with {proc.returncode}; starting it again")
                    time.sleep(RESTART_PAUSE_S)
                    start(p)
            time.sleep(0.2)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _stop_all(list(procs.values()))
    return 0


def _stop_all(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + 10
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def nginx_site(ports: list[int], host: str = "127.0.0.1", listen: str = "80", server_name: str = "_") -> str:
    """An nginx site (http context) for N workers: sticky sessions, websocket upgrade, failover.

    Stickiness: open-source nginx has no `sticky` directive, so a cookie of our own carries a random
    key that `hash ... consistent` maps to one worker; a labeler behind the same NAT as the whole team
    still gets their own worker (`ip_hash` would send them all to one). When a worker is down, nginx
    passes the request to the next one (`proxy_next_upstream`), where the labeler logs in again.
    """
    servers = "\n".join(f"    server {host}:{p} max_fails=1 fail_timeout=5s;" for p in ports)
    return f"""\
# labeler: {len(ports)} app processes behind nginx (written by `labeler serve --nginx`)
map $http_upgrade $labeler_connection {{
    default upgrade;
    ''      close;
}}
map $cookie_{STICKY_COOKIE} $labeler_sticky {{
    ""      $request_id;
    default $cookie_{STICKY_COOKIE};
}}
upstream labeler_app {{
    hash $labeler_sticky consistent;
{servers}
}}
server {{
    listen {listen};
    server_name {server_name};
    client_max_body_size 200m;  # Streamlit's upload limit (the Import page)

    location / {{
        proxy_pass http://labeler_app;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $labeler_connection;
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_read_timeout 1h;  # a websocket per open tab
        proxy_buffering off;
        proxy_next_upstream error timeout http_502 http_503;
        add_header Set-Cookie "{STICKY_COOKIE}=$labeler_sticky; Path=/; HttpOnly; SameSite=Lax" always;
        add_header X-Labeler-Upstream $upstream_addr always;
    }}
    location = /healthz {{  # the proxy's own health check: some worker answers
        proxy_pass http://labeler_app/_stcore/health;
        proxy_next_upstream error timeout http_502 http_503;
    }}
}}
"""
