"""The process of one local training run: `python -m labeler.train_worker RUN_DIR`.

Design constraints:
- **Its own process**: `labeler train` (the service `labeler.services.train`) checks the export,
  records the job and starts this module with `RUN_DIR/spec.json`; the CLI and the app return at
  once. This is the only module that imports torch, datasets and TRL at its top.
- **Talks through files**: it writes `RUN_DIR/status.json` (status, step, losses, eval metrics, the
  model folder, an error) after every logging step, atomically (write then rename), and its output
  to `RUN_DIR/train.log`; the service reads them back into the job's record. A `RUN_DIR/cancel` file
  stops the run at the next step (status `cancelled`).
- **The export as it is**: the export's train/valid JSONL files go to the trainer unchanged; the
  manifest's format was checked against the trainer before this process started.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

TRAINERS = {"sft": ("SFTTrainer", "SFTConfig"), "reward": ("RewardTrainer", "RewardConfig"),
            "dpo": ("DPOTrainer", "DPOConfig"), "kto": ("KTOTrainer", "KTOConfig")}


class Status:
    """What the run reports: written whole to status.json each time it changes."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.data: dict[str, Any] = {"status": "running", "pid": os.getpid(), "step": 0, "max_steps": None,
                                     "losses": [], "eval": [], "model_dir": None, "error": None,
                                     "started_at": time.time(), "finished_at": None}

    def write(self, **changes: Any) -> None:
        self.data.update(changes)
        tmp = self.run_dir / "status.json.tmp"
        tmp.write_text(json.dumps(self.data), encoding="utf-8")
        os.replace(tmp, self.run_dir / "status.json")


def main(run_dir: Path) -> int:
    spec = json.loads((run_dir / "spec.json").read_text(encoding="utf-8"))
    status = Status(run_dir)
    status.write()
    try:
        model_dir = train(spec, run_dir, status)
    except Cancelled:
        status.write(status="cancelled", finished_at=time.time())
        return 0
    except Exception as e:  # noqa: BLE001 - the run's record says why it failed
        traceback.print_exc()
        status.write(status="failed", error=f"{type(e).__name__}: {e}"[:2000], finished_at=time.time())
        return 1
    status.write(status="succeeded", model_dir=str(model_dir), finished_at=time.time())
    return 0


class Cancelled(Exception):
    """The run saw its cancel file."""


def train(spec: dict[str, Any], run_dir: Path, status: Status) -> Path:
    import datasets
    import torch
    import trl
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer, TrainerCallback

    kind = spec["kind"]
    files = {split: path for split, path in spec["files"].items() if path}
    data = datasets.load_dataset("json", data_files=files, cache_dir=str(run_dir / "cache"))
    tokenizer = AutoTokenizer.from_pretrained(spec["base_model"])
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    cuda = torch.cuda.is_available()
    if kind == "reward":
        model = AutoModelForSequenceClassification.from_pretrained(spec["base_model"], num_labels=1)
        model.config.pad_token_id = tokenizer.pad_token_id
    else:
        model = AutoModelForCausalLM.from_pretrained(spec["base_model"])
    trainer_name, config_name = TRAINERS[kind]
    out = Path(spec["out"])
    args: dict[str, Any] = dict(
        output_dir=str(run_dir / "checkpoints"), per_device_train_batch_size=spec["batch_size"],
        per_device_eval_batch_size=spec["batch_size"], learning_rate=spec["lr"], logging_steps=1,
        save_strategy="no", report_to=[], use_cpu=not cuda, bf16=False, fp16=False, seed=0,
        disable_tqdm=True, max_length=spec["max_length"],
    )
    if spec.get("max_steps"):
        args["max_steps"] = spec["max_steps"]
    else:
        args["num_train_epochs"] = spec["epochs"]
    if "valid" in files:
        args.update(eval_strategy="steps", eval_steps=max(1, spec.get("eval_steps") or 1))
    if kind == "sft":
        args["packing"] = False
    config = getattr(trl, config_name)(**args)
    peft_config = None
    if spec.get("lora"):
        from peft import LoraConfig

        peft_config = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05,
                                 task_type="SEQ_CLS" if kind == "reward" else "CAUSAL_LM")

    class Report(TrainerCallback):
        def on_log(self, _args, state, _control, logs=None, **_kw):  # noqa: ANN001, ANN202
            logs = logs or {}
            point = {"step": state.global_step, **{k: v for k, v in logs.items() if isinstance(v, int | float)}}
            key = "eval" if any(k.startswith("eval_") for k in logs) else "losses"
            status.write(step=state.global_step, max_steps=state.max_steps, **{key: [*status.data[key], point]})

        def on_step_end(self, _args, state, control, **_kw):  # noqa: ANN001, ANN202
            status.data.update(step=state.global_step, max_steps=state.max_steps)
            if (run_dir / "cancel").exists():
                raise Cancelled()
            return control

    trainer = getattr(trl, trainer_name)(
        model=model, args=config, train_dataset=data["train"], eval_dataset=data["valid"] if "valid" in files else None,
        processing_class=tokenizer, peft_config=peft_config, callbacks=[Report()],
    )
    trainer.train()
    out.mkdir(parents=True, exist_ok=True)
    if peft_config is not None:  # the adapters merged into the base: a plain model folder, as without --lora
        trainer.model.merge_and_unload().save_pretrained(str(out))
    else:
        trainer.save_model(str(out))
    tokenizer.save_pretrained(str(out))
    return out


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
