"""Prompt-only exports from the store (`prompts`, `openai-rft`): by default only prompts the SFT and
reward-model sets of the same filters leave unused, gold prompts never, reference answers from import
metadata, and the same manifest, history and validation as every other format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from db.models import Export, Prompt
from labeler.cli import app
from labeler.errors import Invalid
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.export import ExportFilters, ExportRequest, export_dataset, preview_export
from labeler.services.gold import mark_gold
from labeler.services.ingest import ImportOptions, import_file
from tests.factories import make_project

N_PLAIN, N_DEMO, N_PAIR = 30, 3, 3


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def project(db_url, tmp_path) -> str:
    """Plain prompts with reference answers (one with a system turn, one without a reference), prompts
    with an imported demonstration, and prompts with an imported ranking."""
    make_project("p")
    plain = [{"messages": [{"role": "system", "content": "Answer with a number."},
                           {"role": "user", "content": f"What is {i} + {i}?"}],
              "reference_answer": str(2 * i), "user": f"u{i}"} for i in range(N_PLAIN - 1)]
    plain.append({"messages": [{"role": "user", "content": "Tell me a story about a fox."}], "user": "u99"})
    demos = [{"messages": [{"role": "user", "content": f"Say hello number {i}."},
                           {"role": "assistant", "content": f"Hello {i}!"}], "user": f"d{i}"} for i in range(N_DEMO)]
    pairs = [{"prompt": f"Pick a colour {i}.", "chosen": "Blue.", "rejected": "No.", "user": f"r{i}"}
             for i in range(N_PAIR)]
    for name, rows in (("plain", plain), ("demos", demos), ("pairs", pairs)):
        with session_scope() as s:
            import_file(s, OPERATOR, "p", write_jsonl(tmp_path / f"{name}.jsonl", rows), ImportOptions())
    return "p"


def export(fmt: str, out: Path, **fields):
    with session_scope() as s:
        return export_dataset(s, OPERATOR, ExportRequest(format=fmt, project="p", out_dir=out, **fields))


def records(folder: Path) -> list[dict]:
    return [json.loads(line) for p in sorted(folder.glob("*.jsonl")) for line in p.read_text().splitlines()]


def contents(recs: list[dict], key: str = "prompt") -> set[str]:
    return {r[key][-1]["content"] for r in recs}


def test_prompts_leave_out_what_the_sft_and_rm_sets_use_unless_overlap_is_allowed(project, tmp_path):
    summary = export("prompts", tmp_path / "rl")
    recs = records(tmp_path / "rl")
    assert sum(summary.counts.values()) == len(recs) == N_PLAIN
    got = contents(recs)
    assert not any(t.startswith(("Say hello", "Pick a colour")) for t in got)  # used by sft-messages and pairs
    sft = {r["messages"][-2]["content"] for r in records(_export_to(tmp_path / "sft", "sft-messages"))}
    rm = {r["prompt"][-1]["content"] for r in records(_export_to(tmp_path / "rm", "pairs"))}
    assert len(sft) == N_DEMO and len(rm) == N_PAIR and not (got & sft) and not (got & rm)
    # every line has the same keys, and the split column matches the file it is in
    for split_file in (tmp_path / "rl").glob("*.jsonl"):
        for line in split_file.read_text().splitlines():
            rec = json.loads(line)
            assert list(rec) == ["prompt", "prompt_id", "split", "external_id", "reference"]
            assert rec["split"] == split_file.stem and rec["prompt"][-1]["role"] == "user"
    fox = next(r for r in recs if r["prompt"][-1]["content"].startswith("Tell me"))
    assert fox["reference"] is None
    assert next(r for r in recs if r["prompt"][-1]["content"] == "What is 3 + 3?")["reference"] == "6"
    manifest = json.loads((tmp_path / "rl" / "manifest.json").read_text())
    assert manifest["format"] == "prompts" and manifest["source"] == "prompts"
    assert manifest["options"] == {"allow_overlap": False}

    both = export("prompts", tmp_path / "all", allow_overlap=True)
    assert sum(both.counts.values()) == N_PLAIN + N_DEMO + N_PAIR
    assert json.loads((tmp_path / "all" / "manifest.json").read_text())["options"] == {"allow_overlap": True}


def _export_to(out: Path, fmt: str, **fields) -> Path:
    export(fmt, out, **fields)
    return out


def test_separation_follows_the_same_filters(project, tmp_path):
    # Only human work counts for an SFT/RM set filtered to human work: the imported labels do not use a prompt.
    human = export("prompts", tmp_path / "h", filters=ExportFilters(origins=["human"]))
    assert sum(human.counts.values()) == N_PLAIN + N_DEMO + N_PAIR
    with session_scope(write=False) as s:
        splits = dict(s.execute(select(Prompt.id, Prompt.split)).all())
    wanted = sorted(set(splits.values()))[0]
    only = export("prompts", tmp_path / "s", filters=ExportFilters(splits=[wanted]))
    assert set(only.counts) == {wanted}
    assert all(splits[r["prompt_id"]] == wanted for r in records(tmp_path / "s"))


def test_gold_prompts_are_never_exported(project, tmp_path):
    with session_scope(write=False) as s:
        first = s.scalar(select(Prompt.id).order_by(Prompt.id))
    with session_scope() as s:
        mark_gold(s, OPERATOR, "p", first, "demonstration", turns=[{"role": "assistant", "content": "2"}])
    export("prompts", tmp_path / "g", allow_overlap=True)
    ids = {r["prompt_id"] for r in records(tmp_path / "g")}
    assert first not in ids and len(ids) == N_PLAIN + N_DEMO + N_PAIR - 1


def test_openai_rft_takes_prompts_with_a_reference_and_writes_system_as_developer(project, tmp_path):
    summary = export("openai-rft", tmp_path / "rft")
    recs = records(tmp_path / "rft")
    assert sum(summary.counts.values()) == len(recs) == N_PLAIN - 1  # the story prompt has no reference
    for rec in recs:
        assert [m["role"] for m in rec["messages"]] == ["developer", "user"]
        a = int(rec["messages"][-1]["content"].split()[2])
        assert rec["reference_answer"] == str(2 * a) and isinstance(rec["prompt_id"], int)
    with session_scope(write=False) as s:
        history = s.scalars(select(Export)).all()
    assert [e.format for e in history] == ["openai-rft"]


def test_openai_rft_without_references_is_refused_and_writes_nothing(db_url, tmp_path):
    make_project("p")
    rows = [{"prompt": f"Question {i}?"} for i in range(12)]
    with session_scope() as s:
        import_file(s, OPERATOR, "p", write_jsonl(tmp_path / "q.jsonl", rows), ImportOptions())
    with pytest.raises(Invalid, match="no rows match"):  # no prompt has a reference answer: nothing to write
        export("openai-rft", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_overlap_is_an_option_of_prompt_formats_only(project, tmp_path):
    with pytest.raises(Invalid, match="does not take `allow-overlap`"):
        export("pairs", tmp_path / "x", allow_overlap=True)
    with session_scope(write=False) as s:
        preview = preview_export(s, OPERATOR, ExportRequest(format="prompts", project="p", out_dir=tmp_path / "v"),
                                 limit=100)
    assert len(preview) == N_PLAIN


def test_cli_exports_prompts(project, tmp_path):
    result = CliRunner().invoke(app, ["export", "prompts", "--project", "p", "--out", str(tmp_path / "c"),
                                      "--allow-overlap", "--json"])
    assert result.exit_code == 0, result.output
    assert sum(json.loads(result.output)["counts"].values()) == N_PLAIN + N_DEMO + N_PAIR


def test_export_page_offers_the_overlap_switch_for_prompt_formats(project, tmp_path, monkeypatch):
    from tests.app.conftest import app_as, errors, successes
    from tests.factories import make_user

    monkeypatch.setenv("LABELER_EXPORT_DIR", str(tmp_path / "exports"))
    at = app_as(make_user("boss", "admin"), "export")
    at.selectbox(key="export.format").set_value("pairs").run()
    assert not [c for c in at.checkbox if c.key == "export.overlap"]  # not an option of the RM formats
    at.selectbox(key="export.format").set_value("prompts").run()
    at.text_input(key="export.folder").set_value("rl").run()
    at.checkbox(key="export.overlap").check().run()
    at.button(key="export.run").click().run()
    assert not at.exception and not errors(at), errors(at)
    assert any("written" in m for m in successes(at))
    manifest = json.loads((tmp_path / "exports" / "rl" / "manifest.json").read_text())
    assert manifest["options"] == {"allow_overlap": True}
    assert sum(manifest["counts"].values()) == N_PLAIN + N_DEMO + N_PAIR


def _add_paraphrase(source_text: str, text: str, status: str) -> None:
    """A paraphrase as the augment service stores it: the source's split and user, linked, with a status."""
    with session_scope() as s:
        source = next(p for p in s.scalars(select(Prompt).where(Prompt.source_prompt_id.is_(None)))
                      if p.messages[-1]["content"] == source_text)
        s.add(Prompt(project_id=source.project_id, messages=[*source.messages[:-1], {"role": "user", "content": text}],
                     source="paraphrase", origin_user=source.origin_user, split=source.split,
                     content_hash=f"h-{text}"[:32], source_prompt_id=source.id, paraphrase_status=status))


def test_paraphrases_follow_their_source_and_only_kept_ones_are_exported(project, tmp_path):
    _add_paraphrase("Say hello number 0.", "Please greet me, number 0.", "kept")  # the source is used by SFT
    _add_paraphrase("What is 1 + 1?", "How much is 1 plus 1?", "kept")  # the source is unused
    _add_paraphrase("What is 2 + 2?", "Add 2 and 2.", "pending")
    _add_paraphrase("What is 3 + 3?", "Sum of 3 and 3?", "rejected")
    got = contents(records(_export_to(tmp_path / "rl", "prompts")))
    assert "How much is 1 plus 1?" in got and len(got) == N_PLAIN + 1
    assert not got & {"Please greet me, number 0.", "Add 2 and 2.", "Sum of 3 and 3?"}
    overlap = contents(records(_export_to(tmp_path / "all", "prompts", allow_overlap=True)))
    assert "Please greet me, number 0." in overlap and not overlap & {"Add 2 and 2.", "Sum of 3 and 3?"}
