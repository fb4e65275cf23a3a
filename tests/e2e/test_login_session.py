"""A login survives a reload and a new tab of the same browser, and ends with Log out, deactivation or a
password change (a cookie with a random token; see README "Login sessions")."""

from __future__ import annotations

import pytest

from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.auth import set_active, set_password
from tests.e2e.ui import expect, log_in, settled
from tests.factories import PASSWORD, make_user

COOKIE = "labeler_session"


@pytest.fixture(scope="module", autouse=True)
def _data(app_database):
    for name in ("sara", "owen", "pia"):
        make_user(name)


def _logged_in_as(page, username: str) -> None:
    expect(page.get_by_test_id("stSidebar").get_by_text(f"Logged in as {username}")).to_be_visible()


def _login_form(page) -> None:
    expect(page.get_by_label("Username")).to_be_visible()


def _cookie(context) -> dict:
    [cookie] = [c for c in context.cookies() if c["name"] == COOKIE]
    return cookie


def test_a_reload_and_a_new_tab_stay_logged_in_and_log_out_ends_it(new_page):
    page = log_in(new_page(), "sara")
    page.wait_for_function(f"document.cookie.includes('{COOKIE}=')")
    cookie = _cookie(page.context)
    assert cookie["sameSite"] == "Strict" and not cookie["secure"]  # plain HTTP here; Secure over HTTPS
    assert not cookie["httpOnly"]  # written by the page's script (see README)
    assert PASSWORD not in cookie["value"] and "sara" not in cookie["value"] and len(cookie["value"]) >= 43
    page.reload()
    _logged_in_as(settled(page), "sara")
    tab = page.context.new_page()
    tab.goto("/rank")
    _logged_in_as(settled(tab), "sara")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You have been logged out.")).to_be_visible()
    page.wait_for_function(f"!document.cookie.includes('{COOKIE}=')")
    page.reload()
    _login_form(settled(page))
    # The token itself is dead, not just forgotten: a browser holding a copy is not let in.
    other = new_page()
    other.context.add_cookies([{"name": COOKIE, "value": cookie["value"], "url": page.url}])
    other.goto("/")
    _login_form(settled(other))


@pytest.mark.parametrize("how", ["deactivation", "password change"])
def test_deactivation_or_a_password_change_ends_the_browser_session(new_page, how):
    name = "owen" if how == "deactivation" else "pia"
    page = log_in(new_page(), name)
    page.wait_for_function(f"document.cookie.includes('{COOKIE}=')")
    with session_scope() as s:
        if how == "deactivation":
            set_active(s, OPERATOR, name, False)
        else:
            set_password(s, OPERATOR, name, "a new password 123")
    page.reload()
    _login_form(settled(page))
