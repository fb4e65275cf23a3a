"""`labeler train`: TRL's trainers on a real export of the shared hh-rlhf sample, as recorded local jobs.

The base model is the tiny random Llama of tests/local/tiny.py; each run is a real process
(`python -m labeler.train_worker`), followed through `labeler train status` until it ends.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from db.models import FinetuneJob
from exports.writer import write_export
from labeler.cli import app
from labeler.errors import Invalid
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.generate import GenerationRequest, run_generation
from labeler.services.train import TrainRequest, start_training
from tests.exports.trl_helpers import HH_SAMPLE, IN_CI, demonstration_rows, hh_records, ranking_rows
from tests.factories import make_project
from tests.local.jobs import cli_json, wait_for_job
from tests.local.tiny import require
from tests.services.queue_data import add_prompts

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture(scope="module")
def records():
    if not HH_SAMPLE.exists():
        if IN_CI:
            pytest.fail(f"CI=true but the sample data is missing: {HH_SAMPLE}")
        pytest.skip(f"sample data not found: {HH_SAMPLE}")
    return hh_records(20)


@pytest.fixture(autouse=True)
def stack(monkeypatch, tmp_path):
    for name in ("torch", "transformers", "datasets", "trl"):
        require(name)
    monkeypatch.setenv("LABELER_DATA_DIR", str(tmp_path / "data"))
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))


def _export(tmp_path: Path, fmt: str, rows) -> Path:
    out = tmp_path / fmt
    write_export(out, fmt, rows, labeler_version="test")
    return out




def test_sft_runs_as_a_recorded_job_and_its_losses_are_read_back(sqlite_url, tiny_model, records, tmp_path):
    export = _export(tmp_path, "sft-messages", demonstration_rows(records))
    model = tiny_model.removeprefix("local:")
    started = cli_json("train", "sft", "--export", str(export), "--base-model", model, "--max-steps", "3",
                   "--batch-size", "2", "--max-length", "128", "--out", str(tmp_path / "sft-model"))
    assert started["status"] == "running" and started["provider"] == "local" and started["method"] == "sft"
    done = wait_for_job(started["id"])
    assert done["status"] == "succeeded", Path(done["log"]).read_text()
    assert done["step"] == 3 and len(done["loss_curve"]) >= 3
    assert all("train_loss" in p for p in done["loss_curve"] if "valid_loss" not in p)
    assert any("valid_loss" in p for p in done["loss_curve"])  # the export's valid split is evaluated
    assert done["fine_tuned_model"] == str(tmp_path / "sft-model")
    assert (tmp_path / "sft-model" / "config.json").is_file()
    with session_scope(write=False) as s:
        job = s.get(FinetuneJob, started["id"])
        assert job.provider == "local" and job.status == "succeeded" and job.events
    make_project("p")  # one step to the next round: the trained model generates candidates
    used = runner.invoke(app, ["train", "use", str(started["id"]), "--project", "p"], catch_exceptions=False)
    assert used.exit_code == 0, used.output
    add_prompts("p", 2, candidates=0)
    summary = run_generation(OPERATOR, GenerationRequest(project="p", k=1, max_tokens=4))
    assert (summary.candidates, summary.failed) == (2, 0) and summary.models == [f"local:{tmp_path / 'sft-model'}"]


@pytest.mark.parametrize("kind,fmt", [("reward", "pairs"), ("dpo", "pairs"), ("kto", "kto")])
def test_preference_trainers_run_on_their_exports(sqlite_url, tiny_model, records, tmp_path, kind, fmt):
    export = _export(tmp_path, fmt, ranking_rows(records))
    started = cli_json("train", kind, "--export", str(export), "--base-model", tiny_model.removeprefix("local:"),
                   "--max-steps", "2", "--batch-size", "2", "--max-length", "128")
    done = wait_for_job(started["id"])
    assert done["status"] == "succeeded", Path(done["log"]).read_text()
    assert done["step"] == 2 and done["loss_curve"] and Path(done["fine_tuned_model"], "config.json").is_file()


def test_lora_trains_adapters_and_writes_a_plain_model_that_generates(sqlite_url, tiny_model, records, tmp_path):
    require("peft")
    export = _export(tmp_path, "sft-messages", demonstration_rows(records))
    base = tiny_model.removeprefix("local:")
    started = cli_json("train", "sft", "--export", str(export), "--base-model", base, "--max-steps", "2",
                   "--batch-size", "2", "--max-length", "128", "--lora", "--out", str(tmp_path / "lora-model"))
    done = wait_for_job(started["id"])
    assert done["status"] == "succeeded", Path(done["log"]).read_text()
    folder = Path(done["fine_tuned_model"])
    assert (folder / "config.json").is_file() and not (folder / "adapter_config.json").exists()  # merged
    transformers = require("transformers")
    trained = transformers.AutoModelForCausalLM.from_pretrained(folder)
    original = transformers.AutoModelForCausalLM.from_pretrained(base)
    changed = [name for name, p in trained.state_dict().items() if not p.equal(original.state_dict()[name])]
    assert changed and all("proj" in name for name in changed)  # LoRA touched the attention projections only
    make_project("p")
    add_prompts("p", 1, candidates=0)
    summary = run_generation(OPERATOR, GenerationRequest(project="p", k=1, models=(f"local:{folder}",),
                                                         max_tokens=4))
    assert (summary.candidates, summary.failed) == (1, 0)


def test_cancel_stops_a_run_and_records_it(sqlite_url, tiny_model, records, tmp_path):
    export = _export(tmp_path, "sft-messages", demonstration_rows(records))
    started = cli_json("train", "sft", "--export", str(export), "--base-model", tiny_model.removeprefix("local:"),
                   "--epochs", "1000", "--batch-size", "1", "--max-length", "128")
    cancelled = cli_json("train", "cancel", str(started["id"]))
    assert cancelled["status"] == "cancelled"
    with session_scope(write=False) as s:
        assert s.get(FinetuneJob, started["id"]).status == "cancelled"
    assert cli_json("train", "status", str(started["id"]))["status"] == "cancelled"
    result = runner.invoke(app, ["train", "cancel", str(started["id"])])
    assert result.exit_code == 1 and "already cancelled" in result.output


def test_a_bad_export_is_refused_before_any_process_starts(sqlite_url, tiny_model, records, tmp_path):
    pairs = _export(tmp_path, "pairs", ranking_rows(records))
    base = Path(tiny_model.removeprefix("local:"))
    with session_scope() as s, pytest.raises(Invalid, match=r"a `pairs` export cannot train the sft trainer"):
        start_training(s, OPERATOR, TrainRequest("sft", pairs, base))
    only_valid = [r for r in demonstration_rows(records) if r.split == "valid"]
    empty = _export(tmp_path, "sft-messages", only_valid)
    with session_scope() as s, pytest.raises(Invalid, match="the train split is empty"):
        start_training(s, OPERATOR, TrainRequest("sft", empty, base))
    result = runner.invoke(app, ["train", "kto", "--export", str(pairs), "--base-model", str(base)])
    assert result.exit_code == 1 and "cannot train the kto trainer" in result.output
    with session_scope(write=False) as s:
        assert s.scalar(select(func.count()).select_from(FinetuneJob)) == 0
    assert not (tmp_path / "data" / "training").exists()
