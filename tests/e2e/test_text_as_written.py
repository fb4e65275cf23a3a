"""Texts are shown as written: line breaks, indentation and code exactly, unless a labeler turns Markdown on."""

from __future__ import annotations

import json

import pytest

from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.ingest import ImportOptions, import_file
from tests.e2e.ui import expect, go_to, log_in, settled
from tests.factories import make_project, make_user

CODE = "# a comment, not a heading\ndef f(x):\n    return x  # indented\n\nline one\nline two"


@pytest.fixture(scope="module", autouse=True)
def _data(app_database, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("written")
    make_user("wren")
    make_project("written", ("wren",), task_kinds=["ranking"], k_min=2, k_max=2)
    prefs = tmp / "prefs.jsonl"
    prefs.write_text(json.dumps({"prompt": "Fix this:\n" + CODE, "chosen": CODE, "rejected": "# Title\nplain"}) + "\n")
    with session_scope() as s:
        import_file(s, OPERATOR, "written", prefs, ImportOptions(format="trl-preference", split="100/0/0"))


def test_prompt_and_replies_are_shown_exactly_as_written(new_page) -> None:
    page = go_to(log_in(new_page(), "wren"), "Rank")
    prompt = page.get_by_test_id("stChatMessage").first
    expect(prompt.get_by_test_id("stText")).to_have_text("Fix this:\n" + CODE)
    assert prompt.locator("h1").count() == 0  # `#` stays a comment
    texts = page.locator(".rank-text")
    expect(texts).to_have_count(2)
    shown = sorted(texts.all_inner_texts())
    assert CODE in shown and "# Title\nplain" in shown
    assert page.locator(".rank-text h1").count() == 0
    # Markdown is the labeler's choice; then `# Title` is a heading.
    page.get_by_test_id("stSidebar").get_by_text("Show Markdown").click()
    settled(page)
    expect(page.locator(".rank-text h1")).to_have_count(2)
