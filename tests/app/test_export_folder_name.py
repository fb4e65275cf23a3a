"""The Export page's folder name follows the chosen format, until the admin types their own."""

from __future__ import annotations

from tests.app.conftest import app_as
from tests.factories import make_project, make_user


def test_the_folder_name_follows_the_format_until_the_admin_types_one(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("LABELER_EXPORT_DIR", str(tmp_path / "exports"))
    make_project("p")
    at = app_as(make_user("boss", "admin"), "export")
    at.selectbox(key="export.format").set_value("sft-messages").run()
    assert at.text_input(key="export.folder").value.startswith("p-sft-messages-")
    at.selectbox(key="export.format").set_value("pairs").run()
    assert at.text_input(key="export.folder").value.startswith("p-pairs-")
    at.text_input(key="export.folder").set_value("my-rm-set").run()
    at.selectbox(key="export.format").set_value("kto").run()
    assert at.text_input(key="export.folder").value == "my-rm-set"
    assert not at.exception
