"""TRL trains on exported files as they are: SFTTrainer, RewardTrainer and DPOTrainer, a few steps each.

Real rows (the hh-rlhf sample through `labeler.readers`), exported with `write_export`, loaded with
`datasets.load_dataset("json", ...)` and handed to the trainers without renaming or reshaping a
column: the export's shape is the one TRL takes. The model is a tiny randomly initialised Llama
built from a config and the tokenizer is trained on the export's texts, so nothing is downloaded:
the hubs are offline and any network connection fails the test. Without torch/TRL the tests skip,
except under CI=true, where a missing package is a failure.
"""

from __future__ import annotations

import copy
import importlib
import math
import socket
from pathlib import Path
from types import SimpleNamespace

import pytest

from exports import write_export
from tests.exports.trl_helpers import (
    HH_SAMPLE,
    IN_CI,
    demonstration_rows,
    hh_records,
    ranking_rows,
    read_jsonl,
    train_tokenizer,
)

pytestmark = [
    pytest.mark.slow,
    # raised inside DPOTrainer by transformers 5 (TRL still calls the old name); nothing this test controls
    pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning"),
]

STACK = ("torch", "transformers", "datasets", "accelerate", "tokenizers", "trl")
INSTALL = "pip install torch==2.13.0 trl transformers datasets accelerate tokenizers"
STEPS = 3
MAX_LENGTH = 512  # every selected example fits: nothing is truncated or filtered away


def _require(name: str):
    """Import `name`; skip when it is missing on a developer's machine, fail under CI=true."""
    if not IN_CI:
        return pytest.importorskip(name, reason=f"TRL consumer tests need `{name}` ({INSTALL})")
    try:
        return importlib.import_module(name)
    except ImportError as e:
        pytest.fail(f"CI=true but `{name}` is not installed ({INSTALL}): {e}")


@pytest.fixture
def offline(tmp_path_factory, monkeypatch):
    """Hubs offline, caches in a temporary folder, and any network connection an error."""
    home = tmp_path_factory.mktemp("hf")
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(home / "datasets"))
    monkeypatch.setenv("WANDB_DISABLED", "true")
    real_connect = socket.socket.connect

    def connect(sock, address):  # local sockets (AF_UNIX) are fine; anything on a network is a download
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            raise AssertionError(f"network access during a consumer test: {address!r}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return home


@pytest.fixture
def hf(offline, monkeypatch):
    """The training stack, imported after the environment is offline (skip or fail when missing)."""
    mods = {name: _require(name) for name in STACK}
    import huggingface_hub.constants as hub_constants  # constants read at import time: set them too

    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True, raising=False)
    monkeypatch.setattr(mods["datasets"].config, "HF_DATASETS_OFFLINE", True, raising=False)
    torch = mods["torch"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 32-wide model: threads only add overhead, and xdist runs tests side by side
    yield SimpleNamespace(**mods)
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def records():
    """The first 40 short hh-rlhf records (a missing sample skips, or fails under CI)."""
    if not HH_SAMPLE.exists():
        if IN_CI:
            pytest.fail(f"CI=true but the sample data is missing: {HH_SAMPLE}")
        pytest.skip(f"sample data not found: {HH_SAMPLE}")
    recs = hh_records(40)
    assert len(recs) == 40
    return recs


def _export(tmp_path: Path, fmt: str, rows) -> tuple[dict[str, str], dict[str, int]]:
    out = tmp_path / fmt
    result = write_export(out, fmt, rows, labeler_version="test")
    counts = result.manifest["counts"]
    assert set(counts) == {"train", "valid"}
    return {s: str(out / f"{s}.jsonl") for s in counts}, counts


def _load(hf, files: dict[str, str], tmp_path: Path):
    return hf.datasets.load_dataset("json", data_files=files, cache_dir=str(tmp_path / "cache"))


def _tokenizer(files: dict[str, str]):
    return train_tokenizer([rec for f in files.values() for rec in read_jsonl(Path(f))])


def _config(tok, hf, **extra):
    return hf.transformers.LlamaConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=2, max_position_embeddings=MAX_LENGTH, pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, tie_word_embeddings=False, **extra,
    )


def _causal_lm(tok, hf):
    hf.torch.manual_seed(0)
    model = hf.transformers.LlamaForCausalLM(_config(tok, hf))
    model.generation_config.pad_token_id = tok.pad_token_id
    return model


def _args(tmp_path: Path) -> dict:
    """Training arguments every trainer shares: CPU, fp32, a few steps, nothing saved or reported."""
    return dict(
        output_dir=str(tmp_path / "out"), max_steps=STEPS, per_device_train_batch_size=2, per_device_eval_batch_size=4,
        learning_rate=1e-3, logging_steps=1, save_strategy="no", report_to="none", use_cpu=True, bf16=False,
        fp16=False, activation_checkpointing=False, disable_tqdm=True, dataloader_num_workers=0, seed=0,
        max_length=MAX_LENGTH,
    )


def _assert_trained(trainer, result) -> None:
    """The trainer ran every step and every logged loss, the mean and the eval loss are finite."""
    assert trainer.state.global_step == STEPS
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert len(losses) == STEPS, trainer.state.log_history
    assert all(math.isfinite(x) for x in losses), losses
    assert math.isfinite(result.training_loss)
    metrics = trainer.evaluate()
    assert math.isfinite(metrics["eval_loss"]), metrics


def test_sft_trainer_trains_on_sft_messages(hf, records, tmp_path):
    files, counts = _export(tmp_path, "sft-messages", demonstration_rows(records))
    ds = _load(hf, files, tmp_path)
    assert ds["train"].column_names == ["messages"]
    tok = _tokenizer(files)
    from trl import SFTConfig, SFTTrainer

    # Multi-turn demonstrations: the loss covers every assistant turn (the template's generation marks).
    args = SFTConfig(**_args(tmp_path), assistant_only_loss=True, packing=False)
    trainer = SFTTrainer(model=_causal_lm(tok, hf), args=args, train_dataset=ds["train"], eval_dataset=ds["valid"],
                         processing_class=tok)
    assert trainer.train_dataset.num_rows == counts["train"]
    assert {"input_ids", "labels"} <= set(trainer.train_dataset.column_names)
    # Only assistant tokens are trained, and a multi-turn line trains on more than one assistant span.
    trained = [[label != -100 for label in labels] for labels in trainer.train_dataset["labels"]]
    spans = [sum(1 for a, b in zip([False, *t], t, strict=False) if b and not a) for t in trained]
    assert max(spans) > 1 and min(spans) >= 1
    _assert_trained(trainer, trainer.train())


def test_sft_trainer_trains_on_sft_prompt_completion(hf, records, tmp_path):
    files, counts = _export(tmp_path, "sft-prompt-completion", demonstration_rows(records))
    ds = _load(hf, files, tmp_path)
    assert ds["train"].column_names == ["prompt", "completion"]
    tok = _tokenizer(files)
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(**_args(tmp_path), packing=False)
    trainer = SFTTrainer(model=_causal_lm(tok, hf), args=args, train_dataset=ds["train"], eval_dataset=ds["valid"],
                         processing_class=tok)
    assert trainer.train_dataset.num_rows == counts["train"]
    # Explicit prompt, conversational: TRL trains on the completion only, and the prompt is a token prefix.
    assert trainer.completion_only_loss
    labels = trainer.train_dataset["labels"]
    assert all(lab[0] == -100 and lab[-1] == tok.eos_token_id for lab in labels)
    _assert_trained(trainer, trainer.train())


def test_reward_trainer_trains_on_pairs(hf, records, tmp_path):
    files, counts = _export(tmp_path, "pairs", ranking_rows(records))
    ds = _load(hf, files, tmp_path)
    assert ds["train"].column_names == ["prompt", "chosen", "rejected", "group_id", "margin", "split_key"]
    tok = _tokenizer(files)
    from trl import RewardConfig, RewardTrainer

    hf.torch.manual_seed(0)
    model = hf.transformers.LlamaForSequenceClassification(_config(tok, hf, num_labels=1))
    args = RewardConfig(**_args(tmp_path))
    trainer = RewardTrainer(model=model, args=args, train_dataset=ds["train"], eval_dataset=ds["valid"],
                            processing_class=tok)
    # Accepted as exported: no pair filtered, and the exported `margin` reaches the loss
    # (-logsigmoid(r_chosen - r_rejected - margin)); `group_id` is metadata TRL drops.
    assert trainer.train_dataset.num_rows == counts["train"]
    assert {"chosen_ids", "rejected_ids", "margin"} <= set(trainer.train_dataset.column_names)
    exported = read_jsonl(Path(files["train"]))
    assert trainer.train_dataset["margin"] == [rec["margin"] for rec in exported]
    assert {rec["margin"] for rec in exported} >= {1.0, 2.0, 3.0, 5.0}  # rank distances and Likert gaps
    batch = next(iter(trainer.get_train_dataloader()))
    assert "margin" in batch and batch["margin"].dtype == hf.torch.float32
    assert "group_id" not in batch and "split_key" not in batch  # extra columns TRL drops
    _assert_trained(trainer, trainer.train())


def test_dpo_trainer_trains_on_pairs(hf, records, tmp_path):
    files, counts = _export(tmp_path, "pairs", ranking_rows(records))
    ds = _load(hf, files, tmp_path)
    assert ds["train"].column_names == ["prompt", "chosen", "rejected", "group_id", "margin", "split_key"]
    tok = _tokenizer(files)
    from trl import DPOConfig, DPOTrainer

    model = _causal_lm(tok, hf)
    ref = copy.deepcopy(model)  # an in-memory model: TRL would otherwise load the reference from the hub
    args = DPOConfig(**_args(tmp_path), beta=0.1)
    trainer = DPOTrainer(model=model, ref_model=ref, args=args, train_dataset=ds["train"], eval_dataset=ds["valid"],
                         processing_class=tok)
    # Explicit prompt, conversational: the prompt's tokens are a prefix of prompt + chosen/rejected.
    assert trainer.train_dataset.num_rows == counts["train"]
    assert {"prompt_ids", "chosen_ids", "rejected_ids"} <= set(trainer.train_dataset.column_names)
    first = trainer.train_dataset[0]
    assert first["prompt_ids"][-1] == tok.convert_tokens_to_ids("<|assistant|>")
    assert first["chosen_ids"][-1] == first["rejected_ids"][-1] == tok.eos_token_id
    _assert_trained(trainer, trainer.train())
