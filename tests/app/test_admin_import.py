"""The admin Import page: upload, options, progress, report, rejects; refused imports change nothing."""

from __future__ import annotations

import gzip

import orjson
import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from db.models import Prompt
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.stats import project_stats
from tests.app.conftest import VIEWS, app_as, errors, successes
from tests.conftest import SHARED_DATA
from tests.factories import make_project, make_user

GOOD = b"".join(orjson.dumps(r) + b"\n" for r in [
    {"prompt": "How do I bake bread?", "user": "u1"},
    {"prompt": "What is the capital of France?", "user": "u2"},
    {"prompt": "How do I bake bread?", "user": "u3"},  # an exact duplicate
    {"messages": [{"role": "user", "content": "Mail me at ann@example.com please"}], "user": "u1"},
])
BAD = GOOD + b'{"messages": "not a list"}\n' + b'{"prompt": ""}\n'


def _prompts() -> list[tuple[str, str, str]]:
    with session_scope(write=False) as s:
        return [(p.messages[-1]["content"], p.source, p.split) for p in s.scalars(select(Prompt).order_by(Prompt.id))]


def _page(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a rejects file must never land in the working directory
    make_project("p", split=(100, 0, 0))
    return app_as(make_user("root", "admin"), "import_data")


def _upload(at, name: str, data: bytes):
    at.file_uploader(key="import.file").set_value((name, data, "application/octet-stream"))
    return at.run()


def test_import_a_jsonl_with_options(db_url, tmp_path, monkeypatch):
    at = _upload(_page(tmp_path, monkeypatch), "prompts.jsonl", GOOD)
    at.selectbox(key="import.scrub_pii").set_value("on")
    at.text_input(key="import.split").input("0/100/0")
    at.button(key="import.run").click().run()
    assert not errors(at), errors(at)
    assert successes(at) == ["Imported 3 prompt(s) from `prompts.jsonl` into `p`."]
    assert _prompts() == [("How do I bake bread?", "prompts.jsonl", "valid"),
                          ("What is the capital of France?", "prompts.jsonl", "valid"),
                          ("Mail me at [EMAIL] please", "prompts.jsonl", "valid")]
    assert {m.label: m.value for m in at.metric}["Prompts added"] == "3"
    counts = dict(zip(at.dataframe[0].value["what"], at.dataframe[0].value["count"], strict=True))
    assert counts["duplicates (same text)"] == 1 and counts["PII replaced (email)"] == 1
    assert counts["new prompts in valid"] == 3
    assert not list(tmp_path.glob("*.rejects.jsonl"))


def test_a_bad_file_is_refused_with_line_and_field_and_nothing_changes(db_url, tmp_path, monkeypatch):
    at = _upload(_page(tmp_path, monkeypatch), "bad.jsonl", BAD)
    at.button(key="import.run").click().run()
    [message] = errors(at)
    assert "2 invalid record(s) in bad.jsonl; nothing was imported" in message
    assert "line 5 of bad.jsonl: field `messages`" in message
    assert "line 6 of bad.jsonl" in message
    assert _prompts() == []
    assert not at.metric  # no report


def test_skip_invalid_imports_the_rest_and_lists_the_rejects(db_url, tmp_path, monkeypatch):
    at = _upload(_page(tmp_path, monkeypatch), "bad.jsonl", BAD)
    at.checkbox(key="import.skip_invalid").check()
    at.button(key="import.run").click().run()
    assert not errors(at), errors(at)
    assert len(_prompts()) == 3
    rejects = at.dataframe[1].value
    assert list(rejects["line"]) == [5, 6]
    assert rejects["field"].iloc[0] == "messages"
    [download] = at.get("download_button")
    assert download.proto.label == "Download the rejects (JSONL, with reasons)"
    assert not list(tmp_path.rglob("*.rejects.jsonl"))  # the temporary folder is gone


def test_format_and_gzip_and_candidate_filters(sqlite_url, tmp_path, monkeypatch):
    data = gzip.compress((SHARED_DATA / "openassistant" / "en_100_tree.jsonl").read_bytes())
    at = _upload(_page(tmp_path, monkeypatch), "trees.jsonl.gz", data)
    at.selectbox(key="import.format").set_value("oasst-tree")
    at.number_input(key="import.min_candidates").set_value(3)
    at.button(key="import.run").click().run()
    assert not errors(at), errors(at)
    with session_scope(write=False) as s:
        stats = project_stats(s, OPERATOR, "p")
        assert stats["prompts"]["total"] == s.scalar(select(func.count()).select_from(Prompt)) > 0
    assert stats["rankings"]["by_origin"] == {"imported": stats["rankings"]["total"]}
    assert successes(at)[0].startswith("Imported ")


def test_a_wrong_format_is_refused(sqlite_url, tmp_path, monkeypatch):
    at = _upload(_page(tmp_path, monkeypatch), "prompts.jsonl", GOOD)
    at.selectbox(key="import.format").set_value("hh-rlhf")
    at.button(key="import.run").click().run()
    assert errors(at) and "prompts.jsonl" in errors(at)[0]
    assert _prompts() == []


def test_no_projects_yet(sqlite_url):
    at = app_as(make_user("root", "admin"), "import_data")
    assert "No projects yet" in at.info[0].value
    assert not at.file_uploader


def test_a_labeler_cannot_open_the_page(sqlite_url):
    alice = make_user("alice")
    make_project("p", ("alice",))
    at = app_as(alice)
    with pytest.raises(ValueError):
        at.switch_page("views/import_data.py").run()
    direct = AppTest.from_file(str(VIEWS / "import_data.py"), default_timeout=30)
    direct.session_state["user"] = {"id": alice.id}
    direct.run()
    assert errors(direct) == ["`alice` is a labeler; this needs an admin"]
    assert not direct.file_uploader


def test_an_odd_upload_name_is_reduced_to_a_plain_file_name(sqlite_url, tmp_path, monkeypatch):
    at = _upload(_page(tmp_path, monkeypatch), "../../my prompts?.jsonl", GOOD)
    at.button(key="import.run").click().run()
    assert successes(at) == ["Imported 3 prompt(s) from `my_prompts_.jsonl` into `p`."]
    assert {source for _, source, _ in _prompts()} == {"my_prompts_.jsonl"}
