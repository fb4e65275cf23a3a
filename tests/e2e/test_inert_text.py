"""Hostile prompt and candidate text, shown in a real browser: inert, literal, and the page keeps its width.

Lives beside the other browser tests so that it shares their one Playwright session per worker (a
second `sync_playwright()` in the same thread refuses to start). Skips without Playwright/Chromium,
fails under CI=true.
"""

from __future__ import annotations

import json

import pytest

from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.auth import actor_for, get_user_or_raise
from labeler.services.ingest import ImportOptions, import_file
from labeler.services.preferences import set_preference
from tests.e2e.ui import expect, go_to, log_in, settled
from tests.factories import make_project, make_user

SCRIPT = "<script>window.__pwned = 1</script>"
HOSTILE = (
    f"{SCRIPT}<img src=x onerror=\"window.__pwned = 2\"><iframe src=\"http://127.0.0.1:9/\"></iframe> "
    "[click me](javascript:window.__pwned=3) ![pixel](http://127.0.0.1:9/track.png) :red[RED] $x^2$ "
    "<style>body { display: none }</style> " + "W" * 20_000
)
MARKDOWN = '[data-testid="stMarkdownContainer"]'
AS_WRITTEN = '[data-testid="stText"], .rank-text'


@pytest.fixture(scope="module", autouse=True)
def _data(app_database, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    make_user("hana")
    make_project("hostile-write", ("hana",), task_kinds=["demonstration"])
    make_project("hostile-rank", ("hana",), task_kinds=["ranking"], k_min=2, k_max=2)
    prompts = tmp / "prompts.jsonl"
    prompts.write_text(json.dumps({"prompt": HOSTILE}) + "\n")
    prefs = tmp / "prefs.jsonl"
    prefs.write_text(json.dumps({"prompt": "Which reply is better? " + HOSTILE,
                                 "chosen": "A " + HOSTILE, "rejected": "B " + HOSTILE}) + "\n")
    with session_scope() as s:
        import_file(s, OPERATOR, "hostile-write", prompts, ImportOptions(split="100/0/0"))
        import_file(s, OPERATOR, "hostile-rank", prefs, ImportOptions(format="trl-preference", split="100/0/0"))


@pytest.fixture(autouse=True)
def _markdown_off():
    """Each test starts as written: "Show Markdown" is kept with hana's account from test to test."""
    with session_scope() as s:
        set_preference(s, actor_for(get_user_or_raise(s, "hana")), "show_markdown", False)


def _markdown_on(page) -> None:
    page.get_by_test_id("stSidebar").get_by_text("Show Markdown").click()
    settled(page)


def _assert_inert(page, where: str = MARKDOWN) -> None:
    settled(page)
    assert page.evaluate("window.__pwned") is None, "hostile text ran script"
    shown = page.locator(where).filter(has_text="window.__pwned = 1")
    expect(shown.first).to_be_visible()
    inside = ", ".join(f"{part} {tag}" for part in where.split(", ") for tag in ("script", "img", "iframe", "style"))
    assert page.locator(inside).count() == 0
    assert page.locator(", ".join(f'{part} a[href^="javascript"]' for part in where.split(", "))).count() == 0
    text = shown.first.inner_text()
    head = text.split("WWWW")[0]
    # Shown as written, not interpreted, and no escape of ours shows as a backslash.
    assert SCRIPT in head and ":red[RED]" in head and "$x^2$" in head and "![pixel]" in head, head
    assert page.locator(".katex, [data-testid='stMarkdownContainer'] [style*='color']").count() == 0  # no math, colour
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), \
        "a very long line widened the page"
    expect(page.get_by_test_id("stSidebar")).to_be_visible()  # the page still works


def test_hostile_prompt_text_is_inert_on_the_demonstration_page(new_page) -> None:
    page = log_in(new_page(), "hana")
    go_to(page, "Demonstrate")
    _assert_inert(page, AS_WRITTEN)
    assert HOSTILE[:200] in page.locator(AS_WRITTEN).first.inner_text()  # exactly as written
    _markdown_on(page)
    _assert_inert(page)


def test_hostile_candidate_text_is_inert_on_the_ranking_page(new_page) -> None:
    page = log_in(new_page(), "hana")
    go_to(page, "Rank")
    _assert_inert(page, AS_WRITTEN)
    expect(page.locator(".rank-text")).to_have_count(2)
    shown = page.locator(".rank-text").all_inner_texts()  # in the stored random order
    assert sorted(t[:200] for t in shown) == [("A " + HOSTILE)[:200], ("B " + HOSTILE)[:200]]
    _markdown_on(page)
    _assert_inert(page)
    _assert_inert(page, ".rank-text")
