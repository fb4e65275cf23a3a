"""Login, lockout, deactivation and logout through the real form."""

from __future__ import annotations

from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.auth import LOCKED_HERE, get_user_or_raise, set_active, set_password
from labeler.services.login_sessions import resume_session
from tests.app.conftest import app_as, errors, new_app
from tests.factories import PASSWORD, make_user


def _log_in(at, username: str, password: str):
    at.text_input(key="login_user").input(username)
    at.text_input(key="login_pw").input(password)
    return at.button(key="FormSubmitter:login-Log in").click().run()


def _sidebar_text(at) -> str:
    return " ".join(c.value for c in at.sidebar.caption)


def test_good_password_logs_in_and_shows_the_labeler_pages(db_url):
    alice = make_user("alice")
    at = _log_in(new_app().run(), "alice", PASSWORD)
    assert not at.exception
    assert at.session_state["user"] == {"id": alice.id}
    assert "alice" in _sidebar_text(at) and "labeler" in _sidebar_text(at)
    assert at.title[0].value == "Demonstrate"
    with session_scope(write=False) as s:
        assert get_user_or_raise(s, "alice").last_login_at is not None


def test_wrong_password_is_refused_and_counted(db_url):
    make_user("alice")
    at = _log_in(new_app().run(), "alice", "not the password")
    assert errors(at) == ["wrong username or password"]
    assert "user" not in at.session_state
    assert [t.value for t in at.title] == ["labeler"]
    with session_scope(write=False) as s:
        assert get_user_or_raise(s, "alice").failed_logins == 1


def test_unknown_user_gets_the_same_message(sqlite_url):
    at = _log_in(new_app().run(), "nobody", "whatever123")
    assert errors(at) == ["wrong username or password"]


def test_empty_form_asks_for_both_fields(sqlite_url):
    at = new_app().run()
    at = at.button(key="FormSubmitter:login-Log in").click().run()
    assert errors(at) == ["enter your username and password"]


def test_account_locks_after_repeated_failures(db_url, monkeypatch):
    monkeypatch.setenv("LABELER_LOCKOUT_ATTEMPTS", "2")
    make_user("alice")
    at = new_app().run()
    for _ in range(2):
        at = _log_in(at, "alice", "not the password")
    at = _log_in(at, "alice", PASSWORD)  # right password, but locked now
    assert errors(at) == [LOCKED_HERE]
    assert "user" not in at.session_state
    at = new_app().run()  # an unknown username gets the very same messages: nothing tells which names exist
    for _ in range(2):
        at = _log_in(at, "nobody", "not the password")
        assert errors(at) == ["wrong username or password"]
    at = _log_in(at, "nobody", PASSWORD)
    assert errors(at) == [LOCKED_HERE]


def test_deactivated_account_is_refused(db_url):
    make_user("alice")
    with session_scope() as s:
        set_active(s, OPERATOR, "alice", False)
    at = _log_in(new_app().run(), "alice", PASSWORD)
    assert errors(at) == ["account `alice` is deactivated"]
    assert "user" not in at.session_state


def test_user_deactivated_while_logged_in_is_logged_out_on_next_run(sqlite_url):
    alice = make_user("alice")
    at = app_as(alice)
    with session_scope() as s:
        set_active(s, OPERATOR, "alice", False)
    at.run()
    assert "user" not in at.session_state
    assert [t.value for t in at.title] == ["labeler"]
    assert any("no longer active" in i.value for i in at.info)


def test_logout_forgets_the_user(sqlite_url):
    alice = make_user("alice")
    at = app_as(alice)
    at = at.sidebar.button(key="logout").click().run()
    assert "user" not in at.session_state
    assert [t.value for t in at.title] == ["labeler"]
    assert [i.value for i in at.info] == ["You have been logged out."]


def test_a_login_starts_a_stored_session_and_logout_ends_it(db_url):
    alice = make_user("alice")
    at = _log_in(new_app().run(), "alice", PASSWORD)
    token = at.session_state["login.token"]
    with session_scope(write=False) as s:
        assert resume_session(s, token).id == alice.id
    at = at.sidebar.button(key="logout").click().run()
    assert "user" not in at.session_state and "login.token" not in at.session_state
    with session_scope(write=False) as s:
        assert resume_session(s, token) is None


def test_a_password_change_elsewhere_ends_a_live_session(sqlite_url):
    make_user("alice")
    at = _log_in(new_app().run(), "alice", PASSWORD)
    with session_scope() as s:
        set_password(s, OPERATOR, "alice", "changed by the admin")
    at.run()
    assert "user" not in at.session_state
    assert [t.value for t in at.title] == ["labeler"]
    assert any("session has ended" in i.value for i in at.info)


def test_admins_land_on_the_dashboard_with_grouped_pages(sqlite_url):
    make_user("root", role="admin")
    at = _log_in(new_app().run(), "root", PASSWORD)
    assert at.title[0].value == "Dashboard"
