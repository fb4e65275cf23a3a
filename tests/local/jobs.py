"""The `labeler` CLI as the local-loop tests drive it: JSON out, and a training job followed to its end."""

from __future__ import annotations

import json
import time

from typer.testing import CliRunner

from labeler.cli import app

runner = CliRunner()


def cli_json(*args: str) -> dict:
    """`labeler ARGS --json`, which must succeed; its parsed output."""
    result = runner.invoke(app, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def wait_for_job(job: int, timeout: float = 600) -> dict:
    """`labeler train status JOB` until the run ends (succeeded, failed or cancelled)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = cli_json("train", "status", str(job))
        if data["status"] in ("succeeded", "failed", "cancelled"):
            return data
        time.sleep(1)
    raise AssertionError(f"job {job} still running after {timeout} s")
