"""Routes of the fake OpenAI server: chat completions (`POST /v1/chat/completions`).

Answers are deterministic: each choice's text derives from the last user message, the model, the
seed, the temperature and the choice index, so two identical requests get identical answers and
anything that should change a sample (another seed, another choice) changes it. A reply is 8 to 40
words; one "token" is one word, so `max_tokens` below that cuts it with `finish_reason: "length"`.

Switches on `server.state`:
- `max_choices` (int): answer at most this many choices whatever `n` says (Ollama ignores `n`).
- `reply_words` (int): every reply has exactly this many words (for token arithmetic in tests).
- `paraphrase_lines` (list[str]): the rewordings a paraphrase request gets (numbered), instead of
  the generated ones.
- `paraphrase_max_lines` (int): a paraphrase answer holds at most this many rewordings, new ones on
  each request for the same prompt (a model that gives fewer than asked).

A paraphrase request (a system message asking to rewrite the user's message "in N different ways")
gets one choice of N numbered lines, each a distinct rewording of the user's message.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import time
from typing import TYPE_CHECKING, Any

from tests.fake_openai.server import Request

if TYPE_CHECKING:
    from tests.fake_openai.server import FakeOpenAI

ROLES = ("system", "developer", "user", "assistant", "tool")
WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
         "quebec romeo sierra tango uniform victor whiskey xray yankee zulu").split()
_ids = itertools.count(1)


def install(server: FakeOpenAI) -> None:
    """Register this module's routes on `server`."""
    server.route("POST", r"/v1/chat/completions")(chat_completions)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    # content parts: [{"type": "text", "text": ...}, ...]
    return " ".join(p.get("text", "") for p in content if isinstance(p, dict))


def check_request(body: Any) -> dict[str, Any]:
    """The request body, checked as OpenAI checks it; ValueError (-> 400) names what is wrong."""
    if not isinstance(body, dict):
        raise ValueError("the request body must be a JSON object")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise ValueError("you must provide a model parameter")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("'messages' must be a non-empty array")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise ValueError(f"messages[{i}]: 'role' must be one of {', '.join(ROLES)}")
        content = m.get("content")
        if not (isinstance(content, str) or (isinstance(content, list) and content)):
            raise ValueError(f"messages[{i}]: 'content' must be a string or an array of parts")
    n = body.get("n", 1)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 128:
        raise ValueError("'n' must be an integer between 1 and 128")
    temperature = body.get("temperature", 1.0)
    if not isinstance(temperature, int | float) or not 0 <= temperature <= 2:
        raise ValueError("'temperature' must be between 0 and 2")
    top_p = body.get("top_p", 1.0)
    if not isinstance(top_p, int | float) or not 0 < top_p <= 1:
        raise ValueError("'top_p' must be in (0, 1]")
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(f"'{name}' must be a positive integer")
    seed = body.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise ValueError("'seed' must be an integer")
    return body


def reply_text(prompt: str, model: str, seed: int | None, temperature: float, index: int,
               words: int | None = None) -> str:
    """The deterministic reply for one choice."""
    digest = hashlib.sha256(f"{prompt}\x00{model}\x00{seed}\x00{temperature}\x00{index}".encode()).digest()
    count = words if words is not None else 8 + digest[0] % 33
    picked = [WORDS[b % len(WORDS)] for b in (digest * (count // len(digest) + 1))[:count]]
    picked[0] = digest.hex()[:8]  # makes every distinct reply distinct
    return " ".join(picked)


PARAPHRASE_ASK = re.compile(r"rewrite the user's message in (\d+) different ways", re.IGNORECASE)


def paraphrase_lines(prompt: str, model: str, n: int) -> list[str]:
    """The deterministic rewordings of `prompt` (unnumbered)."""
    return [f"{prompt} (asked another way, {reply_text(prompt, model, None, 1.0, i, 3)})" for i in range(n)]


def _fresh_rewordings(server: FakeOpenAI, prompt: str, model: str, wanted: int) -> list[str]:
    """`wanted` rewordings, at most `paraphrase_max_lines` of them; each request for a prompt gets new ones."""
    cap = server.state.get("paraphrase_max_lines")
    if cap is None:
        return paraphrase_lines(prompt, model, wanted)
    calls = server.state.setdefault("paraphrase_calls", {})
    start = calls.get(prompt, 0)
    got = min(wanted, cap)
    calls[prompt] = start + got
    return paraphrase_lines(prompt, model, start + got)[start:]


def _paraphrase_count(messages: list[dict[str, Any]]) -> int | None:
    for m in messages:
        if m["role"] in ("system", "developer"):
            found = PARAPHRASE_ASK.search(_content_text(m["content"]))
            if found:
                return int(found.group(1))
    return None


def _tokens(text: str) -> int:
    return len(re.findall(r"\S+", text))


def chat_completions(server: FakeOpenAI, request: Request, match: re.Match[str]) -> tuple[int, Any]:
    """Answer a chat completion with `n` choices (or fewer, under `max_choices`)."""
    body = check_request(request.json())  # a ValueError (bad JSON too) becomes a 400
    messages = body["messages"]
    users = [m for m in messages if m["role"] == "user"]
    prompt = _content_text(users[-1]["content"]) if users else _content_text(messages[-1]["content"])
    n = body.get("n", 1)
    n = min(n, server.state.get("max_choices", n))
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    choices, completion_tokens = [], 0
    wanted = _paraphrase_count(messages)
    for i in range(n):
        if wanted is not None:  # one answer: the rewordings, one a line, numbered
            lines = server.state.get("paraphrase_lines") or _fresh_rewordings(server, prompt, body["model"], wanted)
            text = "\n".join(f"{j}. {line}" for j, line in enumerate(lines, 1))
            completion_tokens += _tokens(text)
            choices.append({"index": i, "message": {"role": "assistant", "content": text, "refusal": None},
                            "finish_reason": "stop", "logprobs": None})
            continue
        words = reply_text(prompt, body["model"], body.get("seed"), float(body.get("temperature", 1.0)), i,
                           server.state.get("reply_words")).split()
        finish = "stop"
        if limit is not None and len(words) > limit:
            words, finish = words[:limit], "length"
        completion_tokens += len(words)
        choices.append({"index": i, "message": {"role": "assistant", "content": " ".join(words), "refusal": None},
                        "finish_reason": finish, "logprobs": None})
    prompt_tokens = sum(_tokens(_content_text(m["content"])) + 3 for m in messages) + 3
    return 200, {
        "id": f"chatcmpl-fake{next(_ids):06d}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "system_fingerprint": f"fp_fake_{hashlib.sha256(body['model'].encode()).hexdigest()[:8]}",
        "choices": choices,
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }
