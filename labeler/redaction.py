"""Keys out of every message: the one `redact` that the services, the CLI and the app apply to text they show or store.

Design constraints: no heavy imports (the CLI applies it to every error it prints); keys are recognised
as written, in any case, and as servers echo them masked (`sk-secr*****XYZ`: a prefix and a suffix of a
known key around a mask), and anything shaped like a provider key (`sk-…`, `SK-…`) or a bearer token goes
too, known or not.
"""

from __future__ import annotations

import os
import re
import threading

DEFAULT_KEY_ENV = "OPENAI_API_KEY"
REDACTED = "[REDACTED]"
# Shorter keys are placeholders that local servers take (`local`, `ollama`, `EMPTY`, `none`): ordinary
# words that must not be redacted from text (a `local:` model name). Real keys are 20+ characters.
MIN_KEY_CHARS = 8

_known_keys: set[str] = set()  # keys resolved in this process
_known_lock = threading.Lock()
_MASK = r"\*•…·"  # characters servers print in place of a key's middle
# Shapes of common provider keys (OpenAI sk-..., Anthropic-style sk-ant-..., rk-/pk-), masked or not, any case;
# and bearer tokens.
_KEY_SHAPES = re.compile(
    rf"(?i)\b(?:sk|rk|pk)-[A-Za-z0-9_\-{_MASK}.]{{8,}}|\bbearer\s+[A-Za-z0-9_\-.=~+/{_MASK}]{{8,}}"
)
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]+@")  # https://user:secret@host
# A token with a mask run inside: `visible-start` + mask (`***`, `…`, `...`, `xxxx`) + `visible-end`.
_MASKED = re.compile(rf"([A-Za-z0-9_\-]+)(?:[{_MASK}]+|\.{{3,}}|[xX]{{4,}})([A-Za-z0-9_\-]*)")


def remember_key(key: str) -> None:
    """Add a key this process uses to what `redact` removes."""
    if len(key) >= MIN_KEY_CHARS:
        with _known_lock:
            _known_keys.add(key)


def redact(text: str) -> str:
    """`text` without any known key (in any case, or echoed masked) or anything shaped like a key."""
    keys = _keys()
    for key in keys:
        text = re.sub(re.escape(key), REDACTED, text, flags=re.IGNORECASE)
    if keys:
        text = _MASKED.sub(lambda m: REDACTED if _echoes(m.group(1), m.group(2), keys) else m.group(), text)
    return _URL_CREDENTIALS.sub(rf"\1{REDACTED}@", _KEY_SHAPES.sub(REDACTED, text))


def redact_value(value: object) -> object:
    """`value` with `redact` applied to every string inside it (dicts and lists walked), for stored details."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


def _keys() -> list[str]:
    with _known_lock:
        keys = set(_known_keys)
    env_key = (os.environ.get(DEFAULT_KEY_ENV) or "").strip()
    if len(env_key) >= MIN_KEY_CHARS:
        keys.add(env_key)
    return sorted(keys, key=len, reverse=True)


def _echoes(start: str, end: str, keys: list[str]) -> bool:
    """True when `start` + mask + `end` shows a known key's prefix and suffix (3+ characters of it in all)."""
    start, end = start.lower(), end.lower()
    for key in keys:
        low = key.lower()
        if len(start) >= 3 and low.startswith(start) and low.endswith(end) and len(start) + len(end) < len(low):
            return True
    return False
