"""InstructGPT's reward-model set, as an OpenAssistant-tree file of the same shape.

InstructGPT's RM set has 33,207 prompts, each with K = 4..9 model outputs ranked by a labeler.
Written as `oasst-tree` lines (the format that carries K-way ranks): one prompt per tree, K
assistant replies with OpenAssistant's `rank` (0 = best), a user per 150 prompts (so the
per-user cap of 200 keeps every prompt), texts of realistic length (prompts 10-60 words,
replies 30-150 words).
"""

from __future__ import annotations

import random
from pathlib import Path

import orjson

PROMPTS_PER_USER = 150
WORDS = (
    "how what why explain write summarize translate list compare describe the a an of to in for with "
    "python code function data model poem story email recipe history science music travel health money "
    "learn best simple short long detailed example steps reasons difference between my your this that "
    "please can could would should make give tell show help plan idea question answer world city night "
    "first then because however therefore finally also usually often sometimes never always each every"
).split()


def generate_rm(path: Path, n: int, seed: int = 11) -> int:
    """Write n ranked prompts (K = 4..9 replies each); return the number of candidates written."""
    rng = random.Random(seed)
    candidates = 0
    with path.open("wb") as fh:
        for i in range(n):
            k = rng.randint(4, 9)
            ranks = list(range(k))
            rng.shuffle(ranks)
            replies = [{"message_id": f"m{i}.{j}", "parent_id": f"m{i}", "role": "assistant", "lang": "en",
                        "rank": ranks[j], "text": _text(rng, f"{i}.{j}", 30, 150), "replies": []}
                       for j in range(k)]
            prompt = {"message_id": f"m{i}", "role": "prompter", "lang": "en", "user_id": f"u{i // PROMPTS_PER_USER}",
                      "text": _text(rng, str(i), 10, 60), "replies": replies}
            fh.write(orjson.dumps({"message_tree_id": f"m{i}", "tree_state": "ready_for_export", "prompt": prompt}))
            fh.write(b"\n")
            candidates += k
    return candidates


def _text(rng: random.Random, tag: str, low: int, high: int) -> str:
    return f"{tag} " + " ".join(rng.choices(WORDS, k=rng.randint(low, high)))
