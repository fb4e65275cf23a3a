"""Browser tests: the real app in a `streamlit run` subprocess, driven by Debian's headless Chromium.

Each test module gets its own server on a free port with its own SQLite database, set up through the
services before the server starts. Without Playwright or Chromium these tests skip with the reason,
except under CI=true, where that is a failure. Nothing sleeps to wait: the server is polled on
/_stcore/health, pages are awaited on the app's script state.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from labeler.app.server import config_flags
from labeler.services import get_engine
from labeler.serving import app_entry_point

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM = os.environ.get("LABELER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SERVER_START_TIMEOUT = 30.0


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true but browser tests cannot run: {reason}")
    pytest.skip(f"browser tests skipped: {reason}")


@pytest.fixture(scope="session")
def sync_playwright_api():
    """Playwright's sync API, or skip (fail under CI) when it is not installed."""
    try:
        from playwright import sync_api
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright)")
    return sync_api


@pytest.fixture(scope="session")
def chromium(sync_playwright_api) -> Iterator[object]:
    """One headless Chromium (Debian's binary; Playwright's own download is not used) per test process."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set LABELER_CHROMIUM)")
    with sync_playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    last_error: OSError | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                if r.read().decode().strip() == "ok":
                    return
        except OSError as e:  # not listening yet: poll again until the deadline
            last_error = e
        time.sleep(0.05)  # polling interval of a condition wait, not a wait in itself
    raise RuntimeError(f"streamlit not healthy after {SERVER_START_TIMEOUT}s ({last_error}):\n{log.read_text()}")


@pytest.fixture(scope="module")
def app_database(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[str]:
    """A migrated SQLite database for this module's server; LABELER_DATABASE_URL points at it meanwhile."""
    path = tmp_path_factory.mktemp("e2e") / "labeler.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LABELER_DATABASE_URL", url)
        yield url
    get_engine(url).dispose()


@pytest.fixture(scope="module")
def app_server(app_database: str, chromium, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`streamlit run labeler/app/main.py` on a free port against `app_database`; yields its base URL."""
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    env = {**os.environ, "LABELER_DATABASE_URL": app_database}
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    command = [sys.executable, "-m", "streamlit", "run", str(app_entry_point()), *config_flags(),
               "--server.address", "127.0.0.1", "--server.port", str(port)]
    with log.open("w") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def new_page(chromium, app_server: str) -> Iterator[Callable[[], object]]:
    """Open pages in fresh browser contexts (separate sessions, like two labelers); closed afterwards."""
    contexts = []

    def open_page():
        context = chromium.new_context(base_url=app_server)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()
