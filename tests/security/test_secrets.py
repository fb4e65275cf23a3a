"""Secrets (API keys, passwords) never reach the database file, logs, error messages or exports.

One sweep: accounts with passwords and failed logins, a generation run against a server that answers
with the key echoed in its error (as real providers do), a ranking, an export; then every byte written
(the SQLite file and its WAL, the export folder, the captured log, the error texts) is searched.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from labeler.errors import LabelerError
from labeler.services import get_engine, session_scope
from labeler.services.actors import OPERATOR
from labeler.services.auth import authenticate
from labeler.services.export import ExportRequest, export_dataset
from labeler.services.generate import GenerationRequest, run_generation
from labeler.services.labeling import ItemSubmission, RankingSubmission, submit_ranking
from labeler.services.queue import next_task
from tests.factories import make_project, make_user
from tests.fake_openai import FakeOpenAI
from tests.faults.conftest import sqlite_path
from tests.services.queue_data import add_prompts

KEY = "sk-h7secret-" + "9f8e7d6c5b4a" * 3
PASSWORD = "pw-h7secret-correct-horse"
WRONG = "pw-h7secret-wrong-guess"


def test_secrets_never_reach_the_store_logs_errors_or_exports(sqlite_url: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    with FakeOpenAI(api_key=KEY) as api:
        monkeypatch.setenv("OPENAI_BASE_URL", api.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        alice = make_user("alice", password=PASSWORD)
        make_project("p", members=("alice",), k_min=2, k_max=2)
        with session_scope() as s:
            assert not authenticate(s, "alice", WRONG).ok
            errors.append(authenticate(s, "alice", WRONG).message)
            assert authenticate(s, "alice", PASSWORD).ok
        add_prompts("p", 3, candidates=0)
        echo = json.dumps({"error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error",
                                     "code": "invalid_api_key"}}).encode()
        api.fail(401, path="/v1/chat/completions", times=100, body=echo)
        try:
            failed = run_generation(OPERATOR, GenerationRequest(project="p", k=2, models=("m",), concurrency=1))
        except LabelerError as e:
            errors.append(str(e))
        else:
            assert failed.failures or failed.aborted, failed
            errors.append(repr(failed))
        assert "401" in errors[-1] or "API key" in errors[-1], errors[-1]  # the failure is told, the key is not
        api._faults.clear()  # the server recovers
        summary = run_generation(OPERATOR, GenerationRequest(project="p", k=2, models=("m",), concurrency=1))
        errors.append(repr(summary))
    with session_scope() as s:
        task = next_task(s, alice, "p", "ranking")
        submit_ranking(s, alice, task.assignment_id, RankingSubmission(
            items=[ItemSubmission(candidate_id=c.candidate_id, rank=i + 1) for i, c in enumerate(task.candidates)]))
    out = tmp_path / "export"
    with session_scope() as s:
        export_dataset(s, OPERATOR, ExportRequest(format="pairs", project="p", out_dir=out))
    get_engine(sqlite_url).dispose()

    db = sqlite_path(sqlite_url)
    written = {str(p): p.read_bytes() for p in [db, *db.parent.glob(db.name + "-*"), *out.rglob("*")] if p.is_file()}
    written["log"] = caplog.text.encode()
    written["errors"] = "\n".join(errors).encode()
    for secret in (KEY, PASSWORD, WRONG):
        leaks = [where for where, data in written.items() if secret.encode() in data]
        assert not leaks, f"`{secret[:12]}...` found in {leaks}"
