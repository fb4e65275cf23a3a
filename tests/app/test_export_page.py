"""The admin export page: preview, export with validation, downloads, history; confined folders; gating."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.ingest import ImportOptions, import_file
from tests.app.conftest import VIEWS, app_as, errors, successes
from tests.conftest import SHARED_DATA
from tests.factories import make_project, make_user


@pytest.fixture
def exports_dir(tmp_path, monkeypatch):
    folder = tmp_path / "exports"
    monkeypatch.setenv("LABELER_EXPORT_DIR", str(folder))
    return folder


def _with_rankings() -> None:
    make_project("p")
    with session_scope() as s:
        import_file(s, OPERATOR, "p", SHARED_DATA / "openassistant" / "en_100_tree.jsonl", ImportOptions())


def test_admin_previews_exports_and_sees_the_history(db_url, exports_dir):
    _with_rankings()
    at = app_as(make_user("boss", "admin"), "export")
    at.selectbox(key="export.format").set_value("pairs").run()
    at.text_input(key="export.folder").set_value("rm-v1").run()
    at.button(key="export.preview").click().run()
    assert not at.exception, at.exception
    previews = [json.loads(j.value) if isinstance(j.value, str) else j.value for j in at.json]
    assert len(previews) == 5 and all({"prompt", "chosen", "rejected"} <= set(p) for p in previews)
    assert not (exports_dir / "rm-v1").exists()  # a preview writes nothing
    at.button(key="export.run").click().run()
    assert not at.exception and not errors(at), errors(at)
    assert any("Export #1 written" in m for m in successes(at))
    written = sorted(p.name for p in (exports_dir / "rm-v1").iterdir())
    assert "manifest.json" in written and "train.jsonl" in written and "README.md" in written
    assert {b.label for b in at.get("download_button")} >= {"Download manifest.json", "Download train.jsonl"}
    assert len(at.dataframe) == 1 and at.dataframe[0].value["format"].tolist() == ["pairs"]


def test_an_invalid_export_shows_the_report_and_writes_nothing(db_url, exports_dir):
    make_project("p")
    with session_scope() as s:  # 4 demonstrations: too few for OpenAI's minimum of 10
        import_file(s, OPERATOR, "p", SHARED_DATA / "openai-cookbook" / "toy_chat_fine_tuning.jsonl",
                    ImportOptions(skip_invalid=True, rejects_path=exports_dir.parent / "r.jsonl"))
    at = app_as(make_user("boss", "admin"), "export")
    at.selectbox(key="export.format").set_value("openai-chat").run()
    at.text_input(key="export.folder").set_value("oai").run()
    at.button(key="export.run").click().run()
    assert any("at least 10" in e for e in errors(at))
    assert not (exports_dir / "oai").exists() or not any((exports_dir / "oai").iterdir())


def test_a_folder_outside_the_export_folder_is_refused(sqlite_url, exports_dir):
    _with_rankings()
    at = app_as(make_user("boss", "admin"), "export")
    at.text_input(key="export.folder").set_value("../../etc").run()
    assert any("must stay inside" in e for e in errors(at))
    assert all(b.key not in ("export.run", "export.preview") for b in at.button)


def test_labelers_cannot_reach_the_export_page(sqlite_url):
    alice = make_user("alice")
    at = app_as(alice)
    with pytest.raises(ValueError):
        at.switch_page("views/export.py").run()
    direct = AppTest.from_file(str(VIEWS / "export.py"), default_timeout=30)
    direct.session_state["user"] = {"id": alice.id}
    direct.run()
    assert errors(direct) == ["`alice` is a labeler; this needs an admin"]
