"""The input contract of every exporter: plain, frozen rows that a service streams from its queries.

Design constraints: no database types here (the service turns ORM rows or SQL tuples into these),
no validation beyond what the type says (the service already enforces the store's rules), and
cheap to build: `slots=True` dataclasses, because an export builds one per ranking or demonstration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, NotRequired, TypedDict

Split = Literal["train", "valid", "test"]
SPLITS: tuple[str, ...] = ("train", "valid", "test")
# How a prompt's split was decided (`split_by`): by its originating user, or by its conversation's
# root (the first user turn, normalized), for prompts without a user.
SPLIT_BY = {"user": "originating user", "root": "conversation root (its first user turn, normalized)"}


def timestamp(at: datetime | None) -> str | None:
    """The one time form in exports and manifests: UTC to the second, `Z` suffix (`2025-03-01T10:00:00Z`)."""
    if at is None:
        return None
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


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
    # Margins a source gave (an imported `pairs` file), keyed like `pair_agreement`; pairs not in it
    # get the computed margin (`exports.pairing`).
    margins: Mapping[tuple[int, int], float] | None = field(default=None, compare=False)
    time_source: str | None = None  # imported rankings: "source" or "import" (where `submitted_at` came from)
    source: str | None = None  # the prompt's import source (file name)
    split_key: str | None = None  # what decided the prompt's split: the originating user or the root hash
    split_by: str | None = None  # "user" or "root" (SPLIT_BY)

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
    source: str | None = None
    split_key: str | None = None
    split_by: str | None = None

    def is_human(self, index: int) -> bool:
        """Whether `turns[index]` was written by a labeler."""
        return self.human_turns is None or index in self.human_turns


SKIPPED_STATUSES = frozenset({"skipped"})
