"""The bulk path for imported labels (candidates, rankings and their items): its guarantees.

All-or-nothing, dedup and the report's counts, on both backends, plus what makes it bulk: no ORM
object per row, ids that later writers do not collide with, and batches bounded by rows.
"""

from __future__ import annotations

import gc
import json
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text

from db.models import Candidate, Prompt, Ranking, RankingItem
from labeler.errors import Invalid
from labeler.readers.pipeline import PrepareOptions, prepared_batches
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.bulk import PlannerStats, bound_now, write_rows
from labeler.services.ingest import PROMPT_COLUMNS, ImportOptions, import_file
from tests.factories import make_project
from tests.services.test_ingest import counts, run_import

KS = (4, 9, 5, 6, 7, 8, 4)


def tree(i: int, k: int, *, ranks: list[int] | None = None, replies: list[str] | None = None) -> dict:
    """One OpenAssistant tree: a prompt and k ranked replies (rank 0 = best, as the source writes)."""
    ranks = ranks if ranks is not None else list(range(k))
    texts = replies or [f"reply {j} to question {i}" for j in range(k)]
    kids = [{"message_id": f"m{i}.{j}", "role": "assistant", "text": texts[j], "rank": ranks[j], "replies": []}
            for j in range(k)]
    prompt = {"message_id": f"m{i}", "role": "prompter", "text": f"question {i}?", "user_id": f"u{i // 3}",
              "replies": kids}
    return {"message_tree_id": f"m{i}", "prompt": prompt}


def write_trees(path: Path, trees: list[dict | str]) -> Path:
    path.write_text("".join((t if isinstance(t, str) else json.dumps(t)) + "\n" for t in trees), encoding="utf-8")
    return path


def trees_file(tmp_path: Path, n: int = 40, name: str = "rm.jsonl") -> Path:
    return write_trees(tmp_path / name, [tree(i, KS[i % len(KS)]) for i in range(n)])


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setenv("LABELER_IMPORT_BATCH_SIZE", "20")  # a few records per batch: many batches


def test_counts_in_the_report_match_the_stored_rows(db_url, tmp_path, small_batches):
    make_project("p")
    report = run_import(trees_file(tmp_path), format="oasst-tree")
    ks = [KS[i % len(KS)] for i in range(40)]
    assert (report.records, report.prompts_added, report.rankings_added) == (40, 40, 40)
    assert report.candidates_added == sum(ks)
    assert counts() == {"prompts": 40, "candidates": sum(ks), "rankings": 40, "ranking_items": sum(ks),
                        "demonstrations": 0}


def test_stored_rankings_point_at_their_prompts_candidates_in_rank_order(db_url, tmp_path, small_batches):
    make_project("p")
    run_import(write_trees(tmp_path / "t.jsonl", [tree(i, 5, ranks=[2, 0, 4, 1, 3]) for i in range(12)]))
    with session_scope(write=False) as s:
        for ranking in s.scalars(select(Ranking)):
            prompt = s.get(Prompt, ranking.prompt_id)
            items = sorted(ranking.items, key=lambda it: it.position)
            texts = {c.id: c.text for c in s.scalars(select(Candidate).where(Candidate.prompt_id == prompt.id))}
            assert ranking.display_order == [it.candidate_id for it in items]
            assert [it.position for it in items] == list(range(5))
            n = prompt.messages[0]["content"].split()[1].rstrip("?")
            # rank 0 in the source is rank 1 here; the replies' texts name their place in the file
            assert {texts[it.candidate_id]: it.rank for it in items} == {
                f"reply {j} to question {n}": r + 1 for j, r in enumerate([2, 0, 4, 1, 3])}
            assert (ranking.status, ranking.origin, ranking.source, ranking.labeler_id) == (
                "submitted", "imported", "t.jsonl", None)
            assert ranking.submitted_at is not None and ranking.submitted_at.tzinfo is not None
            assert all(it.flags == [] and it.likert is None for it in items)
        candidate = s.scalars(select(Candidate)).first()
        assert (candidate.origin, candidate.meta["source"], candidate.params) == ("imported", "t.jsonl", {})


def test_a_refused_import_leaves_the_store_as_it_was(db_url, tmp_path, small_batches):
    make_project("p")
    run_import(trees_file(tmp_path, 10, "first.jsonl"))
    before = counts()
    rows: list[dict | str] = [tree(i, KS[i % len(KS)]) for i in range(5, 60)] + ['{"prompt": {"role": 3}}']
    with pytest.raises(Invalid, match="line 56 of bad.jsonl"):
        run_import(write_trees(tmp_path / "bad.jsonl", rows), format="oasst-tree")
    assert counts() == before
    # and the store takes the same file once it is fixed: the reserved ids were given back or skipped
    again = run_import(write_trees(tmp_path / "good.jsonl", rows[:-1]), format="oasst-tree")
    assert (again.prompts_added, again.duplicates_exact, again.rankings_added) == (50, 5, 50)


def test_a_file_imported_twice_adds_nothing_the_second_time(db_url, tmp_path, small_batches):
    make_project("p")
    path = trees_file(tmp_path)
    run_import(path)
    before = counts()
    again = run_import(path)
    assert (again.prompts_added, again.candidates_added, again.rankings_added) == (0, 0, 0)
    assert again.duplicates_exact == 40
    assert counts() == before


def test_repeats_inside_one_file_and_batch_are_stored_once(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("LABELER_IMPORT_BATCH_SIZE", "1000")  # everything in one batch
    make_project("p")
    same = ["the same reply", "another reply", "the same reply", "a third"]
    rows = [tree(1, 4), tree(1, 4), tree(2, 4, replies=same, ranks=[3, 1, 0, 2])]
    report = run_import(write_trees(tmp_path / "r.jsonl", rows))
    assert (report.prompts_added, report.duplicates_exact, report.rankings_added) == (2, 1, 2)
    assert report.candidates_added == 4 + 3  # the same text twice is one candidate
    with session_scope(write=False) as s:
        prompt = s.scalar(select(Prompt.id).where(Prompt.external_id == "m2"))
        ranking = s.scalar(select(Ranking).where(Ranking.prompt_id == prompt))
        ranks = {s.get(Candidate, it.candidate_id).text: it.rank for it in ranking.items}
    assert ranks == {"the same reply": 1, "another reply": 2, "a third": 3}  # at its best rank


def test_a_new_ranking_of_stored_replies_adds_a_ranking_and_no_candidate(db_url, tmp_path, small_batches):
    make_project("p")
    run_import(trees_file(tmp_path, 10))
    before = counts()
    reranked = [tree(i, KS[i % len(KS)], ranks=list(reversed(range(KS[i % len(KS)])))) for i in range(10)]
    report = run_import(write_trees(tmp_path / "reranked.jsonl", reranked))
    assert (report.prompts_added, report.candidates_added, report.rankings_added) == (0, 0, 10)
    after = counts()
    assert after["candidates"] == before["candidates"] and after["rankings"] == before["rankings"] + 10
    assert after["ranking_items"] == 2 * before["ranking_items"]


def test_rows_written_after_an_import_get_fresh_ids(db_url, tmp_path, small_batches):
    """The bulk path writes its own ids: the table's sequence (PostgreSQL) must have moved past them."""
    make_project("p")
    run_import(trees_file(tmp_path, 20))
    with session_scope() as s:
        prompt_id = s.scalar(select(func.min(Prompt.id)))
        candidate = Candidate(prompt_id=prompt_id, text="written later", text_hash="later", origin="human")
        ranking = Ranking(prompt_id=prompt_id, status="draft", origin="human")
        s.add_all([candidate, ranking])
        s.flush()
        s.add(RankingItem(ranking_id=ranking.id, candidate_id=candidate.id, rank=1))
    assert counts()["rankings"] == 21


def test_labels_are_written_without_an_orm_object_per_row(db_url, tmp_path):
    """The unit of work made labelled imports 50x slower than prompts and grew memory with the file."""
    made: Counter = Counter()

    def count(target, *_args) -> None:  # noqa: ANN001 - SQLAlchemy event hook
        made[type(target).__name__] += 1

    make_project("p")
    models = (Candidate, Ranking, RankingItem, Prompt)
    for model in models:
        event.listen(model, "init", count)
    try:
        report = run_import(trees_file(tmp_path, 30))
    finally:
        for model in models:
            event.remove(model, "init", count)
    assert report.rankings_added == 30
    assert made == Counter()


def test_batches_are_bounded_by_rows_not_records(tmp_path):
    """A ranked prompt carries K replies: batches count them, so memory per batch stays the same."""
    path = write_trees(tmp_path / "k9.jsonl", [tree(i, 9) for i in range(30)])
    options = PrepareOptions(ratios=(80, 10, 10), prefix_chars=0, scrub=False)
    sizes = [len(b) for b in prepared_batches(path, "oasst-tree", options, 2**20, 20, Counter())]
    assert sum(sizes) == 30 and max(sizes) == 2  # 2 records of 1 prompt + 9 replies = 20 rows


def test_no_cyclic_garbage_piles_up_between_batches(db_url, tmp_path, small_batches):
    """The collector is off during an import (speed); each batch's cyclic garbage must still go at once,
    or a 1,000,000-record import grew by 120 MB. A young collection at each progress call finds nothing."""
    make_project("p")
    found: list[int] = []
    with session_scope() as s:
        import_file(s, OPERATOR, "p", trees_file(tmp_path, n=200), ImportOptions(format="oasst-tree"),
                    progress=lambda _line: found.append(gc.collect(0)))
    assert len(found) > 10  # many batches
    assert max(found[:-1]) == 0, found


def test_planner_statistics_count_the_imports_own_rows_on_postgresql(db_url, tmp_path):
    """During one long import nothing is committed, so autovacuum sees empty tables and the planner
    scanned every row written so far for each batch's lookup; ANALYZE in the transaction counts them."""
    make_project("p")
    stats = PlannerStats(next_at=100)
    with session_scope() as s:
        run_rows = [(1, json.dumps([{"role": "user", "content": f"q{i}"}]), "t", None, None, "train", f"h{i:031d}",
                     None, "{}", 0, 0, bound_now(s.connection())) for i in range(500)]
        write_rows(s.connection(), "prompts", PROMPT_COLUMNS, run_rows)
        stats.grown(s, 50)  # below the threshold: nothing
        assert stats.next_at == 100
        stats.grown(s, 500)
        assert stats.next_at == 2000
        if s.get_bind().dialect.name == "postgresql":
            tuples = s.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'prompts'"))
            assert tuples == 500
