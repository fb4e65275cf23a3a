"""A team's deployment: `labeler serve --workers 2` on PostgreSQL behind nginx (the README's recipe).

Two labelers in Chromium, each stuck to a different app process, rank through the proxy; one process
is killed mid-work (the supervisor starts it again) and its labeler logs back in through the other.
Checked against the rows: nothing lost, nothing collected twice. Skips without nginx, PostgreSQL or
Chromium, and fails for their lack under CI=true.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.engine import create_store_engine
from db.migrate import upgrade
from db.models import Assignment, Prompt, Ranking
from labeler.services import get_engine, session_scope
from labeler.serving import STICKY_COOKIE, nginx_site
from tests.app.data import make_task_project
from tests.conftest import postgres_or_skip
from tests.e2e.conftest import ROOT, _unavailable
from tests.e2e.ui import expect, go_to, pick, settled, success_text
from tests.factories import PASSWORD, make_user

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
START_TIMEOUT = 60.0


@dataclass
class Team:
    url: str  # the proxy
    ports: list[int]
    log: Path
    pids: dict[int, int] = field(default_factory=dict)  # port -> worker pid (latest start)

    def read_pids(self) -> dict[int, int]:
        for port, pid in re.findall(r"worker on http://127\.0\.0\.1:(\d+) started \(pid (\d+)\)", self.log.read_text()):
            self.pids[int(port)] = int(pid)
        return self.pids


def _wait(condition, what: str, timeout: float = START_TIMEOUT) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)  # polling interval of a condition wait
    raise AssertionError(f"timed out waiting for {what}")


def _get(url: str, cookie: str | None = None) -> tuple[str, dict[str, str]] | None:
    request = urllib.request.Request(url, headers={"Cookie": f"{STICKY_COOKIE}={cookie}"} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=2) as r:
            return r.read().decode(), dict(r.headers)
    except OSError:
        return None


def _healthy(url: str) -> bool:
    answer = _get(f"{url}/_stcore/health")
    return answer is not None and answer[0].strip() == "ok"


def _two_free_ports() -> int:
    while True:
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            base = a.getsockname()[1]
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", base + 1))
                except OSError:
                    continue
        return base


@pytest.fixture(scope="module")
def team_database(chromium) -> Iterator[str]:
    """A fresh database on a PostgreSQL server of its own; LABELER_DATABASE_URL points at it."""
    if not Path(NGINX).exists():
        _unavailable("no nginx (apt-get install nginx)")
    server = postgres_or_skip()
    url = server.url
    upgrade(create_store_engine(url))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LABELER_DATABASE_URL", url)
        yield url
    get_engine(url).dispose()
    server.stop()


@pytest.fixture(scope="module")
def team(team_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    """Two app processes (`labeler serve --workers 2`) and nginx in front, with the generated site."""
    tmp = tmp_path_factory.mktemp("team")
    for name in ("lena", "omar"):
        make_user(name)
    make_task_project(tmp, "floor", ("lena", "omar"), n_prompts=12, k=2, task_kinds=["ranking"], labels_per_item=1)
    base, proxy_port = _two_free_ports(), _two_free_ports()
    env = {**os.environ, "LABELER_DATABASE_URL": team_database}
    env.pop("OPENAI_API_KEY", None)
    log = tmp / "serve.log"
    with log.open("w") as out:
        command = [sys.executable, "-c", "from labeler.cli import main; main()", "serve", "--workers", "2",
                   "--port", str(base)]
        serve = subprocess.Popen(command,
                                 cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    conf = tmp / "nginx.conf"
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp_paths = "".join(f"    {k}_temp_path {tmp / k};\n" for k in kinds)
    site = nginx_site([base, base + 1], listen=f"127.0.0.1:{proxy_port}")
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers that can write the temporary folders
    conf.write_text(f"{user}pid {tmp / 'nginx.pid'};\nerror_log {tmp / 'error.log'};\n"
                    f"events {{}}\nhttp {{\n    access_log off;\n{temp_paths}{site}}}\n")
    proxy = subprocess.Popen([NGINX, "-p", str(tmp), "-c", str(conf), "-g", "daemon off;"],
                             stdout=subprocess.DEVNULL, stderr=(tmp / "nginx.out").open("w"))
    team = Team(url=f"http://127.0.0.1:{proxy_port}", ports=[base, base + 1], log=log)
    expect.set_options(timeout=30_000)  # fresh processes, three servers and a browser on 2 cores: slow first runs
    try:
        for port in team.ports:
            _wait(lambda p=port: _healthy(f"http://127.0.0.1:{p}") or serve.poll() is not None, f"worker {port}")
            assert serve.poll() is None, log.read_text()
        _wait(lambda: _get(f"{team.url}/healthz") is not None, "nginx")
        team.read_pids()
        yield team
    finally:
        expect.set_options(timeout=5_000)  # Playwright's default, for the other modules
        serve.send_signal(signal.SIGTERM)  # the supervisor stops its workers
        proxy.terminate()
        for proc in (serve, proxy):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def sticky_keys(team: Team) -> dict[str, str]:
    """A cookie value that nginx maps to each worker (upstream address -> key)."""
    keys: dict[str, str] = {}
    for i in range(200):
        answer = _get(f"{team.url}/_stcore/health", cookie=f"k{i}")
        if answer:
            keys.setdefault(answer[1]["X-Labeler-Upstream"], f"k{i}")
        if len(keys) == len(team.ports):
            return keys
    raise AssertionError(f"nginx sent 200 keys to {sorted(keys)} only")


def ensure_logged_in(page, username: str):  # noqa: ANN001, ANN201
    """Log in, unless the app already knows the browser (a login cookie, once the app has them)."""
    page.goto("/")
    signed_in = page.get_by_test_id("stSidebar").get_by_text(f"Logged in as {username}")
    form = page.get_by_label("Username")
    expect(signed_in.or_(form)).to_be_visible(timeout=60_000)  # a restarted process's first run is slow
    if form.is_visible():
        form.fill(username)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
    expect(signed_in).to_be_visible()
    return go_to(settled(page), "Rank")


def rank_one(page) -> str:  # noqa: ANN001
    """Rank the task shown (A first) and submit it; return the prompt's text."""
    text = page.get_by_test_id("stChatMessage").first.inner_text()
    pick(page, "Rank of A", "1")
    pick(page, "Rank of B", "2")
    page.get_by_role("button", name="Submit ranking").click()
    success_text(page, "Ranking #")
    settled(page)
    return text


def test_two_labelers_through_nginx_survive_a_restarted_process(team, chromium):
    keys = sticky_keys(team)
    pages, cookie = {}, {}
    for (upstream, key), name in zip(sorted(keys.items()), ("lena", "omar"), strict=True):
        cookie[name] = key
        context = chromium.new_context(base_url=team.url)
        context.set_default_timeout(30_000)
        context.add_cookies([{"name": STICKY_COOKIE, "value": key, "url": team.url}])
        pages[name] = (ensure_logged_in(context.new_page(), name), upstream)
    done: dict[str, list[str]] = {"lena": [], "omar": []}
    for _ in range(2):
        for name, (page, _upstream) in pages.items():
            done[name].append(rank_one(page))

    lena, lena_upstream = pages["lena"]
    port = int(lena_upstream.rsplit(":", 1)[1])
    old_pid = team.read_pids()[port]
    os.kill(old_pid, signal.SIGKILL)  # a crash; `labeler serve` starts it again after a pause
    answer = _get(f"{team.url}/_stcore/health", cookie=cookie["lena"])
    assert answer is not None and answer[1]["X-Labeler-Upstream"] != lena_upstream  # the other process answers
    ensure_logged_in(lena, "lena")  # through the other process
    done["lena"].append(rank_one(lena))
    done["omar"].append(rank_one(pages["omar"][0]))
    _wait(lambda: team.read_pids()[port] != old_pid and _healthy(f"http://127.0.0.1:{port}"), "the restarted worker")
    done["lena"].append(rank_one(ensure_logged_in(lena, "lena")))  # and back on the restarted one

    for page, _upstream in pages.values():
        page.context.close()
    submitted = done["lena"] + done["omar"]
    assert len(set(submitted)) == len(submitted) == 7
    with session_scope(write=False) as s:
        rankings = s.scalars(select(Ranking).where(Ranking.status == "submitted")).all()
        assert len(rankings) == 7 and all(r.origin == "human" for r in rankings)  # nothing lost
        assert len({r.prompt_id for r in rankings}) == 7  # no prompt collected twice (labels per item 1)
        counts = s.scalars(select(Prompt.ranking_count)).all()  # results collected and leases held
        assert max(counts) == 1 and sum(counts) >= 7
        leases = s.execute(select(Assignment.prompt_id, func.count()).where(Assignment.status != "released")
                           .group_by(Assignment.prompt_id)).all()
        assert all(n == 1 for _pid, n in leases)
        texts = {s.get(Prompt, r.prompt_id).messages[-1]["content"] for r in rankings}
    assert all(any(t in shown for t in texts) for shown in submitted)  # what they saw is what is stored
