"""End to end on real data: import the HH-RLHF sample, export pairs, `train reward` a few steps with the
tiny model, `score`, and the quality report has the reward model's agreement for the test split.

Every step is the real command (`labeler import|export|train|score|quality`); the reward model is a
real TRL RewardTrainer run on the tiny random Llama of tests/local/tiny.py (so its agreement is near
chance: the test checks that the figures exist and add up, not that the model is good).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from db.models import Candidate, CandidateScore, Prompt
from labeler.cli import app
from labeler.services import session_scope
from tests.exports.trl_helpers import HH_SAMPLE, IN_CI
from tests.factories import make_project
from tests.local.jobs import cli_json, wait_for_job
from tests.local.tiny import require

pytestmark = pytest.mark.slow
runner = CliRunner()
N_RECORDS = 60


@pytest.fixture(autouse=True)
def stack(monkeypatch, tmp_path):
    for name in ("torch", "transformers", "datasets", "trl"):
        require(name)
    if not HH_SAMPLE.exists():
        if IN_CI:
            pytest.fail(f"CI=true but the sample data is missing: {HH_SAMPLE}")
        pytest.skip(f"sample data not found: {HH_SAMPLE}")
    monkeypatch.setenv("LABELER_DATA_DIR", str(tmp_path / "data"))
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))


def _short_sample(path: Path) -> Path:
    """The first HH-RLHF lines whose transcripts are short (the tiny model has 256 positions), as they are."""
    kept = []
    with gzip.open(HH_SAMPLE, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if len(row["chosen"]) + len(row["rejected"]) <= 1200:
                kept.append(line)
                if len(kept) == N_RECORDS:
                    break
    path.write_text("".join(kept), encoding="utf-8")
    return path




def test_hh_sample_train_reward_score_and_agreement_on_the_test_split(sqlite_url, tiny_model, tmp_path):
    make_project("hh")
    sample = _short_sample(tmp_path / "hh.jsonl")
    imported = cli_json("import", str(sample), "--project", "hh", "--format", "hh-rlhf", "--split", "60/20/20")
    assert imported["prompts_added"] == N_RECORDS and imported["rankings_added"] == N_RECORDS
    assert imported["by_split"].get("test", 0) > 0
    export = tmp_path / "pairs"
    cli_json("export", "pairs", "--project", "hh", "--out", str(export))
    started = cli_json("train", "reward", "--export", str(export), "--base-model", tiny_model.removeprefix("local:"),
                   "--max-steps", "2", "--batch-size", "2", "--max-length", "256", "--out", str(tmp_path / "rm"))
    done = wait_for_job(started["id"])
    assert done["status"] == "succeeded", Path(done["log"]).read_text()

    scored = cli_json("score", "--project", "hh", "--reward-model", str(tmp_path / "rm"), "--split", "test",
                  "--batch-size", "4")
    test_prompts = imported["by_split"]["test"]
    assert scored["scored"] == 2 * test_prompts and scored["prompts"] == test_prompts and scored["routing"] is True
    again = cli_json("score", "--project", "hh", "--reward-model", str(tmp_path / "rm"), "--split", "test")
    assert (again["scored"], again["skipped"]) == (0, 2 * test_prompts)  # resumable: nothing scored twice
    with session_scope(write=False) as s:
        scores = s.scalars(select(CandidateScore.score)).all()
        assert len(scores) == 2 * test_prompts and len(set(scores)) > 1  # a real model: scores differ
        margins = s.scalars(select(Prompt.rm_margin).where(Prompt.split == "test")).all()
        assert all(m >= 0 for m in margins) and any(m > 0 for m in margins)
        assert s.scalar(select(func.count()).select_from(Candidate)) == 2 * N_RECORDS

    report = cli_json("quality", "--project", "hh")["reward_model_agreement"]
    assert report["reward_model"] == str((tmp_path / "rm").resolve())
    test = report["imported"]["test"]  # HH-RLHF's preferences came in as imported rankings
    assert test["pairs"] == test_prompts and 0 <= test["agree"] <= test["pairs"] - test["score_ties"]
    assert test["rate"] == round(test["agree"] / test["pairs"], 4)
    assert 0 <= test["ci_low"] <= test["rate"] <= test["ci_high"] <= 1
    assert report["imported"]["train"]["unscored_pairs"] > 0 and report["imported"]["train"]["pairs"] == 0
    text = runner.invoke(app, ["quality", "--project", "hh"], catch_exceptions=False).stdout
    assert "test (held out)" in text and f"/{test_prompts})" in text
