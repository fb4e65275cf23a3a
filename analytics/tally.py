"""Every agreement figure of a project, accumulated one prompt's rankings at a time (pure: no database).

The measures themselves (pairwise agreement, Kendall's tau-b, Krippendorff's alpha, position bias)
and their definitions are in `analytics.agreement`; this module only feeds them prompt by prompt,
so memory holds one prompt, and adds the consensus of the others (`exports.aggregate.consensus`).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import combinations

from analytics.agreement import (
    NO_PAIRS,
    AlphaAccumulator,
    PairCounts,
    PositionBias,
    pair_units,
    pairwise_agreement,
    ranking_tau,
)
from exports.aggregate import competition_ranks, consensus
from exports.rows import SKIPPED_STATUSES, RankingRow


def ranks_of(row: RankingRow) -> dict[int, float]:
    """Candidate id -> rank for the candidates a ranking ranks."""
    return {it.candidate_id: it.rank for it in row.items if it.rank is not None}


def is_vote(row: RankingRow) -> bool:
    """Whether a ranking takes part in agreement: not skipped, not "none acceptable", two or more ranked."""
    return (row.status not in SKIPPED_STATUSES and not row.none_acceptable
            and sum(it.rank is not None for it in row.items) >= 2)


def consensus_ranks(
    rankings: Sequence[RankingRow], ranks: Sequence[Mapping[int, float]] | None = None
) -> dict[int, int]:
    """The ranks of `exports.aggregate.consensus(rankings)` of voting rankings, without a fit where none is needed.

    When every ranking ranks the same candidates (the usual case: labelers rank all they are shown),
    every pair meets equally often, and then the Bradley–Terry order (with aggregate's symmetric
    prior) is the order of the candidates' total wins, a tie counting half: the fixed point reads
    `wins_i + prior + games/2 = H(p_i)` with one increasing H for every candidate. That order is
    computed exactly here; other cases call `consensus`. A test checks both against `consensus`.
    """
    ranks = [ranks_of(r) for r in rankings] if ranks is None else ranks
    ids = sorted(ranks[0]) if ranks else []
    if not ranks or any(len(r) != len(ids) or any(c not in r for c in ids) for r in ranks[1:]):
        return ranks_of(consensus(rankings))  # type: ignore[return-value]
    scores = [0.0] * len(ids)
    for r in ranks:  # wins of x in one ranking: candidates ranked worse, plus half of those tied with it
        values = sorted(r.values())
        for i, x in enumerate(ids):
            below, above = bisect_left(values, r[x]), bisect_right(values, r[x])
            scores[i] += len(values) - above + (above - below - 1) / 2
    return dict(zip(ids, competition_ranks(scores, ids), strict=True))


def consensus_agreement(
    order: Mapping[int, float], ranks: Sequence[Mapping[int, float]]
) -> tuple[int, int, float | None]:
    """Support of a consensus `order` among voting `ranks`: (agree, total, the consensus row's `agreement`).

    `agreement` is computed as `exports.aggregate.consensus` computes it (the mean over consensus
    pairs, in their sorted order, of the rounded share of voters ordering the pair the same way).
    """
    agree = total = 0
    shares: list[tuple[tuple[int, int], float]] = []
    for x, y in combinations(sorted(order), 2):
        if order[x] == order[y]:
            continue
        better, worse = (x, y) if order[x] < order[y] else (y, x)
        seen = [r for r in ranks if better in r and worse in r]
        if seen:
            hits = sum(r[better] < r[worse] for r in seen)
            agree, total = agree + hits, total + len(seen)
            shares.append(((better, worse), round(hits / len(seen), 4)))
    values = [share for _, share in sorted(shares)]
    return agree, total, round(sum(values) / len(values), 4) if values else None


def labeler_key(row: RankingRow) -> str:
    """Who made a ranking, as the tallies name them (an account deleted since is one anonymous name)."""
    return row.labeler or DELETED


DELETED = "(deleted account)"


def week_of(timestamp: str | None) -> str | None:
    """The Monday (ISO date) of the week of an ISO timestamp."""
    if not timestamp:
        return None
    day = datetime.fromisoformat(timestamp.replace("Z", "+00:00")).date()
    return (day - timedelta(days=day.weekday())).isoformat()


@dataclass
class LabelerTally:
    """One labeler's figures against the others."""

    rankings: int = 0  # voting rankings
    pairwise: PairCounts = NO_PAIRS  # against every other labeler on shared prompts
    consensus: PairCounts = NO_PAIRS  # against the consensus of the others
    tau_sum: float = 0.0
    tau_n: int = 0

    @property
    def mean_tau(self) -> float | None:
        return self.tau_sum / self.tau_n if self.tau_n else None


@dataclass
class ConsensusTally:
    """Support for the consensus pairs: voters ordering a consensus pair the same way, of those who ranked both."""

    prompts: int = 0  # prompts with two or more voting rankings
    agree: int = 0
    total: int = 0
    agreement_sum: float = 0.0  # sum of the consensus rows' `agreement` (the export's per-prompt figure)
    agreement_n: int = 0

    @property
    def mean_agreement(self) -> float | None:
        return self.agreement_sum / self.agreement_n if self.agreement_n else None


@dataclass
class AgreementTally:
    """Every agreement figure of a project, fed one prompt's rankings at a time (memory: one prompt).

    `add_prompt(votes, references)`: `votes` are one prompt's rankings by labelers (each `labeler`
    set; non-voting rankings are ignored), `references` (name, ranking) pairs of other rankings of
    the prompt, e.g. imported ones, compared with the labelers' consensus but never mixed into it.
    """

    pairwise: PairCounts = NO_PAIRS
    tau_sum: float = 0.0
    tau_pairs: int = 0
    tau_prompts: int = 0
    prompts: int = 0  # prompts with at least one voting ranking
    shared_prompts: int = 0  # prompts with two or more
    rankings: int = 0  # voting rankings
    alpha: AlphaAccumulator = field(default_factory=AlphaAccumulator)
    position: PositionBias = field(default_factory=PositionBias)
    consensus: ConsensusTally = field(default_factory=ConsensusTally)
    labelers: dict[str, LabelerTally] = field(default_factory=dict)
    between: dict[tuple[str, str], PairCounts] = field(default_factory=dict)
    by_week: dict[str, PairCounts] = field(default_factory=dict)
    references: dict[str, PairCounts] = field(default_factory=dict)
    reference_rankings: Counter[str] = field(default_factory=Counter)

    def add_prompt(self, votes: Sequence[RankingRow],
                   references: Sequence[tuple[str, RankingRow]] = ()) -> dict[int, int] | None:
        """Count one prompt; return the labelers' consensus ranks when two or more rankings vote, else None."""
        voting = [r for r in votes if is_vote(r)]
        ranks = [ranks_of(r) for r in voting]
        for r in voting:
            self._labeler(r).rankings += 1
            self.position.add((it.position, it.rank) for it in r.items
                              if it.rank is not None and it.position is not None)
        if voting:
            self.prompts += 1
            self.rankings += len(voting)
        merged = consensus_ranks(voting, ranks) if len(voting) >= 2 else None
        if merged is not None:
            self.shared_prompts += 1
            self._pairs_of_labelers(voting, ranks)
            self._leave_one_out(voting, ranks)
            self._consensus_support(merged, ranks)
            for unit in pair_units(ranks):
                self.alpha.add_unit(unit)
        # One ranking is its own consensus (exports.aggregate): no fit needed for a single labeler.
        agreed = merged if merged is not None else ranks[0] if ranks else None
        for name, ref in references:
            self.reference_rankings[name] += 1
            if agreed is not None and is_vote(ref):
                self.references[name] = self.references.get(name, NO_PAIRS) + pairwise_agreement(ranks_of(ref), agreed)
        return merged

    def _labeler(self, row: RankingRow) -> LabelerTally:
        key = labeler_key(row)
        if key not in self.labelers:
            self.labelers[key] = LabelerTally()
        return self.labelers[key]

    def _pairs_of_labelers(self, voting: list[RankingRow], ranks: list[dict[int, float]]) -> None:
        taus = 0
        for (i, a), (j, b) in combinations(enumerate(voting), 2):
            counts = pairwise_agreement(ranks[i], ranks[j])
            self.pairwise += counts
            la, lb = self._labeler(a), self._labeler(b)
            la.pairwise += counts
            lb.pairwise += counts
            key = min(labeler_key(a), labeler_key(b)), max(labeler_key(a), labeler_key(b))
            self.between[key] = self.between.get(key, NO_PAIRS) + counts
            week = week_of(max(filter(None, (a.submitted_at, b.submitted_at)), default=None))
            if week is not None:
                self.by_week[week] = self.by_week.get(week, NO_PAIRS) + counts
            tau = ranking_tau(ranks[i], ranks[j])
            if tau is not None:
                taus += 1
                self.tau_sum += tau
                self.tau_pairs += 1
                for t in (la, lb):
                    t.tau_sum += tau
                    t.tau_n += 1
        if taus:
            self.tau_prompts += 1

    def _leave_one_out(self, voting: list[RankingRow], ranks: list[dict[int, float]]) -> None:
        for i, row in enumerate(voting):
            others = voting[:i] + voting[i + 1:]
            # One other ranking is its own consensus (exports.aggregate): skip the fit.
            theirs = ranks[1 - i] if len(others) == 1 else consensus_ranks(others, ranks[:i] + ranks[i + 1:])
            self._labeler(row).consensus += pairwise_agreement(ranks[i], theirs)

    def _consensus_support(self, order: dict[int, int], ranks: list[dict[int, float]]) -> None:
        self.consensus.prompts += 1
        agree, total, agreement = consensus_agreement(order, ranks)
        self.consensus.agree += agree
        self.consensus.total += total
        if agreement is not None:
            self.consensus.agreement_sum += agreement
            self.consensus.agreement_n += 1

    @property
    def mean_tau(self) -> float | None:
        return self.tau_sum / self.tau_pairs if self.tau_pairs else None
