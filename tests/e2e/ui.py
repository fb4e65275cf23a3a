"""What a labeler does in the browser, as small steps the tests compose (and what it left in the store)."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from db.models import Assignment, ScopeLabel, User
from labeler.services import session_scope
from tests.factories import PASSWORD

try:
    from playwright.sync_api import Page, expect
except ImportError:  # the browser test modules import this first: skip them, or fail under CI
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("CI=true but browser tests cannot run: playwright is not installed", pytrace=False)
    pytest.skip("browser tests skipped: playwright is not installed (pip install playwright)",
                allow_module_level=True)


# A script run on a loaded 2-core machine can take several seconds; wait for conditions up to 15 s
# (as long as the browser contexts' own default timeout), not Playwright's 5 s.
expect.set_options(timeout=15_000)


def settled(page: Page) -> Page:
    """Wait until the app's script run has finished (otherwise stale elements are still in the DOM)."""
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")
    return page


def log_in(page: Page, username: str, password: str = PASSWORD, path: str = "/") -> Page:
    """Open `path`, fill the login form, and wait for the app to show the logged-in user."""
    page.goto(path)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("stSidebar").get_by_text(f"Logged in as {username}")).to_be_visible()
    return settled(page)


def go_to(page: Page, title: str) -> Page:
    """Open a page from the sidebar navigation."""
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
    return settled(page)


def current(page: Page):  # noqa: ANN201 - a Locator
    """Only elements of the latest run: Streamlit keeps the previous run's elements (marked stale)
    in the page until the new run replaces them, so a locator could otherwise match both."""
    return page.locator('[data-testid="stElementContainer"]:not([data-stale="true"])')


def pick(page: Page, group: str, option: str) -> None:
    """Click `option` in the radio group labelled `group` (e.g. "Rank of A", "2"); the Rank control
    answers on the page, without a server run."""
    control = current(page).get_by_role("radiogroup", name=group)
    expect(control).to_have_count(1)  # waits (no sleep) until a previous task's control is gone
    control.get_by_role("radio", name=option, exact=True).click()
    expect(control.get_by_role("radio", name=option, exact=True)).to_have_attribute("aria-checked", "true")


def toggle_flag(page: Page, group: str, option: str) -> None:
    """Click a flag (e.g. "Hallucination") in the Rank control's group labelled `group` ("Flags for D")."""
    control = current(page).get_by_role("group", name=group)
    expect(control).to_have_count(1)
    control.get_by_role("checkbox", name=option, exact=True).click()


def success_text(page: Page, containing: str) -> str:
    """The text of the success message that contains `containing` (waits for it)."""
    alert = page.get_by_test_id("stAlertContentSuccess").filter(has_text=containing)
    expect(alert).to_be_visible()
    return alert.inner_text()


def rank_control(page: Page):  # noqa: ANN201 - a Locator
    """The Rank task's client-side control of the latest run (waits until it is on the page)."""
    control = page.locator(".rank-root")
    expect(control).to_have_count(1)
    return control


def frames_sent(page: Page) -> list[str]:
    """Every websocket frame the page sends to the server from now on (call it before the page loads)."""
    sent: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
    return sent


SCOPE_QUESTION = "Should the assistant answer this prompt?"


def choose_scope(control, label: str, reason: str | None = None) -> None:  # noqa: ANN001 - a Locator
    """Choose answerable / off-limits (and a reason) in the scope question a control draws."""
    question = control.get_by_role("radiogroup", name=SCOPE_QUESTION)
    question.get_by_role("radio", name=label, exact=True).click()
    expect(question.get_by_role("radio", name=label, exact=True)).to_have_attribute("aria-checked", "true")
    if reason is not None:
        control.get_by_label("Reason (optional)").select_option(reason)


def expect_scope(control, label: str, reason: str = "") -> None:  # noqa: ANN001 - a Locator
    """The scope question shows `label` chosen (and `reason`, for off-limits)."""
    question = control.get_by_role("radiogroup", name=SCOPE_QUESTION)
    expect(question.get_by_role("radio", name=label, exact=True)).to_have_attribute("aria-checked", "true")
    if reason:
        expect(control.get_by_label("Reason (optional)")).to_have_value(reason)


def editor_control(page: Page):  # noqa: ANN201 - a Locator
    """The Demonstrate editor's client-side control of the latest run (waits until it is on the page)."""
    control = page.locator(".editor-root")
    expect(control).to_have_count(1)
    return control


def scope_votes(username: str) -> list[tuple[int, str, str | None]]:
    """The scope votes `username` gave, from the database: (their assignment of that prompt, label, reason)."""
    with session_scope(write=False) as s:
        return [tuple(r) for r in s.execute(
            select(Assignment.id, ScopeLabel.label, ScopeLabel.reason)
            .join(User, User.id == ScopeLabel.user_id)
            .join(Assignment, (Assignment.prompt_id == ScopeLabel.prompt_id) & (Assignment.user_id == User.id))
            .where(User.username == username))]
