"""Exports from the store: real imported data through the pure formats, filters, history, all-or-nothing."""

from __future__ import annotations

import hashlib
import json
from math import comb
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.base import utcnow
from db.models import Candidate, Export, Prompt, Ranking, RankingItem
from labeler.errors import Forbidden, Invalid
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.export import ExportFilters, ExportRequest, export_dataset
from labeler.services.ingest import ImportOptions, import_file
from labeler.services.projects import create_project
from tests.conftest import SHARED_DATA
from tests.factories import make_project, make_user

OASST = SHARED_DATA / "openassistant" / "en_100_tree.jsonl"
TOY = SHARED_DATA / "openai-cookbook" / "toy_chat_fine_tuning.jsonl"


def load(path: Path, project: str = "p", **options) -> None:
    with session_scope() as s:
        import_file(s, OPERATOR, project, path, ImportOptions(**options))


def export(fmt: str, out: Path, project: str = "p", **fields):
    with session_scope() as s:
        return export_dataset(s, OPERATOR, ExportRequest(format=fmt, project=project, out_dir=out, **fields))


def lines(folder: Path) -> dict[str, list[dict]]:
    return {p.stem: [json.loads(x) for x in p.read_text().splitlines()] for p in sorted(folder.glob("*.jsonl"))}


def test_pairs_from_imported_rankings_are_complete_grouped_and_split(db_url, tmp_path):
    make_project("p")
    load(OASST)
    summary = export("pairs", tmp_path / "out")
    with session_scope(write=False) as s:
        ks = s.execute(select(Ranking.id, func.count()).join(RankingItem).group_by(Ranking.id)).all()
    files = lines(tmp_path / "out")
    pairs = [p for split in files.values() for p in split]
    assert len(pairs) <= sum(comb(k, 2) for _, k in ks)  # ties make no pair
    assert summary.counts == {split: len(v) for split, v in files.items()}
    seen_groups: list[str] = []
    for rows in files.values():
        for row in rows:  # contiguous groups: a group never reappears after another started
            if not seen_groups or seen_groups[-1] != row["group_id"]:
                assert row["group_id"] not in seen_groups
                seen_groups.append(row["group_id"])
            assert row["chosen"] != row["rejected"] and row["prompt"][-1]["role"] == "user"
    prompts_by_split = {split: {json.dumps(r["prompt"]) for r in rows} for split, rows in files.items()}
    splits = list(prompts_by_split)
    for i, a in enumerate(splits):  # a prompt never appears in two splits
        for b in splits[i + 1:]:
            assert not prompts_by_split[a] & prompts_by_split[b]


def test_manifest_checksums_history_and_byte_identical_reexport(db_url, tmp_path):
    make_project("p")
    load(OASST)
    first = export("rankings", tmp_path / "a")
    second = export("rankings", tmp_path / "b")
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["format"] == "rankings" and manifest["filters"]["project"] == "p"
    for entry in manifest["files"]:
        data = (tmp_path / "a" / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert data == (tmp_path / "b" / entry["path"]).read_bytes()
    assert (tmp_path / "a" / "README.md").read_text().startswith("---")
    with session_scope(write=False) as s:
        history = s.scalars(select(Export).order_by(Export.id)).all()
    assert [e.id for e in history] == [first.id, second.id]
    assert history[0].files == {e["path"]: e["sha256"] for e in manifest["files"]}


def test_filters_by_source_and_split(db_url, tmp_path):
    make_project("p")
    load(OASST)
    only_test = export("rankings", tmp_path / "t", filters=ExportFilters(splits=["test"]))
    assert set(only_test.counts) <= {"test"}
    with pytest.raises(Invalid, match="no rows match"):  # every ranking here was imported
        export("rankings", tmp_path / "h", filters=ExportFilters(origins=["human"]))
    assert not (tmp_path / "h").exists()


def test_invalid_export_writes_nothing_and_is_not_recorded(db_url, tmp_path):
    make_project("p")
    load(TOY, skip_invalid=True, rejects_path=tmp_path / "r.jsonl")  # 4 demonstrations: too few for OpenAI
    out = tmp_path / "out"
    with pytest.raises(Invalid, match="at least 10"):
        export("openai-chat", out)
    assert not out.exists() or list(out.iterdir()) == []
    with session_scope(write=False) as s:
        assert s.scalar(select(func.count()).select_from(Export)) == 0
    sft = export("sft-messages", tmp_path / "sft")  # TRL has no minimum
    assert sum(sft.counts.values()) == 4


def test_openai_legacy_markers_appear_nowhere_in_the_data(db_url, tmp_path):
    make_project("p")
    rows = [{"messages": [{"role": "user", "content": f"Question {i} ###"},
                          {"role": "assistant", "content": f"Answer {i} END"}]} for i in range(12)]
    path = tmp_path / "chat.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    load(path)
    export("openai-legacy", tmp_path / "out")
    options = json.loads((tmp_path / "out" / "manifest.json").read_text())["options"]
    text = path.read_text()
    assert options["separator"] not in text and options["stop"] not in text
    for split_rows in lines(tmp_path / "out").values():
        for row in split_rows:
            assert row["prompt"].endswith(options["separator"]) and row["completion"].endswith(options["stop"])


def _add_human_rankings(orders: list[list[int]]) -> None:
    """Rankings by different labelers of the first prompt's candidates (rank lists by candidate order)."""
    labelers = [make_user(f"lab{n}").id for n in range(len(orders))]
    with session_scope() as s:
        prompt_id = s.scalar(select(Prompt.id).order_by(Prompt.id))
        cands = s.scalars(select(Candidate.id).where(Candidate.prompt_id == prompt_id).order_by(Candidate.id)).all()
        for labeler, ranks in zip(labelers, orders, strict=True):
            placed = enumerate(zip(cands, ranks, strict=True))
            items = [RankingItem(candidate_id=c, rank=r, position=i) for i, (c, r) in placed]
            s.add(Ranking(prompt_id=prompt_id, labeler_id=labeler, status="submitted", origin="human",
                          items=items, display_order=list(cands), submitted_at=utcnow()))


def test_consensus_merges_labelers_and_carries_agreement(db_url, tmp_path):
    make_project("p")
    rows = [{"prompt": "Which is best?", "chosen": "alpha answer", "rejected": "beta answer"}]
    path = tmp_path / "pref.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    load(path)
    _add_human_rankings([[1, 2], [1, 2], [2, 1]])
    per_labeler = export("pairs", tmp_path / "a", filters=ExportFilters(origins=["human"]))
    assert sum(per_labeler.counts.values()) == 3
    merged = export("pairs", tmp_path / "b", aggregate="consensus", filters=ExportFilters(origins=["human"]))
    pairs = [p for rows in lines(tmp_path / "b").values() for p in rows]
    assert sum(merged.counts.values()) == 1 and len(pairs) == 1
    assert pairs[0]["chosen"][0]["content"] == "alpha answer"
    assert pairs[0]["agreement"] == pytest.approx(2 / 3, abs=1e-4)  # rounded to 4 places in the file


def test_option_a_format_does_not_take_is_refused(db_url, tmp_path):
    make_project("p")
    with pytest.raises(Invalid, match="weight-non-human"):
        export("pairs", tmp_path / "x", weight_non_human=True)
    with pytest.raises(Invalid, match="unknown export format"):
        export("yaml", tmp_path / "x")


def test_labelers_cannot_export(db_url, tmp_path):
    alice = make_user("alice")
    make_project("p", members=("alice",))
    with pytest.raises(Forbidden), session_scope() as s:
        export_dataset(s, alice, ExportRequest(format="pairs", project="p", out_dir=tmp_path))


def test_preview_shows_the_first_records_and_writes_nothing(db_url, tmp_path):
    from labeler.services.export import preview_export

    make_project("p")
    load(OASST)
    with session_scope() as s:
        records = preview_export(s, OPERATOR, ExportRequest(format="pairs", project="p", out_dir=tmp_path / "x"), 3)
    assert len(records) == 3 and {"prompt", "chosen", "rejected", "group_id"} <= set(records[0])
    assert not (tmp_path / "x").exists()


def _many_rankings(n: int, k: int = 4) -> None:
    """n prompts with k long candidates and a submitted ranking each, inserted in bulk (project 1)."""
    from sqlalchemy import insert

    from labeler.hygiene import assign_split, content_hash

    now, filler = utcnow(), "The quick brown fox jumps over the lazy dog. " * 20
    with session_scope() as s:
        s.execute(insert(Prompt.__table__), [
            {"id": i, "project_id": 1, "messages": [{"role": "user", "content": f"Question {i}"}],
             "split": assign_split(str(i)), "content_hash": content_hash(str(i)), "created_at": now}
            for i in range(1, n + 1)])
        s.execute(insert(Candidate.__table__), [
            {"id": i * k + j, "prompt_id": i, "text": f"Answer {j} to {i}. {filler}",
             "text_hash": content_hash(f"{i}.{j}"), "origin": "generated", "created_at": now}
            for i in range(1, n + 1) for j in range(k)])
        s.execute(insert(Ranking.__table__), [
            {"id": i, "prompt_id": i, "status": "submitted", "origin": "imported", "submitted_at": now,
             "created_at": now, "updated_at": now, "display_order": []} for i in range(1, n + 1)])
        s.execute(insert(RankingItem.__table__), [
            {"ranking_id": i, "candidate_id": i * k + j, "rank": j + 1, "position": j}
            for i in range(1, n + 1) for j in range(k)])


def test_sqlite_reads_rankings_in_prompt_order_without_sorting_them_all(sqlite_url):
    """SQLite walks the project's prompt ids and each prompt's rankings and items by index: a sort of
    every row (with the replies' text) spilled gigabytes to temporary files at 1M rankings."""
    from sqlalchemy import event

    from labeler.services import get_engine
    from labeler.services.export import ranking_rows

    make_project("p")
    _many_rankings(300)
    engine, statements = get_engine(sqlite_url), []
    listen = lambda conn, cursor, sql, params, context, many: statements.append((sql, params))  # noqa: E731
    event.listen(engine, "before_cursor_execute", listen)
    try:
        with session_scope() as s:
            assert sum(1 for _ in ranking_rows(s, 1, ExportFilters())) == 300
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    ordered = [(sql, params) for sql, params in statements if "ORDER BY" in sql]
    assert len(ordered) == 2  # rankings, then their items
    with engine.connect() as conn:
        for sql, params in ordered:
            plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]
            assert "USE TEMP B-TREE FOR ORDER BY" not in plan, plan


def test_a_preview_left_early_keeps_the_session_usable(db_url, tmp_path):
    """A preview stops reading part way (on PostgreSQL: a streamed query is cancelled while the
    server still sends rows); the same session then exports and records it."""
    from labeler.services.export import preview_export

    make_project("p")
    _many_rankings(3000)  # about 8 MB of rows: more than the socket buffers hold
    with session_scope() as s:
        preview_export(s, OPERATOR, ExportRequest(format="pairs", project="p", out_dir=tmp_path / "x"), 2)
        summary = export_dataset(s, OPERATOR, ExportRequest(format="rankings", project="p", out_dir=tmp_path / "y"))
    assert sum(summary.counts.values()) == 3000
    with session_scope(write=False) as s:
        assert s.scalar(select(func.count()).select_from(Export)) == 1


def test_both_stores_export_the_same_bytes(sqlite_url, pg_database, tmp_path):
    """SQLite and PostgreSQL read rankings by different queries (`_ranking_groups`): same files."""
    from tests.conftest import _truncate_all

    digests = {}
    _truncate_all(pg_database)  # ids restart at 1 on both stores (rankings rows carry them)
    try:
        for url in (sqlite_url, pg_database):
            with session_scope(url) as s:
                create_project(s, OPERATOR, "p")
                import_file(s, OPERATOR, "p", OASST, ImportOptions())
            for fmt in ("pairs", "rankings"):
                out = tmp_path / f"{fmt}-{url.split(':')[0]}"
                with session_scope(url) as s:
                    export_dataset(s, OPERATOR, ExportRequest(format=fmt, project="p", out_dir=out))
                digests.setdefault(fmt, []).append(
                    {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.glob("*.jsonl"))})
    finally:
        _truncate_all(pg_database)
    for fmt, (on_sqlite, on_postgres) in digests.items():
        assert on_sqlite and on_sqlite == on_postgres, fmt
