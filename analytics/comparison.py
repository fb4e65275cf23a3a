"""Models judged by preference: pairwise win rates and Bradley–Terry strengths with bootstrap intervals.

Pure (no database, no `labeler`); numpy only. The input is a stream of *comparison rows*, each one
prompt's comparisons between two models: `wins` of the first, `ties`, and `games` (every pair of a
candidate of one model and a candidate of the other that one judgment ranked, so a ranking of K
candidates from K models gives C(K,2) comparisons; pairs of the same model give none).

Definitions:
- **Win rate** of A over B: (A's wins + half the ties) / games, over every comparison of the two on
  the prompts where both were judged; reported with its counts (wins, ties, losses, games, prompts).
- **Bradley–Terry strengths** θ by maximum likelihood, a tie counting half a win each way:
  P(A beats B) = 1 / (1 + exp(θ_B - θ_A)); fitted by Newton's method on all models at once.
  A light prior keeps every strength finite when a model wins (or loses) everything or when the
  models fall into groups never compared: each model plays `prior` virtual games (half won) against
  a virtual opponent of strength 0. With `prior=0` the fit is the plain maximum-likelihood one.
- **Scale** (Elo-like, as Chatbot Arena reports): rating = 1000 + 400·log10(e)·(θ - θ̄), so a
  400-point gap means 10:1 odds; anchored so the **mean of the models' ratings is 1000**, or, with
  `anchor=MODEL`, so that model is exactly 1000.
- **Intervals**: 95% percentile intervals of the ratings over `rounds` bootstrap refits (default 200)
  that resample **prompts** (all comparisons of one prompt stay together: several labelers' rankings
  of one prompt are not independent). The resampling is the Poisson bootstrap: each prompt weighs
  Poisson(1) in each round, drawn from a hash of (seed, round, prompt id), so rows can stream in any
  order and in chunks, memory stays at rounds × model pairs, and the same data and seed give the same
  intervals.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SCALE = 400 / math.log(10)  # Elo points per unit of θ
CENTER = 1000.0
ROUNDS = 200
PRIOR = 1.0
FLUSH_ROWS = 20_000
_MAX_STEP = 2.0  # Newton steps are capped (in θ units): the fit converges even from separated data
_POISSON_CDF = np.cumsum([math.exp(-1) / math.factorial(k) for k in range(20)])


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class PairRecord:
    """Model `a` against model `b`: counts from a's side, and its win rate (ties half)."""

    a: str
    b: str
    wins: int
    ties: int
    losses: int
    games: int
    prompts: int

    @property
    def win_rate(self) -> float | None:
        return (self.wins + self.ties / 2) / self.games if self.games else None

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.a, "opponent": self.b, "wins": self.wins, "ties": self.ties, "losses": self.losses,
                "games": self.games, "prompts": self.prompts, "win_rate": self.win_rate}


@dataclass(frozen=True)
class Strength:
    """One model's rating (Elo-like scale), its 95% bootstrap interval, and what it rests on."""

    model: str
    rating: float
    low: float | None
    high: float | None
    theta: float  # the Bradley–Terry log-strength, centred as the rating is
    games: int
    score: float  # wins + half the ties, over all opponents

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "rating": round(self.rating, 2),
                "interval": None if self.low is None else [round(self.low, 2), round(self.high or 0.0, 2)],
                "theta": round(self.theta, 6), "games": self.games, "score": self.score}


@dataclass
class Comparison:
    """The report: models by rating (best first), every pair's counts, strengths with intervals, notes."""

    models: list[str]
    pairs: dict[tuple[str, str], PairRecord]  # both orientations of every pair that met
    strengths: list[Strength]
    prompts: int  # prompts with at least one comparison
    rounds: int
    seed: int
    prior: float
    anchor: str | None
    notes: list[str] = field(default_factory=list)

    def pair(self, a: str, b: str) -> PairRecord | None:
        """A against B, or None when they never met."""
        return self.pairs.get((a, b))

    def win_rate_matrix(self) -> list[list[float | None]]:
        """Row model's win rate against the column model (None on the diagonal and where they never met)."""
        return [[None if a == b or (a, b) not in self.pairs else self.pairs[(a, b)].win_rate for b in self.models]
                for a in self.models]

    def to_dict(self) -> dict[str, Any]:
        """JSON: models, the win-rate matrix and its game counts (row vs column), pairs, strengths, method."""
        games = [[self.pairs[(a, b)].games if (a, b) in self.pairs else 0 for b in self.models] for a in self.models]
        anchored = f"`{self.anchor}` = {CENTER:g}" if self.anchor else f"mean of the models = {CENTER:g}"
        return {
            "models": self.models,
            "win_rate": [[None if v is None else round(v, 6) for v in row] for row in self.win_rate_matrix()],
            "games": games,
            "pairs": [self.pairs[(a, b)].to_dict() for a in self.models for b in self.models if (a, b) in self.pairs],
            "strengths": [s.to_dict() for s in self.strengths],
            "prompts": self.prompts,
            "method": {"model": "bradley-terry", "ties": "half a win each way",
                       "scale": f"rating = {CENTER:g} + 400*log10(e)*theta; {anchored}",
                       "interval": "95% percentile, Poisson bootstrap over prompts", "rounds": self.rounds,
                       "seed": self.seed, "prior": self.prior},
            "notes": self.notes,
        }


# ---------------------------------------------------------------------------------------------
# The tally


class ComparisonTally:
    """Comparison rows in, a `Comparison` out; memory: rounds × model pairs (rows are folded in chunks).

    `add(prompt_id, a, b, wins, ties, games)` takes one prompt's comparisons of models a and b (the
    same prompt and pair may come in several rows, e.g. one per ranking; a pair's `prompts` then counts
    rows). The report's `prompts` (distinct prompts) is exact when rows come grouped by prompt, as the
    service sends them; otherwise a prompt counts once per chunk of rows it appears in.
    """

    def __init__(self, rounds: int = ROUNDS, seed: int = 0) -> None:
        if rounds < 0:
            raise ValueError(f"rounds: expected 0 or more, got {rounds}")
        self.rounds, self.seed = rounds, seed
        self.index: dict[str, int] = {}  # model -> index, in order of appearance
        self.pair_index: dict[tuple[int, int], int] = {}  # (i, j) with i < j -> pair number
        self._buf: list[tuple[int, int, float, float, float]] = []  # prompt id, pair, wins of i, ties, games
        self.wins = np.zeros(0)  # per pair, from i's side
        self.ties = np.zeros(0)
        self.games = np.zeros(0)
        self.rows = np.zeros(0)
        self.boot_score = np.zeros((rounds, 0))
        self.boot_games = np.zeros((rounds, 0))
        self._pairs_of: dict[tuple[str, str], tuple[int, bool] | None] = {}  # names -> (pair, flipped)
        self.prompt_count = 0
        self._last_prompt: int | None = None  # the last prompt of the previous chunk

    def _model(self, name: str) -> int:
        i = self.index.get(name)
        if i is None:
            i = self.index[name] = len(self.index)
        return i

    def _pair(self, a: str, b: str) -> tuple[int, bool] | None:
        """(pair number, whether a is the pair's second model) for two model names; None for one model."""
        if a == b or not a or not b:
            return None
        i, j = self._model(a), self._model(b)
        flipped = i > j
        if flipped:
            i, j = j, i
        q = self.pair_index.get((i, j))
        if q is None:
            q = self.pair_index[(i, j)] = len(self.pair_index)
        return q, flipped

    def add(self, prompt_id: int, a: str, b: str, wins: float, ties: float, games: float) -> None:
        """One prompt's `games` comparisons of model `a` with model `b`: `wins` by a, `ties`, the rest won by b."""
        self.add_rows(((prompt_id, a, b, wins, ties, games),))

    def add_rows(self, rows: Iterable[tuple[int, str, str, float, float, float]]) -> None:
        """Many `add(prompt_id, a, b, wins, ties, games)` at once (the hot loop: one dict lookup a row)."""
        pairs, buf = self._pairs_of, self._buf
        for prompt_id, a, b, wins, ties, games in rows:
            key = pairs.get((a, b), False)
            if key is False:
                key = pairs[(a, b)] = self._pair(a, b)
            if key is None or games <= 0:
                continue
            q, flipped = key
            buf.append((prompt_id, q, games - wins - ties if flipped else wins, ties, games))
            if len(buf) >= FLUSH_ROWS:
                self._flush()

    def add_prompt(self, prompt_id: int, judgments: Iterable[tuple[Mapping[Any, float], Mapping[Any, str]]]) -> None:
        """One prompt's judgments, each (candidate -> rank or score where lower is better, candidate -> model)."""
        totals: dict[tuple[str, str], list[float]] = {}
        for ranks, models in judgments:
            for a, b, w, t, g in ranking_comparisons(ranks, models):
                acc = totals.setdefault((a, b), [0.0, 0.0, 0.0])
                acc[0] += w
                acc[1] += t
                acc[2] += g
        for (a, b), (w, t, g) in totals.items():
            self.add(prompt_id, a, b, w, t, g)

    def _grow(self) -> None:
        n = len(self.pair_index)
        extra = n - len(self.wins)
        if extra > 0:
            pad = np.zeros(extra)
            self.wins, self.ties = np.concatenate([self.wins, pad]), np.concatenate([self.ties, pad])
            self.games, self.rows = np.concatenate([self.games, pad]), np.concatenate([self.rows, pad])
            more = np.zeros((self.rounds, extra))
            self.boot_score = np.concatenate([self.boot_score, more], axis=1)
            self.boot_games = np.concatenate([self.boot_games, more], axis=1)

    def _flush(self) -> None:
        if not self._buf:
            return
        self._grow()
        data = np.array(self._buf, dtype=np.float64)
        self._buf.clear()
        prompts, q = data[:, 0].astype(np.int64), data[:, 1].astype(np.int64)
        unique, inverse = np.unique(prompts, return_inverse=True)
        continued = self._last_prompt is not None and int(prompts[0]) == self._last_prompt  # split by the chunking
        self.prompt_count += len(unique) - int(continued)
        self._last_prompt = int(prompts[-1])
        wins, ties, games = data[:, 2], data[:, 3], data[:, 4]
        n_pairs = len(self.pair_index)
        self.wins += np.bincount(q, weights=wins, minlength=n_pairs)
        self.ties += np.bincount(q, weights=ties, minlength=n_pairs)
        self.games += np.bincount(q, weights=games, minlength=n_pairs)
        self.rows += np.bincount(q, minlength=n_pairs)
        if self.rounds:  # per prompt of the chunk and pair: score and games; then weighted by each round's draw
            cell = inverse * n_pairs + q
            size = len(unique) * n_pairs
            score = np.bincount(cell, weights=wins + ties / 2, minlength=size).reshape(len(unique), n_pairs)
            played = np.bincount(cell, weights=games, minlength=size).reshape(len(unique), n_pairs)
            weights = poisson_weights(unique, self.rounds, self.seed)  # (rounds, prompts of the chunk)
            self.boot_score += weights @ score
            self.boot_games += weights @ played

    def result(self, *, prior: float = PRIOR, anchor: str | None = None) -> Comparison:
        """The report from everything added so far."""
        self._flush()
        self._grow()
        models = list(self.index)
        if anchor is not None and anchor not in self.index:
            raise ValueError(f"anchor: model `{anchor}` has no comparisons")
        m = len(models)
        if m == 0:
            return Comparison([], {}, [], 0, self.rounds, self.seed, prior, anchor, [])
        pairs = [(i, j) for (i, j), _ in sorted(self.pair_index.items(), key=lambda kv: kv[1])]
        score = self.wins + self.ties / 2
        theta = fit_bradley_terry(_matrix(m, pairs, score[None, :], self.games[None, :]), prior)[0]
        ratings = _ratings(theta[None, :], self.index.get(anchor) if anchor else None)[0]
        low = high = None
        if self.rounds and m:
            boot = fit_bradley_terry(_matrix(m, pairs, self.boot_score, self.boot_games), prior)
            boot_ratings = _ratings(boot, self.index.get(anchor) if anchor else None)
            low, high = np.percentile(boot_ratings, [2.5, 97.5], axis=0)
        games_of = np.zeros(m)
        score_of = np.zeros(m)
        records: dict[tuple[str, str], PairRecord] = {}
        for q, (i, j) in enumerate(pairs):
            w, t, g, r = (int(round(x)) for x in (self.wins[q], self.ties[q], self.games[q], self.rows[q]))
            a, b = models[i], models[j]
            records[(a, b)] = PairRecord(a, b, w, t, g - w - t, g, r)
            records[(b, a)] = PairRecord(b, a, g - w - t, t, w, g, r)
            games_of[i] += g
            games_of[j] += g
            score_of[i] += score[q]
            score_of[j] += g - score[q]
        strengths = [Strength(name, float(ratings[k]), None if low is None else float(low[k]),
                              None if high is None else float(high[k]), float(_centred(theta, anchor, self.index)[k]),
                              int(games_of[k]), float(score_of[k])) for k, name in enumerate(models)]
        strengths.sort(key=lambda s: (-s.rating, s.model))
        return Comparison([s.model for s in strengths], records, strengths, self.prompt_count, self.rounds,
                          self.seed, prior, anchor, _notes(models, pairs, games_of, score_of, prior))


def ranking_comparisons(ranks: Mapping[Any, float], models: Mapping[Any, str | None]
                        ) -> list[tuple[str, str, float, float, float]]:
    """One judgment's comparisons between models: (a, b, wins of a, ties, games) per pair of models, a < b.

    `ranks` maps candidate -> rank (1 = best; equal = tie; a candidate without a rank is absent),
    `models` candidate -> model; candidates without a model, and pairs of one model, compare nothing.
    """
    totals: dict[tuple[str, str], list[float]] = {}
    items = [(models.get(c), r) for c, r in ranks.items() if r is not None and models.get(c)]
    for x in range(len(items)):
        for y in range(x + 1, len(items)):
            (ma, ra), (mb, rb) = items[x], items[y]
            if ma == mb:
                continue
            if ma > mb:  # type: ignore[operator]
                ma, mb, ra, rb = mb, ma, rb, ra
            acc = totals.setdefault((ma, mb), [0.0, 0.0, 0.0])  # type: ignore[arg-type]
            acc[0] += ra < rb
            acc[1] += ra == rb
            acc[2] += 1
    return [(a, b, w, t, g) for (a, b), (w, t, g) in sorted(totals.items())]


# ---------------------------------------------------------------------------------------------
# The fit


def fit_bradley_terry(scores: np.ndarray, prior: float = PRIOR, *, iterations: int = 200,
                      tol: float = 1e-10) -> np.ndarray:
    """Log-strengths θ (centred on their mean) for a batch of score matrices, by Newton's method.

    `scores[r, i, j]` is what model i scored against model j in batch r (wins plus half the ties);
    returns θ of shape (r, models). The log-likelihood is concave, so capped Newton steps converge;
    with `prior=0` and separated data (a model that never loses) θ grows until `iterations` end.
    """
    scores = np.asarray(scores, dtype=np.float64)
    batch, m, _ = scores.shape
    theta = np.zeros((batch, m))
    if m == 0:
        return theta
    games = scores + scores.transpose(0, 2, 1)
    total = scores.sum(axis=2)
    eye = np.eye(m)
    ridge = 1e-9 * (1.0 + games.sum(axis=2).max())
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(theta[:, :, None] - theta[:, None, :])))
        ghost = 1.0 / (1.0 + np.exp(-theta))
        grad = total - (games * p).sum(axis=2) + prior * (0.5 - ghost)
        v = games * p * (1.0 - p)
        neg_hess = -v + eye * (v.sum(axis=2) + prior * ghost * (1.0 - ghost) + ridge)[:, :, None]
        step = np.linalg.solve(neg_hess, grad[:, :, None])[:, :, 0]
        if prior == 0:  # no ghost: θ is defined up to a constant, which the step must not move
            step -= step.mean(axis=1, keepdims=True)
        biggest = np.abs(step).max(axis=1, keepdims=True)
        step *= np.minimum(1.0, _MAX_STEP / np.maximum(biggest, 1e-300))
        theta += step
        if biggest.max() < tol:
            break
    return theta - theta.mean(axis=1, keepdims=True)


def _matrix(m: int, pairs: Sequence[tuple[int, int]], score: np.ndarray, games: np.ndarray) -> np.ndarray:
    """(batch, m, m) score matrices from per-pair scores (from i's side) and games."""
    out = np.zeros((score.shape[0], m, m))
    for q, (i, j) in enumerate(pairs):
        out[:, i, j] = score[:, q]
        out[:, j, i] = games[:, q] - score[:, q]
    return out


def _ratings(theta: np.ndarray, anchor: int | None) -> np.ndarray:
    ref = theta[:, [anchor]] if anchor is not None else theta.mean(axis=1, keepdims=True)
    return CENTER + SCALE * (theta - ref)


def _centred(theta: np.ndarray, anchor: str | None, index: Mapping[str, int]) -> np.ndarray:
    return theta - (theta[index[anchor]] if anchor else theta.mean())


def poisson_weights(prompt_ids: np.ndarray, rounds: int, seed: int) -> np.ndarray:
    """Poisson(1) weights (rounds × prompts) that depend only on (seed, round, prompt id): splitmix64."""
    ids = np.asarray(prompt_ids, dtype=np.int64).astype(np.uint64)
    r = np.arange(rounds, dtype=np.uint64)
    with np.errstate(over="ignore"):
        by_round = (r[:, None] + np.uint64(1)) * np.uint64(0xD1B54A32D192ED03)
        z = (ids[None, :] * np.uint64(0x9E3779B97F4A7C15)) ^ by_round
        z ^= np.uint64((seed * 0x94D049BB133111EB + 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    u = (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
    return np.searchsorted(_POISSON_CDF, u, side="right").astype(np.float64)


def _notes(models: list[str], pairs: Sequence[tuple[int, int]], games: np.ndarray, score: np.ndarray,
           prior: float) -> list[str]:
    """Plain words for the degenerate cases: a model that never lost or never won, groups never compared."""
    notes = []
    for k, name in enumerate(models):
        if games[k] and score[k] >= games[k]:
            notes.append(f"`{name}` never lost ({int(games[k])} games): its rating rests on the prior ({prior:g})")
        elif games[k] and score[k] <= 0:
            notes.append(f"`{name}` never won ({int(games[k])} games): its rating rests on the prior ({prior:g})")
    groups = _components(len(models), pairs)
    if len(groups) > 1:
        named = "; ".join(", ".join(f"`{models[k]}`" for k in sorted(g)) for g in groups)
        notes.append(f"the models fall into {len(groups)} groups never compared with each other ({named}): "
                     "ratings across groups are not comparable")
    return notes


def _components(m: int, pairs: Sequence[tuple[int, int]]) -> list[set[int]]:
    parent = list(range(m))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j in pairs:
        parent[find(i)] = find(j)
    groups: dict[int, set[int]] = {}
    for k in range(m):
        groups.setdefault(find(k), set()).add(k)
    return sorted(groups.values(), key=min)
