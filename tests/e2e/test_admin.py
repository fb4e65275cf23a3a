"""The admin console in a real browser: the dashboard with data and with an empty project, and an import
upload checked against the rows stored (skips without playwright or Chromium: see ui.py and conftest.py)."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import select

from db.models import Prompt
from labeler.services import session_scope
from tests.app.admin_data import submit_work
from tests.app.data import make_task_project
from tests.e2e.ui import current, expect, go_to, log_in, settled, success_text
from tests.factories import make_project, make_user

UPLOAD = b"".join(orjson.dumps({"prompt": f"Upload question {i}?", "user": f"u{i}"}) + b"\n" for i in range(5))
BAD_LINE = b'{"messages": "not a list"}\n'


@pytest.fixture(scope="module", autouse=True)
def _data(app_database, tmp_path_factory):
    """An admin, a project with labelled work, an empty project and an import target."""
    tmp = tmp_path_factory.mktemp("data")
    make_user("boss", "admin")
    alice = make_user("alice")
    make_task_project(tmp, "busy", ("alice",), n_prompts=3, k=2)
    submit_work(alice, "busy", demonstrations=2, rankings=1)
    make_project("empty")
    make_project("target", split=(100, 0, 0))


def _pick_project(page, name: str) -> None:
    current(page).get_by_role("combobox", name="Project").first.click()
    page.get_by_role("option", name=name, exact=True).click()
    settled(page)


def _metric(page, label: str):  # noqa: ANN202 - a Locator
    return current(page).get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")


def test_dashboard_with_data_and_with_an_empty_project(new_page):
    page = go_to(log_in(new_page(), "boss"), "Dashboard")
    _pick_project(page, "busy")
    expect(_metric(page, "Prompts")).to_have_text("3")
    expect(_metric(page, "Demonstrations")).to_have_text("2")
    expect(_metric(page, "Rankings")).to_have_text("1")
    expect(page.get_by_text("2 demonstration(s) and 1 ranking(s) submitted")).to_be_visible()
    expect(current(page).get_by_test_id("stVegaLiteChart")).to_have_count(5)

    _pick_project(page, "empty")
    expect(_metric(page, "Prompts")).to_have_text("0")
    expect(page.get_by_test_id("stAlertContentInfo").filter(has_text="has no prompts yet")).to_contain_text("empty")
    expect(page.get_by_text("Nothing submitted in this window yet.")).to_be_visible()
    expect(current(page).get_by_test_id("stVegaLiteChart")).to_have_count(0)
    expect(page.get_by_test_id("stException")).to_have_count(0)


def test_import_upload_with_a_rejected_line(new_page, tmp_path):
    page = go_to(log_in(new_page(), "boss"), "Import")
    _pick_project(page, "target")
    upload = tmp_path / "browser.jsonl"
    upload.write_bytes(UPLOAD + BAD_LINE)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(upload))
    expect(page.get_by_text("browser.jsonl")).to_be_visible()
    settled(page)

    page.get_by_role("button", name="Import", exact=True).click()  # all or nothing: refused
    alert = page.get_by_test_id("stAlertContentError").filter(has_text="nothing was imported")
    expect(alert).to_be_visible()
    assert "line 6 of browser.jsonl: field messages: expected a list" in alert.inner_text()
    assert "Skip invalid records" in alert.inner_text()
    with session_scope(write=False) as s:
        assert not s.scalars(select(Prompt.id).where(Prompt.source == "browser.jsonl")).all()

    page.get_by_role("checkbox", name="Skip invalid records", exact=False).check(force=True)
    settled(page)
    page.get_by_role("button", name="Import", exact=True).click()
    assert success_text(page, "Imported 5") == "Imported 5 prompt(s) from browser.jsonl into target."
    expect(_metric(page, "Prompts added")).to_have_text("5")
    expect(page.get_by_role("button", name="Download the rejects (JSONL, with reasons)")).to_be_visible()
    with session_scope(write=False) as s:
        stored = s.scalars(select(Prompt.messages).where(Prompt.source == "browser.jsonl").order_by(Prompt.id)).all()
    assert [m[-1]["content"] for m in stored] == [f"Upload question {i}?" for i in range(5)]
