"""The labels an import brings along: candidates, imported rankings and imported demonstrations.

Imported work is marked `origin="imported"` with its source, kept apart from human work, and
attached to an existing prompt when the same prompt comes again. Importing a file twice adds
nothing: candidates are unique per prompt by text, and an imported ranking or demonstration
identical to one already stored is skipped.

Design constraints: the rows go through the same bulk path as prompts (services/bulk.py: one
executemany or COPY per table and batch, ids reserved up front), never the ORM's unit of work, so
time and memory per record stay flat. Only prompts stored before this batch can hold labels
already, so only those are asked about; the batch's own repeats are caught in memory.
Each table's record -> row mapping is one function (`_candidate_row`, `_ranking_rows`,
`_demonstration_row`), next to its column list.

A candidate's identity is its exact text. A record that yields less than it carried (the same reply
twice, a ranking left with fewer than two different replies) is counted with its reason. An imported
ranking keeps the source's time where it has one (else the import's, marked so in `meta["time"]`)
and the margins the source gave its pairs (`meta["margins"]`, by candidate id).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from db.models import Candidate, Demonstration, Prompt, Ranking, RankingItem
from labeler.hygiene import content_hash
from labeler.readers.pipeline import Prepared
from labeler.readers.records import CandidateIn, ImportRecord
from labeler.services.bulk import bound_now, bound_time, reserve_ids, write_rows

CANDIDATE_COLUMNS = ("id", "prompt_id", "text", "text_hash", "origin", "model", "params", "usage", "meta",
                     "created_at")
RANKING_COLUMNS = ("id", "prompt_id", "status", "origin", "source", "display_order", "none_acceptable", "comment",
                   "seconds_spent", "created_at", "updated_at", "submitted_at", "meta")
ITEM_COLUMNS = ("ranking_id", "candidate_id", "rank", "flags", "position")
DEMONSTRATION_COLUMNS = ("prompt_id", "turns", "status", "origin", "source", "seconds_spent", "created_at",
                         "updated_at", "submitted_at")
# A labelled record in a batch: its prompt's id, the record, and its candidates' text hashes.
_Labeled = tuple[int, ImportRecord, list[str]]


@dataclass
class LabelCounts:
    """What one batch added."""

    candidates: int = 0
    rankings: int = 0
    demonstrations: int = 0
    # Records that yielded less than they carried, by reason (merged into the report's `skipped`).
    skipped: Counter = field(default_factory=Counter)


MERGED_REPLIES = "identical replies merged into one candidate (fewer pairs)"
NO_RANKING = "ranking not stored: fewer than two different replies"


@dataclass
class _Batch:
    """One batch's rows, per table, and what is known to be stored (to skip repeats)."""

    source: str
    conn: Connection
    now: Any  # the batch's timestamp, already in the driver's form
    candidate_ids: dict[tuple[int, str], int]  # (prompt id, text hash) -> candidate id
    signatures: set[tuple]  # imported rankings and demonstrations stored or about to be
    candidates: list[tuple] = field(default_factory=list)
    rankings: list[tuple] = field(default_factory=list)
    items: list[tuple] = field(default_factory=list)
    demonstrations: list[tuple] = field(default_factory=list)


def store_labels(
    session: Session, project_id: int, source: str, labeled: list[Prepared], stored: Collection[str] = ()
) -> LabelCounts:
    """Store the labels of records whose prompts exist (new in this batch, or `stored` before it)."""
    conn = session.connection()
    ids = dict(
        session.execute(
            select(Prompt.content_hash, Prompt.id).where(
                Prompt.project_id == project_id, Prompt.content_hash.in_(list({p.chash for p in labeled}))
            )
        ).all()
    )
    labeled = [p for p in labeled if p.chash in ids]  # a prefix duplicate or capped prompt has none
    earlier = list({ids[p.chash] for p in labeled if p.chash in stored})
    batch = _Batch(source=source, conn=conn, now=bound_now(conn), candidate_ids=_stored_candidates(session, earlier),
                   signatures=_imported_signatures(session, earlier))
    records = [(ids[p.chash], p.record, [text_hash(c.text) for c in p.record.candidates])
               for p in labeled if p.record is not None]
    _candidates(conn, batch, records)
    skipped: Counter = Counter()
    ranked: list[tuple[int, ImportRecord, list[str], dict[int, int]]] = []
    for prompt_id, record, hashes in records:
        if record.demonstration:
            _add_demonstration(batch, prompt_id, record)
        if len(set(hashes)) < len(hashes):
            skipped[MERGED_REPLIES] += 1
        if record.has_ranking:
            ranks = _best_ranks(batch, prompt_id, record, hashes)
            if len(ranks) < 2:
                skipped[NO_RANKING] += 1
            elif _remember(batch.signatures, _ranking_signature(prompt_id, list(ranks.items()))):
                ranked.append((prompt_id, record, hashes, ranks))
    _rankings(conn, batch, ranked)
    write_rows(conn, "candidates", CANDIDATE_COLUMNS, batch.candidates)
    write_rows(conn, "rankings", RANKING_COLUMNS, batch.rankings)
    write_rows(conn, "ranking_items", ITEM_COLUMNS, batch.items)
    write_rows(conn, "demonstrations", DEMONSTRATION_COLUMNS, batch.demonstrations)
    return LabelCounts(len(batch.candidates), len(batch.rankings), len(batch.demonstrations), skipped)


def text_hash(text: str) -> str:
    """A candidate's identity within its prompt: its text exactly as written, whitespace included."""
    return content_hash(text)


def _candidates(conn: Connection, batch: _Batch, records: list[_Labeled]) -> None:
    """Rows for the candidates not stored yet, with ids reserved; repeats map to the stored id."""
    new: list[tuple[int, str, CandidateIn]] = []
    for prompt_id, record, hashes in records:
        for c, th in zip(record.candidates, hashes, strict=True):
            key = (prompt_id, th)
            if key not in batch.candidate_ids:
                batch.candidate_ids[key] = 0  # placeholder until the ids are reserved below
                new.append((prompt_id, key[1], c))
    for cid, (prompt_id, th, c) in zip(reserve_ids(conn, "candidates", len(new)), new, strict=True):
        batch.candidate_ids[(prompt_id, th)] = cid
        batch.candidates.append(_candidate_row(cid, prompt_id, th, c, batch))


def _candidate_row(cid: int, prompt_id: int, th: str, c: CandidateIn, batch: _Batch) -> tuple:
    """One imported reply as a `candidates` row (CANDIDATE_COLUMNS)."""
    meta = orjson.dumps({**c.meta, "source": batch.source}).decode()
    return (cid, prompt_id, c.text, th, "imported", c.model, "{}", "{}", meta, batch.now)


def _best_ranks(batch: _Batch, prompt_id: int, record: ImportRecord, hashes: list[str]) -> dict[int, int]:
    """Candidate id -> rank; the same text twice is one candidate, at its best rank."""
    best: dict[int, int] = {}
    for c, th in zip(record.candidates, hashes, strict=True):
        if c.rank is not None:
            cid = batch.candidate_ids[(prompt_id, th)]
            best[cid] = min(best.get(cid, c.rank), c.rank)
    return best


def _rankings(conn: Connection, batch: _Batch, ranked: list[tuple[int, ImportRecord, list[str], dict[int, int]]]
              ) -> None:
    for rid, (prompt_id, record, hashes, ranks) in zip(reserve_ids(conn, "rankings", len(ranked)), ranked,
                                                        strict=True):
        ranking, items = _ranking_rows(rid, prompt_id, record, hashes, ranks, batch)
        batch.rankings.append(ranking)
        batch.items.extend(items)


def _ranking_rows(rid: int, prompt_id: int, record: ImportRecord, hashes: list[str], ranks: dict[int, int],
                  batch: _Batch) -> tuple[tuple, list[tuple]]:
    """One imported ranking as a `rankings` row (RANKING_COLUMNS) and its `ranking_items` rows."""
    now = batch.now
    order = list(ranks)  # the source's order stands in for a display order
    submitted = bound_time(batch.conn, record.submitted_at) if record.submitted_at else now
    meta: dict[str, Any] = {"time": "source" if record.submitted_at else "import"}
    if record.margins:
        cid = [batch.candidate_ids[(prompt_id, th)] for th in hashes]
        meta["margins"] = [[cid[b], cid[w], m] for b, w, m in record.margins]
    ranking = (rid, prompt_id, "submitted", "imported", batch.source, orjson.dumps(order).decode(), False, "", 0.0,
               now, now, submitted, orjson.dumps(meta).decode())
    items = [(rid, cid, ranks[cid], "[]", position) for position, cid in enumerate(order)]
    return ranking, items


def _add_demonstration(batch: _Batch, prompt_id: int, record: ImportRecord) -> None:
    turns = [m.model_dump() for m in record.demonstration or ()]
    if _remember(batch.signatures, ("demonstration", prompt_id, _canonical(turns))):
        batch.demonstrations.append(_demonstration_row(prompt_id, turns, batch))


def _demonstration_row(prompt_id: int, turns: list[dict], batch: _Batch) -> tuple:
    """One imported demonstration as a `demonstrations` row (DEMONSTRATION_COLUMNS)."""
    now = batch.now
    return (prompt_id, orjson.dumps(turns).decode(), "submitted", "imported", batch.source, 0.0, now, now, now)


def _stored_candidates(session: Session, prompt_ids: list[int]) -> dict[tuple[int, str], int]:
    """(prompt id, text hash) -> id of the candidates these prompts already have."""
    if not prompt_ids:
        return {}
    rows = session.execute(
        select(Candidate.prompt_id, Candidate.text_hash, Candidate.id).where(Candidate.prompt_id.in_(prompt_ids))
    )
    return {(pid, th): cid for pid, th, cid in rows}


def _imported_signatures(session: Session, prompt_ids: list[int]) -> set[tuple]:
    """What imported labels these prompts already hold."""
    if not prompt_ids:
        return set()
    demos = session.execute(
        select(Demonstration.prompt_id, Demonstration.turns).where(
            Demonstration.prompt_id.in_(prompt_ids), Demonstration.origin == "imported"
        )
    )
    known = {("demonstration", pid, _canonical(turns)) for pid, turns in demos}
    items: dict[tuple[int, int], list[tuple[int, int | None]]] = {}
    rows = session.execute(
        select(Ranking.id, Ranking.prompt_id, RankingItem.candidate_id, RankingItem.rank)
        .join(RankingItem, RankingItem.ranking_id == Ranking.id)
        .where(Ranking.prompt_id.in_(prompt_ids), Ranking.origin == "imported")
    )
    for rid, pid, cid, rank in rows:
        items.setdefault((rid, pid), []).append((cid, rank))
    known.update(_ranking_signature(pid, pairs) for (_rid, pid), pairs in items.items())
    return known


def _canonical(value: object) -> bytes:
    """JSON bytes independent of key order (PostgreSQL's JSONB reorders keys)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _ranking_signature(prompt_id: int, pairs: list[tuple[int, int | None]]) -> tuple:
    return ("ranking", prompt_id, tuple(sorted(pairs)))


def _remember(known: set[tuple], signature: tuple) -> bool:
    """True (and remembered) when `signature` is new."""
    if signature in known:
        return False
    known.add(signature)
    return True
