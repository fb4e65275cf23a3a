"""Suggestions: a model's draft of the demonstration's next assistant turn, from the local fake server."""

from __future__ import annotations

import logging

import pytest

from db.models import Demonstration
from labeler.errors import Conflict, Forbidden, Invalid
from labeler.services import session_scope
from labeler.services.labeling import submit_demonstration
from labeler.services.llm import ModelError
from labeler.services.queue import next_task
from labeler.services.suggest import suggest_reply, suggestion_model_for
from tests.factories import make_project, make_user
from tests.services.queue_data import add_prompts


def _lease(actor, project: str = "p") -> int:
    with session_scope() as s:
        return next_task(s, actor, project, "demonstration").assignment_id


def _suggest(actor, aid: int, turns=None) -> dict:
    with session_scope(write=False) as s:
        return suggest_reply(s, actor, aid, turns)


def test_a_suggestion_drafts_the_reply_and_is_stored_with_the_demonstration(db_url, fake_openai):
    ann = make_user("ann")
    make_project("p", ("ann",), suggestion_model="helper", suggestion_temperature=0.3, suggestion_max_tokens=50)
    add_prompts("p", 1, candidates=0)
    aid = _lease(ann)
    with session_scope(write=False) as s:
        assert suggestion_model_for(s, ann, "p") == "helper"
    suggestion = _suggest(ann, aid)
    assert suggestion["text"] and suggestion["model"] == "helper" and suggestion["turn"] == 0
    assert suggestion["params"] == {"temperature": 0.3, "max_tokens": 50, "n": 1}
    assert suggestion["finish_reason"] == "stop" and suggestion["usage"]["completion_tokens"] > 0
    body = fake_openai.received("/v1/chat/completions")[-1].json()
    assert body["model"] == "helper" and body["messages"] == [{"role": "user", "content": "question 0"}]
    edited = [{"role": "assistant", "content": suggestion["text"] + " (checked)"}]
    with session_scope() as s:
        did = submit_demonstration(s, ann, aid, edited, suggestion)
    with session_scope(write=False) as s:
        demo = s.get(Demonstration, did)
        assert demo.suggestion == suggestion and demo.turns == edited


def test_multi_turn_suggestion_sees_the_dialogue_so_far(sqlite_url, fake_openai):
    ann = make_user("ann")
    make_project("p", ("ann",), suggestion_model="helper")
    add_prompts("p", 1, candidates=0)
    aid = _lease(ann)
    turns = [{"role": "assistant", "content": "Hello."}, {"role": "user", "content": "More, please."},
             {"role": "assistant", "content": ""}]
    assert _suggest(ann, aid, turns)["turn"] == 2
    sent = fake_openai.received("/v1/chat/completions")[-1].json()["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"] and sent[-1]["content"] == "More, please."
    with pytest.raises(Invalid, match="turn 2 .* is empty"):
        _suggest(ann, aid, [turns[0], {"role": "user", "content": " "}, turns[2]])


def test_only_the_lease_holder_asks_and_only_when_a_model_is_set(sqlite_url, fake_openai):
    ann, bob = make_user("ann"), make_user("bob")
    make_project("p", ("ann", "bob"))
    add_prompts("p", 1, candidates=0)
    aid = _lease(ann)
    with session_scope(write=False) as s:
        assert suggestion_model_for(s, ann, "p") is None  # no suggestion model: no button
    with pytest.raises(Conflict, match="no suggestion model"):
        _suggest(ann, aid)
    with session_scope() as s:
        from labeler.services.actors import OPERATOR
        from labeler.services.projects import update_project

        update_project(s, OPERATOR, "p", settings={"suggestion_model": "helper"})
    with pytest.raises(Forbidden):
        _suggest(bob, aid)
    assert fake_openai.received() == []


def test_no_key_hides_suggestions(sqlite_url, fake_openai, monkeypatch):
    ann = make_user("ann")
    make_project("p", ("ann",), suggestion_model="helper")
    monkeypatch.delenv("OPENAI_API_KEY")
    with session_scope(write=False) as s:
        assert suggestion_model_for(s, ann, "p") is None


def test_a_failing_server_is_a_clean_error_without_the_key(sqlite_url, fake_openai, monkeypatch, caplog):
    ann = make_user("ann")
    make_project("p", ("ann",), suggestion_model="helper")
    add_prompts("p", 1, candidates=0)
    aid = _lease(ann)
    fake_openai.fail(500, times=5, headers={"retry-after-ms": "1"})
    with pytest.raises(ModelError, match="no suggestion: 500 server error"):
        _suggest(ann, aid)
    bad = "sk-bad-" + "7" * 30
    monkeypatch.setenv("OPENAI_API_KEY", bad)
    with caplog.at_level(logging.DEBUG), pytest.raises(ModelError) as e:
        _suggest(ann, aid)
    assert "401" in str(e.value) and bad not in str(e.value) and bad not in caplog.text
