"""Validation of a large export in a second process, so that checking overlaps with writing.

Why: on a large export, validation is about 40% of the writer's time. The worker reads back what
the writer has written to the split's temporary file (from the page cache) and feeds the split's
`Validator`: it checks exactly what lands in the file, and computes the file's sha256 from the same
bytes. The writer only tells it how far each file has grown, so it never waits on the worker while
writing (sending the lines through a pipe made it wait for each chunk the worker was still checking).
A small export stays in-process (a worker costs a few tenths of a second to start); the writer moves
its validators over, with what they have seen, once an export passes `PARALLEL_MIN_RECORDS`.

Memory stays flat on both sides: the worker reads about one writer buffer at a time, and a worker
that falls behind only leaves more of the file to read when the writer finishes.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from pathlib import Path
from typing import Any

import orjson

from exports.errors import ExportError
from exports.validate import Report, Validator

PARALLEL_MIN_RECORDS = 20_000
READ_BYTES = 1 << 20  # about one writer buffer


def offload_after() -> int | None:
    """After how many records a worker pays off; None on a machine without a second core."""
    return PARALLEL_MIN_RECORDS if (os.cpu_count() or 1) >= 2 else None


class ValidationWorker:
    """A spawned process holding the validators of the splits handed to it."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")  # never fork a process that may run threads (the app)
        self._conn, child = ctx.Pipe(duplex=True)
        self._proc = ctx.Process(target=_work, args=(child,), daemon=True, name="labeler-export-validation")
        self._proc.start()
        child.close()

    def take(self, split: str, validator: Validator, path: Path, written: int) -> None:
        """Hand over a split's validator, with the records it has already checked, and its file
        (`written` bytes on disk so far: the worker hashes them, then validates what follows)."""
        self._send(("take", split, (validator, path, written)))

    def grew(self, split: str, size: int) -> None:
        """`split`'s file now holds `size` bytes of whole lines (written and flushed): check the new ones."""
        self._send(("grew", split, size))

    def finish(self, sizes: dict[str, int]) -> tuple[dict[str, Report], dict[str, str]]:
        """The reports and sha256 digests of the handed-over splits (file sizes for the size rules);
        stops the worker."""
        self._send(("finish", sizes, None))
        try:
            kind, payload = self._conn.recv()
        except (EOFError, OSError):
            raise self._died() from None
        self.close()
        if kind == "error":
            raise payload
        return payload

    def _send(self, message: tuple) -> None:
        try:
            self._conn.send(message)
        except OSError:  # a broken pipe: the worker is gone
            raise self._died() from None

    def _died(self) -> ExportError:
        self._proc.join(timeout=5)
        return ExportError(f"the export's validation process stopped unexpectedly (exit code {self._proc.exitcode}); "
                           "nothing was written")

    def close(self) -> None:
        """Stop the worker (also after a failed export: nothing is waited for)."""
        self._conn.close()
        self._proc.join(timeout=5)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join()


def _work(conn: Any) -> None:
    """Worker process: validate each file as it grows; the reports (or the error) go back at the end."""
    files: dict[str, _GrowingFile] = {}
    try:
        while True:
            kind, split, payload = conn.recv()
            if kind == "grew":
                files[split].check_up_to(payload)
            elif kind == "take":
                files[split] = _GrowingFile(*payload)
            else:  # "finish": `split` carries the sizes
                reports = {s: f.validator.finish(size=split.get(s)) for s, f in files.items()}
                conn.send(("reports", (reports, {s: f.digest.hexdigest() for s, f in files.items()})))
                return
    except EOFError:  # the writer gave up (its export failed): nothing to report
        return
    except Exception as e:  # handed to the writer, which raises it in the export's thread
        conn.send(("error", e))
    finally:
        for f in files.values():
            f.file.close()
        conn.close()


class _GrowingFile:
    """The worker's view of one split's temporary file: hashed from the start, validated from
    `written` on (the writer validated the lines before it), read as the writer reports growth."""

    def __init__(self, validator: Validator, path: Path, written: int) -> None:
        self.validator = validator
        self.file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by `_work`
        self.digest = hashlib.sha256()
        self.read = 0
        while self.read < written:
            self.digest.update(self._next(min(written - self.read, READ_BYTES)))

    def check_up_to(self, size: int) -> None:
        add, loads, shared = self.validator.add, orjson.loads, None
        while self.read < size:
            data = self._next(min(size - self.read, READ_BYTES))
            cut = data.rfind(b"\n") + 1  # whole lines; a longer line is read on with the next chunk
            if cut == 0:
                data += self._next_line_end(size)
                cut = len(data)
            elif cut < len(data):
                self.read -= len(data) - cut
                self.file.seek(self.read)
                data = data[:cut]
            self.digest.update(data)
            for line in data.split(b"\n")[:-1]:
                record = loads(line)
                if type(record) is dict and "prompt" in record:
                    # The pairs of one ranking share one prompt object in the writer, and the
                    # checks measure a prompt once per object: share it here too.
                    if record["prompt"] == shared:
                        record["prompt"] = shared
                    else:
                        shared = record["prompt"]
                add(record)

    def _next_line_end(self, size: int) -> bytes:
        """The rest of a line longer than `READ_BYTES`, up to its `\\n`."""
        parts = []
        while self.read < size:
            data = self._next(min(size - self.read, READ_BYTES))
            end = data.find(b"\n") + 1
            if end:
                self.read -= len(data) - end
                self.file.seek(self.read)
                parts.append(data[:end])
                break
            parts.append(data)
        return b"".join(parts)

    def _next(self, n: int) -> bytes:
        data = self.file.read(n)
        if len(data) != n:  # the writer flushed these bytes before reporting them: never expected
            raise ExportError(f"{self.file.name}: expected {n:,} more bytes at offset {self.read:,}, "
                              f"read {len(data):,}")
        self.read += n
        return data
