"""Preferences: stored per user, only known keys with values of the right type, each user their own."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db.models import User
from labeler.errors import Invalid
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.preferences import get_preferences, set_preference
from tests.factories import make_user


def _get(actor):
    with session_scope(write=False) as s:
        return get_preferences(s, actor)


def _set(actor, key, value):
    with session_scope() as s:
        return set_preference(s, actor, key, value)


def test_markdown_is_off_by_default(db_url):
    alice = make_user("alice")
    assert _get(alice) == {"show_markdown": False}
    assert _get(OPERATOR) == {"show_markdown": False}
    with session_scope(write=False) as s:
        assert s.scalar(select(User.preferences).where(User.id == alice.id)) == {}


def test_set_then_get_in_a_new_transaction(db_url):
    alice = make_user("alice")
    assert _set(alice, "show_markdown", True) == {"show_markdown": True}
    assert _get(alice) == {"show_markdown": True}
    _set(alice, "show_markdown", False)
    assert _get(alice) == {"show_markdown": False}
    with session_scope(write=False) as s:
        assert s.scalar(select(User.preferences).where(User.id == alice.id)) == {"show_markdown": False}


def test_an_unknown_key_is_refused_and_nothing_is_stored(db_url):
    alice = make_user("alice")
    with pytest.raises(Invalid, match="unknown preference `theme`"):
        _set(alice, "theme", "dark")
    with session_scope(write=False) as s:
        assert s.scalar(select(User.preferences).where(User.id == alice.id)) == {}


@pytest.mark.parametrize("value", [1, 0, "true", None, [True]])
def test_a_value_of_the_wrong_type_is_refused(db_url, value):
    alice = make_user("alice")
    with pytest.raises(Invalid, match="must be a bool"):
        _set(alice, "show_markdown", value)
    assert _get(alice) == {"show_markdown": False}


def test_another_user_is_unaffected(db_url):
    alice, bob = make_user("alice"), make_user("bob", role="reviewer")
    _set(alice, "show_markdown", True)
    assert _get(bob) == {"show_markdown": False}
    _set(bob, "show_markdown", True)
    _set(alice, "show_markdown", False)
    assert (_get(alice), _get(bob)) == ({"show_markdown": False}, {"show_markdown": True})


def test_the_cli_operator_has_no_account_to_store_in(db_url):
    with pytest.raises(Invalid, match="no account"):
        _set(OPERATOR, "show_markdown", True)


def test_stale_or_mistyped_stored_values_read_as_defaults(db_url):
    alice = make_user("alice")
    with session_scope() as s:
        s.get(User, alice.id).preferences = {"show_markdown": "yes", "retired_key": 3}
    assert _get(alice) == {"show_markdown": False}
