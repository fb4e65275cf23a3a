"""The admin Users page: accounts, create, role, (de)activate, passwords, projects; checked via the auth service."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from db.models import Event
from labeler.errors import Forbidden
from labeler.services import session_scope
from labeler.services.admin import reset_password, set_user_projects, user_projects, users_overview
from labeler.services.auth import actor_for, authenticate, get_user_or_raise
from tests.app.conftest import VIEWS, app_as, errors, successes
from tests.factories import PASSWORD, make_project, make_user


def _login(username: str, password: str) -> str:
    with session_scope() as s:
        result = authenticate(s, username, password)
        return "ok" if result.ok else result.message


def _user(username: str):
    with session_scope(write=False) as s:
        return get_user_or_raise(s, username)


def _admin_page():
    return app_as(make_user("root", "admin"), "users")


def test_the_table_lists_accounts_with_their_projects(db_url):
    make_user("alice")
    make_project("p", ("alice",))
    at = _admin_page()
    assert not errors(at)
    frame = at.dataframe[0].value
    assert list(frame["username"]) == ["alice", "root"]
    assert list(frame["projects"]) == ["p", ""]
    assert list(frame["role"]) == ["labeler", "admin"]


def test_create_with_a_typed_password_then_log_in(db_url):
    at = _admin_page()
    at.text_input(key="users.new.username").input("carol")
    at.selectbox(key="users.new.role").set_value("reviewer")
    at.checkbox(key="users.new.generate").uncheck().run()
    at.text_input(key="users.new.password").input("a good long password")
    at.button(key="users.new.create").click().run()
    assert not errors(at), errors(at)
    assert successes(at) == ["Account `carol` created as reviewer."]
    assert _user("carol").role == "reviewer"
    assert _login("carol", "a good long password") == "ok"
    assert at.selectbox(key="users.user").value == "carol"


def test_create_with_a_generated_password_shown_once(sqlite_url):
    at = _admin_page()
    at.text_input(key="users.new.username").input("dave")
    at.button(key="users.new.create").click().run()
    assert not errors(at), errors(at)
    [shown] = [c.value for c in at.code]
    assert _login("dave", shown) == "ok"
    at.run()  # the next run no longer shows it
    assert not at.code
    with session_scope(write=False) as s:  # the audit log never holds the password
        details = [e.details for e in s.scalars(select(Event))]
    assert shown not in repr(details)


def test_a_short_password_is_refused_and_no_account_is_made(sqlite_url):
    at = _admin_page()
    at.text_input(key="users.new.username").input("erin")
    at.checkbox(key="users.new.generate").uncheck().run()
    at.text_input(key="users.new.password").input("short")
    at.button(key="users.new.create").click().run()
    assert errors(at) == ["password too short: at least 8 characters"]
    with session_scope(write=False) as s:
        assert [r["username"] for r in users_overview(s, _root(s))] == ["root"]


def _root(session):
    return actor_for(get_user_or_raise(session, "root"))


def test_change_role_deactivate_activate(db_url):
    make_user("alice")
    at = _admin_page()
    at.selectbox(key="users.user").set_value("alice").run()
    at.selectbox(key="users.u.alice.role").set_value("reviewer").run()
    at.button(key="users.u.alice.set_role").click().run()
    assert successes(at) == ["`alice` is now reviewer."]
    assert _user("alice").role == "reviewer"
    at.button(key="users.u.alice.deactivate").click().run()
    assert not _user("alice").active
    assert _login("alice", PASSWORD) == "account `alice` is deactivated"
    at.button(key="users.u.alice.activate").click().run()
    assert _user("alice").active and _login("alice", PASSWORD) == "ok"


def test_an_admin_cannot_deactivate_themselves(sqlite_url):
    at = _admin_page()
    at.button(key="users.u.root.deactivate").click().run()
    assert errors(at) == ["you cannot deactivate your own account"]
    assert _user("root").active


def test_reset_password_typed_and_generated(db_url):
    make_user("alice")
    at = _admin_page()
    at.selectbox(key="users.user").set_value("alice").run()
    at.text_input(key="users.u.alice.password").input("brand new secret")
    at.button(key="users.u.alice.set_password").click().run()
    assert successes(at) == ["Password of `alice` changed."]
    assert _login("alice", "brand new secret") == "ok"
    at.button(key="users.u.alice.reset").click().run()
    [generated] = [c.value for c in at.code]
    assert _login("alice", "brand new secret") == "wrong username or password"
    assert _login("alice", generated) == "ok"


def test_project_membership_of_a_user(db_url):
    make_user("alice")
    make_project("a")
    make_project("b", ("alice",))
    at = _admin_page()
    at.selectbox(key="users.user").set_value("alice").run()
    assert at.multiselect(key="users.u.alice.projects").value == ["b"]
    at.multiselect(key="users.u.alice.projects").set_value(["a"])
    at.button(key="users.u.alice.save_projects").click().run()
    assert successes(at) == ["Projects of `alice` saved: 1 added, 1 removed."]
    with session_scope(write=False) as s:
        assert user_projects(s, _root(s), "alice") == ["a"]


def test_the_admin_services_refuse_non_admins(sqlite_url):
    alice = make_user("alice")
    make_project("p")
    with session_scope() as s:
        for call in (lambda: users_overview(s, alice), lambda: user_projects(s, alice, "alice"),
                     lambda: set_user_projects(s, alice, "alice", ["p"]), lambda: reset_password(s, alice, "alice")):
            with pytest.raises(Forbidden, match="`alice` is a labeler; this needs an admin"):
                call()


def test_a_labeler_cannot_open_the_page(sqlite_url):
    alice = make_user("alice")
    at = app_as(alice)
    with pytest.raises(ValueError):
        at.switch_page("views/users.py").run()
    direct = AppTest.from_file(str(VIEWS / "users.py"), default_timeout=30)
    direct.session_state["user"] = {"id": alice.id}
    direct.run()
    assert errors(direct) == ["`alice` is a labeler; this needs an admin"]
    assert not direct.dataframe and not direct.text_input
