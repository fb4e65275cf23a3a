"""`labeler finetune create|status|list|cancel`, invoked for real against the local OpenAI-compatible server."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from labeler.cli import app
from tests.fake_openai import finetune as fake
from tests.services.test_finetune import make_chat_export, make_preference_export

runner = CliRunner()


def invoke(*args: str, ok: bool = True):
    result = runner.invoke(app, list(args), catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_create_follow_list_and_cancel(db_url, fake_openai, tmp_path):
    folder = make_chat_export(tmp_path / "oai")
    created = json.loads(invoke("finetune", "create", "--export", str(folder), "--model", "gpt-4o-mini",
                                "--epochs", "3", "--suffix", "cli", "--json").stdout)
    assert created["status"] == "validating_files" and created["hyperparameters"] == {"n_epochs": 3}
    assert created["provider_job_id"] in fake.jobs(fake_openai)
    for _ in range(5):  # each status call asks the server, which moves the job on
        status = json.loads(invoke("finetune", "status", str(created["id"]), "--json").stdout)
        if status["status"] == "succeeded":
            break
    assert status["status"] == "succeeded" and status["fine_tuned_model"].startswith("ft:gpt-4o-mini")
    assert [c["step_number"] for c in status["checkpoints"]] == [10, 20, 30]
    assert any(e["message"] == "The job has successfully completed" for e in status["events"])

    shown = invoke("finetune", "status", "--no-refresh").output  # the latest job, as stored
    assert f"job #{created['id']}" in shown and "succeeded" in shown
    assert "checkpoints" in shown and "train loss" in shown and "0.7" in shown
    assert "successfully completed" in shown

    listed = json.loads(invoke("finetune", "list", "--json").stdout)
    assert [(j["id"], j["status"], j["train_loss"]) for j in listed] == [(created["id"], "succeeded", 0.7)]
    table = invoke("finetune", "list").output
    assert "ftjob-" in table and "supervised" in table and "succeeded" in table and "0.7 / 1" in table

    second = json.loads(invoke("finetune", "create", "--export", str(folder), "--model", "gpt-4o-mini",
                               "--json").stdout)
    cancelled = invoke("finetune", "cancel", second["provider_job_id"])  # the provider's id works too
    assert f"job #{second['id']}" in cancelled.output and "cancelled" in cancelled.output
    again = invoke("finetune", "cancel", str(second["id"]), ok=False)
    assert again.exit_code == 1 and "already cancelled" in again.output and "Traceback" not in again.output
    refreshed = json.loads(invoke("finetune", "list", "--refresh", "--json").stdout)
    assert [j["status"] for j in refreshed] == ["cancelled", "succeeded"]


def test_dpo_from_the_command_line(db_url, fake_openai, tmp_path):
    folder = make_preference_export(tmp_path / "pref")
    created = json.loads(invoke("finetune", "create", "--export", str(folder), "--model", "gpt-4o-mini",
                                "--method", "dpo", "--beta", "0.2", "--json").stdout)
    sent = fake.jobs(fake_openai)[created["provider_job_id"]]["_request"]
    assert sent["method"] == {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2}}}
    out = invoke("finetune", "create", "--export", str(folder), "--model", "gpt-4o-mini", "--method", "dpo").output
    assert "fine-tuning job #2 created" in out and "labeler finetune status 2" in out


def test_errors_are_one_line_messages(db_url, fake_openai, tmp_path, monkeypatch):
    folder = make_chat_export(tmp_path / "oai")
    wrong = invoke("finetune", "create", "--export", str(folder), "--model", "m", "--method", "dpo", ok=False)
    assert wrong.exit_code == 1 and "error: the export in" in wrong.output and "Traceback" not in wrong.output
    empty = invoke("finetune", "status", ok=False)
    assert empty.exit_code == 1 and "no fine-tuning jobs recorded yet" in empty.output
    monkeypatch.delenv("OPENAI_API_KEY")
    no_key = invoke("finetune", "create", "--export", str(folder), "--model", "m", ok=False)
    assert no_key.exit_code == 1 and "no model API key" in no_key.output
    wrong_key = "sk-cli-" + "a1b2c3d4" * 4
    monkeypatch.setenv("OPENAI_API_KEY", wrong_key)
    refused = invoke("finetune", "create", "--export", str(folder), "--model", "m", ok=False)
    assert refused.exit_code == 1 and "401" in refused.output and wrong_key not in refused.output
    assert fake_openai.received("/v1/fine_tuning") == []
