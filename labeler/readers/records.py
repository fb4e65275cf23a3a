"""Normalized import records: what every reader yields, whatever the source format.

Readers know nothing of the database. A record is one prompt (the conversation so far, ending in a
user turn) with optional existing data attached: candidate replies, an imported ranking over them,
or an imported demonstration. The ingest service turns records into rows.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Role = Literal["system", "user", "assistant"]
MAX_RANK = 9  # a ranking compares K = 2..9 replies: the store holds ranks 1..9


class Message(BaseModel):
    """One turn of a conversation."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    role: Role
    content: str

    @field_validator("content")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("content is empty")
        return v


class CandidateIn(BaseModel):
    """An existing assistant reply to the record's conversation."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1)
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

    @model_validator(mode="after")
    def _ends_in_user_turn(self) -> ImportRecord:
        if self.messages[-1].role != "user":
            raise ValueError("the conversation must end in a user turn")
        if self.demonstration is not None:
            if not self.demonstration or self.demonstration[-1].role != "assistant":
                raise ValueError("a demonstration must end in an assistant turn")
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
    kind: str  # e.g. "orphan", "deleted", "spam"
    message: str
