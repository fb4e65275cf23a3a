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
# What `labeler stats` on SQLite must not load either (it may load the services package, which is light).
ORM_AND_CLIENTS = ("sqlalchemy", "openai", "pandas", "alembic", "streamlit", "pyarrow", "httpx", "pydantic")


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


def _stats_in_a_fresh_process(cwd: Path, *args: str) -> tuple[dict, list[str]]:
    """`labeler [args] stats --project demo --json` in its own interpreter, and the heavy modules it loaded."""
    out = _python(
        "import sys\nfrom labeler.cli import main\n"
        f"sys.argv = ['labeler', *{list(args)!r}, 'stats', '--project', 'demo', '--json']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY', [m for m in {ORM_AND_CLIENTS!r} if m in sys.modules])", cwd=cwd)
    body, heavy = out.rsplit("HEAVY ", 1)
    return json.loads(body), eval(heavy)  # noqa: S307 - our own repr of a list of names


def test_stats_on_sqlite_answers_without_sqlalchemy_and_as_the_services_do(sqlite_url, tmp_path, monkeypatch):
    """The default database answers `labeler stats` through sqlite3 alone, with the services' exact counts."""
    from typer.testing import CliRunner

    from labeler.cli import app
    from labeler.services import session_scope
    from labeler.services.actors import OPERATOR
    from labeler.services.stats import project_stats

    assert CliRunner().invoke(app, ["demo", "--no-model"]).exit_code == 0
    with session_scope(write=False) as s:
        expected = json.loads(json.dumps(project_stats(s, OPERATOR, "demo")))
    assert expected["rankings"]["total"] > 0 and expected["candidates"]["total"] > 0

    quick, heavy = _stats_in_a_fresh_process(tmp_path)
    assert quick == expected
    assert heavy == []
    # another account goes through the services (they check its membership)
    assert CliRunner().invoke(app, ["user", "add", "ann", "--role", "admin", "--password-stdin"],
                              input="ann-password-1\n").exit_code == 0
    checked, heavy = _stats_in_a_fresh_process(tmp_path, "--as", "ann")
    assert checked == expected
    assert "sqlalchemy" in heavy


def test_stats_on_an_outdated_database_still_asks_for_an_upgrade(tmp_path):
    """The quick path answers only a current schema: anything else gets the usual message."""
    import sqlite3

    db = tmp_path / "labeler.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES ('0001')")
    out = subprocess.run([sys.executable, "-c", "from labeler.cli import main; main()", "stats", "--project", "demo"],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path,
                         env={**os.environ, "LABELER_DATABASE_URL": f"sqlite:///{db}"})
    assert out.returncode == 1
    assert "labeler db upgrade" in out.stderr
