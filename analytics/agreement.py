"""Agreement between labelers' rankings (pure: no database, no `labeler` imports; stdlib only).

Every figure is a count first: a rate is a `Rate` (hits out of total, with a 95% Wilson interval),
never a bare percentage, because projects start small and 3 of 4 is not 75% of 400.

Definitions (a ranking maps candidate id -> rank, 1 = best, equal ranks = a tie, unranked = absent):
- **Pairwise agreement** (InstructGPT's measure) of two rankings of one prompt: over the candidate
  pairs that both rank, a pair *agrees* when both put the same candidate strictly first and
  *disagrees* when they order it oppositely. A pair that either ranking ties is neither: it is
  counted as `tied` and left out of the rate (a ranking yields no comparison for a tied pair).
- **Kendall's tau-b** of two rankings over the candidates both rank, with the tie correction
  (equal to `scipy.stats.kendalltau`'s default); undefined (None) for fewer than two common
  candidates or when one side ties them all.
- **Krippendorff's alpha** over units × coders with missing values, ordinal (or nominal, interval)
  distances, equal to the `krippendorff` package's `alpha`. Accumulated unit by unit (the
  coincidence matrix), so memory does not grow with the data. For rankings the unit is a
  **candidate pair** of one prompt and the value a labeler's preference on it, ordinal
  (-1 second better < 0 tie < +1 first better), each pair entered in both orientations: a pair is
  only coded by labelers who saw both candidates (labelers may see different samples of a prompt's
  candidates), prompts of different sizes are comparable, and the figure does not depend on which
  candidate of a pair is called first. It is the chance-corrected version of pairwise agreement.
- **Agreement with the consensus of the others**: a labeler's ranking against the Bradley–Terry
  consensus (`exports.aggregate.consensus`, the export's consensus mode) of the other labelers'
  rankings of the same prompt, by pairwise agreement.
- **Position bias**: among strict comparisons inside one ranking, how often the candidate shown at
  display position p (0 = first) wins; 50% means no bias. Ties are counted apart.

Which rankings vote: not skipped, not "none acceptable", with at least two ranked candidates.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Literal

Ranks = Mapping[int, float]  # candidate id -> rank (1 = best); unranked candidates are absent
Level = Literal["nominal", "ordinal", "interval"]
Z95 = 1.959963984540054  # the standard normal's 97.5% quantile


# ---------------------------------------------------------------------------------------------
# Rates with their counts


def wilson_interval(hits: int, total: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of `hits` out of `total` (95% by default); None when total is 0."""
    if total <= 0:
        return None
    if not 0 <= hits <= total:
        raise ValueError(f"wilson_interval: {hits} hits out of {total} is impossible")
    p = hits / total
    z2 = z * z
    centre = (p + z2 / (2 * total)) / (1 + z2 / total)
    half = z * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total)) / (1 + z2 / total)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True, slots=True)
class Rate:
    """`hits` out of `total`, with the rate and its 95% Wilson interval (None when total is 0)."""

    hits: int
    total: int

    @property
    def rate(self) -> float | None:
        return self.hits / self.total if self.total else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.hits, self.total)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: hits, total, rate, low, high (rounded to 4 places)."""
        low_high = self.interval
        return {
            "hits": self.hits, "total": self.total, "rate": _round(self.rate),
            "low": _round(low_high[0]) if low_high else None, "high": _round(low_high[1]) if low_high else None,
        }

    def text(self) -> str:
        """`73.0% (146/200, 95% CI 66.4-78.7%)`, or `n/a (0/0)`."""
        if not self.total:
            return "n/a (0/0)"
        low, high = self.interval  # type: ignore[misc]
        return f"{100 * self.rate:.1f}% ({self.hits}/{self.total}, 95% CI {100 * low:.1f}-{100 * high:.1f}%)"


def _round(x: float | None, places: int = 4) -> float | None:
    return None if x is None else round(x, places)


# ---------------------------------------------------------------------------------------------
# Two rankings of the same candidates


@dataclass(frozen=True, slots=True)
class PairCounts:
    """Candidate pairs two rankings both rank: same strict order, opposite order, tied by either."""

    agree: int = 0
    disagree: int = 0
    tied: int = 0

    @property
    def total(self) -> int:
        """Pairs both order strictly: the denominator of the agreement rate."""
        return self.agree + self.disagree

    def rate(self) -> Rate:
        return Rate(self.agree, self.total)

    def __add__(self, other: PairCounts) -> PairCounts:
        return PairCounts(self.agree + other.agree, self.disagree + other.disagree, self.tied + other.tied)


NO_PAIRS = PairCounts()


def pairwise_agreement(a: Ranks, b: Ranks) -> PairCounts:
    """Compare two rankings pair by pair over the candidates both rank (see the module rule on ties)."""
    common = [(a[c], b[c]) for c in sorted(a.keys() & b.keys())]
    agree = disagree = tied = 0
    for (ax, bx), (ay, by) in combinations(common, 2):
        if ax == ay or bx == by:
            tied += 1
        elif (ax < ay) == (bx < by):
            agree += 1
        else:
            disagree += 1
    return PairCounts(agree, disagree, tied)


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's tau-b of two paired samples (as `scipy.stats.kendalltau`); None where it is undefined."""
    if len(x) != len(y):
        raise ValueError(f"kendall_tau_b: samples of different lengths ({len(x)} and {len(y)})")
    concordant = discordant = only_x_tied = only_y_tied = 0
    for i, j in combinations(range(len(x)), 2):
        dx, dy = _sign(x[i] - x[j]), _sign(y[i] - y[j])
        if dx == 0 and dy == 0:
            continue
        if dx == 0:
            only_x_tied += 1
        elif dy == 0:
            only_y_tied += 1
        elif dx == dy:
            concordant += 1
        else:
            discordant += 1
    untied = concordant + discordant
    denominator = (untied + only_y_tied) * (untied + only_x_tied)  # pairs untied in x, times untied in y
    if denominator == 0:
        return None
    return (concordant - discordant) / math.sqrt(denominator)


def ranking_tau(a: Ranks, b: Ranks) -> float | None:
    """Kendall's tau-b of two rankings over the candidates both rank."""
    common = sorted(set(a) & set(b))
    return kendall_tau_b([a[c] for c in common], [b[c] for c in common])


# ---------------------------------------------------------------------------------------------
# Krippendorff's alpha


class AlphaAccumulator:
    """Krippendorff's alpha built unit by unit: add each unit's values, then ask for `alpha()`.

    Holds only the coincidence matrix (values × values), so memory is independent of the units.
    Units with fewer than two values are not pairable and change nothing (as in the reference).
    """

    def __init__(self) -> None:
        self._o: dict[tuple[float, float], float] = defaultdict(float)
        self.units = 0  # pairable units seen
        self.values = 0  # values in pairable units

    def add_unit(self, values: Iterable[float | None]) -> None:
        """One unit's values from every coder who coded it (None or NaN = missing)."""
        present = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
        m = len(present)
        if m < 2:
            return
        counts: dict[float, int] = {}
        for v in present:
            counts[v] = counts.get(v, 0) + 1
        for c, nc in counts.items():
            for k, nk in counts.items():
                self._o[(c, k)] += (nc * nk - (nc if c == k else 0)) / (m - 1)
        self.units += 1
        self.values += m

    def alpha(self, level: Level = "ordinal") -> float | None:
        """Alpha at this level of measurement; None when undefined (no pairable unit, one value only)."""
        n_v: dict[float, float] = defaultdict(float)
        for (c, _k), o in self._o.items():
            n_v[c] += o
        domain = sorted(v for v, n in n_v.items() if n > 0)
        if len(domain) < 2:
            return None
        n = sum(n_v.values())
        distance = _distances(domain, n_v, level)
        observed = sum(o * distance[c, k] for (c, k), o in self._o.items())
        expected = sum(
            (n_v[c] * n_v[k] - (n_v[c] if c == k else 0.0)) / (n - 1) * distance[c, k]
            for c in domain for k in domain
        )
        return 1.0 - observed / expected if expected else None


def _distances(domain: list[float], n_v: Mapping[float, float], level: Level) -> dict[tuple[float, float], float]:
    """Squared distance of every two values: Krippendorff's nominal, ordinal or interval metric."""
    out: dict[tuple[float, float], float] = {}
    cumulative = [0.0]
    for v in domain:
        cumulative.append(cumulative[-1] + n_v[v])
    for i, c in enumerate(domain):
        for j, k in enumerate(domain):
            if level == "nominal":
                d = float(c != k)
            elif level == "interval":
                d = float(c - k) ** 2
            elif level == "ordinal":
                lo, hi = min(i, j), max(i, j)
                d = (cumulative[hi + 1] - cumulative[lo] - (n_v[c] + n_v[k]) / 2) ** 2
            else:
                raise ValueError(f"unknown level of measurement `{level}`: expected nominal, ordinal or interval")
            out[c, k] = d
    return out


def pair_units(rankings: Sequence[Ranks]) -> list[list[int]]:
    """The alpha units of one prompt: per candidate pair (both orientations), each ranking's preference.

    A value is +1 when the pair's first candidate ranks better, -1 when worse, 0 for a tie; rankings
    that did not rank both candidates give no value.
    """
    candidates = sorted({c for r in rankings for c in r})
    units: list[list[int]] = []
    for x, y in combinations(candidates, 2):
        values = [_sign(r[y] - r[x]) for r in rankings if x in r and y in r]
        if len(values) >= 2:
            units.append(values)
            units.append([-v for v in values])
    return units


# ---------------------------------------------------------------------------------------------
# Position bias


@dataclass
class PositionBias:
    """Wins of the candidate at each display position in strict comparisons inside one ranking."""

    wins: Counter[int] = field(default_factory=Counter)
    comparisons: Counter[int] = field(default_factory=Counter)
    ties: Counter[int] = field(default_factory=Counter)

    def add(self, placed: Iterable[tuple[int, float]]) -> None:
        """One ranking's ranked candidates as (display position, rank)."""
        items = sorted(placed)
        for (pa, ra), (pb, rb) in combinations(items, 2):
            if ra == rb:
                self.ties[pa] += 1
                self.ties[pb] += 1
                continue
            self.comparisons[pa] += 1
            self.comparisons[pb] += 1
            self.wins[pa if ra < rb else pb] += 1

    def at(self, position: int) -> Rate:
        """How often the candidate at `position` wins its strict comparisons."""
        return Rate(self.wins[position], self.comparisons[position])

    @property
    def first(self) -> Rate:
        """How often the candidate shown first wins (50% = no position bias)."""
        return self.at(0)

    def by_position(self) -> dict[int, Rate]:
        return {p: self.at(p) for p in sorted(set(self.comparisons) | set(self.ties))}
