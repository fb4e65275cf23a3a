"""Generation of candidates against a real local OpenAI-compatible HTTP server (tests/fake_openai).

The openai SDK talks to the server over HTTP; nothing is mocked inside the process. Faults come
from the server (`api.fail`), with `retry-after-ms` headers so the SDK's backoff stays short.
"""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from db.models import Candidate, Event, Project
from labeler.errors import Forbidden, Invalid
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.generate import (
    GenerationRequest,
    allocate,
    plan_generation,
    run_generation,
)
from tests.factories import make_project, make_user
from tests.fake_openai.chat import reply_text
from tests.services.queue_data import add_prompts

FAST_RETRY = {"retry-after-ms": "1"}


def _candidates() -> dict[int, list[Candidate]]:
    with session_scope(write=False) as s:
        out: dict[int, list[Candidate]] = {}
        for c in s.scalars(select(Candidate).order_by(Candidate.prompt_id, Candidate.id)):
            out.setdefault(c.prompt_id, []).append(c)
        return out


def _chat_bodies(api) -> list[dict]:
    return [r.json() for r in api.received("/v1/chat/completions")]


def _run(**kw):
    kw.setdefault("concurrency", 4)
    return run_generation(OPERATOR, GenerationRequest(project="p", **kw))


def test_k_candidates_per_prompt_with_their_provenance(db_url, fake_openai):
    make_project("p")
    ids = add_prompts("p", 5, candidates=0)
    progress: list[tuple[int, int]] = []
    summary = run_generation(OPERATOR, GenerationRequest(project="p", k=4, models=("m-1",), temperature=0.8,
                                                         max_tokens=20), progress=lambda d, t: progress.append((d, t)))
    stored = _candidates()
    assert sorted(stored) == ids and all(len(cs) == 4 for cs in stored.values())
    for cs in stored.values():
        assert len({c.text for c in cs}) == 4
        for c in cs:
            assert c.origin == "generated" and c.model == "m-1" and c.seed == 0
            assert c.params == {"temperature": 0.8, "top_p": 1.0, "max_tokens": 20, "n": 4}
            assert c.finish_reason in ("stop", "length")
            assert c.usage["completion_tokens"] > 0 and c.usage["prompt_tokens"] > 0 and c.usage["choices"] == 4
            assert c.meta["response_id"].startswith("chatcmpl-") and c.meta["system_fingerprint"].startswith("fp_")
    bodies = _chat_bodies(fake_openai)
    assert len(bodies) == 5
    assert all(b["n"] == 4 and b["model"] == "m-1" and b["seed"] == 0 and b["max_tokens"] == 20 for b in bodies)
    assert sorted(b["messages"][0]["content"] for b in bodies) == [f"question {i}" for i in range(5)]
    assert (summary.prompts_planned, summary.prompts_done, summary.candidates, summary.failed) == (5, 5, 20, 0)
    assert summary.requests == 5 and summary.completion_tokens == sum(c.usage["completion_tokens"]
                                                                      for cs in stored.values() for c in cs[:1])
    assert summary.prompt_tokens > 0 and summary.aborted is None
    assert progress[-1] == (5, 5)
    with session_scope(write=False) as s:
        event = s.scalars(select(Event).where(Event.action == "generation.run")).one()
        assert event.details["candidates"] == 20 and event.details["models"] == ["m-1"]
    again = _run(k=4, models=("m-1",))  # nothing left to do
    assert (again.prompts_planned, again.requests) == (0, 0) and len(_chat_bodies(fake_openai)) == 5


def test_several_models_share_k_and_existing_candidates_count(db_url, fake_openai):
    make_project("p", generation_models=["a", "b"])
    fresh, partial = add_prompts("p", 1, candidates=0)[0], add_prompts("p", 1, candidates=1)[0]
    summary = _run(k=4)
    stored = _candidates()
    assert sorted(c.model for c in stored[fresh]) == ["a", "a", "b", "b"]
    assert sorted(str(c.model) for c in stored[partial]) == ["None", "a", "a", "b"]  # 1 existing + 3 new
    assert summary.candidates == 7
    by_model = {(b["model"], b["messages"][0]["content"]): b["n"] for b in _chat_bodies(fake_openai)}
    assert by_model == {("a", "question 0"): 2, ("b", "question 0"): 2, ("a", "question 1"): 2,
                        ("b", "question 1"): 1}


def test_allocation_completes_each_models_share():
    from collections import Counter

    assert allocate(4, ("a", "b"), Counter(), 4) == {"a": 2, "b": 2}
    assert allocate(2, ("a", "b"), Counter({"a": 2}), 4) == {"a": 0, "b": 2}  # resume completes b's share
    assert allocate(5, ("a", "b", "c"), Counter(), 5) == {"a": 2, "b": 2, "c": 1}
    assert allocate(0, ("a",), Counter(), 4) == {"a": 0}


def test_resume_after_an_interrupted_run(db_url, fake_openai):
    make_project("p")
    ids = add_prompts("p", 12, candidates=0)

    class Interrupted(Exception):
        pass

    def interrupt(done: int, total: int) -> None:
        if done >= 2:
            raise Interrupted  # as if the process were stopped after two prompts were stored

    with pytest.raises(Interrupted):
        run_generation(OPERATOR, GenerationRequest(project="p", k=3, models=("m",), concurrency=1),
                       progress=interrupt)
    first = _candidates()
    # whole prompts only (the writer stores what has arrived in batches, far fewer than 12 at a time)
    assert 2 <= len(first) < 12 and all(len(cs) == 3 for cs in first.values())
    asked_before = len(_chat_bodies(fake_openai))
    summary = _run(k=3, models=("m",))
    stored = _candidates()
    assert sorted(stored) == ids and all(len(cs) == 3 for cs in stored.values())
    assert summary.prompts_planned == 12 - len(first) and summary.duplicates == 0
    resumed = {b["messages"][0]["content"] for b in _chat_bodies(fake_openai)[asked_before:]}
    assert not resumed & {f"question {ids.index(pid)}" for pid in first}  # finished prompts not asked again
    # a larger K later asks only for the missing ones, with the next seed
    _run(k=5, models=("m",), limit=1)
    last = _chat_bodies(fake_openai)[-1]
    assert (last["n"], last["seed"]) == (2, 3)
    assert len(_candidates()[ids[0]]) == 5


def test_a_server_returning_fewer_choices_than_n_is_asked_again(db_url, fake_openai):
    fake_openai.state["max_choices"] = 1  # Ollama ignores n
    make_project("p")
    add_prompts("p", 2, candidates=0)
    summary = _run(k=3, models=("llama",))
    stored = _candidates()
    assert all(len(cs) == 3 and len({c.text for c in cs}) == 3 for cs in stored.values())
    per_prompt = sorted((b["messages"][0]["content"], b["n"], b["seed"]) for b in _chat_bodies(fake_openai))
    assert per_prompt == [("question 0", 1, 2), ("question 0", 2, 1), ("question 0", 3, 0),
                          ("question 1", 1, 2), ("question 1", 2, 1), ("question 1", 3, 0)]
    assert sorted(c.seed for c in stored[min(stored)]) == [0, 1, 2]
    assert summary.requests == 6 and summary.candidates == 6


def test_rate_limits_and_server_errors_are_retried(sqlite_url, fake_openai):
    make_project("p")
    add_prompts("p", 3, candidates=0)
    fake_openai.fail(429, times=2, headers=FAST_RETRY)
    fake_openai.fail(503, times=1, headers=FAST_RETRY)
    summary = _run(k=2, models=("m",), max_retries=3)
    assert (summary.prompts_done, summary.failed) == (3, 0)
    assert len(_chat_bodies(fake_openai)) == 3 + 3


def test_a_failing_prompt_does_not_stop_the_others(db_url, fake_openai):
    make_project("p")
    ids = add_prompts("p", 4, candidates=0)
    fake_openai.fail(500, times=2, headers=FAST_RETRY)  # the first prompt's request and its one retry
    summary = _run(k=2, models=("m",), max_retries=1, concurrency=1)
    assert summary.failed == 1 and summary.prompts_done == 3 and summary.aborted is None
    failure = summary.failures[0]
    assert failure.prompt_id == ids[0] and "500" in failure.reason and "`m`" in failure.reason
    assert sorted(_candidates()) == ids[1:]
    retry = _run(k=2, models=("m",))  # running again retries just that prompt
    assert (retry.prompts_planned, retry.prompts_done) == (1, 1) and sorted(_candidates()) == ids


def test_a_malformed_answer_is_reported_for_its_prompt(sqlite_url, fake_openai):
    make_project("p")
    add_prompts("p", 3, candidates=0)
    fake_openai.fail(200, body=b"{not json")
    fake_openai.fail(200, body=b'{"object": "chat.completion", "id": "x"}')
    summary = _run(k=2, models=("m",), concurrency=1)
    reasons = sorted(f.reason for f in summary.failures)
    assert len(reasons) == 2 and all("malformed answer" in r for r in reasons), reasons
    assert any("not JSON" in r for r in reasons) and any("no `choices`" in r for r in reasons)
    assert summary.prompts_done == 1


def test_a_timeout_is_retried_then_reported(sqlite_url, fake_openai):
    make_project("p")
    add_prompts("p", 2, candidates=0)
    fake_openai.fail(200, delay=2.0, times=2)  # the first prompt: slower than the client waits, twice
    summary = _run(k=1, models=("m",), timeout=0.3, max_retries=1, concurrency=1)
    assert summary.failed == 1 and "timed out" in summary.failures[0].reason
    assert summary.prompts_done == 1


def test_not_found_is_reported_and_a_run_that_never_succeeds_stops(sqlite_url, fake_openai):
    make_project("p")
    add_prompts("p", 30, candidates=0)
    fake_openai.fail(404, times=100)
    summary = _run(k=1, models=("no-such-model",), concurrency=1)
    assert summary.aborted and "failures in a row" in summary.aborted and "404" in summary.aborted
    assert summary.failed == 10 and summary.prompts_done == 0
    assert "check the model name" in summary.failures[0].reason


def test_a_refused_key_stops_the_run_and_never_shows(sqlite_url, fake_openai, monkeypatch, caplog):
    bad_key = "sk-wrong-" + "9" * 40
    monkeypatch.setenv("OPENAI_API_KEY", bad_key)
    make_project("p")
    add_prompts("p", 20, candidates=0)
    with caplog.at_level(logging.DEBUG):
        summary = _run(k=2, models=("m",), concurrency=2)
    assert summary.aborted and "401" in summary.aborted and "refused" in summary.aborted
    assert summary.prompts_done == 0 and len(_chat_bodies(fake_openai)) < 20
    assert bad_key not in str(summary.to_dict()) and bad_key not in caplog.text
    assert any(r.name.startswith(("openai", "httpx", "httpcore")) for r in caplog.records)  # logs were captured
    _assert_not_in_database(bad_key)


def test_the_key_never_reaches_logs_or_the_database(db_url, fake_openai, caplog):
    make_project("p", model_api_key_env="OPENAI_API_KEY")
    add_prompts("p", 3, candidates=0)
    fake_openai.fail(429, headers=FAST_RETRY)
    with caplog.at_level(logging.DEBUG):
        summary = _run(k=2, models=("m",))
    assert summary.prompts_done == 3
    assert fake_openai.api_key not in caplog.text
    assert any(r.name.startswith(("openai", "httpx")) for r in caplog.records)
    assert all(r.headers["authorization"] == f"Bearer {fake_openai.api_key}" for r in fake_openai.received())
    _assert_not_in_database(fake_openai.api_key)


def _assert_not_in_database(secret: str) -> None:
    from db.models import Base

    with session_scope(write=False) as s:
        for table in Base.metadata.sorted_tables:
            for row in s.execute(select(table)):
                assert secret not in str(tuple(row)), f"the key is stored in `{table.name}`"


def test_a_project_refuses_a_key_where_the_variable_name_goes(sqlite_url):
    key = "sk-proj-" + "a1b2" * 10
    with pytest.raises(Invalid) as e:
        make_project("p", model_api_key_env=key)
    assert "environment variable" in str(e.value) and key not in str(e.value)
    with pytest.raises(Invalid, match="credentials"):
        make_project("q", model_base_url="https://user:secret@example.com/v1")
    with session_scope(write=False) as s:
        assert s.scalars(select(Project)).all() == []


def test_the_projects_server_and_key_variable_win(sqlite_url, fake_openai, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens there
    monkeypatch.setenv("OPENAI_API_KEY", "sk-other-key-that-is-wrong")
    monkeypatch.setenv("TEAM_LLM_KEY", fake_openai.api_key)
    make_project("p", model_base_url=fake_openai.base_url, model_api_key_env="TEAM_LLM_KEY")
    add_prompts("p", 1, candidates=0)
    assert _run(k=1, models=("m",)).prompts_done == 1


def test_no_key_or_no_model_is_a_clear_error_before_any_request(sqlite_url, fake_openai, monkeypatch):
    make_project("p")
    add_prompts("p", 1, candidates=0)
    with pytest.raises(Invalid, match="no model to generate with"):
        _run(k=2)
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(Invalid, match="`OPENAI_API_KEY`"):
        _run(k=2, models=("m",))
    assert fake_openai.received() == []


def test_dry_run_plans_without_asking(db_url, fake_openai):
    make_project("p")
    add_prompts("p", 3, candidates=0)
    add_prompts("p", 1, candidates=2)
    add_prompts("p", 1, candidates=4)
    with session_scope(write=False) as s:
        plan = plan_generation(s, OPERATOR, GenerationRequest(project="p", k=4, models=("a", "b"), max_tokens=100))
    assert (plan.prompts, plan.candidates, plan.requests) == (4, 14, 8)
    assert plan.est_completion_tokens_max == 1400 and plan.est_prompt_tokens > 8 * 3
    assert plan.sample[0]["model"] == "a" and plan.sample[0]["n"] == 2 and plan.sample[0]["seed"] == 0
    assert fake_openai.received() == []
    with session_scope(write=False) as s:
        limited = plan_generation(s, OPERATOR, GenerationRequest(project="p", k=4, models=("a",), limit=2))
    assert limited.prompts == 2


def test_duplicates_of_stored_candidates_are_not_stored_twice(sqlite_url, fake_openai):
    make_project("p")
    add_prompts("p", 1, candidates=0)
    fake_openai.state["reply_words"] = 5
    same = reply_text("question 0", "m", 0, 1.0, 1, words=5)  # what the server will answer as choice 1
    from labeler.services.ingest_labels import text_hash

    with session_scope() as s:
        s.add(Candidate(prompt_id=1, text=same, text_hash=text_hash(same), origin="imported"))
    summary = _run(k=3, models=("m",))
    assert summary.duplicates == 1 and summary.candidates == 1  # asked for 2, one already stored
    assert len(_candidates()[1]) == 2


def test_generation_is_for_admins(sqlite_url, fake_openai):
    ann = make_user("ann")
    make_project("p")
    with pytest.raises(Forbidden):
        run_generation(ann, GenerationRequest(project="p", k=2, models=("m",)))
    with session_scope(write=False) as s, pytest.raises(Forbidden):
        plan_generation(s, ann, GenerationRequest(project="p", k=2, models=("m",)))
