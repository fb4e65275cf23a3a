"""Per-record rules of each target format: OpenAI's published file rules and TRL's column conventions.

Each `check_*` takes one parsed record and a sink (`exports.validate.Validator`) that collects
errors, warnings and counters, and returns the record's approximate token count (prompt plus the
longest completion: the longest sequence a trainer sees), or None when it is too broken to count.
Checks never raise on bad data, and they are cheap: an export runs them on every record it writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exports.classification import SCOPE_LABELS
from exports.message_checks import (
    PLAIN,
    PROMPT_ENDS,
    Sink,
    check_messages,
    has_text,
    key_list,
    kind,
    roles_of,
    warn_repetitive,
)
from exports.sft import SEPARATORS, STOPS
from exports.tokens import PER_EXAMPLE, PER_MESSAGE, approx_tokens


def _object(rec: Any, v: Sink, required: tuple[str, ...], allowed: frozenset[str], *, strict: bool) -> bool:
    """The record is an object with the required keys; unknown keys are errors when `strict`."""
    if type(rec) is not dict:
        v.error(None, f"expected a JSON object, got {kind(rec)}")
        return False
    missing = [k for k in required if k not in rec]
    for k in missing:
        v.error(k, "missing")
    if rec.keys() - allowed:
        extra = rec.keys() - allowed
        if strict:
            v.error(None, f"unknown key(s) {key_list(extra)}; allowed: {key_list(allowed)}")
        else:
            v.warn(None, f"unknown column(s) {key_list(extra)}: trainers ignore or drop them")
    return not missing


CHAT_KEYS = frozenset({"messages", "tools", "parallel_tool_calls", "functions"})


def check_openai_chat(rec: Any, v: Sink) -> int | None:
    """OpenAI chat fine-tuning: roles, keys, weights, tool calls, an assistant message per example."""
    if not _object(rec, v, ("messages",), CHAT_KEYS, strict=True):
        return None
    msgs = rec["messages"]
    tokens = check_messages(msgs, "messages", v, openai=True)
    if tokens is None:
        return None
    roles = roles_of(msgs)
    if "assistant" not in roles:
        v.error("messages", "no assistant message: every example needs at least one")
    elif all(m.get("weight") == 0 for m in msgs if isinstance(m, dict) and m.get("role") == "assistant"):
        v.warn("messages", "every assistant message has `weight: 0`: the example trains nothing")
    if "user" not in roles:
        v.warn("messages", "no user message: the assistant replies to nothing")
        v.count("no_user_message")
    if "system" not in roles and "developer" not in roles:
        v.count("no_system_message")
    if roles and roles[-1] != "assistant":
        v.warn("messages", f"ends with a `{roles[-1]}` message, which is not trained on")
    warn_repetitive(msgs, "messages", v)
    return tokens + PER_EXAMPLE


def _single_assistant(out: Any, field: str, v: Sink) -> int | None:
    if type(out) is not list or len(out) != 1:
        v.error(field, f"expected a list of exactly one assistant message, got {kind(out)}"
                + (f" of {len(out)}" if isinstance(out, list) else ""))
        return None
    tokens = check_messages(out, field, v, openai=True)
    if roles_of(out) != ["assistant"]:
        v.error(f"{field}[0].role", f"expected `assistant`, got {roles_of(out)[:1] or 'nothing'}")
    if isinstance(out[0], dict) and "weight" in out[0]:
        v.error(f"{field}[0].weight", "`weight` belongs to chat fine-tuning, not to preference outputs")
    return tokens


def check_openai_preference(rec: Any, v: Sink) -> int | None:
    """OpenAI preference (DPO): input ending in a user turn, one assistant message per output."""
    allowed = frozenset({"input", "preferred_output", "non_preferred_output"})
    if not _object(rec, v, tuple(sorted(allowed)), allowed, strict=True):
        return None
    inp = rec["input"]
    if type(inp) is not dict:
        v.error("input", f"expected an object with `messages`, got {kind(inp)}")
        return None
    extra = inp.keys() - {"messages", "tools", "parallel_tool_calls"}
    if extra:
        v.error("input", f"unknown key(s) {key_list(extra)}")
    msgs = inp.get("messages")
    tokens = check_messages(msgs, "input.messages", v, openai=True)
    if tokens is not None:
        roles = roles_of(msgs)
        if roles and roles[-1] != "user":
            v.error("input.messages", f"must end with a user message, ends with `{roles[-1]}`")
        if any(isinstance(m, dict) and "weight" in m for m in msgs):
            v.error("input.messages", "`weight` belongs to chat fine-tuning, not to preference input")
    good = _single_assistant(rec["preferred_output"], "preferred_output", v)
    bad = _single_assistant(rec["non_preferred_output"], "non_preferred_output", v)
    if rec["preferred_output"] == rec["non_preferred_output"]:
        v.error("non_preferred_output", "same as `preferred_output`: the pair teaches nothing")
    if None in (tokens, good, bad):
        return None
    return tokens + max(good, bad) + PER_EXAMPLE


def _conversational(rec: dict[str, Any], columns: tuple[str, ...], v: Sink) -> bool | None:
    """True for message lists, False otherwise, None when the columns disagree (an error)."""
    types = {c: isinstance(rec[c], list) for c in columns if c in rec}
    if len(set(types.values())) > 1:
        listed = ", ".join(f"`{c}` is {'a list of messages' if t else kind(rec[c])}"
                           for c, t in types.items())
        v.error(None, f"{listed}: use one type (all strings or all message lists) across the columns")
        return None
    return True in types.values()


def _prompt(rec: dict[str, Any], v: Sink) -> int | None:
    prompt = rec["prompt"]
    if isinstance(prompt, str):
        return approx_tokens(prompt)
    cache = v.state.get("prompt")
    if cache is not None and cache[0] is prompt:  # the pairs of one ranking share one prompt list
        return cache[1]
    tokens = check_messages(prompt, "prompt", v, openai=False)
    roles = roles_of(prompt)
    if roles and roles[-1] not in PROMPT_ENDS:
        v.error("prompt", f"must end with a user (or tool) message, ends with `{roles[-1]}`")
    v.state["prompt"] = (prompt, tokens)
    return tokens


def _completion(value: Any, field: str, v: Sink, *, assistant_only: bool) -> int | None:
    if isinstance(value, str):
        if not value.strip():
            v.warn(field, "empty text")  # kept: a near-empty reply can be the preferred one
        return approx_tokens(value)
    if (
        assistant_only and type(value) is list and len(value) == 1 and type(value[0]) is dict
        and value[0].keys() == PLAIN and value[0]["role"] == "assistant"
        and type(value[0]["content"]) is str and has_text(value[0]["content"])
    ):
        return PER_MESSAGE + approx_tokens(value[0]["content"])
    tokens = check_messages(value, field, v, openai=False)
    roles = roles_of(value)
    if assistant_only and any(r != "assistant" for r in roles):
        v.error(field, f"expected assistant messages only, got roles {roles}")
    elif not assistant_only and roles and roles[-1] != "assistant":
        v.error(field, f"must end with an assistant message, ends with `{roles[-1]}`")
    return tokens


PAIR_KEYS = frozenset({"prompt", "chosen", "rejected", "group_id", "margin", "split_key", "agreement"})
OUR_PAIRS = (PAIR_KEYS - {"agreement"}, PAIR_KEYS)  # the two shapes the `pairs` format writes


def _fast_pair(rec: dict[str, Any], v: Sink) -> int | None:
    """Tokens of a well-formed pair in the shape `pairs` writes, or None to take the full checks.

    It reports nothing itself: anything unusual falls through to `check_pairs`' full path. Written
    out flat, since an export runs it on every pair it writes (the prompt list is checked once per
    ranking: its pairs share it).
    """
    state = v.state
    cache = state.get("prompt")
    if cache is None or cache[0] is not rec["prompt"] or cache[1] is None:
        return None
    chosen, rejected = rec["chosen"], rec["rejected"]
    if type(chosen) is not list or type(rejected) is not list or len(chosen) != 1 or len(rejected) != 1:
        return None
    c, r = chosen[0], rejected[0]
    if (type(c) is not dict or type(r) is not dict or c.keys() != PLAIN or r.keys() != PLAIN
            or c["role"] != "assistant" or r["role"] != "assistant"):
        return None
    ct, rt = c["content"], r["content"]
    if type(ct) is not str or type(rt) is not str or ct == rt:
        return None
    margin, share, key = rec["margin"], rec.get("agreement"), rec["split_key"]
    if type(margin) is not float or margin != margin or (
            share is not None and (type(share) is not float or not 0 <= share <= 1)) or (
            key is not None and type(key) is not str):
        return None
    group = rec["group_id"]
    if group != state.get("group"):
        _group(group, v)
        state["texts"] = {}
    # A candidate is in K-1 pairs of its group: measure each text once. Keyed by the text itself,
    # not its id(): a record's strings may die once it is written, and a reused id gave another
    # text's count (token statistics that changed from run to run).
    texts = state.setdefault("texts", {})
    ctok, rtok = texts.get(ct), texts.get(rt)
    if ctok is None:
        ctok = texts[ct] = approx_tokens(ct) if has_text(ct) else -1
    if rtok is None:
        rtok = texts[rt] = approx_tokens(rt) if has_text(rt) else -1
    if ctok < 0 or rtok < 0:  # blank text: the full checks report it
        return None
    return cache[1] + PER_MESSAGE + max(ctok, rtok) + PER_EXAMPLE


def check_pairs(rec: Any, v: Sink) -> int | None:
    """TRL preference rows (RewardTrainer, DPOTrainer): one type across columns, chosen != rejected."""
    if type(rec) is dict and (rec.keys() == OUR_PAIRS[0] or rec.keys() == OUR_PAIRS[1]):
        tokens = _fast_pair(rec, v)
        if tokens is not None:
            return tokens
    if not _object(rec, v, ("chosen", "rejected"), PAIR_KEYS, strict=False):
        return None
    if _conversational(rec, ("prompt", "chosen", "rejected"), v) is None:
        return None
    explicit = "prompt" in rec
    prompt = _prompt(rec, v) if explicit else 0
    chosen = _completion(rec["chosen"], "chosen", v, assistant_only=explicit)
    rejected = _completion(rec["rejected"], "rejected", v, assistant_only=explicit)
    if rec["chosen"] == rec["rejected"]:
        v.error("rejected", "same as `chosen`: the pair teaches nothing")
    margin = rec.get("margin")
    if margin is not None and (type(margin) not in (int, float) or margin != margin):
        v.error("margin", f"expected a number, got {kind(margin)}")
    share = rec.get("agreement")
    if share is not None and (type(share) not in (int, float) or not 0 <= share <= 1):
        v.error("agreement", f"expected a share between 0 and 1, got {share!r}")
    key = rec.get("split_key")
    if key is not None and (type(key) is not str or not key):
        v.error("split_key", f"expected a non-empty string, got {kind(key)}")
    _group(rec.get("group_id"), v)
    if None in (prompt, chosen, rejected):
        return None
    return prompt + max(chosen, rejected) + PER_EXAMPLE


def _group(group: Any, v: Sink) -> None:
    """Count groups; with `state["groups"]` (a dict), also check that each group is contiguous."""
    if group is None:
        return
    if type(group) not in (str, int):
        v.error("group_id", f"expected a string or a number, got {kind(group)}")
        return
    if group == v.state.get("group"):
        return
    v.state["group"] = group
    v.count("groups")
    seen = v.state.get("groups")
    if seen is not None:
        if group in seen:
            v.error("group_id", f"group `{group}` is not contiguous: it started at line {seen[group]}")
        else:
            seen[group] = v.state["line"]


def check_kto(rec: Any, v: Sink) -> int | None:
    """TRL KTOTrainer rows: prompt, an assistant-only completion, a boolean label."""
    if not _object(rec, v, ("prompt", "completion", "label"), frozenset({"prompt", "completion", "label"}),
                   strict=False):
        return None
    if _conversational(rec, ("prompt", "completion"), v) is None:
        return None
    label = rec["label"]
    if type(label) is not bool:
        v.error("label", f"expected true or false, got {kind(label)}")
    else:
        v.count("desirable" if label else "undesirable")
    prompt = _prompt(rec, v)
    completion = _completion(rec["completion"], "completion", v, assistant_only=True)
    return None if None in (prompt, completion) else prompt + completion + PER_EXAMPLE


def check_sft_messages(rec: Any, v: Sink) -> int | None:
    """TRL conversational SFT rows: a `messages` list that ends with an assistant turn."""
    if not _object(rec, v, ("messages",), frozenset({"messages", "tools"}), strict=False):
        return None
    tokens = check_messages(rec["messages"], "messages", v, openai=False)
    roles = roles_of(rec["messages"])
    if tokens is not None and roles and roles[-1] != "assistant":
        v.error("messages", f"must end with an assistant message, ends with `{roles[-1]}`")
    return None if tokens is None else tokens + PER_EXAMPLE


def check_sft_prompt_completion(rec: Any, v: Sink) -> int | None:
    """TRL prompt-completion rows: one type across columns, an assistant-only completion."""
    if not _object(rec, v, ("prompt", "completion"), frozenset({"prompt", "completion"}), strict=False):
        return None
    if _conversational(rec, ("prompt", "completion"), v) is None:
        return None
    prompt = _prompt(rec, v)
    completion = _completion(rec["completion"], "completion", v, assistant_only=True)
    return None if None in (prompt, completion) else prompt + completion + PER_EXAMPLE


RANKING_KEYS = ("ranking_id", "group_id", "prompt_id", "external_id", "prompt", "labeler", "origin",
                "status", "none_acceptable", "submitted_at", "time_source", "agreement", "consensus_of", "reference",
                "candidates")


def check_rankings(rec: Any, v: Sink) -> int | None:
    """Whole rankings: a prompt and candidates in rank order (ranks >= 1, unranked last)."""
    if not _object(rec, v, ("prompt", "candidates"), frozenset(RANKING_KEYS), strict=False):
        return None
    prompt = _prompt(rec, v)
    cands = rec["candidates"]
    if type(cands) is not list:
        v.error("candidates", f"expected a list, got {kind(cands)}")
        return None
    longest, last = 0, 0
    for i, c in enumerate(cands):
        f = f"candidates[{i}]"
        if type(c) is not dict or "completion" not in c:
            v.error(f, "expected an object with `completion` and `rank`")
            continue
        longest = max(longest, _completion(c["completion"], f"{f}.completion", v, assistant_only=True) or 0)
        rank = c.get("rank")
        if rank is None:
            last = None
        elif type(rank) not in (int, float) or rank < 1:
            v.error(f"{f}.rank", f"expected a rank of 1 or more, or null, got {rank!r}")
        elif last is None or rank < last:
            v.error(f"{f}.rank", "candidates must be in rank order, unranked ones last")
        else:
            last = rank
    return None if prompt is None else prompt + longest + PER_EXAMPLE


def _markers(prompt: str, v: Sink) -> tuple[str | None, str | None]:
    """The legacy separator and stop: given as options, or told from the first prompt."""
    if "separator" not in v.state:
        v.state["separator"] = next((s for s in SEPARATORS if prompt.endswith(s)), None)
        if v.state["separator"] is None:
            v.warn("prompt", "no known separator at the end of the prompt: pass the export's `separator`")
    return v.state["separator"], v.state.get("stop")


def check_openai_legacy(rec: Any, v: Sink) -> int | None:
    """OpenAI legacy completions: prompt ends with the separator, completion with the stop sequence."""
    allowed = frozenset({"prompt", "completion"})
    if not _object(rec, v, ("prompt", "completion"), allowed, strict=True):
        return None
    prompt, completion = rec["prompt"], rec["completion"]
    for key, value in (("prompt", prompt), ("completion", completion)):
        if type(value) is not str:
            v.error(key, f"expected a string, got {kind(value)}")
            return None
    sep, stop = _markers(prompt, v)
    if stop is None and "stop" not in v.state:
        v.state["stop"] = stop = next((s for s in STOPS if completion.endswith(s)), None)
    if sep is not None and (not prompt.endswith(sep) or prompt.count(sep) != 1):
        v.error("prompt", f"must end with the separator {sep!r}, once")
    if stop is not None and (not completion.endswith(stop) or completion.count(stop) != 1):
        v.error("completion", f"must end with the stop sequence {stop!r}, once")
    elif stop is None and v.state.get("line") == 1:
        v.warn("completion", "no known stop sequence at the end: pass the export's `stop`")
    if completion[:1] not in (" ", "\n", "\t"):
        v.warn("completion", "should start with a space (OpenAI's tokenizers put one before words)")
    return approx_tokens(prompt) + approx_tokens(completion)


PROMPT_ONLY_KEYS = frozenset({"prompt", "prompt_id", "split", "external_id", "reference"})


def check_prompts(rec: Any, v: Sink) -> int | None:
    """TRL prompt-only rows (GRPO, RLOO, PPO): a prompt ending in a user turn, and no completion."""
    if not _object(rec, v, ("prompt",), PROMPT_ONLY_KEYS, strict=False):
        return None
    for key in ("completion", "chosen", "rejected", "messages"):
        if key in rec:
            v.error(key, "a prompt-only row holds no reply: the trainer generates the completions")
    if isinstance(rec["prompt"], str):
        if not rec["prompt"].strip():
            v.error("prompt", "empty text")
    elif type(rec["prompt"]) is not list:
        v.error("prompt", f"expected a list of messages or a string, got {kind(rec['prompt'])}")
        return None
    reference = rec.get("reference")
    if reference is not None and type(reference) is not str:
        v.error("reference", f"expected a string or null, got {kind(reference)}")
    elif reference is not None:
        v.count("with_reference")
    tokens = _prompt(rec, v)
    return None if tokens is None else tokens + PER_EXAMPLE


RFT_ROLES = frozenset({"developer", "user", "assistant", "tool"})


def check_openai_rft(rec: Any, v: Sink) -> int | None:
    """OpenAI reinforcement fine-tuning: `messages` ending in a user turn, no system role, grader fields.

    `messages` and `tools` are reserved; any other key is data the grader reads (`{{ item.KEY }}`).
    """
    if type(rec) is not dict:
        v.error(None, f"expected a JSON object, got {kind(rec)}")
        return None
    if "messages" not in rec:
        v.error("messages", "missing")
        return None
    msgs = rec["messages"]
    tokens = check_messages(msgs, "messages", v, openai=True)
    if tokens is None:
        return None
    roles = roles_of(msgs)
    for i, m in enumerate(msgs):
        if not isinstance(m, dict):
            continue
        if m.get("role") == "system":
            v.error(f"messages[{i}].role", "`system` is not taken: write it as a `developer` message")
        elif m.get("role") not in RFT_ROLES | {"system"}:
            v.error(f"messages[{i}].role", f"expected one of {key_list(RFT_ROLES)}, got {m.get('role')!r}")
        if "weight" in m:
            v.error(f"messages[{i}].weight", "`weight` belongs to chat fine-tuning, not to reinforcement data")
    if roles and roles[-1] != "user":
        v.error("messages", f"must end with a user message (the model answers it), ends with `{roles[-1]}`")
    if "tools" in rec and type(rec["tools"]) is not list:
        v.error("tools", f"expected a list of tools, got {kind(rec['tools'])}")
    if not rec.keys() - {"messages", "tools"}:
        v.warn(None, "no field besides `messages`: a grader has no reference answer to compare with")
    elif "reference_answer" in rec:
        v.count("with_reference")
    return tokens + PER_EXAMPLE


CLASSIFICATION_KEYS = frozenset({"text", "label", "reason", "prompt_id"})


def check_classification(rec: Any, v: Sink) -> int | None:
    """Scope classification: a non-empty `text` and a `label` of `answerable` or `off-limits`."""
    if not _object(rec, v, ("text", "label"), CLASSIFICATION_KEYS, strict=False):
        return None
    text, label = rec["text"], rec["label"]
    if type(text) is not str:
        v.error("text", f"expected a string, got {kind(text)}")
        return None
    if not has_text(text):
        v.error("text", "empty text")
    if label not in SCOPE_LABELS:
        v.error("label", f"expected one of {key_list(SCOPE_LABELS)}, got {label!r}")
    else:
        v.count(label)
    reason = rec.get("reason")
    if reason is not None and type(reason) is not str:
        v.error("reason", f"expected a string or null, got {kind(reason)}")
    return approx_tokens(text) + 1


def check_classification_openai(rec: Any, v: Sink) -> int | None:
    """The chat shape of a scope label: OpenAI's chat rules, and the last (assistant) turn is a label."""
    tokens = check_openai_chat(rec, v)
    if tokens is None:
        return None
    last = rec["messages"][-1] if rec["messages"] else None
    if isinstance(last, dict) and last.get("role") == "assistant":
        if last.get("content") not in SCOPE_LABELS:
            v.error("messages", f"the assistant must answer with one of {key_list(SCOPE_LABELS)}, "
                                f"got {last.get('content')!r}")
        else:
            v.count(last["content"])
    return tokens


def check_model_comparison(rec: Any, v: Sink) -> int | None:
    """A model comparison report: models, a square win-rate matrix with rates in [0, 1], and strengths."""
    if not _object(rec, v, ("models", "win_rate", "games", "strengths"), frozenset(rec) if type(rec) is dict
                   else frozenset(), strict=False):
        return None
    models, matrix, strengths = rec["models"], rec["win_rate"], rec["strengths"]
    if type(models) is not list or not all(type(m) is str for m in models):
        v.error("models", f"expected a list of model names, got {kind(models)}")
        return None
    n = len(models)
    if type(matrix) is not list or len(matrix) != n or any(type(r) is not list or len(r) != n for r in matrix):
        v.error("win_rate", f"expected a {n} x {n} matrix (one row and column per model)")
    elif any(x is not None and not (type(x) in (int, float) and 0 <= x <= 1) for r in matrix for x in r):
        v.error("win_rate", "every win rate is null or between 0 and 1")
    if type(strengths) is not list or [s.get("model") if type(s) is dict else None for s in strengths] != models:
        v.error("strengths", "expected one strength per model, in the order of `models`")
    v.count("models", n)
    return 0


@dataclass(frozen=True)
class Check:
    """A format's record check and the file rules around it."""

    fn: Callable[[Any, Sink], int | None]
    openai: bool = False  # OpenAI's file rules: >= 10 examples, 512 MB, context limits, epochs


CHECKS: dict[str, Check] = {
    "sft-messages": Check(check_sft_messages),
    "sft-prompt-completion": Check(check_sft_prompt_completion),
    "pairs": Check(check_pairs),
    "rankings": Check(check_rankings),
    "kto": Check(check_kto),
    "openai-chat": Check(check_openai_chat, openai=True),
    "openai-preference": Check(check_openai_preference, openai=True),
    "openai-legacy": Check(check_openai_legacy, openai=True),
    "prompts": Check(check_prompts),
    "openai-rft": Check(check_openai_rft, openai=True),
    "classification": Check(check_classification),
    "classification-openai": Check(check_classification_openai, openai=True),
    "model-comparison": Check(check_model_comparison),
}
