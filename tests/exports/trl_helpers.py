"""Helpers for the TRL consumer tests: real rows from the hh-rlhf sample, and a tokenizer made on the fly.

The rows come from `labeler.readers` (pure, no database) and are turned into export rows by hand,
as a service would. Nothing here imports torch or TRL: the tokenizer builder takes the modules the
test already imported (so a laptop without them skips before reaching this code).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from exports.rows import DemonstrationRow, RankedItem, RankingRow
from labeler.hygiene import root_key

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
HH_SAMPLE = SHARED_DATA / "anthropic-hh-rlhf" / "harmless-base_test_first500.jsonl.gz"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Special tokens of the toy tokenizer; `<|end|>` closes every turn and is the EOS token.
PAD, BOS, EOS, UNK = "<pad>", "<s>", "<|end|>", "<unk>"
ROLE_TOKENS = ["<|system|>", "<|user|>", "<|assistant|>", "<|tool|>"]
# A minimal chat template: `<|role|>content<|end|>` per turn, assistant content (and its end-of-turn
# token) inside {% generation %} so `assistant_only_loss` can mask the other turns.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' }}"
    "{% if message['role'] == 'assistant' %}"
    "{% generation %}{{ message['content'] + '<|end|>' }}{% endgeneration %}"
    "{% else %}{{ message['content'] + '<|end|>' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)


def hh_records(n: int = 40, max_chars: int = 1200) -> list[Any]:
    """The first `n` hh-rlhf records whose dialogue and both replies are short (fast, nothing filtered)."""
    from labeler.readers import ImportRecord, read_records

    out = []
    for rec in read_records(HH_SAMPLE, "hh-rlhf"):
        if not isinstance(rec, ImportRecord):
            continue
        size = sum(len(m.content) for m in rec.messages) + sum(len(c.text) for c in rec.candidates)
        if size <= max_chars:
            out.append(rec)
            if len(out) == n:
                break
    return out


def _messages(messages: Any) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def _by_rank(rec: Any) -> list[Any]:
    return sorted(rec.candidates, key=lambda c: c.rank)


def split_of(i: int) -> str:
    """Every fifth prompt in `valid`, the rest in `train` (one prompt, one split)."""
    return "valid" if i % 5 == 4 else "train"


def ranking_rows(records: list[Any]) -> list[RankingRow]:
    """One imported ranking per record (chosen rank 1, rejected rank 2).

    Every fourth record gets a third candidate, ranked last: the rejected reply of another
    conversation (off-topic), with Likert scores on all three so its margins are Likert gaps and its
    three pairs share one `group_id`; the others have rank-distance margins.
    """
    rows = []
    for i, rec in enumerate(records):
        ranked = _by_rank(rec)
        items = [RankedItem(candidate_id=100 * i + j, text=c.text, model=c.model, rank=c.rank, position=j)
                 for j, c in enumerate(ranked)]
        if i % 4 == 3:
            other = _by_rank(records[i - 1])[-1].text
            items = [RankedItem(candidate_id=it.candidate_id, text=it.text, model=it.model, rank=it.rank,
                                likert=(6, 3)[j], position=it.position) for j, it in enumerate(items)]
            items.append(RankedItem(candidate_id=100 * i + 9, text=other, rank=3, likert=1, position=2))
        rows.append(RankingRow(ranking_id=i + 1, prompt_id=i + 1, split=split_of(i), messages=_messages(rec.messages),
                               items=items, external_id=rec.external_id, labeler=None, origin="imported",
                               submitted_at="2025-03-01T10:00:00Z", source="hh.jsonl",
                               split_key=root_key(rec.messages), split_by="root"))
    return rows


def demonstration_rows(records: list[Any]) -> list[DemonstrationRow]:
    """One demonstration per record: the chosen reply written after the conversation.

    Every third multi-turn record is a multi-turn demonstration instead: the context is the first
    user turn, and the labeler wrote every later turn (earlier assistant turns, user follow-ups,
    and the chosen reply), so `sft-prompt-completion` yields one line per assistant turn.
    """
    rows = []
    for i, rec in enumerate(records):
        messages = _messages(rec.messages)
        reply = {"role": "assistant", "content": _by_rank(rec)[0].text}
        if i % 3 == 2 and len(messages) >= 3:
            context, turns = messages[:1], [*messages[1:], reply]
        else:
            context, turns = messages, [reply]
        rows.append(DemonstrationRow(demonstration_id=i + 1, prompt_id=i + 1, split=split_of(i), messages=context,
                                     turns=turns, external_id=rec.external_id, labeler="ann",
                                     submitted_at="2025-03-02T09:00:00Z"))
    return rows


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, "rb") as f:
        return [orjson.loads(line) for line in f]


def texts(value: Any) -> Iterator[str]:
    """Every `content` string in an exported record (any nesting)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "content" and isinstance(v, str):
                yield v
            else:
                yield from texts(v)
    elif isinstance(value, list):
        for v in value:
            yield from texts(v)


def train_tokenizer(records: list[dict[str, Any]], *, vocab_size: int = 2000) -> Any:
    """A word-level tokenizer trained on the export's texts, with the chat template and special tokens."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    specials = [PAD, UNK, BOS, EOS, *ROLE_TOKENS]
    trainer = trainers.WordLevelTrainer(vocab_size=vocab_size, special_tokens=specials)
    tok.train_from_iterator((t for rec in records for t in texts(rec)), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, unk_token=UNK, bos_token=BOS,
                                   eos_token=EOS, additional_special_tokens=ROLE_TOKENS)
    fast.chat_template = CHAT_TEMPLATE
    return fast
