"""`labeler score` and the reward model's lines in `labeler quality`, invoked for real on the hand-made set.

The model is the fixed-score stub (tests/services/scoring_data.py) put in place of the loader, so the
command runs its real path (checks, sessions, progress, summary) without torch.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labeler.cli import app
from labeler.services import scoring
from labeler.services.scoring import model_key
from tests.services.scoring_data import build, stub_scorer

runner = CliRunner()


def invoke(*args: str, code: int = 0):
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


@pytest.fixture
def stub_model(monkeypatch, tmp_path) -> Path:
    folder = tmp_path / "rm-model"
    folder.mkdir()
    monkeypatch.setattr(scoring, "check_reward_model", lambda path: Path(model_key(path)))
    monkeypatch.setattr(scoring, "load_scorer", lambda path, **kw: stub_scorer)
    return folder


def test_score_then_quality_shows_the_reward_model_beside_the_labelers(db_url, stub_model):
    build()
    data = json.loads(invoke("score", "--project", "rm", "--reward-model", str(stub_model), "--json").stdout)
    assert (data["scored"], data["skipped"], data["prompts"], data["routing"]) == (12, 0, 5, True)
    out = invoke("score", "--project", "rm", "--reward-model", str(stub_model)).stdout
    assert "0 new score(s) on 0 prompt(s), 12 skipped (scored before)" in out
    report = json.loads(invoke("quality", "--project", "rm", "--json").stdout)["reward_model_agreement"]
    assert report["reward_model"] == str(stub_model.resolve())
    assert {k: report["labelers"]["test"][k] for k in ("pairs", "agree")} == {"pairs": 17, "agree": 7}
    text = invoke("quality", "--project", "rm", "--reward-model", str(stub_model)).stdout
    assert "reward model vs labelers" in text and "labelers with each other" in text
    assert "test (held out)" in text and "41.2% (7/17)" in text and "1 equal score(s)" in text
    assert "100.0% (1/1)" in text  # the imported valid ranking, apart


def test_score_refuses_bad_input_with_a_message(db_url, stub_model, tmp_path):
    build()
    result = invoke("score", "--project", "rm", "--reward-model", str(stub_model), "--split", "dev", code=1)
    assert "unknown split `dev`" in result.output
    result = invoke("score", "--project", "nope", "--reward-model", str(stub_model), code=1)
    assert "project `nope` not found" in result.output
    result = invoke("quality", "--project", "rm", "--reward-model", str(tmp_path / "other"), code=1)
    assert "scored no candidate of project `rm`" in result.output


def test_score_refuses_a_folder_that_is_not_a_reward_model(db_url, tmp_path):
    build()
    folder = tmp_path / "causal"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    result = invoke("score", "--project", "rm", "--reward-model", str(folder), code=1)
    assert "not a sequence-classification model" in result.output
