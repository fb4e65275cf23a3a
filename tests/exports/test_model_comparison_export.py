"""The `model-comparison` export: written through the export machinery (atomic, validated, recorded)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from exports import validate_records
from labeler.cli import app
from labeler.errors import Invalid
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.compare import compare_models
from labeler.services.export import ExportFilters, ExportRequest, export_dataset, export_formats, list_exports
from tests.factories import make_project
from tests.services.compare_data import add_prompt, add_ranking

runner = CliRunner()


def _ranked() -> None:
    make_project("p")
    for order in (("new", "old"), ("new", "old"), ("old", "new")):
        c = add_prompt("p", list(order))
        add_ranking({c[0]: 1, c[1]: 2})
    c = add_prompt("p", ["new", "old"])
    add_ranking({c[0]: 2, c[1]: 1}, origin="imported")


def test_the_export_writes_the_report_with_manifest_and_history(db_url, tmp_path):
    _ranked()
    out = tmp_path / "cmp"
    with session_scope() as s:
        summary = export_dataset(s, OPERATOR, ExportRequest(format="model-comparison", project="p", out_dir=out))
    assert summary.counts == {"comparison": 1}
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "comparison.jsonl", "manifest.json"]
    report = json.loads((out / "comparison.jsonl").read_text())  # one line: a JSON document
    assert report["models"] == ["new", "old"] and report["win_rate"] == [[None, 0.666667], [0.333333, None]]
    assert report["games"] == [[0, 3], [3, 0]] and report["filters"]["rankings"] == ["human"]
    assert all(len(s["interval"]) == 2 for s in report["strengths"])
    with session_scope(write=False) as s:  # the same report as the CLI and the page
        assert compare_models(s, OPERATOR, "p").to_dict() == report
        assert [e.format for e in list_exports(s, OPERATOR, "p")] == ["model-comparison"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "model-comparison" and manifest["files"][0]["path"] == "comparison.jsonl"
    with session_scope() as s:  # imported rankings when the sources say so; options recorded
        export_dataset(s, OPERATOR, ExportRequest(format="model-comparison", project="p", out_dir=out,
                                                  models=["new", "old"],
                                                  filters=ExportFilters(origins=["human", "imported"])))
    again = json.loads((out / "comparison.jsonl").read_text())
    assert again["games"] == [[0, 4], [4, 0]]
    assert json.loads((out / "manifest.json").read_text())["options"] == {"models": ["new", "old"]}


def test_refusals_leave_no_file(sqlite_url, tmp_path):
    make_project("p")
    out = tmp_path / "none"
    with session_scope() as s:
        with pytest.raises(Invalid, match="no comparisons between models"):
            export_dataset(s, OPERATOR, ExportRequest(format="model-comparison", project="p", out_dir=out))
        with pytest.raises(Invalid, match="does not take `labeler`"):
            export_dataset(s, OPERATOR, ExportRequest(format="model-comparison", project="p", out_dir=out,
                                                      filters=ExportFilters(labelers=["ann"])))
        with pytest.raises(Invalid, match="format `pairs` does not take `models`"):
            export_dataset(s, OPERATOR, ExportRequest(format="pairs", project="p", out_dir=out, models=["a"]))
    assert not out.exists()


def test_listed_for_the_app_and_checked():
    assert "model-comparison" in [f["name"] for f in export_formats()]
    bad = validate_records([{"models": ["a", "b"], "win_rate": [[None, 1.5]], "games": [], "strengths": []}],
                           "model-comparison")
    assert not bad.ok and {p.field for p in bad.errors} == {"win_rate", "strengths"}


def test_cli_export_model_comparison(sqlite_url, tmp_path):
    _ranked()
    out = tmp_path / "cli"
    result = runner.invoke(app, ["export", "model-comparison", "--project", "p", "--out", str(out), "--models",
                                 "new,old", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["counts"] == {"comparison": 1}
    assert json.loads((out / "comparison.jsonl").read_text())["models"] == ["new", "old"]
