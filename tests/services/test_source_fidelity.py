"""What the sources say survives import and export (issue 19), on the shared sample data.

Splits never leak a conversation (prompts without a user are split by their root), MT-Bench's
per-turn references reach `openai-rft`, imported rankings keep the source's time, and a `pairs`
export imported again exports the same pairs: margins, splits and groups.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from db.models import Prompt, Ranking
from labeler.hygiene import normalize_text
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.export import ExportRequest, export_dataset
from labeler.services.ingest import ImportOptions, ImportReport, import_file
from tests.conftest import SHARED_DATA
from tests.factories import make_project

HH = SHARED_DATA / "anthropic-hh-rlhf" / "harmless-base_test_first500.jsonl.gz"
MT_BENCH = SHARED_DATA / "lmsys-fastchat" / "mt_bench_question.jsonl"
OASST_FLAT = SHARED_DATA / "oasst1-en-validation" / "oasst1_en_validation_first1005.jsonl"
OASST_TREES = SHARED_DATA / "openassistant" / "en_100_tree.jsonl"


def load(path: Path, project: str = "p", **options) -> ImportReport:
    with session_scope() as s:
        return import_file(s, OPERATOR, project, path, ImportOptions(**options))


def export(fmt: str, out: Path, project: str = "p", **fields):
    with session_scope() as s:
        return export_dataset(s, OPERATOR, ExportRequest(format=fmt, project=project, out_dir=out, **fields))


def lines(folder: Path) -> dict[str, list[dict]]:
    return {p.stem: [json.loads(x) for x in p.read_text().splitlines()] for p in sorted(folder.glob("*.jsonl"))}


def first_user_turns_by_split() -> dict[str, set[str]]:
    """Each normalized first user turn (a conversation's root) with the splits its prompts are in."""
    with session_scope(write=False) as s:
        rows = s.execute(select(Prompt.messages, Prompt.split)).all()
    roots: dict[str, set[str]] = {}
    for messages, split in rows:
        first = next(m for m in messages if m["role"] == "user")
        roots.setdefault(normalize_text([first]), set()).add(split)
    return roots


# --- 1. a conversation never straddles two splits -------------------------------------------------


def test_hh_conversations_never_straddle_splits(db_url, tmp_path):
    """The HH sample repeats dialogues' openings in longer ones: each first user turn is in one split."""
    make_project("p")
    load(HH, skip_invalid=True, rejects_path=tmp_path / "rejects.jsonl")
    roots = first_user_turns_by_split()
    assert sum(len(splits) > 1 for splits in roots.values()) == 0
    neutered = [r for r in roots if r.startswith("user: i think gay people should be neutered")]
    assert len(neutered) == 1  # the 9-turn test prompt and the 17-turn one share this root
    assert set().union(*roots.values()) == {"train", "valid", "test"}  # still split three ways


def test_card_and_manifest_say_which_key_decided_each_sources_split(db_url, tmp_path):
    make_project("p")
    hh = load(HH, skip_invalid=True, rejects_path=tmp_path / "rejects.jsonl").rankings_added
    oasst = load(OASST_TREES).rankings_added
    summary = export("pairs", tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    by = {(e["source"], e["split_by"]): e["rows"] for e in manifest["split_keys"]}
    assert by[(HH.name, "root")] == hh > 400 and by[(OASST_TREES.name, "user")] == oasst == 212
    card = (tmp_path / "out" / "README.md").read_text()
    assert f"| `{HH.name}` | conversation root (its first user turn, normalized) | {hh} |" in card
    assert f"| `{OASST_TREES.name}` | originating user | 212 |" in card
    pairs = [p for rows in lines(tmp_path / "out").values() for p in rows]
    assert len(pairs) == sum(summary.counts.values()) and all(isinstance(p["split_key"], str) for p in pairs)


# --- 2. MT-Bench's per-turn references ------------------------------------------------------------


def test_mt_bench_references_reach_openai_rft(db_url, tmp_path):
    make_project("p")
    report = load(MT_BENCH)
    assert report.skipped == {"not_kept:reference": 1}  # one follow-up reference over 1,000 characters
    summary = export("openai-rft", tmp_path / "rft", allow_overlap=True)
    recs = [r for rows in lines(tmp_path / "rft").values() for r in rows]
    assert sum(summary.counts.values()) == len(recs) == 38  # 39 have references; one only for turn 2
    race = next(r for r in recs if r["messages"][-1]["content"].startswith("Imagine you are participating in a race"))
    assert race["reference_answer"] == "You are in second place."
    with session_scope(write=False) as s:
        meta = s.scalar(select(Prompt.meta).where(Prompt.external_id == "101"))
    assert meta["followup_turns"][0].startswith('If the "second person"')
    assert meta["followup_references"] == ["Uncertain."]


def test_cli_reports_a_field_it_could_not_keep(db_url):
    from typer.testing import CliRunner

    from labeler.cli import app

    make_project("p")
    result = CliRunner().invoke(app, ["import", str(MT_BENCH), "--project", "p"])
    assert result.exit_code == 0, result.output
    assert "field `reference` not kept: 1" in result.output


# --- 3. imported rankings keep the source's time -------------------------------------------------


def _latest_ranked_reply_times() -> dict[str, datetime]:
    """Per prompter message id: the latest `created_date` of its ranked assistant replies."""
    latest: dict[str, datetime] = {}
    for line in OASST_FLAT.read_text().splitlines():
        m = json.loads(line)
        if m["role"] == "assistant" and m["rank"] is not None and not m["deleted"]:
            when = datetime.fromisoformat(m["created_date"])
            latest[m["parent_id"]] = max(latest.get(m["parent_id"], when), when)
    return latest


def test_imported_rankings_take_the_sources_time(db_url, tmp_path):
    make_project("p")
    make_project("t")
    before = datetime.now(UTC)
    load(OASST_FLAT)
    load(OASST_TREES, "t")  # the nested export has no times: the import's, marked so
    latest = _latest_ranked_reply_times()
    with session_scope(write=False) as s:
        rows = s.execute(select(Prompt.external_id, Prompt.source, Ranking.submitted_at, Ranking.meta)
                         .join(Ranking)).all()
    flat = [r for r in rows if r.source == OASST_FLAT.name]
    trees = [r for r in rows if r.source == OASST_TREES.name]
    assert len(flat) == 208 and len(trees) == 212
    for ext, _, at, meta in flat:
        assert at == latest[ext] and meta["time"] == "source"
    assert max(at for *_, at, _ in flat) < datetime(2023, 12, 31, tzinfo=UTC)
    for *_, at, meta in trees:
        assert before - timedelta(seconds=1) <= at <= datetime.now(UTC) and meta["time"] == "import"
    export("rankings", tmp_path / "r")
    export("rankings", tmp_path / "rt", "t")
    recs = [r for folder in ("r", "rt") for rows in lines(tmp_path / folder).values() for r in rows]
    by_time = {r["time_source"] for r in recs}
    assert by_time == {"source", "import"}
    # one timestamp form everywhere: UTC to the second with `Z`, as the manifest writes it
    stamps = [r["submitted_at"] for r in recs]
    assert all(len(t) == 20 and t.endswith("Z") for t in stamps)
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["created_at"].endswith("Z") and len(manifest["created_at"]) == 20
    first = next(r for r in recs if r["external_id"] in latest)
    assert first["submitted_at"] == latest[first["external_id"]].strftime("%Y-%m-%dT%H:%M:%SZ")


# --- 4. pairs come back as they left --------------------------------------------------------------


def _canonical(folder: Path) -> dict[str, list[dict]]:
    """The export's lines with group ids numbered by first appearance (ids differ between projects)."""
    groups: dict[str, int] = {}
    out = {}
    for split, rows in lines(folder).items():
        out[split] = [{**r, "group_id": groups.setdefault(r["group_id"], len(groups))} for r in rows]
    return out


def _round_trip(source: Path, tmp_path: Path, **options) -> tuple[dict, dict, int]:
    """Import `source` into `a`, its pairs into `b`: both projects' pairs, and the rankings `a` got."""
    make_project("a")
    make_project("b")
    rankings = load(source, "a", **options).rankings_added
    export("pairs", tmp_path / "first", "a")
    for split in ("train", "valid", "test"):  # as a user would: each file imported as it is
        load(tmp_path / "first" / f"{split}.jsonl", "b", format="trl-preference")
    export("pairs", tmp_path / "second", "b")
    return _canonical(tmp_path / "first"), _canonical(tmp_path / "second"), rankings


def test_oasst_pairs_export_import_export_is_identical(db_url, tmp_path):
    first, second, _ = _round_trip(OASST_FLAT, tmp_path)
    assert {s: len(r) for s, r in first.items()} == {s: len(r) for s, r in second.items()}
    assert {m for rows in first.values() for m in (r["margin"] for r in rows)} >= {1.0, 2.0, 3.0}
    assert first == second
    first_bytes = {p.name: p.read_bytes() for p in (tmp_path / "first").glob("*.jsonl")}
    assert first_bytes.keys() == {"train.jsonl", "valid.jsonl", "test.jsonl"}


def test_hh_pairs_export_import_export_is_identical(db_url, tmp_path):
    first, second, rankings = _round_trip(HH, tmp_path, skip_invalid=True, rejects_path=tmp_path / "rejects.jsonl")
    assert sum(len(r) for r in first.values()) == rankings > 400  # one pair per HH row
    assert first == second


def test_imported_pairs_keep_margins_and_the_rankings_they_came_from(db_url, tmp_path):
    _round_trip(OASST_TREES, tmp_path)
    with session_scope(write=False) as s:
        a = s.scalars(select(Ranking).join(Prompt).where(Prompt.source == OASST_TREES.name)).all()
        b = s.scalars(select(Ranking).join(Prompt).where(Prompt.source != OASST_TREES.name)).all()
        k_a = sorted(len(r.items) for r in a)
        k_b = sorted(len(r.items) for r in b)
        assert all(r.meta["margins"] for r in b)
    assert k_a == k_b  # every K-way ranking came back as one ranking of K, not C(K,2) pairs
