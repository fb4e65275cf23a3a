"""Keys in every message printed or stored: known keys in any case, masked echoes, and anything key-shaped."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from db.models import Event
from labeler.cli import app
from labeler.redaction import redact, remember_key
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.events import record_event
from labeler.services.llm import redact as llm_redact

KEY = "sk-secretKEY-" + "9f8e7d6c5b4a" * 2 + "XYZ"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


@pytest.mark.parametrize("echo", [
    KEY,
    KEY.upper(),
    KEY.lower(),
    "sk-secr*****XYZ",  # how OpenAI echoes a refused key
    "sk-secretK…4aXYZ",
    "sk-sec...xyz",
    "SK-SECR****XYZ",
    "sk-proj-abcdefgh12345678",  # any key-shaped token, known or not
    "SK-PROJ-ABCDEFGH12345678",
    "sk-other********wxyz",
    "Bearer abc.def-ghi_jkl",
])
def test_masked_case_changed_and_key_shaped_echoes_are_redacted(echo: str) -> None:
    text = f"401 Incorrect API key provided: {echo}. You can find your API key at platform."
    out = redact(text)
    assert echo not in out and "[REDACTED]" in out, out
    assert out.startswith("401 Incorrect API key provided: [REDACTED]") and out.endswith("at platform.")
    assert llm_redact(text) == out  # the services' redact is this one


def test_a_masked_echo_of_a_key_that_is_not_sk_shaped_is_redacted() -> None:
    remember_key("plainsecretvalue42")
    assert redact("key pla*****e42 refused, PLAINSECRETVALUE42 too") == "key [REDACTED] refused, [REDACTED] too"


@pytest.mark.parametrize("text", [
    "task-management-model and risk-assessment", "desk-top", "sk-short", "a *** b", "see ... later", "xxxx marks",
    "ask-me-anything later",
])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_the_cli_prints_no_key_from_an_error(sqlite_url: str) -> None:
    result = CliRunner().invoke(app, ["export-history", "--project", "sk-secr*****XYZ"])
    assert result.exit_code == 1
    assert "secr" not in result.output.lower() and "project `[REDACTED]` not found" in result.output


def test_stored_event_details_never_hold_a_key(db_url: str) -> None:
    with session_scope() as s:
        record_event(s, OPERATOR, "finetune.event", "project", None,
                     message=f"upload refused for {KEY.upper()}", nested={"echo": ["sk-secr*****XYZ"]})
    with session_scope(write=False) as s:
        details = s.scalars(select(Event.details)).one()
    assert "secr" not in json.dumps(details).lower()


def test_a_placeholder_key_is_not_redacted_from_ordinary_text(monkeypatch):
    """Local servers take any key; the README suggests `local`, which must not hide `local:` model names."""
    monkeypatch.setenv("OPENAI_API_KEY", "local")
    remember_key("local")
    assert redact("model `local:/models/sft-v1` answered locally") == "model `local:/models/sft-v1` answered locally"
