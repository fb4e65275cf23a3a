"""Validation of a large export in a second process, so that checking overlaps with writing.

Why: on a large export, validation is about 40% of the writer's time. The writer serializes every
record anyway, so it hands the serialized lines (the same bytes it writes) to a worker that parses
them back and feeds the split's `Validator`: the worker checks exactly what lands in the file, and
computes the file's sha256 from the same bytes. A small export stays in-process (a worker costs a
few tenths of a second to start); the writer moves its validators over, with what they have seen,
once an export passes `PARALLEL_MIN_RECORDS`.

The pipe's backpressure keeps memory flat: when the worker falls behind, the writer waits.
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
        (`written` bytes on disk so far: the worker hashes them, then every line it is sent)."""
        self._send(("take", split, (validator, path, written)))

    def lines(self, split: str, data: bytes | bytearray) -> None:
        """Serialized records of `split`, one JSON value per `\\n`-terminated line, in file order."""
        self._send(("lines", split, None), data)

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

    def _send(self, message: tuple, data: bytes | bytearray | None = None) -> None:
        try:
            self._conn.send(message)
            if data is not None:
                self._conn.send_bytes(data)  # no copy, no pickling
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
    """Worker process: validate the lines it receives; the reports (or the error) go back at the end."""
    validators: dict[str, Validator] = {}
    digests: dict[str, Any] = {}
    loads = orjson.loads
    try:
        while True:
            kind, split, payload = conn.recv()
            if kind == "lines":
                add, shared, data = validators[split].add, None, conn.recv_bytes()
                digests[split].update(data)
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
            elif kind == "take":
                validators[split], path, written = payload
                digests[split] = _hash_start(path, written)
            else:  # "finish": `split` carries the sizes
                reports = {s: v.finish(size=split.get(s)) for s, v in validators.items()}
                conn.send(("reports", (reports, {s: d.hexdigest() for s, d in digests.items()})))
                return
    except EOFError:  # the writer gave up (its export failed): nothing to report
        return
    except Exception as e:  # handed to the writer, which raises it in the export's thread
        conn.send(("error", e))
    finally:
        conn.close()


def _hash_start(path: Path, written: int) -> Any:
    """A sha256 fed with the first `written` bytes of the file (what the writer hashed before)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while written > 0 and (chunk := f.read(min(written, 1 << 20))):
            digest.update(chunk)
            written -= len(chunk)
    return digest
