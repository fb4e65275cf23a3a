"""The model engine (labeler.services.engine): a backend behind a small protocol, the bounded run loop,
usage counting and the store hook; request bounds shared with the project settings.

The run tests plug in a second backend written here (in-process, as a local model would be), so they
show what a new backend needs to implement: `complete` and `aclose`.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from db.models import Candidate
from labeler.errors import Invalid
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.augment import AugmentRequest
from labeler.services.engine import (
    ChatRequest,
    Choice,
    Completion,
    PromptFailed,
    Refused,
    RequestFailed,
    Runner,
    RunOptions,
    RunSummary,
)
from labeler.services.engine.runner import BREAKER
from labeler.services.generate import GenerationRequest, run_generation
from labeler.services.projects import parse_settings
from labeler.services.suggest import request_suggestion
from tests.factories import make_project
from tests.services.queue_data import add_prompts


class EchoBackend:
    """Answers every request with `n` numbered echoes of the last message; counts what it saw."""

    def __init__(self, fail: set[str] = frozenset(), refuse: bool = False) -> None:
        self.fail, self.refuse = fail, refuse
        self.in_flight = self.most_in_flight = 0
        self.requests: list[ChatRequest] = []
        self.closed = False

    async def complete(self, request: ChatRequest) -> Completion:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.01)
            self.requests.append(request)
            if self.refuse:
                raise Refused("401 the API key was refused")
            text = request.messages[-1]["content"]
            if text in self.fail:
                raise RequestFailed(request.model, "500 server error")
            choices = [Choice(i, f"{text} #{i}", "stop") for i in range(request.n)]
            return Completion(request.model, choices, {"prompt_tokens": 3, "completion_tokens": 2 * request.n})
        finally:
            self.in_flight -= 1

    async def aclose(self) -> None:
        self.closed = True


class Item:
    def __init__(self, prompt_id: int, text: str) -> None:
        self.prompt_id, self.text = prompt_id, text


class EchoJob:
    """Plans prompt ids 1..N, asks for two replies each, stores them as candidates through the hook."""

    stores = "candidates"

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts

    def pending(self, session, after_id: int, size: int) -> list[Item]:
        return [Item(i, t) for i, t in enumerate(self.texts, 1) if i > after_id][:size]

    async def work(self, run: Runner, item: Item) -> list[dict]:
        answer = await run.complete(ChatRequest(model="echo", messages=[{"role": "user", "content": item.text}], n=2))
        if not answer.choices:
            raise PromptFailed("no reply")
        return [{"prompt_id": item.prompt_id, "text": c.text} for c in answer.choices]

    def store(self, session, batch) -> list[tuple[int, int, int]]:
        self.stored = getattr(self, "stored", []) + [row for r in batch for row in r.rows]
        return [(r.prompt_id, len(r.rows), 0) for r in batch]


def _run(job: EchoJob, backend: EchoBackend, concurrency: int = 3, limit: int | None = None) -> RunSummary:
    summary = RunSummary("p", ["echo"], 2, prompts_planned=len(job.texts))
    progress: list[tuple[int, int]] = []
    Runner(job, backend, summary, concurrency=concurrency, limit=limit, url=None,
           progress=lambda d, t: progress.append((d, t))).run()
    assert progress[0] == (0, len(job.texts)) and progress[-1][0] == summary.prompts_done + summary.failed
    return summary


def test_a_second_backend_runs_within_the_bound_and_its_usage_is_counted(sqlite_url):
    job, backend = EchoJob([f"q{i}" for i in range(20)]), EchoBackend(fail={"q7"})
    summary = _run(job, backend, concurrency=3)
    assert backend.most_in_flight == 3 and backend.closed  # never more than `concurrency` requests at once
    assert (summary.prompts_done, summary.candidates, summary.requests) == (19, 38, 19)
    assert (summary.prompt_tokens, summary.completion_tokens) == (3 * 19, 4 * 19)  # failed requests count nothing
    assert [(f.prompt_id, f.reason) for f in summary.failures] == [(8, "`echo`: 500 server error")]
    assert sorted(r["text"] for r in job.stored)[:2] == ["q0 #0", "q0 #1"] and len(job.stored) == 38
    assert summary.aborted is None


def test_a_limit_and_a_refused_key_and_the_breaker(sqlite_url):
    assert _run(EchoJob(["a", "b", "c", "d"]), EchoBackend(), limit=2).prompts_done == 2
    refused = _run(EchoJob(["a", "b", "c"]), EchoBackend(refuse=True))
    assert refused.aborted == "401 the API key was refused" and refused.prompts_done == 0
    texts = [f"bad{i}" for i in range(BREAKER + 5)]
    broken = _run(EchoJob(texts), EchoBackend(fail=set(texts)), concurrency=1)
    assert broken.aborted.startswith(f"stopped after {BREAKER} failures in a row") and broken.failed == BREAKER


def test_requests_and_settings_share_their_bounds():
    """`top_p = 0` was accepted in a request and refused as a setting; one bound now says no to both."""
    with pytest.raises(Invalid, match=r"`top_p` must be above 0 and at most 1, got 0"):
        GenerationRequest(project="p", top_p=0.0)
    with pytest.raises(Invalid, match="generation_top_p"):
        parse_settings({"generation_top_p": 0.0})
    with pytest.raises(Invalid, match=r"`temperature` must be within 0..2, got 3"):
        AugmentRequest(project="p", temperature=3)
    with pytest.raises(Invalid, match=r"`concurrency` must be within 1..256, got 0"):
        RunOptions(concurrency=0)
    with pytest.raises(Invalid, match=r"`k` must be within 1..9, got 10"):
        GenerationRequest(project="p", k=10)
    assert GenerationRequest(project="p", top_p=0.5).top_p == 0.5


def test_a_suggestion_is_one_request_through_the_engine(fake_openai):
    settings = parse_settings({"suggestion_model": "m", "suggestion_max_tokens": 50})
    out = request_suggestion(settings, [{"role": "user", "content": "Say hi."}], turn=0)
    assert out["model"] == "m" and out["text"] and out["params"] == {"temperature": 0.7, "max_tokens": 50, "n": 1}
    (body,) = [r.json() for r in fake_openai.received("/v1/chat/completions")]
    assert body["n"] == 1 and body["max_tokens"] == 50 and "top_p" not in body and "seed" not in body


def test_generated_candidates_still_land_in_the_store(db_url, fake_openai):
    make_project("p")
    add_prompts("p", 2, candidates=0)
    summary = run_generation(OPERATOR, GenerationRequest(project="p", k=2, models=("m",), concurrency=2))
    assert summary.candidates == 4 and summary.requests >= 2
    with session_scope(write=False) as s:
        assert len(s.scalars(select(Candidate)).all()) == 4
