"""The local loop on CPU: generation with a local model, and TRL training steps per trainer.

Generation (each figure in a fresh process, as the app or CLI would load the model):
- **time to first candidate, cold**: the demo GGUF converted (de-quantised) and loaded, then one
  candidate; **cached**: the converted folder loaded again, then one candidate;
- **tokens/s**: completion tokens per second over `--gen-requests` requests of `--gen-tokens` tokens.
Training: `--train-steps` steps of each trainer (sft, reward, dpo, kto) on a real export of the
shared HH-RLHF sample, through the worker `labeler train` starts; steps/s is the Trainer's own
`train_steps_per_second` (model loading left out). Models: the tiny random Llama the tests build
(tests/local/tiny.py) and the demo model SmolLM2-135M-Instruct (its converted folder as the base).

    python bench/local/run.py --gen-tokens 64 --train-steps 10 --models tiny,demo
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.common import run_child, write_table  # noqa: E402

PROMPT = [{"role": "user", "content": "Explain in two sentences why the sky is blue."}]
KINDS = {"sft": "sft-messages", "reward": "pairs", "dpo": "pairs", "kto": "kto"}


def _model_params(path: Path) -> str:
    """The model's size, counted from its safetensors headers (no weights loaded)."""
    from safetensors import safe_open

    total = 0
    for file in path.glob("*.safetensors"):
        with safe_open(str(file), "pt") as f:
            for key in f.keys():  # noqa: SIM118 - safe_open is not a mapping
                shape = f.get_slice(key).get_shape()
                total += math.prod(shape)
    return f"{total / 1e6:.2f}M params"


def _model_folder(name: str, work: Path) -> Path:
    """The model's folder: the tiny Llama built here, or the demo GGUF converted into `work`."""
    if name == "tiny":
        from tests.local.tiny import build_tiny_model

        folder = work / "tiny-model"
        return folder if (folder / "config.json").is_file() else build_tiny_model(folder)
    from labeler.services.demo_model import demo_model
    from labeler.services.engine.local import gguf_cache, local_path

    model = demo_model()
    if model is None:
        raise SystemExit("the demo model's package is not installed: make install-local")
    return gguf_cache(local_path(model), work / "data")


def one_generation(model: str, work: Path, tokens: int, requests: int, cold: bool) -> None:
    """Child: load `model` (after removing its converted cache when `cold`), generate, print JSON."""
    from labeler.services.engine.backend import ChatRequest
    from labeler.services.engine.local import generate, gguf_cache_dir, load, local_path

    spec = _spec_for(model, work)
    if cold and spec.startswith("local:") and spec.endswith(".gguf"):
        shutil.rmtree(gguf_cache_dir(local_path(spec), work / "data"), ignore_errors=True)
    started = time.perf_counter()
    loaded = load(spec, work / "data")
    loaded_at = time.perf_counter()
    request = ChatRequest(model=spec, messages=PROMPT, max_tokens=tokens, temperature=0.7, seed=0)
    first = generate(loaded, request)
    first_at = time.perf_counter()
    completion_tokens, seconds = 0, 0.0
    for i in range(requests):
        t0 = time.perf_counter()
        answer = generate(loaded, request.model_copy(update={"seed": i + 1}))
        seconds += time.perf_counter() - t0
        completion_tokens += answer.usage.get("completion_tokens", 0)
    print(json.dumps({"load_s": round(loaded_at - started, 2), "first_candidate_s": round(first_at - started, 2),
                      "first_tokens": first.usage.get("completion_tokens"),
                      "tokens_per_s": round(completion_tokens / seconds, 1) if seconds else None,
                      "tokens": completion_tokens}))


def _spec_for(model: str, work: Path) -> str:
    if model == "tiny":
        return f"local:{_model_folder('tiny', work)}"
    from labeler.services.demo_model import demo_model

    return demo_model() or ""


def one_training(kind: str, model: str, work: Path, steps: int) -> None:
    """Child: `steps` steps of one trainer through the worker's own function; print JSON."""
    from exports.writer import write_export
    from labeler.train_worker import Status, train
    from tests.exports.trl_helpers import demonstration_rows, hh_records, ranking_rows

    base = _model_folder(model, work)
    records = hh_records(60)
    rows = demonstration_rows(records) if kind == "sft" else ranking_rows(records)
    export = work / f"export-{kind}"
    if not export.exists():
        write_export(export, KINDS[kind], rows, labeler_version="bench")
    manifest = json.loads((export / "manifest.json").read_text())
    files = {split: str(export / name) for split, name in _split_files(export, manifest).items()}
    run_dir = Path(tempfile.mkdtemp(dir=work))
    spec = {"kind": kind, "files": {"train": files["train"]}, "base_model": str(base), "epochs": 1.0,
            "max_steps": steps, "lr": 5e-5, "batch_size": 2, "max_length": 256, "lora": False,
            "out": str(run_dir / "model")}
    status = Status(run_dir)
    started = time.perf_counter()
    train(spec, run_dir, status)
    total = time.perf_counter() - started
    final = next((p for p in reversed(status.data["losses"]) if "train_steps_per_second" in p), {})
    print(json.dumps({"steps": status.data["step"], "steps_per_s": final.get("train_steps_per_second"),
                      "train_runtime_s": final.get("train_runtime"), "total_s": round(total, 1),
                      "params": _model_params(base)}))


def _split_files(export: Path, manifest: dict[str, Any]) -> dict[str, str]:
    from labeler.services.finetune import split_file

    out = {}
    for split in ("train", "valid"):
        found = split_file(export, manifest, split)
        if found:
            out[split] = found[0].name
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tiny,demo", help="tiny and/or demo")
    parser.add_argument("--gen-tokens", type=int, default=64, help="tokens asked per request")
    parser.add_argument("--gen-requests", type=int, default=5, help="timed requests after the first")
    parser.add_argument("--train-steps", type=int, default=10)
    parser.add_argument("--kinds", default="sft,reward,dpo,kto")
    parser.add_argument("--one", nargs="+", help=argparse.SUPPRESS)
    args, _unknown = parser.parse_known_args()  # `make bench` passes the same args to every bench
    os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", WANDB_DISABLED="true")
    if args.one:
        what, model, work = args.one[:3]
        if what == "generate":
            one_generation(model, Path(work), args.gen_tokens, args.gen_requests, args.one[3] == "cold")
        else:
            one_training(what, model, Path(work), args.train_steps)
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for model in args.models.split(","):
            for load in ("cold", "cached"):
                if model == "tiny" and load == "cold":
                    continue  # a folder of safetensors: nothing to convert
                result = run_child(Path(__file__), ["--one", "generate", model, str(work), load,
                                                    "--gen-tokens", str(args.gen_tokens),
                                                    "--gen-requests", str(args.gen_requests)])
                rows.append({"bench": "generate", "model": model, "case": f"load {load}", **result})
                print(json.dumps(rows[-1]), flush=True)
            for kind in args.kinds.split(","):
                result = run_child(Path(__file__), ["--one", kind, model, str(work),
                                                    "--train-steps", str(args.train_steps)])
                rows.append({"bench": "train", "model": model, "case": kind, **result})
                print(json.dumps(rows[-1]), flush=True)
    columns = ["bench", "model", "case", "load_s", "first_candidate_s", "tokens_per_s", "tokens", "steps",
               "steps_per_s", "train_runtime_s", "total_s", "params"]
    print(write_table("local", rows, columns, "Local models on CPU: generation and TRL training steps"))


if __name__ == "__main__":
    main()
