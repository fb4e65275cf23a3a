"""Import prompts and existing labels from files, with InstructGPT's prompt hygiene.

Design constraints:
- Streamed in batches: memory depends on the batch size (and the number of originating users),
  never on the file size. Dedup asks fixed-size Bloom filters first and the database (indexed
  hashes) to confirm, instead of keeping every hash in memory.
- Big files are parsed in a worker process (labeler.readers.pipeline) while this process writes.
- All-or-nothing by default: the edge's transaction holds the whole import, and any invalid record
  aborts it after the file has been checked to the end (so the user sees every problem at once).
  `skip_invalid` imports the valid records and writes the others, with reasons, to a rejects file.
"""

from __future__ import annotations

import gc
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Prompt
from labeler.bloom import BloomFilter
from labeler.config import get_settings
from labeler.errors import Invalid
from labeler.hygiene import parse_split
from labeler.readers import FORMATS, detect_format
from labeler.readers.pipeline import Item, Prepared, PrepareOptions, batches
from labeler.readers.records import Reject
from labeler.readers.records import notice_label as notice_label  # for the CLI's and the app's reports
from labeler.readers.source import check_file
from labeler.services.actors import Actor, require_admin
from labeler.services.bulk import PlannerStats, bound_now, write_rows
from labeler.services.events import record_event
from labeler.services.ingest_labels import store_labels
from labeler.services.projects import get_project_or_raise, settings_of

MAX_LISTED_ERRORS = 20
MIN_FILTER_BITS_LOG2, MAX_FILTER_BITS_LOG2 = 16, 27
Progress = Callable[[int], None]  # called with the source line reached (-1 at the end)


class ImportOptions(BaseModel):
    """How to read the file and which hygiene to apply; None means "the project's setting"."""

    format: str = "auto"
    skip_invalid: bool = False
    rejects_path: Path | None = None
    max_per_user: int | None = Field(default=None, ge=1)
    split: str | None = None  # "80/10/10"
    scrub_pii: bool | None = None
    dedup_prefix: bool = True
    min_candidates: int = Field(default=0, ge=0)  # e.g. 2: only prompts ready for ranking
    max_candidates: int | None = Field(default=None, ge=0)
    source: str | None = None  # label stored on each prompt; default: the file name


class ImportReport(BaseModel):
    """What an import did, for the CLI, the app and the audit log."""

    file: str
    format: str
    records: int = 0
    prompts_added: int = 0
    duplicates_exact: int = 0
    duplicates_prefix: int = 0
    over_user_cap: int = 0
    candidates_added: int = 0
    rankings_added: int = 0
    demonstrations_added: int = 0
    rejected: int = 0
    rejects_path: str | None = None
    skipped: dict[str, int] = Field(default_factory=dict)  # notices by kind (orphan, deleted, ...)
    pii: dict[str, int] = Field(default_factory=dict)
    by_split: dict[str, int] = Field(default_factory=dict)
    seconds: float = 0.0

    @property
    def prompts_per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


@dataclass
class _Run:
    """State of one import while it streams."""

    session: Session
    project_id: int
    source: str
    prep: PrepareOptions
    max_per_user: int
    report: ImportReport
    user_counts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    pii: Counter = field(default_factory=Counter)
    seen: BloomFilter = field(default_factory=lambda: BloomFilter(MIN_FILTER_BITS_LOG2))  # sized by _prime_filters
    seen_prefix: BloomFilter | None = None  # prefix hashes, when prefix dedup is on
    stats: PlannerStats = field(default_factory=PlannerStats)


def import_file(
    session: Session,
    actor: Actor,
    project_name: str,
    path: Path,
    options: ImportOptions | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import one file into a project (admins only). Raises Invalid and writes nothing on bad input."""
    require_admin(actor)
    options = options or ImportOptions()
    path = Path(path)
    project = get_project_or_raise(session, project_name)
    project_settings, settings = settings_of(project), get_settings()
    fmt = detect_format(path) if options.format == "auto" else options.format
    if fmt not in FORMATS:
        raise Invalid(f"unknown import format `{fmt}`: expected auto or one of {', '.join(FORMATS)}")
    check_file(path)  # a missing, empty or binary file fails before anything starts
    run = _Run(
        session=session,
        project_id=project.id,
        source=options.source or path.name,
        prep=PrepareOptions(
            ratios=parse_split(options.split) if options.split else tuple(project_settings.split),
            prefix_chars=project_settings.dedup_prefix_chars if options.dedup_prefix else 0,
            scrub=project_settings.scrub_pii if options.scrub_pii is None else options.scrub_pii,
            min_candidates=options.min_candidates,
            max_candidates=options.max_candidates,
        ),
        max_per_user=options.max_per_user or project_settings.max_prompts_per_user,
        report=ImportReport(file=str(path), format=fmt),
    )
    started = time.perf_counter()
    _prime_filters(run, path)
    rejects = _RejectsFile(options.rejects_path or default_rejects_path(path)) if options.skip_invalid else None
    try:
        with _quiet_gc():
            items = batches(path, fmt, run.prep, settings.max_record_bytes, settings.import_batch_size, run.pii)
            _stream(run, items, rejects, progress)
    finally:
        if rejects:
            rejects.close()
    report = run.report
    if run.errors:
        raise Invalid(_error_summary(path, report.rejected, run.errors))
    if rejects and rejects.count:
        report.rejects_path = str(rejects.path)
    report.pii = dict(run.pii)
    report.seconds = round(time.perf_counter() - started, 3)
    record_event(session, actor, "import", "project", project.id, **report.model_dump(exclude={"file"}),
                 file=path.name)
    return report


def default_rejects_path(path: Path) -> Path:
    """Where rejected records go by default: the working directory (the source may be read-only)."""
    name = path.name.removesuffix(".gz")
    return Path.cwd() / f"{name}.rejects.jsonl"


def _error_summary(path: Path, count: int, errors: list[str]) -> str:
    listed = "\n".join(f"  {e}" for e in errors)
    more = f"\n  ... and {count - len(errors)} more" if count > len(errors) else ""
    return (
        f"{count} invalid record(s) in {path.name}; nothing was imported "
        f"(use --skip-invalid to import the valid ones):\n{listed}{more}"
    )


@contextmanager
def _quiet_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of short-lived objects pass.

    An import allocates a few objects per record and frees them by reference counting (the
    batches hold no cycles), but each allocation burst triggers collector passes over everything
    else in the process (SQLAlchemy, pydantic, the app): a fifth to a third of the import's time.
    One collection of the youngest generation afterwards catches anything cyclic made meanwhile, in
    any thread: with the collector off, everything allocated since is still in generation 0, so a full
    collection (half a second in a big process such as the app, for every small import) is not needed.
    The same young collection after each stored batch (`_stream`) frees the little cyclic garbage a
    batch leaves (about 90 bytes a record, from the store's per-statement objects), which otherwise
    grew an import of 1,000,000 ranked prompts by 120 MB; it costs milliseconds a batch.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.collect(0)


def _filter_bits_log2(run: _Run, path: Path) -> int:
    """Bloom filter size for this import: ~16 bits per hash it may hold, between 8 KiB and 16 MiB.

    A small import into a small project must not pay for zeroing 2 x 16 MiB (a tenth of a second);
    a gzipped file's record count cannot be bounded by its size, so it gets the largest filter.
    """
    stored = run.session.scalar(select(func.count()).select_from(Prompt).where(Prompt.project_id == run.project_id))
    with path.open("rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    expected = (stored or 0) + (1 << 30 if gzipped else path.stat().st_size // 8)
    return max(MIN_FILTER_BITS_LOG2, min(MAX_FILTER_BITS_LOG2, (expected * 16).bit_length()))


def _prime_filters(run: _Run, path: Path) -> None:
    """Load the project's stored hashes into the Bloom filters (streamed: one pass, flat memory)."""
    bits_log2 = _filter_bits_log2(run, path)
    run.seen = BloomFilter(bits_log2)
    if run.prep.prefix_chars:
        run.seen_prefix = BloomFilter(bits_log2)
    rows = run.session.execute(
        select(Prompt.content_hash, Prompt.prefix_hash).where(Prompt.project_id == run.project_id),
        execution_options={"yield_per": 10_000},
    )
    for chash, phash in rows:
        run.seen.add(chash)
        if phash is not None and run.seen_prefix is not None:
            run.seen_prefix.add(phash)


def _stream(run: _Run, items: Iterable[list[Item]], rejects: _RejectsFile | None, progress: Progress | None) -> None:
    """Store the prepared batches; collect rejects; after the first error only keep checking."""
    name = Path(run.report.file).name
    records = rejected = 0
    skipped: Counter = Counter()
    for batch in items:
        ready: list[Prepared] = []
        for item in batch:
            if type(item) is Prepared:
                ready.append(item)
            elif isinstance(item, Reject):
                rejected += 1
                if rejects:
                    rejects.write(item)
                elif len(run.errors) < MAX_LISTED_ERRORS:
                    run.errors.append(item.describe(name))
            else:
                skipped[item.kind] += 1
        records += len(ready)
        if ready and not run.errors:  # once failing: keep checking the file, stop writing
            _flush(run, ready)
            gc.collect(0)  # the batch's cyclic garbage (see _quiet_gc): the memory stays flat
            run.stats.grown(run.session, run.report.prompts_added)
        if progress and batch:
            progress(batch[-1].line)
    run.report.records, run.report.rejected = records, rejected
    for kind, n in skipped.items():  # beside what storing the labels counted
        run.report.skipped[kind] = run.report.skipped.get(kind, 0) + n
    if progress:
        progress(-1)


def _flush(run: _Run, batch: list[Prepared]) -> None:
    """Dedup a batch against itself and the project, cap per user, then write it."""
    report = run.report
    unique: dict[str, Prepared] = {}
    labeled_dups: list[Prepared] = []
    for p in batch:
        if p.chash in unique:
            report.duplicates_exact += 1
            if p.labeled:
                labeled_dups.append(p)
        else:
            unique[p.chash] = p
    stored = _confirm(run, Prompt.content_hash, [h for h in unique if h in run.seen])
    fresh: list[Prepared] = []
    for chash, p in unique.items():
        if chash in stored:
            report.duplicates_exact += 1
            if p.labeled:
                labeled_dups.append(p)  # an existing prompt receives the new labels
        else:
            fresh.append(p)
    fresh = _cap_per_user(run, _drop_prefix_duplicates(run, fresh))
    if fresh:
        _insert_prompts(run, fresh)
    labeled = [p for p in fresh if p.labeled] + labeled_dups
    if labeled:
        added = store_labels(run.session, run.project_id, run.source, labeled, stored)
        report.candidates_added += added.candidates
        report.rankings_added += added.rankings
        report.demonstrations_added += added.demonstrations
        for reason, n in added.skipped.items():
            report.skipped[reason] = report.skipped.get(reason, 0) + n


def _confirm(run: _Run, column: Any, maybe: list[str]) -> set[str]:
    """Which of the Bloom filter's "maybe seen" hashes the project really holds."""
    if not maybe:
        return set()
    query = select(column).where(Prompt.project_id == run.project_id, column.in_(maybe))
    return set(run.session.scalars(query))


def _drop_prefix_duplicates(run: _Run, fresh: list[Prepared]) -> list[Prepared]:
    if run.seen_prefix is None:
        return fresh
    seen = run.seen_prefix
    stored = _confirm(run, Prompt.prefix_hash, list({p.phash for p in fresh if p.phash and p.phash in seen}))
    in_batch: set[str] = set()
    kept = []
    for p in fresh:
        if p.phash is not None:
            if p.phash in stored or p.phash in in_batch:
                run.report.duplicates_prefix += 1
                continue
            in_batch.add(p.phash)
        kept.append(p)
    return kept


def _cap_per_user(run: _Run, fresh: list[Prepared]) -> list[Prepared]:
    """At most `max_per_user` prompts per originating user, counting what the project already has."""
    unknown = {p.origin_user for p in fresh if p.origin_user} - run.user_counts.keys()
    if unknown:
        rows = run.session.execute(
            select(Prompt.origin_user, func.count())
            .where(Prompt.project_id == run.project_id, Prompt.origin_user.in_(list(unknown)))
            .group_by(Prompt.origin_user)
        )
        run.user_counts.update(dict.fromkeys(unknown, 0))
        run.user_counts.update(dict(rows.all()))
    kept = []
    for p in fresh:
        user = p.origin_user
        if user is not None:
            if run.user_counts[user] >= run.max_per_user:
                run.report.over_user_cap += 1
                continue
            run.user_counts[user] += 1
        kept.append(p)
    return kept


PROMPT_COLUMNS = (
    "project_id", "messages", "source", "external_id", "origin_user", "split", "content_hash",
    "prefix_hash", "meta", "demonstration_count", "ranking_count", "created_at",
)


def _insert_prompts(run: _Run, fresh: list[Prepared]) -> None:
    """The hot path of every import: one driver-level executemany (or COPY) per batch, JSON pre-encoded."""
    conn = run.session.connection()
    created = bound_now(conn)
    rows = [
        (run.project_id, p.messages_json, run.source, p.external_id, p.origin_user, p.split, p.chash,
         p.phash, p.meta_json, 0, 0, created)
        for p in fresh
    ]
    write_rows(conn, "prompts", PROMPT_COLUMNS, rows)
    by_split = run.report.by_split
    for p in fresh:
        by_split[p.split] = by_split.get(p.split, 0) + 1
        run.seen.add(p.chash)
        if p.phash is not None and run.seen_prefix is not None:
            run.seen_prefix.add(p.phash)
    run.report.prompts_added += len(rows)


class _RejectsFile:
    """Rejected records with their reasons, one JSON object per line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._fh = None

    def write(self, reject: Reject) -> None:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("wb")
        self._fh.write(orjson.dumps(reject.model_dump()) + b"\n")
        self.count += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
