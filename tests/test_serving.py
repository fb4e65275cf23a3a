"""`labeler serve --nginx`: the proxy site for N workers is what nginx itself accepts (browser run: tests/e2e)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labeler.cli import app
from tests.conftest import IN_CI

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def site(*args: str) -> str:
    result = CliRunner().invoke(app, ["serve", *args, "--nginx"])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_site_lists_every_worker_with_sticky_sessions_and_websockets():
    text = site("--workers", "3", "--port", "9000", "--listen", "8080")
    assert [line.split()[1] for line in text.splitlines() if line.strip().startswith("server 127")] == [
        "127.0.0.1:9000", "127.0.0.1:9001", "127.0.0.1:9002"]
    assert "hash $labeler_sticky consistent;" in text and "labeler_node=$labeler_sticky" in text
    assert "proxy_set_header Upgrade $http_upgrade;" in text and "listen 8080;" in text


def test_nginx_accepts_the_site(tmp_path: Path):
    if not Path(NGINX).exists():
        if IN_CI:
            pytest.fail("CI=true but nginx is not installed")
        pytest.skip("nginx is not installed (apt-get install nginx)")
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"{user}pid {tmp_path / 'pid'};\nerror_log {tmp_path / 'error.log'};\nevents {{}}\n"
                    f"http {{\n{site('--workers', '2', '--listen', '127.0.0.1:18080')}}}\n")
    checked = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
