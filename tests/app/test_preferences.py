""""Show Markdown" is kept with the account: a new session (reload, new login, other browser) starts with it."""

from __future__ import annotations

from labeler.app import deps
from labeler.services import session_scope
from labeler.services.preferences import get_preferences
from tests.app.conftest import app_as
from tests.factories import PASSWORD, make_user

TOGGLE = "view.markdown"


def _stored(actor) -> bool:
    with session_scope(write=False) as s:
        return get_preferences(s, actor)["show_markdown"]


def _log_in(at, username: str):
    at.text_input(key="login_user").input(username)
    at.text_input(key="login_pw").input(PASSWORD)
    return at.button(key="FormSubmitter:login-Log in").click().run()


def test_toggling_stores_it_and_a_new_session_starts_with_it_on(db_url):
    alice = make_user("alice")
    at = app_as(alice)
    assert at.sidebar.toggle(key=TOGGLE).value is False and not _stored(alice)
    at = at.sidebar.toggle(key=TOGGLE).set_value(True).run()
    assert not at.exception and not at.error
    assert _stored(alice) is True
    again = app_as(alice)  # a reload, a new tab or another browser: a fresh Streamlit session
    assert again.sidebar.toggle(key=TOGGLE).value is True
    assert again.session_state[TOGGLE] is True  # what render.markdown_preferred() reads
    again = again.sidebar.toggle(key=TOGGLE).set_value(False).run()
    assert _stored(alice) is False and app_as(alice).sidebar.toggle(key=TOGGLE).value is False


def test_it_survives_a_log_out_and_a_log_in_through_the_form(sqlite_url):
    alice = make_user("alice")
    at = app_as(alice)
    at = at.sidebar.toggle(key=TOGGLE).set_value(True).run()
    at = at.sidebar.button(key="logout").click().run()
    assert TOGGLE not in at.session_state
    at = _log_in(at, "alice")
    assert not at.exception and at.sidebar.toggle(key=TOGGLE).value is True


def test_another_user_in_the_same_browser_starts_with_their_own(sqlite_url):
    alice, bob = make_user("alice"), make_user("bob")
    at = app_as(alice)
    at = at.sidebar.toggle(key=TOGGLE).set_value(True).run()
    at = at.sidebar.button(key="logout").click().run()
    at = _log_in(at, "bob")
    assert at.sidebar.toggle(key=TOGGLE).value is False and not _stored(bob)


def test_the_preference_is_read_once_per_session_not_every_rerun(sqlite_url, monkeypatch):
    alice = make_user("alice")
    reads = []
    real = deps.get_preferences
    monkeypatch.setattr(deps, "get_preferences", lambda s, actor: reads.append(actor.id) or real(s, actor))
    at = app_as(alice)
    at.run()
    at.run()
    at = at.sidebar.toggle(key=TOGGLE).set_value(True).run()
    at.run()
    assert reads == [alice.id] and at.sidebar.toggle(key=TOGGLE).value is True
