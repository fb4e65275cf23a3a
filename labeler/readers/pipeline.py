"""Records made ready to store: hashes, split, PII scrubbed, JSON encoded — in batches.

This is the pure half of an import (no database). For big files it runs in a worker process, so
that parsing and hashing on one core overlap with the database writing on the other; a pipe
carries the batches, and its backpressure keeps memory flat. Small files run in-process (a
worker costs about half a second to start).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from labeler.hygiene import assign_split, content_hash, normalize_text, prefix_hash, root_key, scrub_pii
from labeler.readers import read_records
from labeler.readers.records import ImportRecord, Message, Notice, Reject

PARALLEL_MIN_BYTES = 16 * 2**20  # below this a worker process costs more than it saves


@dataclass(frozen=True)
class PrepareOptions:
    """The hygiene that shapes each record."""

    ratios: tuple[int, int, int]
    prefix_chars: int  # 0: no prefix dedup key
    scrub: bool
    min_candidates: int = 0  # records with fewer or more candidates are skipped (counted, not errors)
    max_candidates: int | None = None

    def keeps(self, record: ImportRecord) -> bool:
        """True when the record's number of candidates is within the wanted range."""
        n = len(record.candidates)
        return n >= self.min_candidates and (self.max_candidates is None or n <= self.max_candidates)


@dataclass(slots=True)
class Prepared:
    """One record ready to store: its dedup keys, split and encoded columns."""

    line: int
    chash: str
    phash: str | None
    split: str
    origin_user: str | None
    external_id: str | None
    messages_json: str
    meta_json: str
    record: ImportRecord | None  # kept only when it carries labels (candidates, a demonstration)

    @property
    def labeled(self) -> bool:
        return self.record is not None


Item = Prepared | Reject | Notice


def prepare(record: ImportRecord, options: PrepareOptions, pii: Counter) -> Prepared:
    """Hash, split and encode one record (scrubbing PII first when asked)."""
    if options.scrub:
        record = _scrub(record, pii)
    normalized = normalize_text(record.messages)
    chash = content_hash(normalized)
    phash = None
    if options.prefix_chars:
        # Near-duplicates are judged on what the user wrote last: a shared system prompt or a
        # shared earlier conversation does not make two prompts the same (InstructGPT's rule).
        last = normalized if len(record.messages) == 1 else normalize_text(record.messages[-1:])
        phash = prefix_hash(last, options.prefix_chars)
    labeled = record.candidates or record.demonstration
    user = record.origin_user
    if user is None:  # split by the conversation's root, so no dialogue straddles two splits
        root = root_key(record.messages, normalized, chash)
        if record.split_key is not None and record.split_key != root:
            user = record.split_key  # a carried key that is not the root names the originating user
    return Prepared(
        line=record.line,
        chash=chash,
        phash=phash,
        split=assign_split(user or root, options.ratios),
        origin_user=user,
        external_id=record.external_id,
        messages_json=orjson.dumps([{"role": m.role, "content": m.content} for m in record.messages]).decode(),
        meta_json=orjson.dumps(record.meta).decode(),
        record=record if labeled else None,
    )


def _scrub(record: ImportRecord, pii: Counter) -> ImportRecord:
    def clean(text: str) -> str:
        cleaned, counts = scrub_pii(text)
        pii.update(counts)
        return cleaned

    def clean_turns(turns: list[Message]) -> list[Message]:
        return [Message(role=m.role, content=clean(m.content)) for m in turns]

    return record.model_copy(
        update={
            "messages": clean_turns(record.messages),
            "candidates": [c.model_copy(update={"text": clean(c.text)}) for c in record.candidates],
            "demonstration": clean_turns(record.demonstration) if record.demonstration else None,
        }
    )


def prepared_batches(
    path: Path, fmt: str, options: PrepareOptions, max_record_bytes: int, batch_size: int, pii: Counter
) -> Iterator[list[Item]]:
    """Batches of prepared records, rejects and notices, in file order (in-process).

    A batch ends after `batch_size` rows, a prompt and each of its candidates counting one: a
    ranked prompt carries K replies, so counting records would make labelled batches K times the
    memory of prompt batches.
    """
    batch: list[Item] = []
    rows = 0
    for item in read_records(path, fmt, max_record_bytes=max_record_bytes):
        rows += 1
        if isinstance(item, ImportRecord):
            if options.keeps(item):
                batch.append(prepare(item, options, pii))
                rows += len(item.candidates)
            else:
                batch.append(Notice(line=item.line, kind="candidates_out_of_range",
                                    message=f"{len(item.candidates)} candidate(s)"))
        else:
            batch.append(item)
        if rows >= batch_size:
            yield batch
            batch, rows = [], 0
    if batch:
        yield batch


def batches(
    path: Path, fmt: str, options: PrepareOptions, max_record_bytes: int, batch_size: int, pii: Counter
) -> Iterator[list[Item]]:
    """Prepared batches, from a worker process when the file is big and a second core exists."""
    big = path.stat().st_size >= PARALLEL_MIN_BYTES
    if not big or (os.cpu_count() or 1) < 2:
        yield from prepared_batches(path, fmt, options, max_record_bytes, batch_size, pii)
        return
    yield from _from_worker(path, fmt, options, max_record_bytes, batch_size, pii)


def _from_worker(
    path: Path, fmt: str, options: PrepareOptions, max_record_bytes: int, batch_size: int, pii: Counter
) -> Iterator[list[Item]]:
    ctx = multiprocessing.get_context("spawn")  # never fork a process that may run threads (the app)
    receiver, sender = ctx.Pipe(duplex=False)
    worker = ctx.Process(
        target=_work, args=(sender, path, fmt, options, max_record_bytes, batch_size), daemon=True
    )
    worker.start()
    sender.close()
    try:
        while True:
            kind, payload = receiver.recv()
            if kind == "batch":
                yield payload
            elif kind == "error":
                raise payload
            else:  # "done"
                pii.update(payload)
                return
    finally:
        receiver.close()
        worker.join(timeout=5)
        if worker.is_alive():  # the caller stopped early (an error while storing): stop parsing
            worker.terminate()
            worker.join()


def _work(sender, path: Path, fmt: str, options: PrepareOptions, max_record_bytes: int, batch_size: int) -> None:  # noqa: ANN001
    """Worker process: parse and prepare, send batches; any error goes to the parent to raise."""
    gc.disable()  # a short-lived process that only allocates: collection would be wasted work
    pii: Counter = Counter()
    try:
        for batch in prepared_batches(path, fmt, options, max_record_bytes, batch_size, pii):
            sender.send(("batch", batch))
        sender.send(("done", pii))
    except Exception as e:  # handed to the parent, which raises it in the import's thread
        sender.send(("error", e))
    finally:
        sender.close()
