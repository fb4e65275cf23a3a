"""The one writer: streams records into `DIR/<split>.jsonl`, validates them on the way, and only
when everything succeeded renames the files into place with `manifest.json` and `README.md`.

Design constraints:
- memory stays flat: a record is serialized (orjson: UTF-8, `\\n` line ends, keys in the order the
  format built them, non-ASCII as is) into a ~1 MiB buffer that is hashed, written and reused;
- all or nothing: everything goes to temporary files in DIR (`.<name>.*.tmp`), fsynced and renamed
  at the end; any exception (from the rows, a format, validation, disk) removes every temporary
  file and leaves whatever DIR held before untouched; the old manifest is removed before any file is
  replaced and the new one renamed in last (`_publish`), so a manifest always agrees with its files; temporary files
  of a killed export are removed by the next export into DIR (so one DIR takes one export at a time);
- reproducible: the same records give byte-identical data files and card; only the manifest's
  `created_at` differs between runs.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from exports.card import dataset_card
from exports.errors import ExportError, InvalidExport
from exports.formats import get_format, manifest_options
from exports.offload import ValidationWorker, offload_after
from exports.rows import SPLITS, timestamp
from exports.validate import Report, Validator

BUFFER_BYTES = 1 << 20
PROGRESS_EVERY = 10_000
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass
class ExportResult:
    """What an export wrote: the manifest (as written), the validation reports, the final paths."""

    manifest: dict[str, Any]
    reports: dict[str, Report]
    paths: list[Path] = field(default_factory=list)


class _SplitFile:
    """One split's temporary JSONL file, its running sha256, size and count, and who validates it:
    `validator` in this process, or `worker` (a second process) once the export is big."""

    def __init__(self, folder: Path, split: str, validator: Validator | None):
        fd, name = tempfile.mkstemp(dir=folder, prefix=f".{split}.", suffix=".jsonl.tmp")
        self.tmp = Path(name)
        self.file: BinaryIO = os.fdopen(fd, "wb")
        self.split = split
        self.validator = validator
        self.worker: ValidationWorker | None = None
        # A bytearray, not a list of lines: orjson's bytes objects keep ~4 KiB of capacity each.
        self.buf = bytearray()
        self.bytes = self.records = 0
        self.sha = hashlib.sha256()  # until a worker takes the split over
        self.digest: str | None = None  # the worker's, once it has finished

    def hand_over(self, worker: ValidationWorker) -> None:
        """From now on the worker validates this split (the buffered lines were validated here)."""
        if self.validator is not None:
            self.flush()
            self.file.flush()  # the worker reads what was written so far to hash it
            worker.take(self.split, self.validator, self.tmp, self.bytes)
            self.validator, self.worker = None, worker

    def flush(self) -> None:
        if self.worker is None:
            self.sha.update(self.buf)
        self.file.write(self.buf)
        self.bytes += len(self.buf)
        if self.worker is not None and self.buf:
            self.file.flush()  # the worker reads the lines back from the file
            self.worker.grew(self.split, self.bytes)
        del self.buf[:]

    def sha256(self) -> str:
        return self.digest or self.sha.hexdigest()

    def close(self) -> None:
        if not self.file.closed:
            self.flush()
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()


def _split_order(split: str) -> tuple[int, str]:
    return (SPLITS.index(split) if split in SPLITS else len(SPLITS), split)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(BUFFER_BYTES):
            h.update(chunk)
    return h.hexdigest()


def _write_tmp(folder: Path, name: str, data: bytes, temps: list[Path]) -> Path:
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    temps.append(Path(tmp))
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return Path(tmp)


def write_export(
    out_dir: str | os.PathLike[str],
    format: str,
    rows: Iterable[Any],
    *,
    options: Mapping[str, Any] | None = None,
    filters: Mapping[str, Any] | None = None,
    labeler_version: str,
    parquet: bool = False,
    validate: bool = True,
    target_model: str | None = None,
    progress: Callable[[int], None] | None = None,
    now: datetime | None = None,
) -> ExportResult:
    """Export `rows` in `format` to `out_dir` (see the module rules); raise InvalidExport on bad output.

    For `openai-legacy`, pass `separator` and `stop` in `options` (from `choose_legacy_markers`
    over a first pass); they are checked against every record and recorded in the manifest.
    """
    fmt = get_format(format)
    opts = dict(options or {})
    split_keys: Counter[tuple[str, str]] = Counter()
    records = fmt.split_records(_tallied(rows, split_keys), **opts)
    return write_records(out_dir, records, format=fmt.name, options=opts, filters=filters,
                         labeler_version=labeler_version, parquet=parquet, validate=validate,
                         target_model=target_model, progress=progress, now=now, split_keys=split_keys)


def _tallied(rows: Iterable[Any], tally: Counter[tuple[str, str]]) -> Iterator[Any]:
    """The rows, counting them by (source, what decided the split) for the card and the manifest."""
    for row in rows:
        by = getattr(row, "split_by", None)
        if by is not None:
            tally[(row.source or "", by)] += 1
        yield row


def write_records(
    out_dir: str | os.PathLike[str],
    records: Iterable[tuple[str, Any]],
    *,
    format: str,
    labeler_version: str,
    options: Mapping[str, Any] | None = None,
    filters: Mapping[str, Any] | None = None,
    parquet: bool = False,
    validate: bool = True,
    target_model: str | None = None,
    progress: Callable[[int], None] | None = None,
    now: datetime | None = None,
    split_keys: Mapping[tuple[str, str], int] | None = None,
) -> ExportResult:
    """Write `(split, record)` pairs as one JSONL file per split, all or nothing.

    `split_keys` counts the rows by (source, "user" or "root"), filled while the records stream.
    """
    fmt = get_format(format)
    options = dict(options or {})
    folder = Path(out_dir)
    created = _first_missing(folder)  # removed again if this export fails: no empty folder left behind
    folder.mkdir(parents=True, exist_ok=True)
    for leftover in folder.glob(".*.tmp"):  # from an export that was killed: no `finally` ran
        leftover.unlink(missing_ok=True)
    files: dict[str, _SplitFile] = {}
    temps: list[Path] = []
    try:
        _stream(folder, records, files, temps, fmt.name, options, validate, target_model, progress)
        if not files:
            raise ExportError(f"no rows match: the `{fmt.name}` export would be empty; nothing was written")
        splits = sorted(files, key=_split_order)
        reports = _reports(files)
        reports = {s: reports[s] for s in splits if s in reports}
        if validate and fmt.validator.openai and "train" not in files:  # OpenAI needs a training file
            reports["train"] = Validator(fmt.name, name="train.jsonl", target_model=target_model).finish()
        if any(not r.ok for r in reports.values()):
            raise InvalidExport(list(reports.values()))
        staged, entries = _stage(folder, files, splits, parquet, temps)
        counts = {s: files[s].records for s in splits}
        names = {s: {e["kind"]: e["path"] for e in entries if e["split"] == s} for s in splits}
        card = dataset_card(format=fmt.name, source=fmt.source, description=fmt.description,
                            example=fmt.example, files=names, counts=counts, filters=filters or {},
                            options=manifest_options(options), labeler_version=labeler_version,
                            split_keys=split_keys or {})
        manifest = {
            "format": fmt.name,
            "source": fmt.source,
            "filters": dict(filters or {}),
            "options": manifest_options(options),
            "counts": counts,
            "files": entries,
            "validation": {s: _summary(reports[s]) for s in splits if s in reports},
            "tool": {"name": "labeler", "version": labeler_version},
            "created_at": timestamp(now or datetime.now(UTC)),
        }
        if split_keys:
            manifest["split_keys"] = [{"source": src, "split_by": by, "rows": n}
                                      for (src, by), n in sorted(split_keys.items())]
        staged.append((_write_tmp(folder, "README.md", card.encode("utf-8"), temps), "README.md"))
        body = orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
        staged.append((_write_tmp(folder, "manifest.json", body, temps), "manifest.json"))
    except BaseException:
        for f in files.values():
            if not f.file.closed:
                f.file.close()
            if f.worker is not None:
                f.worker.close()
        for tmp in temps:
            tmp.unlink(missing_ok=True)
        _remove_if_empty(folder, created)
        raise
    _publish(folder, staged)
    return ExportResult(manifest, reports, [folder / final for _, final in staged])


def _publish(folder: Path, staged: list[tuple[Path, str]]) -> None:
    """Rename the staged files into place so that no moment shows a manifest disagreeing with its files.

    The old manifest goes first (removed, and the removal made durable, before any file it lists is
    replaced) and the new one last (after every file it lists is in place, and files the old export
    listed but this one does not are gone). A kill at any step leaves either no manifest or a true one.
    """
    previous = _previous_files(folder)
    (folder / "manifest.json").unlink(missing_ok=True)
    _sync_dir(folder)
    *files, (manifest_tmp, manifest_name) = staged
    for tmp, final in files:
        os.replace(tmp, folder / final)
    for stale in previous - {final for _, final in staged}:
        (folder / stale).unlink(missing_ok=True)
    _sync_dir(folder)
    os.replace(manifest_tmp, folder / manifest_name)
    _sync_dir(folder)


def _sync_dir(folder: Path) -> None:
    """Make the folder's renames and removals durable (a power cut keeps their order)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _stream(folder: Path, records: Iterable[tuple[str, Any]], files: dict[str, _SplitFile],
            temps: list[Path], format: str, options: Mapping[str, Any], validate: bool,
            target_model: str | None, progress: Callable[[int], None] | None) -> None:
    """The hot loop: serialize, buffer, validate; opens a split's file on its first record."""
    dumps, opt = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    n = 0
    worker: ValidationWorker | None = None
    offload_at = offload_after() if validate else None
    for split, rec in records:
        if n == offload_at:
            worker = ValidationWorker()
            for each in files.values():
                each.hand_over(worker)
        f = files.get(split)
        if f is None:
            if not isinstance(split, str) or not _SPLIT_NAME.match(split):
                raise ExportError(f"split {split!r}: expected a name of letters, digits and `_`")
            v = Validator(format, name=f"{split}.jsonl", target_model=target_model,
                          min_examples=None if split == "train" else 0,
                          separator=options.get("separator"), stop=options.get("stop")) if validate else None
            files[split] = f = _SplitFile(folder, split, v)
            temps.append(f.tmp)
            if worker is not None:
                f.hand_over(worker)
        f.buf += dumps(rec, option=opt)
        f.records += 1
        if len(f.buf) >= BUFFER_BYTES:
            f.flush()
        if f.validator is not None:
            f.validator.add(rec)
        n += 1
        if progress is not None and n % PROGRESS_EVERY == 0:
            progress(n)
    for f in files.values():
        f.close()
    if progress is not None and n % PROGRESS_EVERY:
        progress(n)


def _reports(files: dict[str, _SplitFile]) -> dict[str, Report]:
    """Each validated split's report, from this process or from the validation worker."""
    reports = {s: f.validator.finish(size=f.bytes) for s, f in files.items() if f.validator is not None}
    worker = next((f.worker for f in files.values() if f.worker is not None), None)
    if worker is not None:
        remote, digests = worker.finish({s: f.bytes for s, f in files.items() if f.worker is not None})
        reports |= remote
        for split, digest in digests.items():
            files[split].digest = digest
    return reports


def _stage(folder: Path, files: dict[str, _SplitFile], splits: list[str], parquet: bool,
           temps: list[Path]) -> tuple[list[tuple[Path, str]], list[dict[str, Any]]]:
    """The temporary files to rename and their manifest entries (Parquet converted here)."""
    staged = [(files[s].tmp, f"{s}.jsonl") for s in splits]
    entries = [{"path": f"{s}.jsonl", "split": s, "kind": "jsonl", "records": files[s].records,
                "bytes": files[s].bytes, "sha256": files[s].sha256()} for s in splits]
    if parquet:
        from exports.parquet import jsonl_to_parquet

        pairs = []
        for s in splits:
            fd, name = tempfile.mkstemp(dir=folder, prefix=f".{s}.", suffix=".parquet.tmp")
            os.close(fd)
            temps.append(Path(name))
            pairs.append((files[s].tmp, Path(name)))
        jsonl_to_parquet(pairs)
        for s, (_, tmp) in zip(splits, pairs, strict=True):
            staged.append((tmp, f"{s}.parquet"))
            entries.append({"path": f"{s}.parquet", "split": s, "kind": "parquet", "records": files[s].records,
                            "bytes": tmp.stat().st_size, "sha256": _sha256(tmp)})
    return staged, entries


def _summary(report: Report) -> dict[str, Any]:
    return {"errors": len(report.errors), "warnings": [p.render(report.name) for p in report.warnings],
            "stats": report.stats}


def _first_missing(folder: Path) -> Path | None:
    """The outermost folder on the way to `folder` that does not exist yet (None if it exists)."""
    missing = None
    for path in (folder, *folder.parents):
        if path.exists():
            break
        missing = path
    return missing


def _remove_if_empty(folder: Path, created: Path | None) -> None:
    """Remove the folders this export created, from `folder` up to `created`, where they are empty."""
    if created is None:
        return
    for path in (folder, *folder.parents):
        try:
            path.rmdir()
        except OSError:  # not empty (or gone): leave it and everything above it
            return
        if path == created:
            return


def _previous_files(folder: Path) -> set[str]:
    """Files a previous export in this folder listed (to remove the ones this export does not write)."""
    try:
        old = orjson.loads((folder / "manifest.json").read_bytes())
        names = {e["path"] for e in old.get("files", [])}
    except (OSError, orjson.JSONDecodeError, AttributeError, TypeError, KeyError):
        return set()
    return {n for n in names if isinstance(n, str) and "/" not in n and not n.startswith(".")}
