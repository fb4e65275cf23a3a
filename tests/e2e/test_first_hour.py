"""The first hour of a new user, driven by the README's commands and nothing else.

From a copy of this checkout in a temporary folder (what a fresh clone holds: the tracked files and
any new ones git does not ignore): `make run` in the background builds its own `.venv`, creates its
own database and the demo, prints the passwords and starts the app. Then, in Chromium, `alice` ranks
one task and `admin` exports pairs from the Export page, and the exported files pass the README's
`labeler validate`. It breaks when `make run` or `labeler serve` breaks. It is the slowest test (the
install comes from the package registry); under CI=true nothing here may skip.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import IN_CI, ROOT, _free_port
from tests.e2e.ui import current, expect, go_to, pick, settled, success_text

INSTALL_AND_START_TIMEOUT = 900.0
PASSWORD_LINE = re.compile(r"^\s+(\w+) \((\w+)\): password (\S+)$", re.MULTILINE)

pytestmark = pytest.mark.slow


def _fresh_clone(dest: Path) -> Path:
    """The files a fresh clone of this working tree would have (tracked, plus new files not ignored)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


@pytest.fixture(scope="module")
def make_run(tmp_path_factory):
    """`make run` from a fresh clone, in the background; yields (base URL, its output so far, clone)."""
    if shutil.which("make") is None:
        (pytest.fail if IN_CI else pytest.skip)("`make` is not installed")
    clone = _fresh_clone(tmp_path_factory.mktemp("clone"))
    port = _free_port()
    log = clone.parent / "make-run.log"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LABELER_", "OPENAI_", "VIRTUAL_ENV", "PYTHONPATH"))}
    with log.open("w") as out:
        proc = subprocess.Popen(["make", "run", f"PORT={port}"], cwd=clone, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + INSTALL_AND_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"`make run` exited with {proc.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                    if r.read() == b"ok":
                        break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"no healthy app after {INSTALL_AND_START_TIMEOUT:.0f}s:\n{log.read_text()}")
                time.sleep(0.5)  # polling interval of the health check
        yield url, log.read_text(), clone
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # make, labeler serve and streamlit
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _log_in(browser, url: str, username: str, password: str):
    page = browser.new_context(base_url=url).new_page()
    page.set_default_timeout(30_000)
    page.goto("/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("stSidebar").get_by_text(f"Logged in as {username}")).to_be_visible()
    return settled(page)


def _rank_one_task(page) -> None:
    """Rank the task shown: A best, then B, C... in order (the demo's prompts have 2 to 5 replies)."""
    go_to(page, "Rank")
    groups = current(page).get_by_role("radiogroup", name=re.compile(r"^Rank of [A-I]$"))
    expect(groups.first).to_be_visible()
    labels = [g.get_attribute("aria-label")[-1] for g in groups.all()]
    assert len(labels) >= 2, labels
    for rank, label in enumerate(labels, start=1):
        pick(page, f"Rank of {label}", str(rank))
    page.get_by_role("button", name="Submit ranking").click()
    assert re.match(r"Ranking #\d+ submitted", success_text(page, "Ranking #"))


@pytest.fixture
def patient_expect():
    """A fresh install's first page loads are slow on a busy 2-core machine: wait up to 30 s, then restore."""
    expect.set_options(timeout=30_000)
    yield
    expect.set_options(timeout=5_000)


def test_make_run_then_rank_export_and_validate(make_run, chromium, patient_expect):
    """One Chromium per test process (tests/e2e/conftest.py): Playwright's sync API allows one."""
    browser = chromium
    url, output, clone = make_run
    passwords = {user: password for user, _role, password in PASSWORD_LINE.findall(output)}
    assert {"admin", "alice", "bob"} <= passwords.keys(), output

    _rank_one_task(_log_in(browser, url, "alice", passwords["alice"]))

    admin = _log_in(browser, url, "admin", passwords["admin"])
    more = admin.get_by_test_id("stSidebarNav").get_by_text(re.compile(r"^View \d+ more$"))
    if more.count():  # a long navigation folds its last pages away
        more.click()
    go_to(admin, "Export")
    admin.get_by_label("Format").click()
    admin.get_by_role("option", name=re.compile(r"^pairs ")).click()
    folder_box = admin.get_by_label("Folder (inside the export folder)")
    expect(folder_box).to_have_value(re.compile(r"^demo-pairs-"))  # the name follows the format chosen
    folder = folder_box.input_value()
    admin.get_by_role("button", name="Export").click()
    assert "Export #1 written" in success_text(admin, "Export #")

    written = clone / "labeler-data" / "exports" / folder
    assert (written / "manifest.json").is_file()
    assert not any(p.name.startswith("demo-") for p in (clone / "exports").iterdir())  # never in the source tree
    for data in sorted(written.glob("*.jsonl")):
        check = subprocess.run([str(clone / ".venv" / "bin" / "labeler"), "validate", str(data), "--format", "pairs"],
                               cwd=clone, capture_output=True, text=True, timeout=120)
        assert check.returncode == 0, check.stdout + check.stderr
