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
    make_user("remy")
    make_project("written", ("wren",), task_kinds=["ranking"], k_min=2, k_max=2)
    prefs = tmp / "prefs.jsonl"
    prefs.write_text(json.dumps({"prompt": "Fix this:\n" + CODE, "chosen": CODE, "rejected": "# Title\nplain"}) + "\n")
    with session_scope() as s:
        import_file(s, OPERATOR, "written", prefs, ImportOptions(format="trl-preference", split="100/0/0"))
    make_project("remembered", ("remy",), task_kinds=["ranking"], k_min=2, k_max=2)  # remy's own prompt
    with session_scope() as s:
        import_file(s, OPERATOR, "remembered", prefs, ImportOptions(format="trl-preference", split="100/0/0"))


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


def test_show_markdown_is_kept_with_the_account_across_log_out_log_in_and_browsers(new_page) -> None:
    page = go_to(log_in(new_page(), "remy"), "Rank")
    toggle = page.get_by_test_id("stSidebar").get_by_role("switch", name="Show Markdown")
    expect(toggle).not_to_be_checked()
    expect(page.locator(".rank-text")).to_have_count(2)
    assert page.locator(".rank-text h1").count() == 0
    page.get_by_test_id("stSidebar").get_by_text("Show Markdown").click()
    settled(page)
    expect(page.locator(".rank-text h1")).to_have_count(2)
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You have been logged out.")).to_be_visible()
    # The same browser after a log out, and another browser: both start with Markdown on.
    for again in (page, new_page()):
        go_to(log_in(again, "remy"), "Rank")
        expect(again.get_by_test_id("stSidebar").get_by_role("switch", name="Show Markdown")).to_be_checked()
        expect(again.locator(".rank-text h1")).to_have_count(2)
