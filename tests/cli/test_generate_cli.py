"""`labeler generate` and `labeler model`, invoked for real against the local fake OpenAI server."""

from __future__ import annotations

import json
import logging

from typer.testing import CliRunner

from labeler.cli import app
from tests.factories import make_project, make_user
from tests.services.queue_data import add_prompts

runner = CliRunner()


def invoke(*args: str, code: int = 0):
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def test_generate_prints_a_summary_and_resumes(db_url, fake_openai):
    make_project("p")
    add_prompts("p", 3, candidates=0)
    out = invoke("generate", "--project", "p", "--k", "2", "--model", "m", "--model", "n").output
    assert "3 of 3 prompt(s) done, 6 candidate(s) stored, 0 failed" in out
    assert "tokens:" in out and "requests: 6" in out
    again = json.loads(invoke("generate", "--project", "p", "--k", "2", "--model", "m", "--json").stdout)
    assert again["prompts_planned"] == 0 and again["candidates"] == 0


def test_dry_run_sends_nothing(sqlite_url, fake_openai):
    make_project("p")
    add_prompts("p", 2, candidates=0)
    out = invoke("generate", "--project", "p", "--k", "4", "--model", "m", "--max-tokens", "10", "--dry-run").output
    assert "nothing was sent" in out and "prompts needing candidates: 2" in out
    assert "candidates to ask for: 8 in 2 request(s)" in out and "at most 80 out" in out
    plan = json.loads(invoke("generate", "--project", "p", "--k", "4", "--model", "m", "--dry-run", "--json").stdout)
    assert plan["prompts"] == 2 and plan["sample"][0]["n"] == 4
    assert fake_openai.received() == []


def test_no_key_is_one_clean_line(sqlite_url, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    make_project("p")
    add_prompts("p", 1, candidates=0)
    result = invoke("generate", "--project", "p", "--model", "m", code=1)
    assert result.output.startswith("error: no model API key") and "Traceback" not in result.output
    assert "`OPENAI_API_KEY`" in result.output
    no_model = invoke("generate", "--project", "p", code=1)
    assert "no model to generate with" in no_model.output


def test_a_refused_key_exits_1_without_showing_it(sqlite_url, fake_openai, monkeypatch, caplog):
    bad = "sk-cli-wrong-" + "5" * 32
    monkeypatch.setenv("OPENAI_API_KEY", bad)
    make_project("p")
    add_prompts("p", 3, candidates=0)
    with caplog.at_level(logging.DEBUG):
        result = invoke("generate", "--project", "p", "--model", "m", code=1)
    assert "generation stopped: 401 the API key was refused" in result.output
    assert bad not in result.output and bad not in caplog.text


def test_failed_prompts_are_listed_and_exit_1(sqlite_url, fake_openai):
    make_project("p")
    add_prompts("p", 3, candidates=0)
    fake_openai.fail(500, times=2, headers={"retry-after-ms": "1"})
    result = invoke("generate", "--project", "p", "--k", "1", "--model", "m", "--max-retries", "1",
                    "--concurrency", "1", code=1)
    assert "2 of 3 prompt(s) done" in result.output and "prompt 1: `m`: 500 server error" in result.output
    assert "run the same command again" in result.output


def test_model_settings_take_a_variable_name_never_a_key(sqlite_url, monkeypatch):
    make_project("p")
    invoke("model", "set", "--project", "p", "--base-url", "http://localhost:11434/v1", "--key-env", "OLLAMA_KEY",
           "--generation-model", "llama3.1", "--suggestion-model", "llama3.1")
    monkeypatch.setenv("OLLAMA_KEY", "local")
    shown = json.loads(invoke("model", "show", "--project", "p", "--json").stdout)
    assert shown["model_base_url"] == "http://localhost:11434/v1" and shown["model_api_key_env"] == "OLLAMA_KEY"
    assert shown["generation_models"] == ["llama3.1"] and shown["key_set"] is True
    key = "sk-" + "x1" * 20
    refused = invoke("model", "set", "--project", "p", "--key-env", key, code=1)
    assert "NAME of an environment variable" in refused.output and key not in refused.output
    invoke("model", "set", "--project", "p", "--suggestion-model", "")
    assert json.loads(invoke("model", "show", "--project", "p", "--json").stdout)["suggestion_model"] is None
    make_user("ann")
    assert "needs an admin" in invoke("--as", "ann", "model", "show", "--project", "p", code=1).output
