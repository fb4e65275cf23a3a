"""Consensus of several labelers' rankings of one prompt (pure; also used by the quality service).

The choice: **Bradley–Terry** strengths fitted by Hunter's MM iterations over every labeler's
pairwise preferences (a tie counts half a win each way), with a small prior — each candidate gets
`prior` virtual wins and losses against a virtual opponent of strength 1 — so that strengths stay
finite when one candidate wins everything and the order is defined when the comparison graph is
not connected. Unlike Copeland it separates candidates by how often they win, and unlike Kemeny it
is cheap. Equal strengths (within 1e-9 relative) become a tie; ranks are competition ranks
(1, 1, 3).

Rankings marked "none acceptable" or skipped do not vote; when more than half of the non-skipped
rankings say "none acceptable" the consensus says so too (and yields no pairs). Each consensus
pair carries the share of voting labelers, among those who ranked both candidates, whose ranking
puts them in the same strict order; the row's `agreement` is the mean over its pairs. Candidate
flags are the union of the labelers' flags, Likert scores the mean of those given.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from exports.errors import ExportError
from exports.rows import SKIPPED_STATUSES, RankedItem, RankingRow

PRIOR = 0.5
_TOL = 1e-9


def bradley_terry(
    n: int, wins: list[list[float]], *, prior: float = PRIOR, iterations: int = 1000
) -> list[float]:
    """Strengths for `n` items from `wins[i][j]` (times i beat j; ties as 0.5 each way)."""
    p = [1.0] * n
    total = [sum(row) + prior for row in wins]
    games = [[wins[i][j] + wins[j][i] for j in range(n)] for i in range(n)]
    for _ in range(iterations):
        new = []
        for i in range(n):
            denom = 2 * prior / (p[i] + 1.0)
            for j in range(n):
                if games[i][j]:
                    denom += games[i][j] / (p[i] + p[j])
            new.append(total[i] / denom)
        done = max(abs(a - b) / b for a, b in zip(new, p, strict=True)) < 1e-12
        p = new
        if done:
            break
    return p


def strengths(wins: list[list[float]], ranked: Sequence[int], *, prior: float = PRIOR) -> list[float]:
    """Bradley–Terry strengths, or total wins where they give the same order without a fit.

    When every pair of the `ranked` items met equally often (every labeler ranked every candidate:
    the usual case), the fixed point reads `wins_i + prior + games/2 = H(p_i)` with one increasing H
    for every item, so the order of total wins (a tie counting half) is the Bradley–Terry order and
    the iterations (hundreds per prompt) can be skipped. Items outside `ranked` get no rank either way.
    """
    n = len(wins)
    games = {wins[a][b] + wins[b][a] for a in ranked for b in ranked if a < b}
    if len(games) <= 1:
        return [sum(row) for row in wins]
    return bradley_terry(n, wins, prior=prior)


def competition_ranks(scores: Sequence[float], ids: Sequence[int]) -> list[int]:
    """Ranks 1 = highest score; equal scores (relative 1e-9) share a rank (1, 1, 3)."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], ids[i]))
    ranks = [0] * len(scores)
    for place, i in enumerate(order):
        prev = order[place - 1] if place else None
        tied = prev is not None and scores[prev] - scores[i] <= _TOL * max(abs(scores[prev]), 1.0)
        ranks[i] = ranks[prev] if tied else place + 1
    return ranks


def _candidates(rankings: Sequence[RankingRow]) -> dict[int, RankedItem]:
    found: dict[int, RankedItem] = {}
    for r in rankings:
        for it in r.items:
            found.setdefault(it.candidate_id, it)
    return dict(sorted(found.items()))


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def consensus(rankings: Sequence[RankingRow], *, prior: float = PRIOR) -> RankingRow:
    """One consensus ranking from several rankings of the same prompt (see the module rule)."""
    if not rankings:
        raise ExportError("consensus: no rankings given")
    first = rankings[0]
    if any(r.prompt_id != first.prompt_id for r in rankings):
        ids = sorted({r.prompt_id for r in rankings})
        raise ExportError(f"consensus: rankings of several prompts {ids}, expected one")
    counted = [r for r in rankings if r.status not in SKIPPED_STATUSES]
    voters = [r for r in counted if not r.none_acceptable]
    cands = _candidates(rankings)
    ids = list(cands)
    index = {cid: i for i, cid in enumerate(ids)}
    n = len(ids)
    wins = [[0.0] * n for _ in range(n)]
    ranked_by_anyone = set()
    for r in voters:
        ranked = [(index[it.candidate_id], it.rank) for it in r.items if it.rank is not None]
        ranked_by_anyone.update(i for i, _ in ranked)
        for a, ra in ranked:
            for b, rb in ranked:
                if ra < rb:
                    wins[a][b] += 1.0
                elif ra == rb and a != b:
                    wins[a][b] += 0.5
    ranked = sorted(ranked_by_anyone)
    scores = strengths(wins, ranked, prior=prior)
    ranks: list[int | None] = [None] * n
    for i, rank in zip(ranked, competition_ranks([scores[i] for i in ranked], [ids[i] for i in ranked]),
                       strict=True):
        ranks[i] = rank
    agreement = _pair_agreement(voters, ids, ranks, ranked_by_anyone)
    items = tuple(
        RankedItem(
            candidate_id=cid,
            text=item.text,
            model=item.model,
            rank=ranks[i],
            likert=_mean([it.likert for r in voters for it in r.items
                          if it.candidate_id == cid and it.likert is not None]),
            flags=tuple(sorted({f for r in rankings for it in r.items if it.candidate_id == cid
                                for f in it.flags})),
        )
        for i, (cid, item) in enumerate(cands.items())
    )
    shares = list(agreement.values())
    return RankingRow(
        ranking_id=min(r.ranking_id for r in rankings),
        prompt_id=first.prompt_id,
        split=first.split,
        messages=first.messages,
        items=items,
        external_id=first.external_id,
        labeler=None,
        origin="human" if any(r.origin == "human" for r in rankings) else first.origin,
        status="consensus",
        none_acceptable=2 * (len(counted) - len(voters)) > len(counted) if counted else False,
        submitted_at=max((r.submitted_at for r in rankings if r.submitted_at), default=None),
        agreement=round(sum(shares) / len(shares), 4) if shares else None,
        reference=next((r.reference for r in rankings if r.reference), None),
        consensus_of=tuple(sorted(r.ranking_id for r in rankings)),
        pair_agreement=agreement,
        source=first.source,
        split_key=first.split_key,
        split_by=first.split_by,
    )


def _pair_agreement(
    voters: Sequence[RankingRow], ids: list[int], ranks: list[int | None], ranked: set[int]
) -> dict[tuple[int, int], float]:
    """Share of voters, among those who ranked both, ordering each consensus pair the same way."""
    by_voter = [{it.candidate_id: it.rank for it in r.items if it.rank is not None} for r in voters]
    out: dict[tuple[int, int], float] = {}
    for a in ranked:
        for b in ranked:
            if ranks[a] < ranks[b]:
                ca, cb = ids[a], ids[b]
                seen = [v for v in by_voter if ca in v and cb in v]
                if seen:
                    out[(ca, cb)] = round(sum(v[ca] < v[cb] for v in seen) / len(seen), 4)
    return dict(sorted(out.items()))


def consensus_stream(rows: Iterable[RankingRow], *, prior: float = PRIOR) -> Iterator[RankingRow]:
    """One consensus row per prompt from rows ordered by prompt id (streams: one prompt in memory)."""
    group: list[RankingRow] = []
    for row in rows:
        if group and row.prompt_id != group[0].prompt_id:
            if row.prompt_id < group[0].prompt_id:
                raise ExportError(
                    f"consensus needs rankings ordered by prompt: prompt `{row.prompt_id}` "
                    f"came after prompt `{group[0].prompt_id}`"
                )
            yield consensus(group, prior=prior)
            group = []
        group.append(row)
    if group:
        yield consensus(group, prior=prior)
