"""Validation of the real sample files in shared/data (SOURCES.md §7 and §8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exports import validate_file

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
TOY = DATA / "openai-cookbook" / "toy_chat_fine_tuning.jsonl"
AZURE = DATA / "azure-foundry-dpo" / "orca_dpo_pairs_validation.jsonl"

pytestmark = pytest.mark.skipif(not TOY.exists() or not AZURE.exists(),
                                reason="shared/data is not beside the repo")


def test_the_toy_chat_file_gets_its_deliberate_faults():
    report = validate_file(TOY, "openai-chat")
    assert [p.render(report.name) for p in report.errors] == [
        "toy_chat_fine_tuning.jsonl: 5 examples: OpenAI needs at least 10 in a training file"]
    assert [p.render(report.name) for p in report.warnings] == [
        "line 4 of toy_chat_fine_tuning.jsonl: field `messages`: no user message: "
        "the assistant replies to nothing",
        "line 5 of toy_chat_fine_tuning.jsonl: field `messages[2].content`: highly repetitive text: "
        "26,000 characters compress 133x",
    ]
    # line 3 has no system message: allowed, only counted
    assert report.stats["counts"] == {"no_system_message": 1, "no_user_message": 1}
    assert report.stats["examples"] == 5
    tokens = report.stats["tokens"]
    assert tokens["max"] > 6_000 > tokens["p50"] and tokens["min"] <= tokens["p50"] <= tokens["p95"]
    assert report.stats["epochs"] == 20  # 5 examples: OpenAI's heuristic aims at ~100 seen
    assert report.stats["estimated_training_tokens"] == report.stats["total_tokens"] * 20


def test_a_small_context_model_rejects_the_long_toy_example():
    report = validate_file(TOY, "openai-chat", target_model="gpt-3.5-turbo-0613")
    lines = [p.render() for p in report.errors]
    assert any(line.startswith("line 5: ~6,5") and "over the 4,096-token training context of "
               "`gpt-3.5-turbo-0613`" in line for line in lines), lines
    assert validate_file(TOY, "openai-chat", target_model="ft:gpt-4o-mini-2024-07-18:acme::x1").stats[
        "context_limit"] == 65_536
    unknown = validate_file(TOY, "openai-chat", target_model="my-model")
    assert "unknown model `my-model`" in unknown.warnings[0].message


def test_the_azure_preference_sample_validates_clean():
    report = validate_file(AZURE, "openai-preference")
    assert report.ok and report.errors == [] and report.warnings == [], report.to_text()
    assert report.stats["examples"] == sum(1 for _ in AZURE.open(encoding="utf-8"))
    json.dumps(report.to_dict())  # serializable for --json


def test_an_example_in_both_the_training_and_validation_file_is_an_error(tmp_path):
    lines = AZURE.read_text(encoding="utf-8").splitlines(keepends=True)
    train, valid = tmp_path / "train.jsonl", tmp_path / "valid.jsonl"
    train.write_text("".join(lines[:20]), encoding="utf-8")
    valid.write_text("".join(lines[15:30]), encoding="utf-8")
    report = validate_file(train, "openai-preference", other_files=[valid])
    assert [p.render(report.name) for p in report.errors] == [
        f"line {16 + i} of train.jsonl: the same example is line {1 + i} of valid.jsonl: an example may not "
        "be in both the training and the validation file" for i in range(5)]
    assert validate_file(train, "openai-preference", other_files=[]).ok
