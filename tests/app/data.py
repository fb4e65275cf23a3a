"""Projects with prompts and K candidates each, imported through the services as an admin would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.ingest import ImportOptions, import_file
from tests.factories import make_project


def write_trees(path: Path, n_prompts: int, k: int, topic: str = "question") -> Path:
    """An OpenAssistant tree file: `n_prompts` prompts with `k` unranked assistant replies each."""
    lines = []
    for p in range(n_prompts):
        replies = [
            {"message_id": f"{topic}-{p}-r{c}", "text": f"Reply {c + 1} to {topic} {p + 1}: **bold** <b>raw</b>",
             "role": "assistant", "replies": []}
            for c in range(k)
        ]
        prompt = {"message_id": f"{topic}-{p}", "text": f"Please answer {topic} number {p + 1}.",
                  "role": "prompter", "replies": replies}
        lines.append(orjson.dumps({"message_tree_id": f"{topic}-{p}", "prompt": prompt}))
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def make_task_project(
    tmp_path: Path, name: str = "work", members: tuple[str, ...] = (), n_prompts: int = 3, k: int = 4,
    **settings: Any,
) -> str:
    """A project whose prompts each carry `k` candidates, with `members` on it."""
    make_project(name, members, **settings)
    path = write_trees(tmp_path / f"{name}.jsonl", n_prompts, k, topic=name)
    with session_scope() as s:
        import_file(s, OPERATOR, name, path, ImportOptions(format="oasst-tree", split="100/0/0"))
    return name
