"""Approximate token counts and the training context limits of OpenAI's fine-tunable models.

No tokenizer is downloaded: a token is taken as 4 UTF-8 bytes (about right for English with the
GPT-4 family's tokenizers, a slight overcount for code, an undercount for CJK scripts), plus the
per-message overhead of OpenAI's cookbook (3 tokens per message, 3 to prime the reply).
"""

from __future__ import annotations

PER_MESSAGE = 3
PER_EXAMPLE = 3

# Training-example context lengths from OpenAI's fine-tuning guide; longer examples are truncated.
MODEL_LIMITS: dict[str, int] = {
    "gpt-4.1-2025-04-14": 65_536,
    "gpt-4.1-mini-2025-04-14": 65_536,
    "gpt-4.1-nano-2025-04-14": 65_536,
    "gpt-4o-2024-08-06": 65_536,
    "gpt-4o-mini-2024-07-18": 65_536,
    "gpt-3.5-turbo-0125": 16_385,
    "gpt-3.5-turbo-1106": 16_385,
    "gpt-3.5-turbo-0613": 4_096,
    "babbage-002": 16_384,
    "davinci-002": 16_384,
}
# When no model is named: the limit the OpenAI cookbook checks against (gpt-3.5-turbo's).
DEFAULT_LIMIT = 16_385


def approx_tokens(text: str) -> int:
    """About one token per 4 UTF-8 bytes, at least 1 for a non-empty text."""
    n = len(text) if text.isascii() else len(text.encode("utf-8"))
    return (n + 3) // 4


def model_limit(model: str | None) -> tuple[int, bool]:
    """`(limit, known)`: the model's training context length, or the default when unknown.

    Fine-tuned names (`ft:gpt-4o-mini-2024-07-18:org::id`) and undated names (`gpt-4o-mini`)
    resolve to their base model.
    """
    if not model:
        return DEFAULT_LIMIT, True
    name = model.removeprefix("ft:").split(":", 1)[0]
    if name in MODEL_LIMITS:
        return MODEL_LIMITS[name], True
    matches = [k for k in MODEL_LIMITS if k.startswith(name + "-")]
    if matches:
        return min(MODEL_LIMITS[k] for k in matches), True
    return DEFAULT_LIMIT, False


def default_epochs(examples: int) -> int:
    """OpenAI's usual epoch choice: 3, raised for tiny sets (to ~100 examples seen), cut for huge ones."""
    if examples <= 0:
        return 0
    if examples * 3 < 100:
        return min(25, 100 // examples)
    if examples * 3 > 25_000:
        return max(1, 25_000 // examples)
    return 3
