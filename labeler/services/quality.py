"""Agreement and consensus: `labeler quality`, the admin console's labelers and quality pages.

Design constraints:
- The figures are the pure ones of `analytics.agreement` (definitions there and in the README's
  "Quality metrics"); the consensus is `exports.aggregate.consensus`, the export's consensus mode,
  so the report and a consensus export agree.
- Memory stays bounded: rankings and their items are one streamed query ordered by prompt, grouped
  as they pass; one prompt's rankings are held at a time, plus counters per labeler and per week.
- What counts: **human** rankings that are `submitted` or `accepted` (rejected work and drafts do
  not), and of those the ones that vote (not "none acceptable", two or more ranked candidates).
  Gold results (services/gold.py) are left out, as the export leaves them out: they are scored
  against the expected answer (the labelers table's gold columns), not against each other.
  Imported (or otherwise non-human) rankings are never mixed with the labelers: each source is a
  *reference*, reported apart as its agreement with the labelers' consensus.
- Access: admins, and reviewers who are members of the project; labelers get Forbidden.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.orm import Session

from analytics.agreement import PairCounts, Rate  # noqa: F401 - Rate: the pages name it through this service
from analytics.tally import AgreementTally
from db.models import Assignment, Demonstration, Membership, Project, Prompt, Ranking, RankingItem, User
from exports.rows import RankedItem, RankingRow, timestamp
from labeler.services import gold
from labeler.services.actors import Actor, require_role
from labeler.services.projects import get_project_for
from labeler.services.reward_models import (  # noqa: F401 - SplitAgreement: the CLI names it through this service
    RewardModelAgreement,
    RewardModelInfo,
    SplitAgreement,
    choose_reward_model,
    list_reward_models,
    reward_model_agreement,
)

COUNTED = ("submitted", "accepted")  # human work that counts for agreement
DONE = ("submitted", "accepted", "rejected")  # work a labeler did, whatever the review said
CHUNK = 2000


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class LabelerAgreement:
    """One labeler's agreement figures."""

    username: str
    rankings: int  # voting rankings
    pairwise: Rate  # pairs ordered the same way as another labeler, of pairs both order strictly
    tied: int  # pairs left out because this labeler or the other tied them
    consensus: Rate  # pairs ordered as the consensus of the other labelers
    mean_tau: float | None
    tau_pairs: int  # rankings of another labeler the mean is over

    def to_dict(self) -> dict[str, Any]:
        return {"username": self.username, "rankings": self.rankings, "pairwise": self.pairwise.to_dict(),
                "tied": self.tied, "consensus": self.consensus.to_dict(), "mean_tau": _r(self.mean_tau),
                "tau_pairs": self.tau_pairs}


@dataclass(frozen=True)
class ReferenceAgreement:
    """An imported (non-human) source of rankings against the labelers' consensus."""

    source: str
    rankings: int
    agreement: Rate  # the source's pairs ordered as the labelers' consensus, of pairs both order strictly

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "rankings": self.rankings, "agreement": self.agreement.to_dict()}


@dataclass(frozen=True)
class AgreementReport:
    """A project's agreement figures, each with its counts (see the README's "Quality metrics")."""

    project: str
    rankings: int  # voting human rankings
    not_voting: int  # counted human rankings that do not vote ("none acceptable", fewer than two ranked)
    prompts: int  # prompts with a voting ranking
    shared_prompts: int  # prompts with two or more voting rankings: where agreement can be measured
    pairwise: Rate
    tied_pairs: int
    kendall_tau: float | None
    tau_pairs: int
    tau_prompts: int
    alpha: float | None  # Krippendorff's alpha, ordinal, over candidate pairs
    alpha_units: int  # candidate pairs coded by two or more labelers
    consensus_prompts: int
    consensus_support: Rate  # labelers' pair orders that match the consensus, of those that could
    consensus_mean_agreement: float | None  # mean of the export's per-prompt `agreement`
    position_first: Rate  # the candidate shown first wins
    position: dict[int, Rate]
    labelers: list[LabelerAgreement] = field(default_factory=list)
    between: list[tuple[str, str, Rate]] = field(default_factory=list)
    references: list[ReferenceAgreement] = field(default_factory=list)
    pairwise_by_split: dict[str, Rate] = field(default_factory=dict)  # labelers with each other, per split
    reward_model: RewardModelAgreement | None = None  # the reward model against the rankings, per split

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (for `--json` and the app)."""
        return {
            "project": self.project, "rankings": self.rankings, "not_voting": self.not_voting,
            "prompts": self.prompts, "shared_prompts": self.shared_prompts,
            "pairwise": self.pairwise.to_dict(), "tied_pairs": self.tied_pairs,
            "kendall_tau": {"mean": _r(self.kendall_tau), "pairs": self.tau_pairs, "prompts": self.tau_prompts},
            "alpha": {"value": _r(self.alpha), "units": self.alpha_units, "level": "ordinal",
                      "unit": "candidate pair"},
            "consensus": {"prompts": self.consensus_prompts, "support": self.consensus_support.to_dict(),
                          "mean_agreement": _r(self.consensus_mean_agreement)},
            "position_bias": {"first": self.position_first.to_dict(),
                              "by_position": {str(p): r.to_dict() for p, r in self.position.items()}},
            "labelers": [row.to_dict() for row in self.labelers],
            "between": [{"a": a, "b": b, "pairwise": rate.to_dict()} for a, b, rate in self.between],
            "references": [ref.to_dict() for ref in self.references],
            "pairwise_by_split": {split: rate.to_dict() for split, rate in self.pairwise_by_split.items()},
            "reward_model_agreement": self.reward_model.to_dict() if self.reward_model else None,
        }


@dataclass(frozen=True)
class LabelerRow:
    """One row of the admin console's labelers table."""

    username: str
    role: str
    active: bool
    member: bool
    tasks: int  # demonstrations and rankings done (submitted, accepted or rejected)
    demonstrations: int
    rankings: int
    median_seconds: float | None
    accepted: int
    rejected: int
    acceptance: Rate  # accepted of reviewed (accepted + rejected)
    agreement: Rate  # pairwise agreement with the other labelers
    consensus: Rate  # agreement with the consensus of the others
    gold_score: float | None = None
    gold_n: int = 0
    qualification: str | None = None
    paused: bool | None = None

    @property
    def acceptance_rate(self) -> float | None:
        return self.acceptance.rate

    def to_dict(self) -> dict[str, Any]:
        return {
            "username": self.username, "role": self.role, "active": self.active, "member": self.member,
            "tasks": self.tasks, "demonstrations": self.demonstrations, "rankings": self.rankings,
            "median_seconds": _r(self.median_seconds, 1), "accepted": self.accepted, "rejected": self.rejected,
            "acceptance": self.acceptance.to_dict(), "agreement": self.agreement.to_dict(),
            "consensus": self.consensus.to_dict(), "gold_score": _r(self.gold_score), "gold_n": self.gold_n,
            "qualification": self.qualification, "paused": self.paused,
        }


@dataclass(frozen=True)
class QualityCharts:
    """Series for the quality page's charts, every point with its counts."""

    agreement_by_week: list[tuple[str, int, int]]  # (Monday of the week, agree, total)
    likert: dict[int, int]  # score -> how often given (human rankings)
    flags: dict[str, int]  # flag -> how often set
    position: dict[int, tuple[int, int]]  # display position -> (wins, strict comparisons)

    def to_dict(self) -> dict[str, Any]:
        return {
            "agreement_by_week": [{"week": w, "agree": a, "total": t} for w, a, t in self.agreement_by_week],
            "likert": {str(k): v for k, v in self.likert.items()},
            "flags": dict(self.flags),
            "position": {str(p): {"wins": w, "comparisons": c} for p, (w, c) in self.position.items()},
        }


def _r(x: float | None, places: int = 4) -> float | None:
    return None if x is None else round(x, places)


# ---------------------------------------------------------------------------------------------
# Services


def agreement_report(session: Session, actor: Actor, project_name: str,
                     reward_model: str | None = None) -> AgreementReport:
    """A project's agreement figures (admins, and reviewers of the project), with a reward model's beside them.

    `reward_model` names a model that scored the project (default: the routing model, else the last scored).
    """
    project = _project(session, actor, project_name)
    return _report(project, _scan(session, project.id), _rm(session, project, reward_model))


def reward_models(session: Session, actor: Actor, project_name: str) -> list[RewardModelInfo]:
    """The reward models that scored the project, most recent first (admins, and reviewers of the project)."""
    return list_reward_models(session, _project(session, actor, project_name))


def _rm(session: Session, project: Project, reward_model: str | None) -> RewardModelAgreement:
    return reward_model_agreement(session, project, choose_reward_model(session, project, reward_model))


def labelers_table(session: Session, actor: Actor, project_name: str) -> list[LabelerRow]:
    """Every member of the project and everyone with work in it: output, review, agreement, gold."""
    project = _project(session, actor, project_name)
    return _labelers(session, actor, project, _scan(session, project.id))


def quality_charts(session: Session, actor: Actor, project_name: str) -> QualityCharts:
    """Agreement by week, Likert scores, flags and wins by display position (human rankings)."""
    project = _project(session, actor, project_name)
    return _charts(_scan(session, project.id))


@dataclass(frozen=True)
class QualityOverview:
    """The report, the labelers table and the charts of one project, from one pass over its rankings."""

    report: AgreementReport
    labelers: list[LabelerRow]
    charts: QualityCharts

    def to_dict(self) -> dict[str, Any]:
        return {"report": self.report.to_dict(), "labelers": [row.to_dict() for row in self.labelers],
                "charts": self.charts.to_dict()}


def quality_overview(session: Session, actor: Actor, project_name: str,
                     reward_model: str | None = None) -> QualityOverview:
    """`agreement_report`, `labelers_table` and `quality_charts` at the cost of one (a page showing all three)."""
    project = _project(session, actor, project_name)
    scan = _scan(session, project.id)
    return QualityOverview(_report(project, scan, _rm(session, project, reward_model)),
                           _labelers(session, actor, project, scan), _charts(scan))


def _report(project: Project, scan: _Scan, rm: RewardModelAgreement | None = None) -> AgreementReport:
    t = scan.tally
    labelers = [
        LabelerAgreement(name, lt.rankings, lt.pairwise.rate(), lt.pairwise.tied, lt.consensus.rate(),
                         lt.mean_tau, lt.tau_n)
        for name, lt in sorted(t.labelers.items())
    ]
    return AgreementReport(
        project=project.name, rankings=t.rankings, not_voting=scan.not_voting, prompts=t.prompts,
        shared_prompts=t.shared_prompts, pairwise=t.pairwise.rate(), tied_pairs=t.pairwise.tied,
        kendall_tau=t.mean_tau, tau_pairs=t.tau_pairs, tau_prompts=t.tau_prompts,
        alpha=t.alpha.alpha("ordinal"), alpha_units=t.alpha.units // 2,
        consensus_prompts=t.consensus.prompts, consensus_support=Rate(t.consensus.agree, t.consensus.total),
        consensus_mean_agreement=t.consensus.mean_agreement,
        position_first=t.position.first, position=t.position.by_position(), labelers=labelers,
        between=[(a, b, counts.rate()) for (a, b), counts in sorted(t.between.items())],
        references=[ReferenceAgreement(name, n, t.references.get(name, PairCounts()).rate())
                    for name, n in sorted(t.reference_rankings.items())],
        pairwise_by_split={split: counts.rate() for split, counts in _by_split_order(scan.pairwise_by_split)},
        reward_model=rm,
    )


def _by_split_order(counts: dict[str, PairCounts]) -> list[tuple[str, PairCounts]]:
    order = {"train": 0, "valid": 1, "test": 2}
    return sorted(counts.items(), key=lambda kv: order.get(kv[0], 9))


def _labelers(session: Session, actor: Actor, project: Project, scan: _Scan) -> list[LabelerRow]:
    tally = scan.tally
    work = _work_by_labeler(session, project.id)
    medians = _median_seconds(session, project.id, {uid: w["tasks"] for uid, w in work.items()})
    members = set(session.scalars(select(Membership.user_id).where(Membership.project_id == project.id)))
    users = session.execute(
        select(User.id, User.username, User.role, User.active)
        .where(User.id.in_(members | set(work))).order_by(User.username)
    ).all() if members or work else []
    gold_columns = _gold_columns(session, actor, project)
    rows = []
    for uid, username, role, active in users:
        w = work.get(uid, {})
        lt = tally.labelers.get(username)
        g = gold_columns.get(uid, {})
        rows.append(LabelerRow(
            username=username, role=role, active=active, member=uid in members, tasks=w.get("tasks", 0),
            demonstrations=w.get("demonstrations", 0), rankings=w.get("rankings", 0),
            median_seconds=medians.get(uid), accepted=w.get("accepted", 0), rejected=w.get("rejected", 0),
            acceptance=Rate(w.get("accepted", 0), w.get("accepted", 0) + w.get("rejected", 0)),
            agreement=lt.pairwise.rate() if lt else Rate(0, 0), consensus=lt.consensus.rate() if lt else Rate(0, 0),
            **g,
        ))
    return rows


def _charts(scan: _Scan) -> QualityCharts:
    t = scan.tally
    return QualityCharts(
        agreement_by_week=[(week, c.agree, c.total) for week, c in sorted(t.by_week.items())],
        likert=dict(sorted(scan.likert.items())),
        flags=dict(sorted(scan.flags.items(), key=lambda kv: (-kv[1], kv[0]))),
        position={p: (rate.hits, rate.total) for p, rate in t.position.by_position().items()},
    )


# ---------------------------------------------------------------------------------------------
# The scan: one streamed pass over a project's counted rankings


def _project(session: Session, actor: Actor, name: str) -> Project:
    require_role(actor, "admin", "reviewer")
    return get_project_for(session, actor, name)


@dataclass
class _Scan:
    tally: AgreementTally = field(default_factory=AgreementTally)
    not_voting: int = 0
    likert: Counter[int] = field(default_factory=Counter)
    flags: Counter[str] = field(default_factory=Counter)
    pairwise_by_split: dict[str, PairCounts] = field(default_factory=dict)  # labelers with each other


def _scan(session: Session, project_id: int) -> _Scan:
    """Every figure of the project's counted rankings, one prompt at a time."""
    scan = _Scan()
    for group in _prompt_groups(session, project_id):
        human = [row for origin, _source, row in group if origin == "human"]
        refs = [(source or origin, row) for origin, source, row in group if origin != "human"]
        for row in human:
            for it in row.items:
                if it.likert is not None:
                    scan.likert[int(it.likert)] += 1
                scan.flags.update(it.flags)
        voting_before, pairs_before = scan.tally.rankings, scan.tally.pairwise
        scan.tally.add_prompt(human, refs)
        scan.not_voting += len(human) - (scan.tally.rankings - voting_before)
        after = scan.tally.pairwise
        if after != pairs_before and group:  # this prompt's pairs of labelers, under its split
            split = group[0][2].split
            scan.pairwise_by_split[split] = scan.pairwise_by_split.get(split, PairCounts()) + PairCounts(
                after.agree - pairs_before.agree, after.disagree - pairs_before.disagree,
                after.tied - pairs_before.tied)
    return scan


def _prompt_groups(session: Session, project_id: int) -> Iterator[list[tuple[str, str | None, RankingRow]]]:
    """The counted rankings of each prompt as (origin, source, row), prompt by prompt.

    One query over rankings joined with their items, ordered by prompt, ranking and display
    position, streamed in chunks; a ranking is complete when the next one starts.
    """
    query = (
        select(Ranking.id, Ranking.prompt_id, User.username, Ranking.origin, Ranking.source, Ranking.status,
               Ranking.none_acceptable, Ranking.submitted_at, RankingItem.candidate_id, RankingItem.rank,
               RankingItem.likert, RankingItem.flags, RankingItem.position, Prompt.split)
        .join(Prompt, Prompt.id == Ranking.prompt_id)
        .join(RankingItem, RankingItem.ranking_id == Ranking.id)
        .outerjoin(User, User.id == Ranking.labeler_id)
        .outerjoin(Assignment, Assignment.id == Ranking.assignment_id)
        .where(Prompt.project_id == project_id, Ranking.status.in_(COUNTED), Assignment.gold.is_(None))
        .order_by(Ranking.prompt_id, Ranking.id, RankingItem.position, RankingItem.candidate_id)
    )
    group: list[tuple[str, str | None, RankingRow]] = []
    head: tuple | None = None
    items: list[RankedItem] = []
    rows = session.connection().execute(query, execution_options={"yield_per": CHUNK})
    for rid, pid, username, origin, source, status, none_ok, at, cid, rank, likert, flags, position, split in rows:
        if head is None or head[0] != rid:
            if head is not None:
                group.append(_row(head, items))
                if head[1] != pid:
                    yield group
                    group = []
            head, items = (rid, pid, username, origin, source, status, none_ok, at, split), []
        items.append(RankedItem(candidate_id=cid, text="", rank=rank, likert=likert, flags=tuple(flags or ()),
                                position=position))
    if head is not None:
        group.append(_row(head, items))
        yield group


def _row(head: tuple, items: list[RankedItem]) -> tuple[str, str | None, RankingRow]:
    rid, pid, username, origin, source, status, none_ok, at, split = head
    return origin, source, RankingRow(
        ranking_id=rid, prompt_id=pid, split=split, messages=(), items=tuple(items), labeler=username, origin=origin,
        status=status, none_acceptable=none_ok, submitted_at=timestamp(at))


# ---------------------------------------------------------------------------------------------
# Output, review and gold per labeler


def _done_work(project_id: int):  # noqa: ANN202 - a Select
    """(labeler id, kind, status, seconds) of every human demonstration and ranking done in the project."""
    parts = [
        select(model.labeler_id.label("uid"), literal(kind).label("kind"), model.status.label("status"),
               model.seconds_spent.label("seconds"))
        .join(Prompt, Prompt.id == model.prompt_id)
        .where(Prompt.project_id == project_id, model.origin == "human", model.labeler_id.is_not(None),
               model.status.in_(DONE))
        for model, kind in ((Demonstration, "demonstrations"), (Ranking, "rankings"))
    ]
    return union_all(*parts).subquery()


def _work_by_labeler(session: Session, project_id: int) -> dict[int, Counter[str]]:
    work = _done_work(project_id)
    out: dict[int, Counter[str]] = {}
    for uid, kind, status, n in session.execute(
        select(work.c.uid, work.c.kind, work.c.status, func.count()).group_by(work.c.uid, work.c.kind, work.c.status)
    ):
        w = out.setdefault(uid, Counter())
        w["tasks"] += n
        w[kind] += n
        if status in ("accepted", "rejected"):
            w[status] += n
    return out


def _median_seconds(session: Session, project_id: int, tasks: dict[int, int]) -> dict[int, float]:
    """Median seconds per task of each labeler, from one sorted stream (no labeler's list is held)."""
    work = _done_work(project_id)
    rows = session.connection().execute(
        select(work.c.uid, work.c.seconds).order_by(work.c.uid, work.c.seconds), execution_options={"yield_per": CHUNK}
    )
    out: dict[int, float] = {}
    index, current = 0, None
    middle: list[float] = []
    for uid, seconds in rows:
        if uid != current:
            current, index, middle = uid, 0, []
        n = tasks[uid]
        if index in ((n - 1) // 2, n // 2):
            middle.append(float(seconds or 0.0))
            if index == n // 2:
                out[uid] = sum(middle) / len(middle)
        index += 1
    return out


def _gold_columns(session: Session, actor: Actor, project: Project) -> dict[int, dict[str, Any]]:
    """Gold score (every account with scored gold results) and qualification and pause (labeler members)."""
    out: dict[int, dict[str, Any]] = {
        uid: {"gold_score": score, "gold_n": n} for uid, (score, n) in gold.gold_scores(session, project.id).items()}
    ids = dict(session.execute(select(User.username, User.id)
                               .join(Membership, Membership.user_id == User.id)
                               .where(Membership.project_id == project.id)).all())
    for state in gold.list_qualifications(session, actor, project.name):
        out.setdefault(ids[state.username], {}).update(qualification=state.status, paused=state.paused)
    return out
