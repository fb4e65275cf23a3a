"""What may be submitted: the shapes (pydantic) and rules of demonstration turns and rankings.

Design constraints:
- Pure rules: no session, no lease; the labeling service applies them to a lease and the gold
  service to an expected answer, so a rule is written once and both say the same thing.
- Ranks use **standard competition ranking** ("1224"): a rank always equals 1 + the number of
  candidates ranked better (1, 1, 3 is valid; dense 1, 1, 2 is refused). `rank_inconsistency` is
  that rule; each caller words the message for its own input.
- Messages name the turn (1-based) or the candidate by the label it was shown with (A, B, ...).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from labeler.errors import Invalid
from labeler.services.projects import ProjectSettings

LABELS = "ABCDEFGHI"  # how candidates are named to a labeler, in display order
ROLES = ("user", "assistant")  # the turns a labeler writes after the prompt
MAX_TURNS = 64
MAX_TURN_CHARS = 100_000
MAX_COMMENT_CHARS = 10_000
K = TypeVar("K", bound=Hashable)


class Turn(BaseModel):
    """One turn as the editor sends it: text role and text content (the rules below say which)."""

    model_config = ConfigDict(strict=True, extra="ignore")
    role: str
    content: str


def rank_inconsistency(ranks: Mapping[K, int]) -> tuple[K, int, int] | None:
    """The first (key, rank, candidates ranked better) breaking competition ranking, or None when all hold."""
    values = list(ranks.values())
    for key, rank in ranks.items():
        better = sum(1 for r in values if r < rank)
        if rank != better + 1:
            return key, rank, better
    return None


def check_seconds(seconds: float) -> float:
    """Seconds spent on a task: a finite, non-negative number."""
    if not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds < 0:
        raise Invalid(f"`seconds_spent` must be a non-negative number, got {seconds!r}")
    return float(seconds)


def check_turns(turns: Any, *, final: bool) -> list[dict]:
    """The turns written after the prompt, checked; `final` applies the submit rules.

    Drafts only need the shape ({role, content} with role user or assistant). A submission must
    alternate assistant, user, assistant, ... (multi-turn: the labeler plays both sides), end with
    an assistant turn, and have no empty turn.
    """
    if not isinstance(turns, list):
        raise Invalid(f"`turns`: expected a list of {{role, content}}, got {type(turns).__name__}")
    if len(turns) > MAX_TURNS:
        raise Invalid(f"`turns`: at most {MAX_TURNS} turns, got {len(turns)}")
    if final and not turns:
        raise Invalid("the demonstration is empty: write the assistant reply (turn 1)")
    out = []
    for i, raw in enumerate(turns, 1):
        try:
            turn = Turn.model_validate(raw)
        except ValidationError:
            raise Invalid(f"turn {i}: expected {{role, content}} with text values") from None
        role, content = turn.role, turn.content
        if role not in ROLES:
            raise Invalid(f"turn {i}: role `{role}` is not allowed: expected `user` or `assistant`")
        if len(content) > MAX_TURN_CHARS:
            raise Invalid(f"turn {i} (`{role}`): too long, at most {MAX_TURN_CHARS:,} characters")
        if final:
            expected = "assistant" if i % 2 else "user"
            if role != expected:
                raise Invalid(
                    f"turn {i}: expected a `{expected}` turn, got `{role}` "
                    "(after the prompt, turns alternate assistant, user, assistant, ...)"
                )
            content = content.strip()
            if not content:
                raise Invalid(f"turn {i} (`{role}`): the text is empty")
        out.append({"role": role, "content": content})
    if final and out[-1]["role"] != "assistant":
        raise Invalid(f"turn {len(out)}: the demonstration must end with an assistant turn, not a `user` turn")
    return out


class ItemSubmission(BaseModel):
    """One candidate's rank (1 = best; equal = tie), Likert score and flags."""

    candidate_id: int
    rank: int | None = None
    likert: int | None = None
    flags: list[str] = []


class RankingSubmission(BaseModel):
    """A whole ranking as the page sends it."""

    items: list[ItemSubmission]
    none_acceptable: bool = False
    comment: str = ""
    seconds_spent: float = 0.0


def check_ranking(sub: RankingSubmission, shown: list[int], settings: ProjectSettings) -> None:
    """Raise Invalid, naming the candidate by its label, unless `sub` is a consistent ranking of `shown`."""
    label = {cid: LABELS[i] for i, cid in enumerate(shown)}
    k = len(shown)
    seen: set[int] = set()
    for item in sub.items:
        if item.candidate_id not in label:
            raise Invalid(f"candidate `{item.candidate_id}` was not shown in this task "
                          f"(shown: {', '.join(f'{label[c]}=`{c}`' for c in shown)})")
        if item.candidate_id in seen:
            raise Invalid(f"candidate {label[item.candidate_id]} appears twice in the submission")
        seen.add(item.candidate_id)
    if missing := [label[c] for c in shown if c not in seen]:
        raise Invalid(f"candidate {', '.join(missing)} missing from the submission: "
                      "every shown candidate needs an entry")
    by_label = sorted(sub.items, key=lambda it: label[it.candidate_id])
    ranks = [it.rank for it in by_label]
    if not (sub.none_acceptable and all(r is None for r in ranks)):
        _check_ranks(by_label, label, k, settings)
    allowed = set(settings.flags)
    for item in by_label:
        name = label[item.candidate_id]
        if item.likert is not None and not 1 <= item.likert <= settings.likert_points:
            raise Invalid(f"candidate {name}: Likert score {item.likert} is outside 1..{settings.likert_points}")
        for flag in item.flags:
            if flag not in allowed:
                raise Invalid(f"candidate {name}: unknown flag `{flag}` (this project's flags: "
                              f"{', '.join(settings.flags) or 'none'})")
    if len(sub.comment) > MAX_COMMENT_CHARS:
        raise Invalid(f"`comment`: too long, at most {MAX_COMMENT_CHARS:,} characters")


def _check_ranks(items: list[ItemSubmission], label: dict[int, str], k: int, settings: ProjectSettings) -> None:
    for item in items:
        name = label[item.candidate_id]
        if item.rank is None:
            raise Invalid(f"candidate {name} has no rank: rank every candidate 1..{k}, or mark none acceptable")
        if not 1 <= item.rank <= k:
            raise Invalid(f"candidate {name}: rank {item.rank} is outside 1..{k}")
    ranks = [it.rank for it in items]
    if not settings.ties_allowed and len(set(ranks)) < len(ranks):
        rank = next(r for r in ranks if ranks.count(r) > 1)
        tied = " and ".join(label[it.candidate_id] for it in items if it.rank == rank)
        raise Invalid(f"candidates {tied} share rank {rank}, but this project does not allow ties")
    if wrong := rank_inconsistency({it.candidate_id: it.rank for it in items}):  # type: ignore[misc]
        cid, rank, better = wrong
        raise Invalid(
            f"candidate {label[cid]}: rank {rank} is inconsistent: {better} "
            f"candidate(s) rank better, so its rank must be {better + 1} (ranks start at 1; after a tie "
            "the next rank skips, e.g. 1, 1, 3, not 1, 1, 2)"
        )
