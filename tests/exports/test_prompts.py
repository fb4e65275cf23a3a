"""Prompt-only formats (`prompts`, `openai-rft`): shapes, reference answers, validators, and TRL's
GRPOTrainer taking a `prompts` export as it is for a couple of steps (tiny random model, no downloads)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from exports import FORMATS, validate_records, write_export
from exports.prompts import PromptRow, reference_of
from tests.exports.test_trl_consumers import _causal_lm, _load, _tokenizer, hf, offline  # noqa: F401
from tests.exports.trl_helpers import read_jsonl


def test_prompts_rows_keep_the_conversation_and_every_column_on_every_line(prompt_rows):
    recs = list(FORMATS["prompts"].fn(prompt_rows))
    assert [list(r) for r in recs] == [["prompt", "prompt_id", "split", "external_id", "reference"]] * 4
    assert recs[1]["prompt"][0] == {"role": "system", "content": "Answer with a number."}  # TRL keeps system
    assert [r["reference"] for r in recs] == ["Apple.", "42", None, "une pomme"]
    assert [s for s, _ in FORMATS["prompts"].split_records(prompt_rows)] == ["train", "train", "valid", "test"]
    # the overlap switch is decided by the query; the format takes it only so the manifest records it
    assert list(FORMATS["prompts"].fn(prompt_rows, allow_overlap=True)) == recs


def test_openai_rft_keeps_prompts_with_a_reference_and_writes_system_as_developer(prompt_rows):
    recs = list(FORMATS["openai-rft"].fn(prompt_rows))
    assert [r["prompt_id"] for r in recs] == [1, 2, 4]  # prompt 3 has no reference answer
    assert [m["role"] for m in recs[1]["messages"]] == ["developer", "user"]
    assert recs[1]["reference_answer"] == "42" and recs[2]["messages"][-1]["role"] == "user"
    assert validate_records(recs, "openai-rft", min_examples=0).ok


@pytest.mark.parametrize(("meta", "expected"), [
    ({"reference_answer": "42", "answer": "x"}, "42"), ({"answer": 7}, "7"), ({"solution": " "}, None),
    ({"ground_truth": True}, None), ({}, None), (None, None), ({"reference": "Paris"}, "Paris"),
])
def test_reference_answers_come_from_import_metadata(meta, expected):
    assert reference_of(meta) == expected


def _errors(records, fmt):
    return [p.message for p in validate_records(records, fmt, min_examples=0).errors]


def test_prompts_validator_refuses_replies_and_prompts_that_do_not_end_with_the_user():
    user = [{"role": "user", "content": "Hi"}]
    assert _errors([{"prompt": user, "prompt_id": 1}], "prompts") == []
    assert _errors([{"prompt": "Plain text prompt"}], "prompts") == []  # TRL's standard (string) prompt-only
    assert "must end with a user (or tool) message, ends with `assistant`" in _errors(
        [{"prompt": [*user, {"role": "assistant", "content": "Hello"}]}], "prompts")
    assert any("holds no reply" in m for m in _errors(
        [{"prompt": user, "completion": [{"role": "assistant", "content": "x"}]}], "prompts"))
    assert "expected a string or null, got a number" in _errors([{"prompt": user, "reference": 4}], "prompts")
    assert "missing" in _errors([{"prompt_id": 1}], "prompts")


def test_openai_rft_validator_follows_openais_rules():
    dev = {"role": "developer", "content": "Be terse."}
    user = {"role": "user", "content": "2+2?"}
    assert _errors([{"messages": [dev, user], "reference_answer": "4"}], "openai-rft") == []
    assert any("write it as a `developer` message" in m for m in _errors(
        [{"messages": [{"role": "system", "content": "x"}, user], "reference_answer": "4"}], "openai-rft"))
    assert any("must end with a user message" in m for m in _errors(
        [{"messages": [user, {"role": "assistant", "content": "4"}], "reference_answer": "4"}], "openai-rft"))
    report = validate_records([{"messages": [user]}], "openai-rft", min_examples=0)
    assert report.ok and "no reference answer" in report.warnings[0].message
    assert not validate_records([{"messages": [user], "reference_answer": "4"}] * 3, "openai-rft").ok  # >= 10


# --- TRL GRPOTrainer on the export -------------------------------------------------------------------

N_PROMPTS = 24
STEPS = 2


def arithmetic_rows() -> list[PromptRow]:
    """Prompts with reference answers, one in four in `valid`, some with a system turn."""
    rows = []
    for i in range(N_PROMPTS):
        system = [{"role": "system", "content": "Answer with a number."}] if i % 3 == 0 else []
        rows.append(PromptRow(prompt_id=i + 1, split="valid" if i % 4 == 3 else "train",
                              messages=[*system, {"role": "user", "content": f"What is {i} plus {i} ?"}],
                              reference=str(2 * i)))
    return rows


@pytest.mark.slow
# raised inside TRL by transformers 5 (TRL still calls the old name); nothing this test controls
@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")
def test_grpo_trainer_trains_on_a_prompts_export(hf, tmp_path):  # noqa: F811
    out = tmp_path / "rl"
    result = write_export(out, "prompts", arithmetic_rows(), options={"allow_overlap": False}, labeler_version="test")
    files = {s: str(out / f"{s}.jsonl") for s in result.manifest["counts"]}
    ds = _load(hf, files, tmp_path)
    assert ds["train"].column_names == ["prompt", "prompt_id", "split", "external_id", "reference"]
    tok = _tokenizer(files)
    from trl import GRPOConfig, GRPOTrainer

    seen: list[tuple[int, str]] = []

    def reward_reference(completions, reference, prompt_id, **kwargs):
        """1 when the completion holds the reference answer; shorter is slightly better (so rewards vary)."""
        seen.extend(zip(prompt_id, reference, strict=True))
        texts = [c[-1]["content"] for c in completions]  # conversational prompts: assistant messages back
        return [float(ref in text) - 0.01 * len(text.split()) for text, ref in zip(texts, reference, strict=True)]

    args = GRPOConfig(
        output_dir=str(tmp_path / "out"), max_steps=STEPS, per_device_train_batch_size=4, num_generations=2,
        max_completion_length=8, learning_rate=1e-3, logging_steps=1, save_strategy="no", report_to="none",
        use_cpu=True, bf16=False, fp16=False, activation_checkpointing=False, disable_tqdm=True,
        dataloader_num_workers=0, seed=0,
    )
    trainer = GRPOTrainer(model=_causal_lm(tok, hf), reward_funcs=reward_reference, args=args,
                          train_dataset=ds["train"], processing_class=tok)
    trainer.train()
    assert trainer.state.global_step == STEPS
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert len(losses) == STEPS and all(math.isfinite(x) for x in losses), trainer.state.log_history
    # The reward function got the exported columns as they are: every reference belongs to its prompt.
    exported = {r["prompt_id"]: r["reference"] for r in read_jsonl(Path(files["train"]))}
    assert seen and all(exported[pid] == ref for pid, ref in seen)
