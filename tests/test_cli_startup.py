"""The first hour: the CLI starts fast and `labeler serve` finds and starts the app however installed.

`labeler --help` must import no SQLAlchemy, openai, pandas, Alembic or Streamlit (each command
imports what it needs when it runs); the time itself is measured by the review checklist and the
README, not asserted here.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("sqlalchemy", "openai", "pandas", "alembic", "streamlit", "labeler.services", "pyarrow", "httpx")


def _python(code: str, cwd: Path | None = None, env: dict | None = None) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=cwd,
                         env={**os.environ, **(env or {})})
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_importing_the_cli_loads_no_heavy_module():
    loaded = json.loads(_python(
        "import json, sys, labeler.cli\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"))
    assert loaded == []


def test_help_lists_every_command_without_heavy_imports():
    out = _python(
        "import sys\nfrom labeler.cli import main\nsys.argv = ['labeler', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules])")
    for command in ("import", "export", "serve", "demo", "stats", "generate", "augment", "finetune", "quality"):
        assert f" {command} " in out
    assert "HEAVY []" in out


def test_the_app_entry_point_comes_from_the_installed_package(tmp_path):
    """A copy of the packages elsewhere (as a wheel installs them): serve's script is the copy's own."""
    site = tmp_path / "site"
    for package in ("labeler", "db", "exports"):
        shutil.copytree(ROOT / package, site / package, ignore=shutil.ignore_patterns("__pycache__"))
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    out = _python("from labeler.serving import app_entry_point; print(app_entry_point())", cwd=elsewhere,
                  env={"PYTHONPATH": str(site)})
    assert Path(out.strip()) == site / "labeler" / "app" / "main.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_labeler_serve_starts_a_healthy_app(tmp_path):
    port = _free_port()
    env = {**os.environ, "LABELER_DATABASE_URL": f"sqlite:///{tmp_path / 'labeler.db'}",
           "LABELER_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen([sys.executable, "-c", "from labeler.cli import main; main()", "serve", "--port",
                             str(port)], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    assert r.read() == b"ok"
                    break
            except OSError:
                assert time.monotonic() < deadline, "labeler serve did not become healthy in 60 s"
                time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
