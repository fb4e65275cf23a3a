"""Import: every sample file, prompt hygiene, all-or-nothing, rejects, and re-import idempotence."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.models import Candidate, Demonstration, Event, Prompt, Ranking, RankingItem
from labeler.errors import Forbidden, Invalid
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.ingest import ImportOptions, ImportReport, import_file
from labeler.services.ingest_labels import MERGED_REPLIES
from tests.conftest import SHARED_DATA
from tests.factories import make_project, make_user


def run_import(path: Path, project: str = "p", **options) -> ImportReport:
    with session_scope() as s:
        return import_file(s, OPERATOR, project, path, ImportOptions(**options))


def counts() -> dict[str, int]:
    with session_scope(write=False) as s:
        return {
            model.__tablename__: s.scalar(select(func.count()).select_from(model))
            for model in (Prompt, Candidate, Ranking, RankingItem, Demonstration)
        }


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# file, format, prompts, candidates, rankings, demonstrations, rejected (with --skip-invalid), skipped
SAMPLES = [
    ("anthropic-hh-rlhf/harmless-base_test_first500.jsonl.gz", "hh-rlhf", 500, 1000, 500, 0, 0, {}),
    ("azure-foundry-dpo/orca_dpo_pairs_validation.jsonl", "openai-preference", 284, 568, 284, 0, 0, {}),
    ("lmarena-arena-hard/arena-hard-v0.1_question.jsonl", "prompts", 500, 0, 0, 0, 0, {}),
    ("lmarena-arena-hard/model_answer_gpt-4-0314_first100.jsonl", "openai-chat", 100, 100, 0, 0, 0, {}),
    ("lmsys-fastchat/mt_bench_question.jsonl", "prompts", 80, 0, 0, 0, 0, {"not_kept:reference": 1}),
    ("oasst1-en-validation/oasst1_en_validation_first1005.jsonl", "oasst", 369, 589, 208, 0, 0,
     {"deleted": 12, "spam": 23, "orphan": 2, MERGED_REPLIES: 1}),
    ("openai-cookbook/toy_chat_fine_tuning.jsonl", "openai-chat", 4, 0, 0, 4, 1, {}),
    ("openassistant/en_100_tree.jsonl", "oasst-tree", 480, 687, 212, 0, 0, {}),
    ("openassistant/en_100_message.jsonl", "oasst-tree", 480, 687, 212, 0, 0, {}),
    ("openassistant/prompt_lottery_en_250_text.jsonl", "prompts", 250, 0, 0, 0, 0, {}),
]


@pytest.mark.parametrize("sample", SAMPLES, ids=[s[0].split("/")[1] for s in SAMPLES])
def test_every_sample_file_imports_with_the_expected_counts(db_url, tmp_path, sample):
    name, fmt, prompts, candidates, rankings, demos, rejected, skipped = sample
    make_project("p")
    report = run_import(SHARED_DATA / name, skip_invalid=True, rejects_path=tmp_path / "rejects.jsonl")
    assert report.format == fmt
    assert (report.prompts_added, report.candidates_added, report.rankings_added) == (prompts, candidates, rankings)
    assert (report.demonstrations_added, report.rejected, report.skipped) == (demos, rejected, skipped)
    assert counts() == {
        "prompts": prompts, "candidates": candidates, "rankings": rankings,
        "ranking_items": counts()["ranking_items"], "demonstrations": demos,
    }
    with session_scope(write=False) as s:
        imported = s.scalars(select(Ranking.origin).distinct()).all()
        assert set(imported) <= {"imported"}
        assert s.scalar(select(func.count()).select_from(Ranking).where(Ranking.labeler_id.is_not(None))) == 0


def test_reimporting_a_file_adds_nothing(db_url):
    make_project("p")
    path = SHARED_DATA / "openassistant" / "en_100_tree.jsonl"
    run_import(path)
    before = counts()
    again = run_import(path)
    assert again.prompts_added == again.candidates_added == again.rankings_added == 0
    assert again.duplicates_exact == 480
    assert counts() == before


def test_two_answer_files_merge_into_a_b_pairs(db_url):
    make_project("p")
    folder = SHARED_DATA / "lmarena-arena-hard"
    run_import(folder / "model_answer_gpt-4-0314_first100.jsonl")
    second = run_import(folder / "model_answer_gpt-3.5-turbo-0125_first100.jsonl")
    assert second.prompts_added == 0 and second.candidates_added == 100
    with session_scope(write=False) as s:
        per_prompt = s.execute(select(Candidate.prompt_id, func.count()).group_by(Candidate.prompt_id)).all()
        assert {n for _, n in per_prompt} == {2}
        assert set(s.scalars(select(Candidate.model).distinct())) == {"gpt-4-0314", "gpt-3.5-turbo-0125"}


def test_invalid_record_aborts_the_whole_import_and_names_line_and_field(db_url):
    make_project("p")
    with pytest.raises(Invalid) as err:
        run_import(SHARED_DATA / "openai-cookbook" / "toy_chat_fine_tuning.jsonl")
    assert "line 4 of toy_chat_fine_tuning.jsonl" in str(err.value)
    assert "`messages`" in str(err.value) and "nothing was imported" in str(err.value)
    assert counts() == dict.fromkeys(counts(), 0)
    with session_scope(write=False) as s:
        assert s.scalars(select(Event).where(Event.action == "import")).all() == []


def test_a_bad_record_late_in_a_big_file_still_leaves_nothing(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("LABELER_IMPORT_BATCH_SIZE", "10")  # several batches are written first
    make_project("p")
    rows = [{"prompt": f"question number {i}"} for i in range(95)] + [{"prompt": 42}]
    with pytest.raises(Invalid, match="line 96"):
        run_import(write_jsonl(tmp_path / "big.jsonl", rows))
    assert counts()["prompts"] == 0


def test_skip_invalid_writes_rejects_with_reasons(db_url, tmp_path):
    make_project("p")
    rows = [{"prompt": "fine"}, {"prompt": ""}, {"nothing": 1}, {"prompt": "also fine"}]
    rejects = tmp_path / "out" / "rejects.jsonl"
    report = run_import(write_jsonl(tmp_path / "p.jsonl", rows), skip_invalid=True, rejects_path=rejects)
    assert (report.prompts_added, report.rejected, report.rejects_path) == (2, 2, str(rejects))
    lines = [json.loads(x) for x in rejects.read_text().splitlines()]
    assert [r["line"] for r in lines] == [2, 3] and all(r["message"] for r in lines)


def test_exact_and_prefix_duplicates_are_dropped(db_url, tmp_path):
    make_project("p", dedup_prefix_chars=40)
    long = "Please explain in detail how photosynthesis works in plants"
    rows = [
        {"prompt": "What is the capital of France?"},
        {"prompt": "  what is   the CAPITAL of france?  "},  # same after normalization
        {"prompt": long + ", step by step."},
        {"prompt": long + ", for a child."},  # shares a 40-character prefix
        {"prompt": "Short one"},
    ]
    path = write_jsonl(tmp_path / "p.jsonl", rows)
    report = run_import(path)
    assert (report.prompts_added, report.duplicates_exact, report.duplicates_prefix) == (3, 1, 1)
    make_project("q", dedup_prefix_chars=40)
    assert run_import(path, project="q", dedup_prefix=False).prompts_added == 4


def test_at_most_n_prompts_per_originating_user_across_imports(db_url, tmp_path):
    make_project("p")
    first = [{"prompt": f"alice asks {i}", "user": "alice"} for i in range(3)]
    second = [{"prompt": f"alice asks again {i}", "user": "alice"} for i in range(3)]
    second += [{"prompt": f"bob asks {i}", "user": "bob"} for i in range(2)]
    assert run_import(write_jsonl(tmp_path / "a.jsonl", first), max_per_user=4).prompts_added == 3
    report = run_import(write_jsonl(tmp_path / "b.jsonl", second), max_per_user=4)
    assert (report.prompts_added, report.over_user_cap) == (3, 2)


def test_split_is_by_originating_user_and_deterministic(db_url, tmp_path):
    make_project("p")
    rows = [{"prompt": f"user {u} prompt {i}", "user": f"u{u}"} for u in range(300) for i in range(3)]
    report = run_import(write_jsonl(tmp_path / "p.jsonl", rows), split="70/20/10")
    with session_scope(write=False) as s:
        splits = s.execute(select(Prompt.origin_user, Prompt.split).distinct()).all()
    per_user: dict[str, set[str]] = {}
    for user, split in splits:
        per_user.setdefault(user, set()).add(split)
    assert all(len(v) == 1 for v in per_user.values())  # no user in two splits
    assert set(report.by_split) == {"train", "valid", "test"}
    assert 0.6 < report.by_split["train"] / 900 < 0.8 and report.by_split["test"] < report.by_split["valid"]


def test_pii_is_scrubbed_and_counted(db_url, tmp_path):
    make_project("p")
    rows = [{"prompt": "Mail me at jane.doe@example.com or call +1 415 555 0132 from 192.168.1.20"},
            {"prompt": "My card is 4111 1111 1111 1111, is it safe?"}]
    report = run_import(write_jsonl(tmp_path / "p.jsonl", rows), scrub_pii=True)
    assert report.pii == {"email": 1, "phone": 1, "ip": 1, "card": 1}
    with session_scope(write=False) as s:
        texts = " ".join(m["content"] for msgs in s.scalars(select(Prompt.messages)) for m in msgs)
    assert "jane.doe" not in texts and "4111" not in texts and "[EMAIL]" in texts and "[CARD]" in texts


def test_gzip_csv_and_auto_detection(db_url, tmp_path):
    make_project("p")
    csv_path = tmp_path / "p.csv"
    csv_path.write_text('id,prompt,user\n1,"Hello, world?",ann\n2,"Second, ""quoted"" one",bob\n')
    report = run_import(csv_path)
    assert (report.format, report.prompts_added) == ("csv", 2)
    gz = tmp_path / "q.jsonl.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"messages": [{"role": "user", "content": "gzipped prompt"}]}) + "\n")
    assert run_import(gz).prompts_added == 1
    with session_scope(write=False) as s:
        assert s.scalar(select(Prompt.external_id).where(Prompt.origin_user == "ann")) == "1"


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty"), (b"\x00\x00\x00\x00", "binary"), (b"\xff\xfe\xfa{}", "UTF-8"),
     (b"this is not json\n", "format")],
)
def test_unreadable_files_raise_invalid_and_store_nothing(db_url, tmp_path, content, message):
    make_project("p")
    path = tmp_path / "x.jsonl"
    path.write_bytes(content)
    with pytest.raises(Invalid, match=message):
        run_import(path)
    assert counts()["prompts"] == 0


def test_record_over_the_size_limit_is_refused(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("LABELER_MAX_RECORD_BYTES", "2048")
    make_project("p")
    path = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "ok"}, {"prompt": "x" * 5000}])
    with pytest.raises(Invalid, match="line 2"):
        run_import(path)
    assert counts()["prompts"] == 0


def test_labelers_cannot_import(db_url, tmp_path):
    alice = make_user("alice")
    make_project("p", members=("alice",))
    path = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "hi"}])
    with pytest.raises(Forbidden), session_scope() as s:
        import_file(s, alice, "p", path)


def test_import_is_audited_without_file_contents(db_url):
    make_project("p")
    run_import(SHARED_DATA / "lmsys-fastchat" / "mt_bench_question.jsonl")
    with session_scope(write=False) as s:
        event = s.scalar(select(Event).where(Event.action == "import"))
    assert event.details["prompts_added"] == 80 and event.details["file"] == "mt_bench_question.jsonl"


@pytest.fixture
def in_worker(monkeypatch):
    """Force the parsing worker process even for small files."""
    from labeler.readers import pipeline

    monkeypatch.setattr(pipeline, "PARALLEL_MIN_BYTES", 0)


def test_worker_process_import_matches_in_process(db_url, in_worker, monkeypatch):
    monkeypatch.setenv("LABELER_IMPORT_BATCH_SIZE", "50")
    make_project("p")
    report = run_import(SHARED_DATA / "oasst1-en-validation" / "oasst1_en_validation_first1005.jsonl")
    assert (report.prompts_added, report.candidates_added, report.rankings_added) == (369, 589, 208)
    assert report.skipped == {"deleted": 12, "spam": 23, "orphan": 2, MERGED_REPLIES: 1}


def test_worker_process_errors_reach_the_caller_and_nothing_is_stored(db_url, in_worker, tmp_path, monkeypatch):
    monkeypatch.setenv("LABELER_MAX_RECORD_BYTES", "2048")
    make_project("p")
    path = write_jsonl(tmp_path / "p.jsonl", [{"prompt": f"fine {i}"} for i in range(30)] + [{"prompt": "x" * 5000}])
    with pytest.raises(Invalid, match="line 31"):
        run_import(path)
    rows = [{"prompt": "ok", "user": "u"}, {"prompt": 7}]
    with pytest.raises(Invalid, match="line 2"):
        run_import(write_jsonl(tmp_path / "q.jsonl", rows))
    assert counts()["prompts"] == 0
    assert run_import(write_jsonl(tmp_path / "q.jsonl", rows), skip_invalid=True,
                      rejects_path=tmp_path / "r.jsonl").pii == {}


def test_stored_prompts_keep_their_content_and_an_aware_timestamp(db_url, tmp_path):
    make_project("p")
    rows = [{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi ünïcode ✓"}],
             "id": "x1", "user": "ann", "category": "greeting"}]
    run_import(write_jsonl(tmp_path / "p.jsonl", rows))
    with session_scope(write=False) as s:
        prompt = s.scalar(select(Prompt))
    assert prompt.messages == rows[0]["messages"]
    assert (prompt.external_id, prompt.origin_user, prompt.meta) == ("x1", "ann", {"category": "greeting"})
    assert prompt.created_at.tzinfo is not None
    from db.base import utcnow

    assert abs((utcnow() - prompt.created_at).total_seconds()) < 120


def test_candidate_range_keeps_only_prompts_ready_for_ranking(db_url):
    make_project("p")
    report = run_import(SHARED_DATA / "openassistant" / "en_100_tree.jsonl", min_candidates=2, max_candidates=5)
    assert report.prompts_added == 206 and report.skipped == {"candidates_out_of_range": 274}
    with session_scope(write=False) as s:
        sizes = s.execute(select(func.count(Candidate.id)).group_by(Candidate.prompt_id)).scalars().all()
    assert len(sizes) == 206 and set(sizes) <= {2, 3, 4, 5}
