"""The Generate page (admins) and the Suggest button on Demonstrate, against the local fake OpenAI server."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db.models import Candidate, Demonstration
from labeler.services import session_scope
from tests.app.conftest import app_as, editor_send, editor_texts, errors, successes
from tests.app.data import make_task_project
from tests.factories import make_project, make_user
from tests.services.queue_data import add_prompts


def _candidates() -> list[Candidate]:
    with session_scope(write=False) as s:
        return list(s.scalars(select(Candidate)))


def test_admin_plans_then_generates_and_sees_the_summary(sqlite_url, fake_openai):
    make_project("p", generation_models=["m"])
    add_prompts("p", 3, candidates=0)
    at = app_as(make_user("boss", "admin"), "generate")
    assert at.title[0].value == "Generate" and not at.warning
    assert at.text_input(key="gen.models").value == "m"
    at.number_input(key="gen.k").set_value(2).run()
    at.button(key="gen.plan").click().run()
    assert not at.exception and not errors(at), errors(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Prompts needing candidates"] == "3" and metrics["Candidates to ask for"] == "6"
    assert fake_openai.received() == []
    at.button(key="gen.run").click().run()
    assert not at.exception and not errors(at), errors(at)
    assert any("6 candidate(s) stored for 3 prompt(s)" in m for m in successes(at))
    assert {m.label: m.value for m in at.metric}["Prompts done"] == "3 of 3"
    assert len(_candidates()) == 6 and all(c.origin == "generated" and c.model == "m" for c in _candidates())


def test_failures_are_listed_on_the_page(sqlite_url, fake_openai):
    make_project("p")
    add_prompts("p", 2, candidates=0)
    fake_openai.fail(400, times=1)  # not retried: that prompt fails, the other is done
    at = app_as(make_user("boss", "admin"), "generate")
    at.text_input(key="gen.models").set_value("m").run()
    at.number_input(key="gen.concurrency").set_value(1).run()
    at.button(key="gen.run").click().run()
    assert not at.exception
    assert any("1 prompt(s) failed" in w.value for w in at.warning)
    table = at.dataframe[0].value
    assert table["reason"].str.contains("400").all() and len(table) == 1


def test_without_a_key_the_page_says_which_variable_to_set(sqlite_url):
    make_project("p")
    at = app_as(make_user("boss", "admin"), "generate")
    assert any("`OPENAI_API_KEY`" in w.value for w in at.warning)
    assert at.button(key="gen.run").disabled


def test_admin_saves_model_settings_but_not_a_key(sqlite_url):
    make_project("p")
    at = app_as(make_user("boss", "admin"), "generate")
    at.text_input(key="gen.suggestion").set_value("helper")
    at.text_input(key="gen.key_env").set_value("sk-" + "k3y" * 12)
    at.button(key="FormSubmitter:gen.settings-Save model settings").click().run()
    assert any("NAME of an environment variable" in e for e in errors(at))
    at.text_input(key="gen.key_env").set_value("TEAM_KEY")
    at.button(key="FormSubmitter:gen.settings-Save model settings").click().run()
    assert not errors(at)
    assert any("TEAM_KEY" in w.value for w in at.warning)  # the key variable now named; not set here


def test_labelers_cannot_open_generate(sqlite_url):
    at = app_as(make_user("ann"))
    with pytest.raises(ValueError):
        at.switch_page("views/generate.py").run()


# ---- Suggest on Demonstrate ------------------------------------------------------------------------


def _demo_page(tmp_path, **settings):
    alice = make_user("alice")
    make_task_project(tmp_path, "work", ("alice",), n_prompts=2, k=2, **settings)
    at = app_as(alice)
    return at, at.session_state["demo.assignment"]


def test_suggest_fills_the_editor_and_is_stored_with_the_demonstration(sqlite_url, tmp_path, fake_openai):
    at, aid = _demo_page(tmp_path, suggestion_model="helper")
    at = at.button(key=f"demo.suggest.{aid}").click().run()
    assert not at.exception and not errors(at), errors(at)
    [draft] = editor_texts(at)
    body = fake_openai.received("/v1/chat/completions")[-1].json()
    assert draft and body["model"] == "helper" and body["messages"][-1]["role"] == "user"
    assert any("drafted by `helper`" in c.value for c in at.caption)
    editor_send(at, aid, [draft + " Edited."], "submit")
    with session_scope(write=False) as s:
        demo = s.scalars(select(Demonstration).where(Demonstration.status == "submitted")).one()
    assert demo.suggestion["text"] == draft and demo.suggestion["model"] == "helper"
    assert demo.turns[0]["content"] == draft + " Edited."


def test_no_suggest_button_without_a_suggestion_model(sqlite_url, tmp_path, fake_openai):
    at, aid = _demo_page(tmp_path)  # a key is set, but the project names no suggestion model
    assert not [b for b in at.button if b.key and b.key.startswith("demo.suggest")]


def test_a_failing_suggestion_is_an_error_message_not_a_traceback(sqlite_url, tmp_path, fake_openai):
    at, aid = _demo_page(tmp_path, suggestion_model="helper")
    fake_openai.fail(404, times=1)
    at = at.button(key=f"demo.suggest.{aid}").click().run()
    assert not at.exception
    assert any("no suggestion: 404" in e for e in errors(at)), errors(at)
    assert editor_texts(at) == [""]
    assert fake_openai.api_key not in " ".join(errors(at))
