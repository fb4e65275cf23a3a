"""The local backend: a Hugging Face `transformers` causal LM on this machine, from a folder or a GGUF file.

Design constraints:
- **Named like a model**: a project's models (`generation_models`, `suggestion_model`, `--model`) name
  it as `local:<path>`; `backend_for` routes those requests here and any other model to the
  OpenAI-compatible server, so generate, augment and Suggest use it exactly like a remote model.
- **Optional**: torch and transformers are imported only when a local model is used (never at
  module level: `labeler --help` stays fast); without them `check_local` says how to install the
  `local` extra (`pip install 'labeler[local]'`), before any request.
- **Loaded once per process**: models are cached by path (a lock, so concurrent users wait for one
  load); a GGUF file is de-quantised once and its weights cached as safetensors under
  `<LABELER_DATA_DIR>/models/`, so later processes load fast.
- **Outside transactions**: loading and generating happen in `complete`, which the engine calls
  between its short sessions; generation runs in a worker thread (the event loop stays free), one
  generation per model at a time.
- **Failures**: a model that cannot be loaded stops the run (`Refused`: nothing else can succeed);
  out of memory fails its request (`RequestFailed`) with a message saying so.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import os
import shutil
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labeler.config import get_settings
from labeler.errors import Invalid
from labeler.services.engine.backend import Backend, ChatRequest, Choice, Completion, Refused, RequestFailed

PREFIX = "local:"
INSTALL = "pip install 'labeler[local]'"
DEFAULT_MAX_TOKENS = 256
OOM = "out of memory while generating (ask for fewer or shorter replies, or use a smaller model)"
_loaded: dict[str, _Loaded] = {}
_load_lock = threading.Lock()


def is_local(model: str) -> bool:
    """True for a model named `local:<path>`."""
    return model.startswith(PREFIX)


def local_path(model: str) -> Path:
    """The folder or GGUF file a `local:<path>` model names (`~` expanded)."""
    return Path(model[len(PREFIX):].strip()).expanduser()


def check_local(model: str) -> Path:
    """The model's path, checked without loading it: Invalid when the extra is missing or the path unusable."""
    path = local_path(model)
    gguf = path.suffix.lower() == ".gguf"
    needed = ("torch", "transformers", *(("gguf", "accelerate") if gguf else ()))
    missing = [name for name in needed if not _importable(name)]
    if missing:
        raise Invalid(f"model `{model}` needs the local extra (missing: {', '.join(missing)}): run `{INSTALL}`")
    if not str(path) or str(path) == ".":
        raise Invalid(f"model `{model}`: name a folder or a .gguf file after `{PREFIX}`")
    if not path.exists():
        raise Invalid(f"model `{model}`: {path} does not exist (a model folder or a .gguf file)")
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise Invalid(f"model `{model}`: {path} has no config.json (not a transformers model folder)")
    elif not gguf:
        raise Invalid(f"model `{model}`: {path} is a file but not a .gguf file")
    if not os.access(path, os.R_OK):
        raise Invalid(f"model `{model}`: {path} is not readable")
    return path


def _importable(name: str) -> bool:
    """True when `name` can be imported (without importing it; None in sys.modules means blocked)."""
    if name in sys.modules:
        return sys.modules[name] is not None
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


@dataclass
class _Loaded:
    """A model in memory, its tokenizer, the device it runs on, and a lock (one generation at a time)."""

    model: Any
    tokenizer: Any
    device: str
    lock: threading.Lock


class LocalBackend:
    """`local:` models in this process; any other model goes to `remote` (None when every model is local)."""

    def __init__(self, remote: Backend | None = None, *, data_dir: Path | None = None) -> None:
        self.remote, self.data_dir = remote, data_dir

    async def complete(self, request: ChatRequest) -> Completion:
        if not is_local(request.model):
            if self.remote is None:
                raise RequestFailed(request.model, "not a local model and no model server is configured")
            return await self.remote.complete(request)
        loaded = await asyncio.to_thread(load, request.model, self.data_dir)
        return await asyncio.to_thread(generate, loaded, request)

    async def aclose(self) -> None:
        if self.remote is not None:
            await self.remote.aclose()


def load(model: str, data_dir: Path | None = None) -> _Loaded:
    """The model, loaded once per process; Refused (the run stops) when it cannot be loaded."""
    try:
        path = check_local(model)
    except Invalid as e:
        raise Refused(str(e)) from None
    key = str(path.resolve())
    with _load_lock:
        if key not in _loaded:
            try:
                _loaded[key] = _load(path, data_dir)
            except MemoryError:
                raise Refused(f"model `{model}`: out of memory while loading {path}") from None
            except Exception as e:  # noqa: BLE001 - any loader failure: corrupt or unreadable weights
                if _is_oom(e):
                    raise Refused(f"model `{model}`: out of memory while loading {path}") from None
                first = (str(e).strip().splitlines() or [""])[0][:300]
                raise Refused(f"model `{model}`: cannot load {path}: {type(e).__name__}: {first}") from None
        return _loaded[key]


def _load(path: Path, data_dir: Path | None) -> _Loaded:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if path.suffix.lower() == ".gguf":
        path = gguf_cache(path, data_dir)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float16 if device == "cuda" else torch.float32)
    model.to(device).eval()
    if tokenizer.chat_template is None:
        raise ValueError("the tokenizer has no chat template")
    return _Loaded(model, tokenizer, device, threading.Lock())


CACHE_FORMAT = 2  # 2: config.json names the architecture (TRL's DPO/KTO build their reference model from it)


def gguf_cache_dir(path: Path, data_dir: Path | None = None) -> Path:
    """Where `gguf_cache` keeps (or will keep) the GGUF file's converted folder; nothing is read but its stat."""
    stat = path.stat()
    # CACHE_FORMAT: bumped when the converted folder changes shape, so older caches are converted again.
    key = f"{CACHE_FORMAT}|{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return Path(data_dir if data_dir is not None else get_settings().data_dir) / "models" / f"{path.stem}-{digest}"


def gguf_cache(path: Path, data_dir: Path | None = None) -> Path:
    """A folder with the GGUF file's weights de-quantised (safetensors) and its tokenizer, made once.

    The folder's name holds a digest of the file's path, size and time, so a changed file is
    converted again; it is written beside its final place and renamed, so a crash leaves no half cache.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = gguf_cache_dir(path, data_dir)
    if (target / "config.json").is_file():
        return target
    tmp = target.with_name(target.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name)
        _save_plain(model, tmp)
        tokenizer.save_pretrained(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def _save_plain(model: Any, folder: Path) -> None:
    """Save de-quantised weights (`save_pretrained` refuses a model loaded from GGUF) and the config."""
    from safetensors.torch import save_model

    folder.mkdir(parents=True)
    config = model.config
    for name in ("quantization_config", "_pre_quantization_dtype"):
        if hasattr(config, name):
            delattr(config, name)
    config.architectures = [type(model).__name__]  # a GGUF load leaves it empty; trainers read it
    config.save_pretrained(folder)
    model.generation_config.save_pretrained(folder)
    save_model(model, str(folder / "model.safetensors"))


def generate(loaded: _Loaded, request: ChatRequest) -> Completion:
    """`request.n` replies to the request's messages (chat template from the tokenizer), with usage counts."""
    try:
        with loaded.lock:
            return _generate(loaded, request)
    except MemoryError:
        raise RequestFailed(request.model, OOM) from None
    except RuntimeError as e:
        if _is_oom(e):
            raise RequestFailed(request.model, OOM) from None
        raise RequestFailed(request.model, f"generation failed: {type(e).__name__}: {str(e)[:300]}") from None


def _generate(loaded: _Loaded, request: ChatRequest) -> Completion:
    import torch

    tok, model = loaded.tokenizer, loaded.model
    enc = tok.apply_chat_template(request.messages, add_generation_prompt=True, return_tensors="pt",
                                  return_dict=True)
    enc = {k: v.to(loaded.device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
    prompt_len = int(enc["input_ids"].shape[1])
    sample = request.temperature is None or request.temperature > 0
    n = request.n if sample else 1  # greedy decoding gives one reply: repeated n times, as a server would
    pad = tok.pad_token_id if tok.pad_token_id is not None else _eos_ids(loaded)[0]
    kwargs: dict[str, Any] = {"max_new_tokens": request.max_tokens or DEFAULT_MAX_TOKENS, "num_return_sequences": n,
                              "pad_token_id": pad, "do_sample": sample}
    if sample:
        kwargs.update(temperature=request.temperature or 1.0, top_p=request.top_p or 1.0, top_k=0)
    if request.seed is not None:
        torch.manual_seed(request.seed)
    with torch.inference_mode():
        out = model.generate(**enc, **kwargs)
    eos = set(_eos_ids(loaded))
    choices, completion_tokens = [], 0
    for row in out[:, prompt_len:].tolist():
        end = next((i for i, t in enumerate(row) if t in eos), None)
        tokens = row if end is None else row[:end]
        completion_tokens += len(tokens) + (0 if end is None else 1)
        text = tok.decode(tokens, skip_special_tokens=True).strip()
        choices.append((text, "length" if end is None else "stop"))
    if not sample:
        choices *= request.n
        completion_tokens *= request.n
    kept = [Choice(i, text, reason) for i, (text, reason) in enumerate(choices) if text]
    usage = {"prompt_tokens": prompt_len, "completion_tokens": completion_tokens,
             "total_tokens": prompt_len + completion_tokens}
    return Completion(request.model, kept, usage)


def _eos_ids(loaded: _Loaded) -> list[int]:
    ids = loaded.model.generation_config.eos_token_id
    ids = list(ids) if isinstance(ids, list | tuple) else [ids] if ids is not None else []
    if loaded.tokenizer.eos_token_id is not None:
        ids.append(loaded.tokenizer.eos_token_id)
    return [int(i) for i in ids] or [0]


def _is_oom(e: BaseException) -> bool:
    """CUDA says "out of memory" (OutOfMemoryError); torch's CPU allocator says "can't allocate memory"."""
    message = str(e).lower()
    return "out of memory" in message or "can't allocate memory" in message or type(e).__name__ == "OutOfMemoryError"


def forget_loaded() -> None:
    """Drop every cached model (tests; a long-lived process that wants the memory back)."""
    with _load_lock:
        _loaded.clear()
