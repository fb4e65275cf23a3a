"""The app's chrome for labelers and admins: no developer menu, a packaged icon, admins' landing page and
grouped navigation, and layouts that fit at 1,024 and 1,400 px."""

from __future__ import annotations

import re

import pytest

from tests.app.data import make_task_project
from tests.e2e.ui import expect, go_to, log_in, rank_control, settled
from tests.factories import make_user

ADMIN_PAGES = ("Dashboard", "Projects", "Users", "Import", "Labelers", "Quality", "Gold", "Export", "Generate",
               "Fine-tuning", "Demonstrate", "Rank", "My work", "Review", "Paraphrases")


@pytest.fixture(scope="module", autouse=True)
def _data(app_database, tmp_path_factory):
    make_user("boss", role="admin")
    make_user("luca")
    make_task_project(tmp_path_factory.mktemp("chrome"), "chrome", ("luca", "boss"), n_prompts=2, k=4,
                      task_kinds=["ranking"], k_min=4, k_max=4)


def _no_developer_chrome(page) -> None:
    settled(page)
    expect(page.get_by_test_id("stMainMenu")).to_have_count(0)
    expect(page.get_by_test_id("stAppDeployButton")).to_have_count(0)
    icon = page.locator("link[rel*='icon']").first.get_attribute("href") or ""
    assert "fonts" not in icon and not icon.startswith("http") or "127.0.0.1" in icon, icon


def test_no_developer_chrome_on_the_login_page_nor_for_a_labeler(new_page):
    page = new_page()
    page.goto("/")
    _no_developer_chrome(page)
    log_in(page, "luca")
    _no_developer_chrome(page)


def test_admins_land_on_the_dashboard_and_see_every_page_without_view_more(new_page):
    page = new_page()
    page.set_viewport_size({"width": 1400, "height": 900})
    log_in(page, "boss")
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
    nav = page.get_by_test_id("stSidebarNav")
    for title in ADMIN_PAGES:
        expect(nav.get_by_role("link", name=title, exact=False).first).to_be_visible()
    expect(nav.get_by_text(re.compile(r"View \d+ more"))).to_have_count(0)  # nothing hides behind "View N more"


@pytest.mark.parametrize("width", [1024, 1400])
def test_side_by_side_rank_keeps_each_scale_on_one_line_and_the_page_its_width(new_page, width):
    page = new_page()
    page.set_viewport_size({"width": width, "height": 900})
    go_to(log_in(page, "luca"), "Rank")
    control = rank_control(page)
    control.get_by_role("button", name="Side by side").click()
    for group in control.locator(".seg").all():
        buttons = group.locator("button")
        first, last = buttons.first.bounding_box(), buttons.last.bounding_box()
        assert abs(first["y"] - last["y"]) < 2, f"a scale wraps at {width} px"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("width", [1024, 1400])
def test_import_checkboxes_and_the_labelers_table_fit(new_page, width):
    page = new_page()
    page.set_viewport_size({"width": width, "height": 900})
    go_to(log_in(page, "boss"), "Import")
    for label in ("Skip invalid records", "Drop near-duplicates"):
        text = page.get_by_test_id("stCheckbox").filter(has_text=label).locator("p").first
        assert text.evaluate("e => e.scrollWidth <= e.clientWidth + 1 && e.getBoundingClientRect().height < "
                             "1.5 * parseFloat(getComputedStyle(e).lineHeight)"), f"{label} wraps or is cut off"
    go_to(page, "Labelers")
    expect(page.get_by_test_id("stDataFrame")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
