"""Projects: validated settings, updates, memberships and who may see what."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db.models import Project
from labeler.errors import Conflict, Forbidden, Invalid
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.projects import (
    INSTRUCTGPT_FLAGS,
    add_member,
    create_project,
    get_project_for,
    list_members,
    list_projects,
    remove_member,
    settings_of,
    update_project,
)
from tests.factories import make_project, make_user


def test_defaults_follow_instructgpt(db_url):
    make_project("p")
    with session_scope() as s:
        settings = settings_of(s.scalar(select(Project)))
    assert settings.flags == list(INSTRUCTGPT_FLAGS)
    assert (settings.k_min, settings.k_max, settings.labels_per_item) == (2, 9, 1)
    assert settings.max_prompts_per_user == 200 and tuple(settings.split) == (80, 10, 10)
    assert settings.task_kinds == ["demonstration", "ranking"] and settings.ties_allowed


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"k_min": 1}, "k_min"),
        ({"k_max": 10}, "k_max"),
        ({"k_min": 6, "k_max": 4}, "k_min"),
        ({"labels_per_item": 0}, "labels_per_item"),
        ({"labels_per_item": 11}, "labels_per_item"),
        ({"lease_minutes": 0}, "lease_minutes"),
        ({"task_kinds": ["essay"]}, "task_kinds"),
        ({"task_kinds": []}, "task_kinds"),
        ({"split": [50, 50, 50]}, "split"),
        ({"flags": ["a", "a"]}, "flags"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_invalid_settings_are_refused_with_the_field_named(db_url, settings, field):
    with pytest.raises(Invalid, match=field), session_scope() as s:
        create_project(s, OPERATOR, "p", "", settings)
    with session_scope() as s:
        assert s.scalars(select(Project)).all() == []


def test_update_merges_settings_and_keeps_the_rest(db_url):
    make_project("p", k_max=5)
    with session_scope() as s:
        update_project(s, OPERATOR, "p", settings={"labels_per_item": 3}, guidelines="# Be kind")
    with session_scope() as s:
        project = s.scalar(select(Project))
        settings = settings_of(project)
        assert (settings.k_max, settings.labels_per_item) == (5, 3)
        assert project.guidelines == "# Be kind"
    with pytest.raises(Invalid), session_scope() as s:
        update_project(s, OPERATOR, "p", settings={"k_min": 7})  # 7 > k_max 5


def test_duplicate_project_name_is_a_conflict(db_url):
    make_project("p")
    with pytest.raises(Conflict), session_scope() as s:
        create_project(s, OPERATOR, "p")


def test_labelers_see_only_their_projects_and_cannot_manage(db_url):
    alice = make_user("alice")
    make_project("mine", members=("alice",))
    make_project("theirs")
    with session_scope() as s:
        assert [p.name for p in list_projects(s, alice)] == ["mine"]
        assert [p.name for p in list_projects(s, OPERATOR)] == ["mine", "theirs"]
        get_project_for(s, alice, "mine")
        with pytest.raises(Forbidden):
            get_project_for(s, alice, "theirs")
        with pytest.raises(Forbidden):
            create_project(s, alice, "new")
        with pytest.raises(Forbidden):
            update_project(s, alice, "mine", guidelines="")
        with pytest.raises(Forbidden):
            add_member(s, alice, "theirs", "alice")


def test_membership_add_is_idempotent_and_remove_works(db_url):
    make_user("alice")
    make_project("p")
    with session_scope() as s:
        add_member(s, OPERATOR, "p", "alice")
        add_member(s, OPERATOR, "p", "alice")
        assert [u.username for u in list_members(s, OPERATOR, "p")] == ["alice"]
        remove_member(s, OPERATOR, "p", "alice")
        assert list_members(s, OPERATOR, "p") == []
