"""The admin Projects page: overview, a new project through the form, settings and guidelines, members."""

from __future__ import annotations

import json
from typing import Literal

import pytest
from streamlit.testing.v1 import AppTest

from labeler.app.settings_form import changed_settings, field_kind
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.projects import ProjectSettings, get_project_or_raise, list_members, settings_of
from tests.app.conftest import VIEWS, app_as, errors, successes
from tests.factories import make_project, make_user


def _project(name: str):
    with session_scope(write=False) as s:
        project = get_project_or_raise(s, name)
        return project, settings_of(project), [u.username for u in list_members(s, OPERATOR, name)]


def test_empty_database_shows_the_form_and_how_to_start(sqlite_url):
    at = app_as(make_user("root", "admin"), "projects")
    assert not errors(at)
    assert "New project" in at.info[0].value
    assert at.text_input(key="projects.new.name").value == ""
    assert at.number_input(key="projects.new.set.k_max").value == 9


def test_create_a_project_through_the_form(db_url):
    at = app_as(make_user("root", "admin"), "projects")
    at.text_input(key="projects.new.name").input("support-bot")
    at.text_area(key="projects.new.guidelines").input("# Be kind\n\nAnswer **briefly**.")
    at.multiselect(key="projects.new.set.task_kinds").set_value(["ranking"])
    at.number_input(key="projects.new.set.k_max").set_value(4)
    at.number_input(key="projects.new.set.labels_per_item").set_value(3)
    at.text_input(key="projects.new.set.flags").input("rude, wrong")
    at.checkbox(key="projects.new.set.ties_allowed").uncheck()
    at.text_input(key="projects.new.set.split").input("70/20/10")
    at.checkbox(key="projects.new.set.scrub_pii").check()
    at.run()
    assert "Be kind" in " ".join(m.value for m in at.markdown)  # the live preview
    at.button(key="projects.new.create").click().run()
    assert not errors(at), errors(at)
    assert successes(at) == ["Project `support-bot` created."]
    project, settings, _ = _project("support-bot")
    assert project.guidelines == "# Be kind\n\nAnswer **briefly**."
    assert settings.task_kinds == ["ranking"] and settings.k_max == 4 and settings.labels_per_item == 3
    assert settings.flags == ["rude", "wrong"] and not settings.ties_allowed and settings.scrub_pii
    assert settings.split == (70, 20, 10)
    assert list(at.dataframe[0].value["project"]) == ["support-bot"]
    assert at.selectbox(key="projects.edit.project").value == "support-bot"


def test_a_duplicate_name_is_refused(sqlite_url):
    make_project("p")
    at = app_as(make_user("root", "admin"), "projects")
    at.text_input(key="projects.new.name").input("p")
    at.button(key="projects.new.create").click().run()
    assert errors(at) == ["project `p` already exists"]


def test_edit_settings_and_guidelines(db_url):
    make_project("p")
    project, _, _ = _project("p")
    ns = f"projects.edit.{project.id}"
    at = app_as(make_user("root", "admin"), "projects")
    at.text_area(key=f"{ns}.guidelines").input("New *rules*.")
    at.number_input(key=f"{ns}.set.lease_minutes").set_value(45)
    at.button(key=f"{ns}.save").click().run()
    assert not errors(at), errors(at)
    assert successes(at) == ["Project `p` saved (changed: `lease_minutes`)."]
    project, settings, _ = _project("p")
    assert project.guidelines == "New *rules*." and settings.lease_minutes == 45
    assert settings.k_max == 9  # untouched fields stay


@pytest.mark.parametrize(("field", "value", "named"), [
    ("k_min", 8, "k_min (8) is larger than k_max (3)"),
    ("split", "50/10/10", "`split`"),
    ("split", "eighty", "`split`: expected 3 whole numbers"),
])
def test_a_bad_setting_is_refused_naming_the_field_and_nothing_changes(sqlite_url, field, value, named):
    make_project("p", k_max=3, k_min=2)
    project, before, _ = _project("p")
    ns = f"projects.edit.{project.id}"
    at = app_as(make_user("root", "admin"), "projects")
    at.text_area(key=f"{ns}.guidelines").input("changed")
    widget = at.number_input(key=f"{ns}.set.{field}") if field == "k_min" else at.text_input(key=f"{ns}.set.{field}")
    widget.set_value(value)
    at.button(key=f"{ns}.save").click().run()
    [message] = errors(at)
    assert message.startswith("invalid project settings:") and named in message
    after, settings, _ = _project("p")
    assert settings == before and after.guidelines == project.guidelines


def test_advanced_json_and_more_settings(sqlite_url):
    make_project("p")
    project, _, _ = _project("p")
    ns = f"projects.edit.{project.id}"
    at = app_as(make_user("root", "admin"), "projects")
    assert at.number_input(key=f"{ns}.set.generation_temperature").value == 1.0
    at.number_input(key=f"{ns}.set.generation_temperature").set_value(0.5)
    at.button(key=f"{ns}.save").click().run()
    assert not errors(at), errors(at)
    assert _project("p")[1].generation_temperature == 0.5


def test_rename_keeps_the_project_selected(sqlite_url):
    make_project("old")
    project, _, _ = _project("old")
    ns = f"projects.edit.{project.id}"
    at = app_as(make_user("root", "admin"), "projects")
    at.text_input(key=f"{ns}.name").set_value("new")
    at.button(key=f"{ns}.save").click().run()
    assert not errors(at), errors(at)
    assert at.selectbox(key="projects.edit.project").value == "new"
    assert _project("new")[0].id == project.id


def test_members_are_added_and_removed(db_url):
    make_user("alice")
    make_user("bob")
    make_project("p", ("alice",))
    at = app_as(make_user("root", "admin"), "projects")
    assert at.multiselect(key="projects.members.p.list").value == ["alice"]
    at.multiselect(key="projects.members.p.list").set_value(["bob"])
    at.button(key="projects.members.p.save").click().run()
    assert successes(at) == ["Members of `p` saved: 1 added, 1 removed."]
    assert _project("p")[2] == ["bob"]


def test_a_labeler_cannot_open_the_page_and_the_services_refuse(sqlite_url):
    alice = make_user("alice")
    at = app_as(alice)
    with pytest.raises(ValueError):
        at.switch_page("views/projects.py").run()
    direct = AppTest.from_file(str(VIEWS / "projects.py"), default_timeout=30)
    direct.session_state["user"] = {"id": alice.id}
    direct.run()
    assert errors(direct) == ["`alice` is a labeler; this needs an admin"]
    assert not direct.text_input


@pytest.mark.parametrize(("annotation", "widget", "optional"), [
    (bool, "checkbox", False), (int, "int", False), (int | None, "int", True), (float, "float", False),
    (str | None, "text", True), (list[str], "names", False), (Literal["a", "b"], "choice", False),
    (list[Literal["a", "b"]], "choices", False), (tuple[int, int, int], "split", False),
    (dict[str, float], "json", False), (list[int], "json", False),
])
def test_every_settings_field_gets_a_widget_or_the_json_box(annotation, widget, optional):
    kind = field_kind(annotation)
    assert (kind.widget, kind.optional) == (widget, optional)


def test_every_current_setting_has_a_widget_in_the_form(sqlite_url):
    """A field added to ProjectSettings appears in the form without a change to the page."""
    at = app_as(make_user("root", "admin"), "projects")
    keys = {w.key for kind in ("number_input", "text_input", "checkbox", "multiselect", "selectbox", "text_area")
            for w in at.get(kind)}
    simple = {n for n, f in ProjectSettings.model_fields.items() if field_kind(f.annotation).widget != "json"}
    assert {f"projects.new.set.{n}" for n in simple} <= keys
    assert ("projects.new.set.advanced" in keys) == (simple != set(ProjectSettings.model_fields))
    current = ProjectSettings()
    assert changed_settings(current, current.model_dump(mode="json")) == {}
    assert changed_settings(current, {"k_max": 4, "split": [80, 10, 10]}) == {"k_max": 4}


class _Extended(ProjectSettings):
    """Settings as a later version might have them: a field no simple widget fits."""

    weights: dict[str, float] = {"helpful": 1.0}


def _form_script() -> None:
    import streamlit as st

    from labeler.app import settings_form as sf

    st.session_state["out"] = sf.settings_form("t", sf.ProjectSettings())


def test_a_field_without_a_widget_is_edited_in_the_advanced_json_box(monkeypatch):
    from labeler.app import settings_form as sf

    monkeypatch.setattr(sf, "ProjectSettings", _Extended)
    at = AppTest.from_function(_form_script, default_timeout=30).run()
    assert not at.exception, at.exception
    box = at.text_area(key="t.advanced")
    assert json.loads(box.value) == {"weights": {"helpful": 1.0}}
    box.set_value('{"weights": {"harmless": 2.0}}').run()
    values, problems = at.session_state["out"]
    assert problems == [] and values["weights"] == {"harmless": 2.0} and values["k_max"] == 9
    at.text_area(key="t.advanced").set_value("[1, 2]").run()
    _, problems = at.session_state["out"]
    assert problems == ["`advanced`: not a JSON object of settings (expected a JSON object)"]
