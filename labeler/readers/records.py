"""Normalized import records: what every reader yields, whatever the source format.

Readers know nothing of the database. A record is one prompt (the conversation so far, ending in a
user turn) with optional existing data attached: candidate replies, an imported ranking over them,
or an imported demonstration. The ingest service turns records into rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Role = Literal["system", "user", "assistant"]
MAX_RANK = 9  # a ranking compares K = 2..9 replies: the store holds ranks 1..9


class Message(BaseModel):
    """One turn of a conversation.

    A user or system turn must say something; an assistant turn may be empty or only whitespace and
    is kept exactly: in real preference data a near-empty reply can be the preferred one.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    role: Role
    content: str

    @model_validator(mode="after")
    def _not_blank(self) -> Message:
        if self.role != "assistant" and not self.content.strip():
            raise ValueError("content is empty")
        return self


class CandidateIn(BaseModel):
    """An existing assistant reply to the record's conversation."""

    model_config = ConfigDict(extra="forbid")
    text: str  # kept exactly as the source wrote it, even empty or only whitespace
    model: str | None = None
    # 1 = best; equal ranks are ties; None = not part of the imported ranking.
    rank: int | None = Field(default=None, ge=1)
    meta: dict[str, Any] = Field(default_factory=dict)


class ImportRecord(BaseModel):
    """One prompt and whatever labels the source already had for it."""

    model_config = ConfigDict(extra="forbid")
    messages: list[Message] = Field(min_length=1)
    external_id: str | None = None
    origin_user: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)
    candidates: list[CandidateIn] = Field(default_factory=list)
    # Assistant (and possibly further user) turns an existing demonstration wrote after `messages`.
    demonstration: list[Message] | None = None
    line: int = 0  # 1-based line (or record number) in the source file, for messages
    # When the source says its ranking was made (aware UTC); None: the import time is used, marked so.
    submitted_at: datetime | None = None
    # The key that decided the prompt's split where the source carries one (a pairs export's
    # `split_key`): an originating user, or the conversation's root hash (then recomputed).
    split_key: str | None = None
    # Margins the source gave its ranked pairs: (better, worse) candidate indices -> margin.
    margins: list[tuple[int, int, float]] | None = None

    @model_validator(mode="after")
    def _ends_in_user_turn(self) -> ImportRecord:
        if self.messages[-1].role != "user":
            raise ValueError("the conversation must end in a user turn")
        if self.demonstration is not None:
            if not self.demonstration or self.demonstration[-1].role != "assistant":
                raise ValueError("a demonstration must end in an assistant turn")
        if self.submitted_at is not None and self.submitted_at.tzinfo is None:
            raise ValueError("`submitted_at` must carry a time zone")
        if self.candidates:
            worst = max((c.rank for c in self.candidates if c.rank is not None), default=0)
            if worst > MAX_RANK:
                ranked = sum(c.rank is not None for c in self.candidates)
                raise ValueError(
                    f"{ranked} ranked replies (ranks up to {worst}): a ranking holds at most {MAX_RANK} "
                    f"places (ranks 1 to {MAX_RANK}); split the comparison or drop the lowest-ranked replies"
                )
        return self

    @property
    def has_ranking(self) -> bool:
        """True when at least two candidates carry a rank: the source compared them."""
        return sum(c.rank is not None for c in self.candidates) >= 2


class Reject(BaseModel):
    """A record the reader could not turn into an ImportRecord, with where and why."""

    line: int
    field: str | None = None
    message: str
    raw: str | None = None  # the offending line (truncated), for the rejects file

    def describe(self, filename: str) -> str:
        """`line 17 of prompts.jsonl: field `messages`: expected ...`"""
        where = f"line {self.line} of {filename}"
        field = f": field `{self.field}`" if self.field else ""
        return f"{where}{field}: {self.message}"


class Notice(BaseModel):
    """Something skipped on purpose (deleted message, orphan reply): counted, not an error."""

    line: int
    kind: str  # e.g. "orphan", "deleted", "spam"; "not_kept:<field>" for a field understood but not kept
    message: str


def notice_label(kind: str) -> str:
    """How a report names a kind of notice: ``field `reference` not kept`` or `skipped (orphan)`."""
    field = kind.removeprefix("not_kept:")
    return f"field `{field}` not kept" if field != kind else f"skipped ({kind})"
