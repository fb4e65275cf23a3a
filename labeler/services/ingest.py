"""Import prompts and existing labels from files, with InstructGPT's prompt hygiene.

Design constraints:
- Streamed in batches: memory depends on the batch size (and the number of originating users),
  never on the file size. Dedup asks the database (indexed hashes) instead of keeping a set.
- All-or-nothing by default: the edge's transaction holds the whole import, and any invalid record
  aborts it after the file has been checked to the end (so the user sees every problem at once).
  `skip_invalid` imports the valid records and writes the others, with reasons, to a rejects file.
- Existing preferences become candidates plus an imported ranking (origin "imported"), kept apart
  from human work; an existing exact-duplicate prompt receives the new labels instead of a copy.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, Field
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models import Candidate, Demonstration, Prompt, Ranking, RankingItem
from labeler.config import get_settings
from labeler.errors import Invalid
from labeler.hygiene import assign_split, content_hash, normalize_text, parse_split, prefix_hash, scrub_pii
from labeler.readers import FORMATS, detect_format, read_records
from labeler.readers.records import ImportRecord, Message, Notice, Reject
from labeler.services.actors import Actor, require_admin
from labeler.services.events import record_event
from labeler.services.projects import get_project_or_raise, settings_of

MAX_LISTED_ERRORS = 20
Progress = Callable[[int], None]  # called with the source line reached


class ImportOptions(BaseModel):
    """How to read the file and which hygiene to apply; None means "the project's setting"."""

    format: str = "auto"
    skip_invalid: bool = False
    rejects_path: Path | None = None
    max_per_user: int | None = Field(default=None, ge=1)
    split: str | None = None  # "80/10/10"
    scrub_pii: bool | None = None
    dedup_prefix: bool = True
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
class _Pending:
    """A record ready to store, with its hashes."""

    record: ImportRecord
    chash: str
    phash: str | None
    split: str

    @property
    def labeled(self) -> bool:
        return bool(self.record.candidates or self.record.demonstration)


@dataclass
class _Run:
    """State of one import while it streams."""

    session: Session
    project_id: int
    source: str
    ratios: tuple[int, int, int]
    max_per_user: int
    prefix_chars: int
    scrub: bool
    report: ImportReport
    user_counts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    pii: Counter = field(default_factory=Counter)


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
    settings = settings_of(project)
    fmt = detect_format(path) if options.format == "auto" else options.format
    if fmt not in FORMATS:
        raise Invalid(f"unknown import format `{fmt}`: expected auto or one of {', '.join(FORMATS)}")
    run = _Run(
        session=session,
        project_id=project.id,
        source=options.source or path.name,
        ratios=parse_split(options.split) if options.split else tuple(settings.split),
        max_per_user=options.max_per_user or settings.max_prompts_per_user,
        prefix_chars=settings.dedup_prefix_chars if options.dedup_prefix else 0,
        scrub=settings.scrub_pii if options.scrub_pii is None else options.scrub_pii,
        report=ImportReport(file=str(path), format=fmt),
    )
    started = time.perf_counter()
    items = read_records(path, fmt, max_record_bytes=get_settings().max_record_bytes)
    rejects = _RejectsFile(options.rejects_path or default_rejects_path(path)) if options.skip_invalid else None
    try:
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


def _stream(run: _Run, items: Iterable[Any], rejects: _RejectsFile | None, progress: Progress | None) -> None:
    batch: list[_Pending] = []
    batch_size = get_settings().import_batch_size
    for item in items:
        if isinstance(item, Reject):
            run.report.rejected += 1
            if rejects:
                rejects.write(item)
            elif len(run.errors) < MAX_LISTED_ERRORS:
                run.errors.append(item.describe(Path(run.report.file).name))
            continue
        if isinstance(item, Notice):
            run.report.skipped[item.kind] = run.report.skipped.get(item.kind, 0) + 1
            continue
        run.report.records += 1
        if run.errors:  # already failing: keep checking the file, stop writing
            continue
        batch.append(_prepare(run, item))
        if len(batch) >= batch_size:
            _flush(run, batch)
            batch = []
            if progress:
                progress(item.line)
    if batch and not run.errors:
        _flush(run, batch)
    if progress:
        progress(-1)


def _prepare(run: _Run, record: ImportRecord) -> _Pending:
    if run.scrub:
        record = _scrub(run, record)
    normalized = normalize_text(record.messages)
    chash = content_hash(normalized)
    phash = prefix_hash(normalized, run.prefix_chars) if run.prefix_chars else None
    return _Pending(record, chash, phash, assign_split(record.origin_user or chash, run.ratios))


def _scrub(run: _Run, record: ImportRecord) -> ImportRecord:
    def clean(text: str) -> str:
        cleaned, counts = scrub_pii(text)
        run.pii.update(counts)
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


def _flush(run: _Run, batch: list[_Pending]) -> None:
    """Dedup a batch against itself and the database, cap per user, then write it."""
    session, report = run.session, run.report
    unique: dict[str, _Pending] = {}
    labeled_dups: list[_Pending] = []
    for p in batch:
        if p.chash in unique:
            report.duplicates_exact += 1
            if p.labeled:
                labeled_dups.append(p)
        else:
            unique[p.chash] = p
    existing = _existing(session, Prompt.content_hash, run.project_id, list(unique))
    fresh: list[_Pending] = []
    for chash, p in unique.items():
        if chash in existing:
            report.duplicates_exact += 1
            if p.labeled:
                labeled_dups.append(p)
        else:
            fresh.append(p)
    fresh = _drop_prefix_duplicates(run, fresh)
    fresh = _cap_per_user(run, fresh)
    if fresh:
        _insert_prompts(run, fresh)
    labeled = [p for p in fresh if p.labeled] + labeled_dups
    if labeled:
        _insert_labels(run, labeled)


def _existing(session: Session, column: Any, project_id: int, values: list[str]) -> set[str]:
    if not values:
        return set()
    query = select(column).where(Prompt.project_id == project_id, column.in_(values))
    return set(session.scalars(query))


def _drop_prefix_duplicates(run: _Run, fresh: list[_Pending]) -> list[_Pending]:
    if not run.prefix_chars:
        return fresh
    wanted = list({p.phash for p in fresh if p.phash})
    seen = _existing(run.session, Prompt.prefix_hash, run.project_id, wanted)
    kept = []
    for p in fresh:
        if p.phash is not None and p.phash in seen:
            run.report.duplicates_prefix += 1
            continue
        if p.phash is not None:
            seen.add(p.phash)
        kept.append(p)
    return kept


def _cap_per_user(run: _Run, fresh: list[_Pending]) -> list[_Pending]:
    """At most `max_per_user` prompts per originating user, counting what the project already has."""
    unknown = {p.record.origin_user for p in fresh if p.record.origin_user} - run.user_counts.keys()
    if unknown:
        rows = run.session.execute(
            select(Prompt.origin_user, func.count())
            .where(Prompt.project_id == run.project_id, Prompt.origin_user.in_(list(unknown)))
            .group_by(Prompt.origin_user)
        )
        run.user_counts.update({u: 0 for u in unknown})
        run.user_counts.update(dict(rows.tuples().all()))
    kept = []
    for p in fresh:
        user = p.record.origin_user
        if user is not None:
            if run.user_counts[user] >= run.max_per_user:
                run.report.over_user_cap += 1
                continue
            run.user_counts[user] += 1
        kept.append(p)
    return kept


def _insert_prompts(run: _Run, fresh: list[_Pending]) -> None:
    rows = [
        {
            "project_id": run.project_id,
            "messages": [m.model_dump() for m in p.record.messages],
            "source": run.source,
            "external_id": p.record.external_id,
            "origin_user": p.record.origin_user,
            "split": p.split,
            "content_hash": p.chash,
            "prefix_hash": p.phash,
            "meta": p.record.meta,
        }
        for p in fresh
    ]
    run.session.execute(insert(Prompt), rows)
    run.report.prompts_added += len(rows)
    for p in fresh:
        run.report.by_split[p.split] = run.report.by_split.get(p.split, 0) + 1


def _insert_labels(run: _Run, labeled: list[_Pending]) -> None:
    """Candidates, imported rankings and imported demonstrations for the batch's labeled records."""
    session = run.session
    ids = dict(
        session.execute(
            select(Prompt.content_hash, Prompt.id).where(
                Prompt.project_id == run.project_id, Prompt.content_hash.in_([p.chash for p in labeled])
            )
        ).tuples()
    )
    labeled = [p for p in labeled if p.chash in ids]  # a prefix duplicate or capped prompt has none
    candidate_ids = _insert_candidates(run, labeled, ids)
    for p in labeled:
        prompt_id = ids[p.chash]
        if p.record.demonstration:
            session.add(
                Demonstration(
                    prompt_id=prompt_id, turns=[m.model_dump() for m in p.record.demonstration],
                    status="submitted", origin="imported", source=run.source, submitted_at=utcnow(),
                )
            )
            run.report.demonstrations_added += 1
        if p.record.has_ranking:
            session.add(_ranking(run, p, prompt_id, candidate_ids))
            run.report.rankings_added += 1
    session.flush()


def _insert_candidates(run: _Run, labeled: list[_Pending], ids: dict[str, int]) -> dict[tuple[int, str], int]:
    """Insert the candidates not stored yet; return (prompt id, text hash) -> candidate id."""
    session = run.session
    prompt_ids = list({ids[p.chash] for p in labeled if p.record.candidates})
    if not prompt_ids:
        return {}
    key = Candidate.prompt_id, Candidate.text_hash
    known = {(pid, th) for pid, th in session.execute(select(*key).where(Candidate.prompt_id.in_(prompt_ids)))}
    rows = []
    for p in labeled:
        for c in p.record.candidates:
            k = (ids[p.chash], _text_hash(c.text))
            if k in known:
                continue
            known.add(k)
            rows.append({"prompt_id": k[0], "text": c.text, "text_hash": k[1], "origin": "imported",
                         "model": c.model, "meta": {**c.meta, "source": run.source}})
    if rows:
        session.execute(insert(Candidate), rows)
        run.report.candidates_added += len(rows)
    found = session.execute(
        select(Candidate.prompt_id, Candidate.text_hash, Candidate.id).where(Candidate.prompt_id.in_(prompt_ids))
    )
    return {(pid, th): cid for pid, th, cid in found}


def _ranking(run: _Run, p: _Pending, prompt_id: int, candidate_ids: dict[tuple[int, str], int]) -> Ranking:
    ranked = [c for c in p.record.candidates if c.rank is not None]
    order = [candidate_ids[(prompt_id, _text_hash(c.text))] for c in ranked]
    items = [
        RankingItem(candidate_id=cid, rank=c.rank, position=i)
        for i, (cid, c) in enumerate(zip(order, ranked, strict=True))
    ]
    return Ranking(
        prompt_id=prompt_id, status="submitted", origin="imported", source=run.source,
        display_order=order, items=items, submitted_at=utcnow(),
    )


def _text_hash(text: str) -> str:
    return content_hash(text.strip())


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
