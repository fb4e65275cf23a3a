"""labeler.services.llm: where the model lives, and messages that never carry a key."""

from __future__ import annotations

import openai
import pytest

from labeler.errors import Invalid
from labeler.services.llm import describe_api_error, model_configured, redact, resolve_endpoint
from labeler.services.projects import parse_settings


def test_the_project_overrides_the_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://env-server:1/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-key-0000000000")
    monkeypatch.setenv("TEAM_KEY", "sk-team-key-1111111111")
    assert resolve_endpoint().base_url == "http://env-server:1/v1"
    project = parse_settings({"model_base_url": "http://vllm:8000/v1/", "model_api_key_env": "TEAM_KEY"})
    endpoint = resolve_endpoint(project)
    assert endpoint.base_url == "http://vllm:8000/v1" and endpoint.api_key == "sk-team-key-1111111111"
    assert "sk-team" not in repr(endpoint)
    monkeypatch.delenv("TEAM_KEY")
    assert not model_configured(project)
    with pytest.raises(Invalid, match="`TEAM_KEY` to the key for the server at http://vllm:8000/v1"):
        resolve_endpoint(project)


def test_redact_removes_resolved_keys_and_key_shaped_text(monkeypatch):
    monkeypatch.setenv("ODD_KEY", "plainsecretvalue42")
    resolve_endpoint(parse_settings({"model_api_key_env": "ODD_KEY"}))
    text = "got plainsecretvalue42, sk-abcdefgh12345678 and https://bob:pw@host/v1 for task-management-model"
    assert redact(text) == "got [REDACTED], [REDACTED] and https://[REDACTED]@host/v1 for task-management-model"


def test_described_errors_are_one_line_without_the_key(fake_openai):
    client = openai.OpenAI(base_url=fake_openai.base_url, api_key="sk-wrong-" + "3" * 30, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    resolve_endpoint(parse_settings({}))  # the fixture's key is now known to redact()
    message = describe_api_error(e.value)
    assert message.startswith("401 the API key was refused: Incorrect API key") and "\n" not in message
    good = openai.OpenAI(base_url=fake_openai.base_url, api_key=fake_openai.api_key, max_retries=0, timeout=0.2)
    fake_openai.fail(200, delay=1.0)
    with pytest.raises(openai.APITimeoutError) as e:
        good.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert describe_api_error(e.value).startswith("the request timed out (http://127.0.0.1:")
    closed = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key=fake_openai.api_key, max_retries=0)
    with pytest.raises(openai.APIConnectionError) as e:
        closed.models.list()
    assert describe_api_error(e.value).startswith("cannot reach the model server (http://127.0.0.1:9/v1/models)")
    assert fake_openai.api_key not in describe_api_error(e.value)
