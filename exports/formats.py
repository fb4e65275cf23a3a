"""The registry of export formats: name -> `Format` (its source rows, record function, checks).

A format's `fn(rows, **options)` streams records; `split_records` streams `(split, record)` for
the writer. Options are checked by name so a typo fails loudly, and `aggregate="consensus"`
(ranking formats) merges the rankings of each prompt first, from rows ordered by prompt id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from exports import classification, comparison, preference, prompts, sft
from exports.aggregate import consensus_stream
from exports.checks import CHECKS, Check
from exports.errors import ExportError

RANKING_OPTIONS = ("exclude_flags", "aggregate")
AGGREGATES = ("per-labeler", "consensus")


@dataclass(frozen=True)
class Format:
    """One export format: what rows it reads, how one row becomes records, and how records are checked."""

    name: str
    source: str  # "rankings", "demonstrations", "prompts", "scope" (prompts with a scope label) or "comparison"
    row_fn: Callable[..., Iterable[dict[str, Any]]]
    options: tuple[str, ...]
    description: str
    example: str

    @property
    def validator(self) -> Check:
        """The record check and file rules of this format (`exports.checks`)."""
        return CHECKS[self.name]

    def prepare(self, options: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """`(row function options, consensus?)` from export options, failing on unknown names or values."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            known = ", ".join(f"`{o}`" for o in self.options) or "none"
            raise ExportError(f"format `{self.name}`: unknown option `{unknown[0]}` (known: {known})")
        opts = dict(options)
        aggregate = opts.pop("aggregate", None) or "per-labeler"
        if aggregate not in AGGREGATES:
            raise ExportError(f"format `{self.name}`: option `aggregate`: expected one of "
                              f"{', '.join(AGGREGATES)}, got {aggregate!r}")
        if "exclude_flags" in opts:
            opts["exclude_flags"] = frozenset(opts["exclude_flags"] or ())
        return opts, aggregate == "consensus"

    def split_records(self, rows: Iterable[Any], **options: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        """Stream `(split, record)` for every record the rows yield, in row order."""
        opts, merge = self.prepare(options)
        if merge:
            rows = consensus_stream(rows)
        fn = self.row_fn
        for row in rows:
            split = row.split
            for rec in fn(row, **opts):
                yield split, rec

    def fn(self, rows: Iterable[Any], **options: Any) -> Iterator[dict[str, Any]]:
        """Stream the records of `rows` (all splits together)."""
        for _, rec in self.split_records(rows, **options):
            yield rec


def manifest_options(options: dict[str, Any]) -> dict[str, Any]:
    """Options as JSON, keys sorted; flag sets become sorted lists (the same export, the same manifest)."""
    return {k: sorted(v or ()) if k == "exclude_flags" or isinstance(v, set | frozenset) else v
            for k, v in sorted(options.items())}


def _f(name: str, source: str, fn: Callable[..., Any], options: tuple[str, ...], description: str,
       example: str) -> tuple[str, Format]:
    return name, Format(name, source, fn, options, description, example)


FORMATS: dict[str, Format] = dict([
    _f("sft-messages", "demonstrations", sft.sft_messages, (),
       "conversational SFT: the whole dialogue, every written turn kept (TRL SFTTrainer)",
       '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}'),
    _f("sft-prompt-completion", "demonstrations", sft.sft_prompt_completion, (),
       "prompt-completion SFT: one line per written assistant turn (TRL SFTTrainer)",
       '{"prompt": [{"role": "user", "content": "Hi"}], "completion": [{"role": "assistant", '
       '"content": "Hello!"}]}'),
    _f("pairs", "rankings", preference.pairs, RANKING_OPTIONS,
       "preference pairs, C(K,2) minus ties per ranking, one group_id per ranking (TRL RewardTrainer, "
       "DPOTrainer)",
       '{"prompt": [{"role": "user", "content": "Hi"}], "chosen": [{"role": "assistant", "content": '
       '"Hello!"}], "rejected": [{"role": "assistant", "content": "Go away."}], "group_id": "r7", '
       '"margin": 2.0, "split_key": "user-42"}'),
    _f("rankings", "rankings", preference.rankings, RANKING_OPTIONS,
       "one whole ranking per line, candidates in rank order with ranks, Likert scores and flags",
       '{"ranking_id": 7, "group_id": "r7", "prompt_id": 3, "external_id": null, "prompt": [{"role": '
       '"user", "content": "Hi"}], "labeler": "ann", "origin": "human", "status": "submitted", '
       '"none_acceptable": false, "submitted_at": "2025-03-01T10:00:00Z", "time_source": null, '
       '"agreement": null, "consensus_of": [], "reference": null, "candidates": [{"candidate_id": 11, '
       '"completion": [{"role": '
       '"assistant", "content": "Hello!"}], "model": "m", "rank": 1, "likert": 6, "flags": [], "position": 1}, '
       '{"candidate_id": 12, "completion": [{"role": "assistant", "content": "Go away."}], "model": "m", '
       '"rank": 2, "likert": 2, "flags": ["rude"], "position": 0}]}'),
    _f("kto", "rankings", preference.kto, (*RANKING_OPTIONS, "none_acceptable_undesirable"),
       "unpaired preference: top-ranked candidates desirable, bottom-ranked undesirable (TRL KTOTrainer)",
       '{"prompt": [{"role": "user", "content": "Hi"}], "completion": [{"role": "assistant", "content": '
       '"Hello!"}], "label": true}'),
    _f("openai-chat", "demonstrations", sft.openai_chat, ("weight_non_human",),
       "OpenAI chat fine-tuning; `weight_non_human` trains only the labelers' assistant turns",
       '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!", '
       '"weight": 1}]}'),
    _f("openai-preference", "rankings", preference.openai_preference, RANKING_OPTIONS,
       "OpenAI preference (DPO) fine-tuning, one line per pair",
       '{"input": {"messages": [{"role": "user", "content": "Hi"}]}, "preferred_output": [{"role": '
       '"assistant", "content": "Hello!"}], "non_preferred_output": [{"role": "assistant", "content": '
       '"Go away."}]}'),
    _f("openai-legacy", "demonstrations", sft.openai_legacy, ("separator", "stop"),
       "OpenAI legacy completions (babbage-002, davinci-002): separator and stop absent from the data",
       '{"prompt": "Hi\\n\\n###\\n\\n", "completion": " Hello! END"}'),
    _f("prompts", "prompts", prompts.prompt_only, ("allow_overlap",),
       "prompt-only rows for the RL stage (TRL GRPOTrainer, RLOOTrainer, PPOTrainer); by default only prompts "
       "the SFT and reward-model sets of the same filters do not use",
       '{"prompt": [{"role": "user", "content": "What is 6 x 7?"}], "prompt_id": 3, "split": "train", '
       '"external_id": null, "reference": "42"}'),
    _f("openai-rft", "prompts", prompts.openai_rft, ("allow_overlap",),
       "OpenAI reinforcement fine-tuning: prompts with a reference answer, system turns as developer turns",
       '{"messages": [{"role": "developer", "content": "Answer with a number."}, {"role": "user", "content": '
       '"What is 6 x 7?"}], "reference_answer": "42", "prompt_id": 3}'),
    _f("classification", "scope", classification.classification, (),
       "scope labels for a gatekeeper classifier: the prompt's text and `answerable` or `off-limits`",
       '{"text": "How do I reset my password?", "label": "answerable", "reason": null, "prompt_id": 3}'),
    _f("classification-openai", "scope", classification.classification_openai, (),
       "the same scope labels as OpenAI chat fine-tuning: an instruction, the text, the label as the reply",
       '{"messages": [{"role": "system", "content": "Decide whether the assistant should answer the user\'s '
       'message. Reply with exactly one word: answerable or off-limits."}, {"role": "user", "content": '
       '"Write my exam essay for me."}, {"role": "assistant", "content": "off-limits"}]}'),
    _f("model-comparison", "comparison", comparison.model_comparison, ("models", "reward_model"),
       "models judged by preference: the win-rate matrix with its counts, Bradley-Terry ratings with 95% "
       "bootstrap intervals (one JSON report: `comparison.jsonl`)",
       '{"project": "qa", "judge": "humans", "models": ["m-new", "m-old"], "win_rate": [[null, 0.62], [0.38, '
       'null]], "games": [[0, 400], [400, 0]], "strengths": [{"model": "m-new", "rating": 1042.1, "interval": '
       '[1020.3, 1063.9], "games": 400, "score": 248.0}, {"model": "m-old", "rating": 957.9, "interval": [936.1, '
       '979.7], "games": 400, "score": 152.0}], "prompts": 200}'),
])


def formats_table() -> str:
    """A markdown table of every format with its source, options and one example line (for the README)."""
    lines = ["| format | from | options | one line |", "| --- | --- | --- | --- |"]
    for f in FORMATS.values():
        options = ", ".join(f"`{o}`" for o in f.options) or "none"
        lines.append(f"| `{f.name}` | {f.source} | {options} | {f.description}: `{f.example}` |")
    return "\n".join(lines) + "\n"


def get_format(name: str) -> Format:
    """The named format, or a clear error listing the known ones."""
    try:
        return FORMATS[name]
    except KeyError:
        raise ExportError(f"unknown format `{name}`; known: {', '.join(FORMATS)}") from None
