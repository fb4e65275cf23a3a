"""The run loop: prompts planned in chunks, model calls in flight within bounds, results stored by a hook.

Design constraints:
- **A run owns its transactions**: it lasts minutes to hours, so it reads and writes in short
  sessions from `session_scope(url)` and never holds a transaction across a model call (labelers
  keep working on SQLite, one writer, meanwhile). Each prompt's results are stored whole or not at
  all, so an interrupted run resumes where it stopped (its job re-plans what is missing).
- **Bounded concurrency**: the calls run on an asyncio loop in the calling thread, at most
  `concurrency` requests in flight (a semaphore), 2 x `concurrency` prompts scheduled at once and
  pending prompts read in chunks (memory flat).
- **Group commit**: finished prompts queue up for one writer, which stores everything waiting in one
  short transaction; a failed batch is retried prompt by prompt, so one bad prompt never takes
  others with it.
- **Failures**: the backend retries what can be retried; what still fails is reported per prompt
  and the run goes on. `Refused` stops the run at once, and so do `BREAKER` failures in a row before
  any success (a wrong URL or model name would otherwise fail every prompt slowly).
- **Hooks**: a `Job` plans (`pending`), asks (`work`, through `Runner.complete`, which counts requests
  and tokens) and stores (`store`); generation, augmentation and suggestions are jobs or callers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from labeler.services import session_scope
from labeler.services.engine.backend import Backend, ChatRequest, Completion, PromptFailed, Refused

CHUNK = 500  # pending prompts read per query
WRITE_BATCH = 256  # most prompts stored in one transaction
BREAKER = 10  # failures in a row, before any success, that stop a run
Progress = Callable[[int, int], None]  # (prompts finished, prompts planned)
T = TypeVar("T")


@dataclass(frozen=True)
class PromptFailure:
    """A prompt whose results were not stored, and why."""

    prompt_id: int
    reason: str


@dataclass
class RunSummary:
    """What a run did."""

    project: str
    models: list[str]
    k: int
    prompts_planned: int = 0
    prompts_done: int = 0
    candidates: int = 0  # results stored
    duplicates: int = 0  # results identical to a stored one (or to each other), not stored
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failures: list[PromptFailure] = field(default_factory=list)
    aborted: str | None = None  # why the run stopped early, if it did
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return len(self.failures)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failed": self.failed}


@dataclass(frozen=True)
class Result:
    """A prompt's new rows, ready to store."""

    prompt_id: int
    rows: list[dict[str, Any]]


class Work(Protocol):
    """A unit a job plans: one prompt."""

    prompt_id: int


Stored = list[tuple[int, int, int]]  # (prompt id, rows stored, rows dropped as duplicates)


class Job(Protocol):
    """What a user of the engine supplies (see the module docstring)."""

    stores: str  # what a failed store message names ("candidates", "paraphrases")

    def pending(self, session: Session, after_id: int, size: int) -> Sequence[Work]: ...

    async def work(self, run: Runner, item: Any) -> list[dict[str, Any]]: ...

    def store(self, session: Session, batch: list[Result]) -> Stored: ...


class Runner:
    """One run of a job against a backend: schedules prompts, counts usage, hands results to the writer."""

    def __init__(self, job: Job, backend: Backend, summary: RunSummary, *, concurrency: int, limit: int | None,
                 url: str | None, progress: Progress | None) -> None:
        self.job, self.backend, self.summary = job, backend, summary
        self.concurrency, self.limit, self.url, self.progress = concurrency, limit, url, progress
        self.finished = 0
        self.failures_in_a_row = 0
        self.any_success = False
        self.started = time.perf_counter()

    def run(self) -> RunSummary:
        """Run to the end (or the breaker), from any thread; the summary is filled in as it goes."""
        return run_coroutine(self.main())

    async def complete(self, request: ChatRequest) -> Completion:
        """One request through the backend within the concurrency bound; counts it and its tokens."""
        async with self.sem:
            answer = await self.backend.complete(request)
        self.summary.requests += 1
        self.summary.prompt_tokens += answer.usage.get("prompt_tokens", 0)
        self.summary.completion_tokens += answer.usage.get("completion_tokens", 0)
        return answer

    # -- the loop -------------------------------------------------------------------------------

    async def main(self) -> RunSummary:
        self.sem = asyncio.Semaphore(self.concurrency)
        self.queue: asyncio.Queue[Result | None] = asyncio.Queue()
        writer = asyncio.create_task(self._writer())
        in_flight: set[asyncio.Task[None]] = set()
        self._report()  # 0 of N: the bar appears before the first answer
        try:
            try:
                await self._schedule(in_flight)
                if self.summary.aborted:
                    for task in in_flight:
                        task.cancel()
                if in_flight:
                    await asyncio.gather(*in_flight, return_exceptions=True)
            finally:
                await self.backend.aclose()
        finally:
            await self.queue.put(None)
            await writer
        self.summary.seconds = round(time.perf_counter() - self.started, 3)
        self._report()
        return self.summary

    async def _schedule(self, in_flight: set[asyncio.Task[None]]) -> None:
        window = self.concurrency * 2  # prompts in flight: enough to keep every request slot busy
        after, scheduled, limit = 0, 0, self.limit
        while not self.summary.aborted and (limit is None or scheduled < limit):
            size = CHUNK if limit is None else min(CHUNK, limit - scheduled)
            with session_scope(self.url, write=False) as s:
                chunk = self.job.pending(s, after, size)
            if not chunk:
                return
            after = chunk[-1].prompt_id
            for item in chunk:
                while len(in_flight) >= window:
                    _, in_flight_left = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                    in_flight.intersection_update(in_flight_left)
                if self.summary.aborted:
                    return
                in_flight.add(asyncio.create_task(self._prompt(item)))
                scheduled += 1

    async def _prompt(self, item: Work) -> None:
        """All of a prompt's work; its rows go to the writer only when all of it succeeds."""
        try:
            rows = await self.job.work(self, item)
        except Refused as e:
            if not self.summary.aborted:
                self.summary.aborted = str(e)
            return
        except PromptFailed as e:
            self._fail(item.prompt_id, str(e))
            return
        await self.queue.put(Result(item.prompt_id, rows))

    def _fail(self, prompt_id: int, reason: str) -> None:
        self.summary.failures.append(PromptFailure(prompt_id, reason))
        self.failures_in_a_row += 1
        self.finished += 1
        if not self.any_success and self.failures_in_a_row >= BREAKER and not self.summary.aborted:
            self.summary.aborted = f"stopped after {BREAKER} failures in a row and no success; the last: {reason}"
        self._report()

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(self.finished, self.summary.prompts_planned)

    # -- the writer -----------------------------------------------------------------------------

    async def _writer(self) -> None:
        """Store finished prompts: everything waiting goes into one transaction."""
        done = False
        while not done:
            first = await self.queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < WRITE_BATCH and not self.queue.empty():
                nxt = self.queue.get_nowait()
                if nxt is None:
                    done = True
                    break
                batch.append(nxt)
            stored, failed = await asyncio.to_thread(self._store_batch, batch)
            for _pid, new, duplicates in stored:
                self.summary.prompts_done += 1
                self.summary.candidates += new
                self.summary.duplicates += duplicates
                self.finished += 1
                self.any_success, self.failures_in_a_row = True, 0
            for pid, reason in failed:
                self._fail(pid, reason)
            self._report()

    def _store_batch(self, batch: list[Result]) -> tuple[Stored, list[tuple[int, str]]]:
        try:
            with session_scope(self.url) as s:
                return self.job.store(s, batch), []
        except SQLAlchemyError:
            pass  # one prompt spoiled the batch: store them one by one to find it
        stored: Stored = []
        failed = []
        for result in batch:
            try:
                with session_scope(self.url) as s:
                    stored += self.job.store(s, [result])
            except SQLAlchemyError as e:
                failed.append((result.prompt_id, f"could not store the {self.job.stores}: {type(e).__name__}: "
                                                 f"{str(getattr(e, 'orig', None) or e).splitlines()[0]}"))
        return stored, failed


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, also from a thread that already runs an event loop (then in a helper thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
