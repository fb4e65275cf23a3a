"""Real public data imports as it is, and nothing is dropped silently (SQLite and PostgreSQL).

- an assistant reply may be empty or only whitespace (HH-RLHF line 87's chosen reply is empty);
- a candidate's identity is its exact text: replies differing only in whitespace stay two candidates;
- a record that yields less than it carried (identical replies merged) is counted with its reason.
"""

from __future__ import annotations

import orjson
from sqlalchemy import select

from db.models import Candidate, Ranking
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.export import ExportRequest, export_dataset
from labeler.services.ingest_labels import MERGED_REPLIES
from tests.conftest import SHARED_DATA
from tests.factories import make_project
from tests.services.test_ingest import counts, run_import, write_jsonl

HH = SHARED_DATA / "anthropic-hh-rlhf" / "harmless-base_test_first500.jsonl.gz"
OASST1 = SHARED_DATA / "oasst1-en-validation" / "oasst1_en_validation_first1005.jsonl"


def _export_pairs(out) -> int:
    with session_scope() as s:
        summary = export_dataset(s, OPERATOR, ExportRequest(format="pairs", project="p", out_dir=out))
    return sum(summary.counts.values())


def test_the_hh_sample_imports_whole_with_default_options_and_exports_500_pairs(db_url, tmp_path):
    make_project("p")
    report = run_import(HH)
    assert (report.records, report.prompts_added, report.rejected) == (500, 500, 0)
    assert (report.candidates_added, report.rankings_added) == (1000, 500)
    with session_scope(write=False) as s:
        assert "" in set(s.scalars(select(Candidate.text)))  # line 87's chosen reply, kept empty
    assert _export_pairs(tmp_path / "pairs") == 500
    lines = [orjson.loads(x) for f in sorted((tmp_path / "pairs").glob("*.jsonl")) for x in f.read_bytes().splitlines()]
    assert sum(1 for r in lines if r["chosen"][0]["content"] == "") == 1


def test_replies_differing_only_in_whitespace_stay_two_candidates_and_one_ranking(db_url, tmp_path):
    make_project("p")
    path = write_jsonl(tmp_path / "trl.jsonl", [
        {"prompt": "Say yes.", "chosen": "yes", "rejected": "yes\n"},
        {"prompt": "Say no.", "chosen": "  ", "rejected": "no"},  # a whitespace reply, kept as it is
    ])
    report = run_import(path)
    assert (report.prompts_added, report.candidates_added, report.rankings_added) == (2, 4, 2)
    assert report.skipped == {}
    with session_scope(write=False) as s:
        texts = set(s.scalars(select(Candidate.text)))
        assert {"yes", "yes\n", "  ", "no"} <= texts
        assert len(s.scalars(select(Ranking.id)).all()) == 2
    before = counts()
    run_import(path)  # the same file again adds nothing: identity is stable
    assert counts() == before


def test_identical_replies_are_merged_and_counted(db_url, tmp_path):
    make_project("p")
    report = run_import(OASST1)
    assert report.skipped.get(MERGED_REPLIES) == 1  # two replies of one prompt with the same text (line 849)


def test_a_whole_ranking_of_one_repeated_reply_is_counted_not_dropped(db_url, tmp_path):
    make_project("p")
    tree = {"message_tree_id": "t1", "tree_state": "ready_for_export", "prompt": {
        "message_id": "q", "role": "prompter", "text": "Pick a colour.", "replies": [
            {"message_id": "a", "role": "assistant", "text": "Blue.", "rank": 0},
            {"message_id": "b", "role": "assistant", "text": "Blue.", "rank": 1},
        ]}}
    report = run_import(write_jsonl(tmp_path / "tree.jsonl", [tree]))
    assert report.rankings_added == 0
    assert report.skipped.get(MERGED_REPLIES) == 1
    assert report.skipped.get("ranking not stored: fewer than two different replies") == 1
