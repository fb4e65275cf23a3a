"""The local backend: generate, augment and Suggest with a `local:<path>` model, no server and no key.

The model is a tiny random Llama saved as a folder (tests/local/tiny.py); the store is the real
SQLite file or PostgreSQL server of the `db_url` fixture.
"""

from __future__ import annotations

import json
import sys

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from db.models import Candidate, Event
from labeler.cli import app
from labeler.errors import Invalid
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.engine import ChatRequest, LocalBackend, run_coroutine
from labeler.services.engine.local import load
from labeler.services.generate import GenerationRequest, run_generation
from labeler.services.queue import next_task
from labeler.services.suggest import suggest_reply, suggestion_model_for
from tests.factories import make_project, make_user
from tests.local.tiny import require
from tests.services.queue_data import add_prompts

runner = CliRunner()


@pytest.fixture(autouse=True)
def no_server(monkeypatch):
    """No key and no server: a local model needs neither."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def _candidates() -> dict[int, list[Candidate]]:
    with session_scope(write=False) as s:
        out: dict[int, list[Candidate]] = {}
        for c in s.scalars(select(Candidate).order_by(Candidate.prompt_id, Candidate.id)):
            out.setdefault(c.prompt_id, []).append(c)
        return out


def test_generate_for_two_prompts_through_the_service(db_url, tiny_model):
    make_project("p")
    ids = add_prompts("p", 2, candidates=0)
    progress: list[tuple[int, int]] = []
    summary = run_generation(OPERATOR, GenerationRequest(project="p", k=3, models=(tiny_model,), temperature=0.9,
                                                         max_tokens=8), progress=lambda d, t: progress.append((d, t)))
    assert (summary.prompts_planned, summary.prompts_done, summary.candidates, summary.failed) == (2, 2, 6, 0)
    assert summary.aborted is None and summary.requests == 2
    assert summary.prompt_tokens > 0 and 0 < summary.completion_tokens <= 2 * 3 * 8
    assert progress[-1] == (2, 2)
    stored = _candidates()
    assert sorted(stored) == ids and all(len(cs) == 3 for cs in stored.values())
    for cs in stored.values():
        for c in cs:
            assert c.origin == "generated" and c.model == tiny_model and c.text.strip()
            assert c.params == {"temperature": 0.9, "top_p": 1.0, "max_tokens": 8, "n": 3}
            assert c.finish_reason in ("stop", "length") and c.usage["completion_tokens"] > 0
    with session_scope(write=False) as s:
        event = s.scalars(select(Event).where(Event.action == "generation.run")).one()
        assert event.details["candidates"] == 6 and event.details["models"] == [tiny_model]


def test_generate_for_two_prompts_through_the_cli(db_url, tiny_model):
    make_project("p")
    add_prompts("p", 2, candidates=0)
    result = runner.invoke(app, ["generate", "--project", "p", "--k", "2", "--model", tiny_model,
                                 "--max-tokens", "6", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["prompts_done"], data["candidates"], data["failed"]) == (2, 4, 0)
    assert data["completion_tokens"] > 0 and data["prompt_tokens"] > 0
    assert {c.model for cs in _candidates().values() for c in cs} == {tiny_model}


def test_a_local_suggestion_model_drafts_a_reply(sqlite_url, tiny_model):
    ann = make_user("ann")
    make_project("p", ("ann",), suggestion_model=tiny_model, suggestion_max_tokens=10)
    add_prompts("p", 1, candidates=0)
    with session_scope() as s:
        aid = next_task(s, ann, "p", "demonstration").assignment_id
    with session_scope(write=False) as s:
        assert suggestion_model_for(s, ann, "p") == tiny_model
        suggestion = suggest_reply(s, ann, aid)
    assert suggestion["text"] and suggestion["model"] == tiny_model
    assert 0 < suggestion["usage"]["completion_tokens"] <= 10


def test_augment_with_a_local_model(sqlite_url, tiny_model):
    make_project("p")
    add_prompts("p", 2, candidates=0)
    result = runner.invoke(app, ["augment", "--project", "p", "--model", tiny_model, "--json"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["prompts_done"] == 2 and data["failed"] == 0 and data["aborted"] is None


def test_greedy_decoding_repeats_its_one_reply_n_times(tiny_model):
    request = ChatRequest(model=tiny_model, messages=[{"role": "user", "content": "why"}], n=3, temperature=0.0,
                          max_tokens=5)
    answer = run_coroutine(LocalBackend().complete(request))
    assert len(answer.choices) == 3 and len({c.text for c in answer.choices}) == 1
    assert answer.usage["total_tokens"] == answer.usage["prompt_tokens"] + answer.usage["completion_tokens"]


def test_running_out_of_memory_is_a_clear_error_and_the_model_stays_usable(sqlite_url, tiny_model, monkeypatch):
    """A real allocation failure of torch's CPU allocator during generation (a request far too large)."""
    torch = require("torch")  # skips on a laptop without the extra, fails under CI=true
    make_project("p")
    add_prompts("p", 2, candidates=0)
    loaded = load(tiny_model)
    real_generate = loaded.model.generate

    def too_big(**kwargs):  # noqa: ANN003, ANN202
        torch.empty(2**50, dtype=torch.float32)  # 4 PiB: the allocator refuses it
        return real_generate(**kwargs)

    monkeypatch.setattr(loaded.model, "generate", too_big)
    summary = run_generation(OPERATOR, GenerationRequest(project="p", k=1, models=(tiny_model,), max_tokens=4))
    assert summary.candidates == 0 and summary.failed == 2
    assert all("out of memory while generating" in f.reason for f in summary.failures), summary.failures
    monkeypatch.setattr(loaded.model, "generate", real_generate)
    again = run_generation(OPERATOR, GenerationRequest(project="p", k=1, models=(tiny_model,), max_tokens=4))
    assert again.candidates == 2 and again.failed == 0


def test_a_model_is_loaded_once_per_process(tiny_model):
    assert load(tiny_model) is load(tiny_model)


def test_a_missing_model_is_a_clear_error_before_any_request(sqlite_url, tmp_path):
    make_project("p")
    add_prompts("p", 1, candidates=0)
    missing = f"local:{tmp_path / 'nowhere'}"
    with pytest.raises(Invalid, match="does not exist"):
        run_generation(OPERATOR, GenerationRequest(project="p", models=(missing,)))
    (tmp_path / "empty").mkdir()
    with pytest.raises(Invalid, match="no config.json"):
        run_generation(OPERATOR, GenerationRequest(project="p", models=(f"local:{tmp_path / 'empty'}",)))
    result = runner.invoke(app, ["generate", "--project", "p", "--model", missing])
    assert result.exit_code == 1 and result.output.startswith("error: model `local:")
    assert "Traceback" not in result.output and _candidates() == {}


def test_an_unreadable_gguf_file_stops_the_run_with_its_reason(sqlite_url, tmp_path, monkeypatch):
    monkeypatch.setenv("LABELER_DATA_DIR", str(tmp_path / "data"))
    make_project("p")
    add_prompts("p", 3, candidates=0)
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a gguf file at all")
    summary = run_generation(OPERATOR, GenerationRequest(project="p", k=1, models=(f"local:{broken}",)))
    assert summary.candidates == 0 and summary.aborted is not None
    assert "cannot load" in summary.aborted and str(broken) in summary.aborted
    assert not any((tmp_path / "data").rglob("*"))  # no half-written cache of its weights


def test_a_missing_extra_says_how_to_install_it(sqlite_url, tmp_path, monkeypatch):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    monkeypatch.setitem(sys.modules, "gguf", None)  # what Python does for a package that cannot be imported
    make_project("p")
    add_prompts("p", 1, candidates=0)
    with pytest.raises(Invalid, match=r"missing: gguf.*pip install 'labeler\[local\]'"):
        run_generation(OPERATOR, GenerationRequest(project="p", models=(f"local:{model}",)))


def test_a_remote_model_beside_a_local_one_still_needs_its_key(sqlite_url, tiny_model):
    make_project("p")
    add_prompts("p", 1, candidates=0)
    with pytest.raises(Invalid, match="no model API key"):
        run_generation(OPERATOR, GenerationRequest(project="p", models=(tiny_model, "gpt-4o-mini")))
