"""Role gating: navigation per role, and each page checking again through the services."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import VIEWS, app_as, errors, new_app
from tests.factories import make_project, make_user


def test_labeler_cannot_switch_to_the_admin_page(sqlite_url):
    at = app_as(make_user("alice"))
    with pytest.raises(ValueError):
        at.switch_page("views/projects.py").run()


def test_a_role_kept_in_the_session_grants_nothing(sqlite_url):
    alice = make_user("alice")
    at = new_app()
    at.session_state["user"] = {"id": alice.id, "role": "admin", "username": "admin"}
    at.run()
    assert "(labeler)" in " ".join(c.value for c in at.sidebar.caption)
    with pytest.raises(ValueError):
        at.switch_page("views/projects.py").run()


def test_logged_out_visitors_only_reach_the_login_form(sqlite_url):
    at = new_app().run()
    with pytest.raises(ValueError):
        at.switch_page("views/rank.py").run()


def test_admin_page_itself_refuses_a_labeler(sqlite_url):
    """Even run directly (no navigation), the page's service call refuses a labeler."""
    alice = make_user("alice")
    at = AppTest.from_file(str(VIEWS / "projects.py"), default_timeout=30)
    at.session_state["user"] = {"id": alice.id}
    at.run()
    assert errors(at) == ["`alice` is a labeler; this needs an admin"]
    assert not at.dataframe


def test_admin_sees_the_projects_overview(db_url):
    admin = make_user("root", role="admin")
    make_project("alpha")
    make_project("beta")
    at = app_as(admin, "projects")
    assert not errors(at)
    frame = at.dataframe[0].value
    assert list(frame["project"]) == ["alpha", "beta"]
    assert list(frame["prompts"]) == [0, 0]


def test_admin_with_no_projects_is_told_how_to_start(sqlite_url):
    at = app_as(make_user("root", role="admin"), "projects")
    assert "labeler demo" in at.info[0].value
