"""Exports never land in the source tree, and an empty export is an error that leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import exports
from exports.formats import FORMATS
from labeler.cli import app
from labeler.config import get_settings
from labeler.errors import Invalid
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.export import ExportRequest, export_dataset, export_folder
from tests.factories import make_project


def test_the_default_export_folder_is_a_data_folder_of_its_own(tmp_path, monkeypatch):
    monkeypatch.delenv("LABELER_EXPORT_DIR", raising=False)
    monkeypatch.delenv("LABELER_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert get_settings().export_dir == tmp_path / "labeler-data" / "exports"
    monkeypatch.setenv("LABELER_DATA_DIR", str(tmp_path / "elsewhere"))
    assert get_settings().export_dir == tmp_path / "elsewhere" / "exports"


def test_an_export_inside_the_installed_package_is_refused(db_url, monkeypatch):
    make_project("p")
    inside = Path(exports.__file__).parent / "demo-pairs"
    with pytest.raises(Invalid, match="inside the installed `exports` package"), session_scope() as s:
        export_dataset(s, OPERATOR, ExportRequest(format="pairs", project="p", out_dir=inside))
    assert not inside.exists()
    monkeypatch.setenv("LABELER_EXPORT_DIR", str(Path(exports.__file__).parent))  # the old default, from a checkout
    with pytest.raises(Invalid, match="inside the installed `exports` package"):
        export_folder("demo-pairs")


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_an_export_with_no_rows_fails_for_every_format_and_leaves_no_folder(fmt, sqlite_url, tmp_path):
    make_project("p", scope_labels=True) if fmt.startswith("classification") else make_project("p")
    out = tmp_path / "out" / fmt
    with pytest.raises(Invalid, match="no rows match"), session_scope() as s:
        export_dataset(s, OPERATOR, ExportRequest(format=fmt, project="p", out_dir=out))
    assert not (tmp_path / "out").exists()


def test_the_cli_exits_1_on_an_empty_export_on_both_backends(db_url, tmp_path):
    make_project("p")
    for fmt in ("sft-messages", "pairs", "openai-chat"):
        out = tmp_path / fmt
        result = CliRunner().invoke(app, ["export", fmt, "--project", "p", "--out", str(out)])
        assert result.exit_code == 1, result.output
        assert "no rows match" in result.output
        assert not out.exists()


def test_a_failed_export_into_an_existing_folder_keeps_the_folder(sqlite_url, tmp_path):
    make_project("p")
    (tmp_path / "kept").mkdir()
    with pytest.raises(Invalid), session_scope() as s:
        export_dataset(s, OPERATOR, ExportRequest(format="pairs", project="p", out_dir=tmp_path / "kept"))
    assert (tmp_path / "kept").is_dir()
