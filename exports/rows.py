"""The input contract of every exporter: plain, frozen rows that a service streams from its queries.

Design constraints: no database types here (the service turns ORM rows or SQL tuples into these),
no validation beyond what the type says (the service already enforces the store's rules), and
cheap to build: `slots=True` dataclasses, because an export builds one per ranking or demonstration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, TypedDict

Split = Literal["train", "valid", "test"]
SPLITS: tuple[str, ...] = ("train", "valid", "test")


class Message(TypedDict):
    """One chat turn; `weight` (0/1) only on assistant turns, `tool_calls` as in OpenAI's chat format."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str
    weight: NotRequired[int]
    tool_calls: NotRequired[list[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class RankedItem:
    """One candidate's place in a ranking: rank 1 is best, equal ranks are a tie, None is unranked."""

    candidate_id: int
    text: str
    model: str | None = None
    rank: int | float | None = None
    likert: int | float | None = None
    flags: Sequence[str] = ()
    position: int | None = None


@dataclass(frozen=True, slots=True)
class RankingRow:
    """One ranking of a prompt's candidates, by one labeler, an import, or a consensus of several.

    A consensus row (see `exports.aggregate.consensus`) has `consensus_of` (the ranking ids merged),
    `agreement` (mean share of labelers agreeing with its pairs) and `pair_agreement`, keyed by
    `(better candidate_id, worse candidate_id)`.
    """

    ranking_id: int
    prompt_id: int
    split: str
    messages: Sequence[Message]
    items: Sequence[RankedItem]
    external_id: str | None = None
    labeler: str | None = None
    origin: str = "human"
    status: str = "submitted"
    none_acceptable: bool = False
    submitted_at: str | None = None
    agreement: float | None = None
    reference: str | None = None
    consensus_of: tuple[int, ...] = ()
    pair_agreement: Mapping[tuple[int, int], float] | None = field(default=None, compare=False)

    @property
    def group_id(self) -> str:
        """`r<ranking_id>` for one ranking, `p<prompt_id>` for a consensus of several."""
        return f"p{self.prompt_id}" if self.consensus_of else f"r{self.ranking_id}"


@dataclass(frozen=True, slots=True)
class DemonstrationRow:
    """What a labeler wrote after a prompt's conversation: `turns` end with an assistant turn.

    `human_turns` lists the indices into `turns` that a labeler wrote (None: all of them); the
    other turns are, e.g., accepted model suggestions in a multi-turn dialogue.
    """

    demonstration_id: int
    prompt_id: int
    split: str
    messages: Sequence[Message]
    turns: Sequence[Message]
    external_id: str | None = None
    labeler: str | None = None
    origin: str = "human"
    status: str = "submitted"
    submitted_at: str | None = None
    human_turns: Sequence[int] | None = None

    def is_human(self, index: int) -> bool:
        """Whether `turns[index]` was written by a labeler."""
        return self.human_turns is None or index in self.human_turns


SKIPPED_STATUSES = frozenset({"skipped"})
