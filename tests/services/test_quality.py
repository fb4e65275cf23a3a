"""Agreement report, labelers table and charts from a real store (both backends), checked by hand.

The small project: three labelers rank the same two prompts through the real queue and labeling
services (labels_per_item=3); candidates are shown in id order (the queue's random order is pinned)
so position bias can be worked out by hand:

    prompt A (a0, a1, a2): ann 1 2 3   bob 1 2 3   cat 2 1 3
    prompt B (b0, b1, b2): ann 1 2 3   bob 3 2 1   cat 1 1 3 (a tie)
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from sqlalchemy import select, update

from analytics.agreement import Rate
from db.base import utcnow
from db.models import Candidate, Demonstration, Prompt, Ranking, RankingItem
from labeler.errors import Forbidden
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.export import ExportFilters, ExportRequest, export_dataset
from labeler.services.ingest import ImportOptions, import_file
from labeler.services.labeling import ItemSubmission, RankingSubmission, submit_demonstration, submit_ranking
from labeler.services.projects import add_member
from labeler.services.quality import (
    agreement_report,
    labelers_table,
    quality_charts,
    quality_overview,
)
from labeler.services.queue import next_task
from tests.conftest import SHARED_DATA
from tests.factories import make_project, make_user
from tests.services.quality_data import consensus_rankings
from tests.services.queue_data import add_prompts, cheap_passwords  # noqa: F401

ORDERS = {  # labeler -> (ranks on prompt A, ranks on prompt B), in candidate id order
    "ann": ([1, 2, 3], [1, 2, 3]),
    "bob": ([1, 2, 3], [3, 2, 1]),
    "cat": ([2, 1, 3], [1, 1, 3]),
}
SECONDS = {"ann": (10, 20), "bob": (5, 15), "cat": (7, 9)}


class _InOrder:
    """Stands in for the queue's random generator: candidates shown in id order."""

    @staticmethod
    def sample(population, k):
        return list(population)[:k]


@pytest.fixture
def in_order(monkeypatch):
    monkeypatch.setattr("labeler.services.queue._rng", _InOrder())


def rank_all(project="p", orders=ORDERS, likert=None, flags=None):
    """Each labeler leases and submits both ranking tasks; returns {(labeler, prompt index): ranking id}."""
    ids = {}
    for name, per_prompt in orders.items():
        actor = ACTORS[name]
        for _ in per_prompt:
            with session_scope() as s:
                task = next_task(s, actor, project, "ranking")
                prompt_index = PROMPTS.index(task.prompt_id)
                ranks = per_prompt[prompt_index]
                by_id = sorted(c.candidate_id for c in task.candidates)
                items = [ItemSubmission(candidate_id=cid, rank=ranks[by_id.index(cid)],
                                        likert=(likert or {}).get((name, prompt_index, by_id.index(cid))),
                                        flags=(flags or {}).get((name, prompt_index, by_id.index(cid)), []))
                         for cid in (c.candidate_id for c in task.candidates)]
                sub = RankingSubmission(items=items, seconds_spent=SECONDS[name][prompt_index])
                ids[name, prompt_index] = submit_ranking(s, actor, task.assignment_id, sub)
    return ids


ACTORS: dict = {}
PROMPTS: list[int] = []


@pytest.fixture
def panel(db_url, in_order):
    """The three labelers' rankings of prompts A and B (see the module docstring)."""
    ACTORS.clear()
    ACTORS.update({n: make_user(n) for n in ORDERS})
    make_project("p", members=tuple(ORDERS), labels_per_item=3, task_kinds=["ranking", "demonstration"])
    PROMPTS[:] = add_prompts("p", 2, candidates=3)
    likert = {("ann", 0, 0): 7, ("ann", 0, 1): 4, ("ann", 0, 2): 1, ("bob", 1, 0): 4}
    flags = {("cat", 0, 2): ["hallucination"], ("bob", 1, 0): ["hallucination", "harmful_advice"]}
    return rank_all(likert=likert, flags=flags)


def report(actor=OPERATOR, project="p"):
    with session_scope(write=False) as s:
        return agreement_report(s, actor, project)


def test_the_agreement_report_by_hand(panel):
    r = report()
    assert (r.rankings, r.prompts, r.shared_prompts, r.not_voting) == (6, 2, 2, 0)
    # A: ann-bob 3/3, ann-cat 2/3, bob-cat 2/3; B: ann-bob 0/3, ann-cat 2/2 (+1 tied), bob-cat 0/2 (+1 tied)
    assert r.pairwise == Rate(9, 16) and r.tied_pairs == 2
    # tau: A 1, 1/3, 1/3; B -1, 2/sqrt(6), -2/sqrt(6)
    assert r.kendall_tau == pytest.approx(1 / 9) and (r.tau_pairs, r.tau_prompts) == (6, 2)
    rows = {row.username: row for row in r.labelers}
    assert {n: (row.pairwise, row.tied) for n, row in rows.items()} == {
        "ann": (Rate(7, 11), 1), "bob": (Rate(5, 11), 1), "cat": (Rate(6, 10), 2)}
    # leave one out. A: ann, bob vs (bob|ann + cat: 1 = 2 > 3) 2/2 each, cat vs 1 > 2 > 3 2/3.
    # B: ann vs (bob + cat: b1 > b2 > b0) 1/3, bob vs (ann + cat: b0 > b1 > b2) 0/3, cat vs (ann + bob: all tied) 0/0
    assert {n: row.consensus for n, row in rows.items()} == {"ann": Rate(3, 5), "bob": Rate(2, 5), "cat": Rate(2, 3)}
    assert rows["ann"].mean_tau == pytest.approx((1 + 1 / 3 - 1 + 2 / math.sqrt(6)) / 4)
    # consensus A 1 > 2 > 3 supported 8/9; B b0 = b1 > b2, (b0, b2) and (b1, b2) by ann and cat: 4/6
    assert (r.consensus_prompts, r.consensus_support) == (2, Rate(12, 15))
    assert r.consensus_mean_agreement == pytest.approx((0.8889 + 0.6667) / 2)
    # wins of the first shown (positions = candidate order): A 2/2, 2/2, 1/2; B 2/2, 0/2, 1/1 (tie left out)
    assert r.position_first == Rate(8, 11)
    assert r.position == {0: Rate(8, 11), 1: Rate(7, 11), 2: Rate(2, 12)}
    assert [(a, b, rate) for a, b, rate in r.between] == [
        ("ann", "bob", Rate(3, 6)), ("ann", "cat", Rate(4, 5)), ("bob", "cat", Rate(2, 5))]
    assert r.references == []
    assert r.alpha == pytest.approx(_reference_alpha())
    assert r.alpha_units == 6


def _reference_alpha() -> float:
    """`krippendorff.alpha` on the pair matrix: a column per (prompt, ordered candidate pair)."""
    columns = []
    for prompt in (0, 1):
        for x in range(3):
            for y in range(3):
                if x != y:
                    columns.append([np.sign(ORDERS[n][prompt][y] - ORDERS[n][prompt][x]) for n in ORDERS])
    return float(krippendorff.alpha(reliability_data=np.array(columns, dtype=float).T,
                                    level_of_measurement="ordinal"))


def test_rejected_rankings_do_not_count(panel):
    with session_scope() as s:
        s.execute(update(Ranking).where(Ranking.id == panel["bob", 1]).values(status="rejected"))
        s.execute(update(Ranking).where(Ranking.id == panel["ann", 0]).values(status="accepted"))
    r = report()
    # B loses ann-bob 0/3 and bob-cat 0/2; an accepted ranking still counts
    assert r.pairwise == Rate(9, 11) and r.rankings == 5


def test_imported_rankings_are_a_reference_apart_from_the_labelers(panel):
    before = report()
    with session_scope() as s:
        for prompt_id, ranks in zip(PROMPTS, ([1, 2, 3], [2, 3, 1]), strict=True):
            cands = s.scalars(select(Candidate.id).where(Candidate.prompt_id == prompt_id).order_by(Candidate.id)).all()
            s.add(Ranking(prompt_id=prompt_id, status="submitted", origin="imported", source="old.jsonl",
                          display_order=list(cands), submitted_at=utcnow(),
                          items=[RankingItem(candidate_id=c, rank=r, position=i)
                                 for i, (c, r) in enumerate(zip(cands, ranks, strict=True))]))
    after = report()
    # A: 3/3 with 1 > 2 > 3; B: the consensus b0 = b1 > b2 against b2 > b0 > b1: (b0,b2), (b1,b2) disagree
    assert [(x.source, x.rankings, x.agreement) for x in after.references] == [("old.jsonl", 2, Rate(3, 5))]
    assert (after.pairwise, after.labelers, after.position, after.alpha) == (
        before.pairwise, before.labelers, before.position, before.alpha)


def test_the_report_and_the_consensus_export_agree(panel, tmp_path):
    with session_scope() as s:
        export_dataset(s, OPERATOR, ExportRequest(format="rankings", project="p", out_dir=tmp_path / "x",
                                                  aggregate="consensus", filters=ExportFilters(origins=["human"])))
    files = sorted((tmp_path / "x").glob("*.jsonl"))
    exported = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    with session_scope(write=False) as s:
        ours = list(consensus_rankings(s, OPERATOR, "p"))
    assert len(exported) == len(ours) == 2
    by_prompt = {row.prompt_id: row for row in ours}
    for record in exported:
        row = by_prompt[record["prompt_id"]]
        assert {c["candidate_id"]: c["rank"] for c in record["candidates"]} == {
            it.candidate_id: it.rank for it in row.items}
        assert record["agreement"] == row.agreement
        assert record["consensus_of"] == list(row.consensus_of)
    mean = sum(r["agreement"] for r in exported) / len(exported)
    assert report().consensus_mean_agreement == pytest.approx(mean, abs=1e-12)
    a_ranks = {it.candidate_id: it.rank for it in by_prompt[PROMPTS[0]].items}
    assert list(a_ranks.values()) == [1, 2, 3]


def test_labelers_table(panel):
    make_user("dan")  # a member who has done nothing yet
    with session_scope() as s:
        add_member(s, OPERATOR, "p", "dan")
    add_prompts("p", 1)  # a prompt for ann's demonstration
    with session_scope() as s:
        task = next_task(s, ACTORS["ann"], "p", "demonstration")
        demo = submit_demonstration(s, ACTORS["ann"], task.assignment_id,
                                    [{"role": "assistant", "content": "Hello."}], seconds_spent=30)
        s.execute(update(Demonstration).where(Demonstration.id == demo).values(status="rejected"))
        s.execute(update(Ranking).where(Ranking.id == panel["ann", 0]).values(status="accepted"))
    with session_scope(write=False) as s:
        rows = {row.username: row for row in labelers_table(s, OPERATOR, "p")}
    assert list(rows) == ["ann", "bob", "cat", "dan"]
    ann = rows["ann"]
    assert (ann.tasks, ann.demonstrations, ann.rankings) == (3, 1, 2)
    assert ann.median_seconds == 20  # of 10, 20, 30
    assert (ann.accepted, ann.rejected, ann.acceptance) == (1, 1, Rate(1, 2))
    assert ann.agreement == Rate(7, 11) and ann.consensus == Rate(3, 5)
    assert rows["bob"].median_seconds == 10 and rows["bob"].acceptance == Rate(0, 0)
    dan = rows["dan"]
    assert (dan.tasks, dan.median_seconds, dan.agreement, dan.member) == (0, None, Rate(0, 0), True)
    # no qualification set in this project: everyone is qualified, no gold results yet
    assert (dan.qualification, dan.paused, dan.gold_score, dan.gold_n) == ("qualified", False, None, 0)
    assert json.loads(json.dumps(ann.to_dict()))["agreement"]["total"] == 11


def test_gold_results_are_scored_apart_and_shown_in_the_labelers_table(db_url, in_order):
    from labeler.services.gold import mark_gold, set_paused

    ACTORS.clear()
    ACTORS.update({n: make_user(n) for n in ORDERS})
    make_project("p", members=tuple(ORDERS), labels_per_item=3, task_kinds=["ranking"], qualification_tasks=1)
    (gold_prompt,) = add_prompts("p", 1, candidates=3)
    with session_scope() as s:
        cands = s.scalars(select(Candidate.id).where(Candidate.prompt_id == gold_prompt).order_by(Candidate.id)).all()
        mark_gold(s, OPERATOR, "p", gold_prompt, "ranking", ranks=dict(zip(cands, [1, 2, 3], strict=True)))
    PROMPTS[:] = [gold_prompt]
    # everyone's first task is the qualification: ann as expected, bob reversed, cat with a tie
    rank_all(orders={"ann": ([1, 2, 3],), "bob": ([3, 2, 1],), "cat": ([1, 1, 3],)})
    with session_scope() as s:
        set_paused(s, OPERATOR, "p", "cat", True)
    r = report()
    assert (r.rankings, r.pairwise, r.labelers) == (0, Rate(0, 0), [])  # three rankings of one prompt, all gold
    with session_scope(write=False) as s:
        rows = {row.username: row for row in labelers_table(s, OPERATOR, "p")}
    assert {n: (row.gold_score, row.gold_n, row.qualification, row.paused, row.tasks) for n, row in rows.items()} == {
        "ann": (1.0, 1, "qualified", False, 1),
        "bob": (0.0, 1, "failed", False, 1),
        "cat": (pytest.approx(2.5 / 3), 1, "paused", True, 1),  # a tie against a strict pair scores half
    }


def test_quality_charts(panel):
    with session_scope(write=False) as s:
        charts = quality_charts(s, OPERATOR, "p")
    (week,) = charts.agreement_by_week
    assert week[1:] == (9, 16)
    assert charts.likert == {1: 1, 4: 2, 7: 1}
    assert charts.flags == {"hallucination": 2, "harmful_advice": 1}
    assert charts.position == {0: (8, 11), 1: (7, 11), 2: (2, 12)}
    assert json.loads(json.dumps(charts.to_dict()))["position"]["0"] == {"wins": 8, "comparisons": 11}


def test_the_overview_is_the_three_in_one_pass(panel):
    with session_scope(write=False) as s:
        overview = quality_overview(s, OPERATOR, "p")
        assert overview.report == agreement_report(s, OPERATOR, "p")
        assert overview.labelers == labelers_table(s, OPERATOR, "p")
        assert overview.charts == quality_charts(s, OPERATOR, "p")
    assert json.loads(json.dumps(overview.to_dict()))["report"]["pairwise"]["hits"] == 9


def test_an_empty_project(db_url):
    make_user("ann")
    make_project("p", members=("ann",))
    r = report()
    assert (r.rankings, r.prompts, r.pairwise, r.kendall_tau, r.alpha) == (0, 0, Rate(0, 0), None, None)
    assert r.position_first == Rate(0, 0) and r.labelers == [] and r.references == []
    assert json.loads(json.dumps(r.to_dict()))["pairwise"] == {
        "hits": 0, "total": 0, "rate": None, "low": None, "high": None}
    with session_scope(write=False) as s:
        (row,) = labelers_table(s, OPERATOR, "p")
        charts = quality_charts(s, OPERATOR, "p")
    assert (row.username, row.tasks, row.median_seconds) == ("ann", 0, None)
    assert charts.agreement_by_week == [] and charts.likert == {} and charts.position == {}


def test_labelers_are_forbidden_and_reviewers_need_membership(db_url):
    ann = make_user("ann")
    rita = make_user("rita", role="reviewer")
    make_user("rob", role="reviewer")
    make_project("p", members=("ann", "rita"))
    for fn in (agreement_report, labelers_table, quality_charts, quality_overview, consensus_rankings):
        with pytest.raises(Forbidden), session_scope(write=False) as s:
            fn(s, ann, "p")
    assert report(rita).project == "p"
    from labeler.services.auth import actor_for, get_user_or_raise

    with session_scope(write=False) as s:
        rob = actor_for(get_user_or_raise(s, "rob"))
    with pytest.raises(Forbidden, match="not a member"):
        report(rob)


# ---------------------------------------------------------------------------------------------
# OpenAssistant: one published ranking per prompt is its own consensus


def published_orders(path: Path) -> dict[str, list[str]]:
    """Prompter message id -> its replies' texts in OpenAssistant's rank order (from the file itself)."""
    messages: dict[str, dict] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            obj = json.loads(line)
            stack = [obj.get("prompt", obj)] if "replies" in obj.get("prompt", obj) else [obj]
            while stack:
                m = stack.pop()
                messages[m["message_id"]] = m
                for reply in m.get("replies") or []:
                    reply.setdefault("parent_id", m["message_id"])
                    stack.append(reply)
    replies: dict[str, list[dict]] = {}
    for m in messages.values():
        if m.get("parent_id") and m["role"] == "assistant" and m.get("rank") is not None \
                and not m.get("deleted") and m.get("review_result") is not False:
            replies.setdefault(m["parent_id"], []).append(m)
    out = {}
    for parent, ranked in replies.items():
        texts: list[str] = []
        for m in sorted(ranked, key=lambda m: m["rank"]):
            if m["text"].strip() not in texts:  # the same text twice is one candidate
                texts.append(m["text"].strip())
        out[parent] = texts
    return out


@pytest.mark.parametrize("sample", ["openassistant/en_100_tree.jsonl",
                                    "oasst1-en-validation/oasst1_en_validation_first1005.jsonl"])
def test_openassistant_consensus_matches_the_published_rank_order(db_url, sample):
    path = SHARED_DATA / sample
    make_project("oa")
    with session_scope() as s:
        imported = import_file(s, OPERATOR, "oa", path, ImportOptions()).rankings_added
    published = published_orders(path)
    with session_scope(write=False) as s:
        texts = dict(s.execute(select(Candidate.id, Candidate.text)).all())
        external = dict(s.execute(select(Prompt.id, Prompt.external_id)).all())
        rows = list(consensus_rankings(s, OPERATOR, "oa", origins=("imported",)))
        human = list(consensus_rankings(s, OPERATOR, "oa"))
        r = agreement_report(s, OPERATOR, "oa")
    assert len(rows) == imported > 200 and human == []
    for row in rows:
        assert len(row.consensus_of) == 1  # one ranking per prompt
        ranked = sorted((it for it in row.items if it.rank is not None), key=lambda it: it.rank)
        assert len({it.rank for it in ranked}) == len(ranked)  # OpenAssistant's ranks have no ties
        assert [texts[it.candidate_id].strip() for it in ranked] == published[external[row.prompt_id]]
    assert r.rankings == 0 and r.pairwise == Rate(0, 0)  # nothing human: the import is only a reference
    assert [(x.source, x.rankings, x.agreement) for x in r.references] == [(path.name, imported, Rate(0, 0))]
