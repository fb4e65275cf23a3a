"""The labels an import brings along: candidates, imported rankings and imported demonstrations.

Imported work is marked `origin="imported"` with its source, kept apart from human work, and
attached to an existing prompt when the same prompt comes again. Importing a file twice adds
nothing: candidates are unique per prompt by text, and an imported ranking or demonstration
identical to one already stored is skipped.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import orjson
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models import Candidate, Demonstration, Prompt, Ranking, RankingItem
from labeler.hygiene import content_hash
from labeler.readers.pipeline import Prepared


@dataclass
class LabelCounts:
    """What one batch added."""

    candidates: int = 0
    rankings: int = 0
    demonstrations: int = 0
    # Records that yielded less than they carried, by reason (merged into the report's `skipped`).
    skipped: Counter = field(default_factory=Counter)


def store_labels(session: Session, project_id: int, source: str, labeled: list[Prepared]) -> LabelCounts:
    """Store the labels of records whose prompts exist (new or earlier duplicates)."""
    counts = LabelCounts()
    ids = dict(
        session.execute(
            select(Prompt.content_hash, Prompt.id).where(
                Prompt.project_id == project_id, Prompt.content_hash.in_([p.chash for p in labeled])
            )
        ).all()
    )
    labeled = [p for p in labeled if p.chash in ids]  # a prefix duplicate or capped prompt has none
    candidate_ids = _insert_candidates(session, source, labeled, ids, counts)
    known = _imported_signatures(session, list({ids[p.chash] for p in labeled}))
    for p in labeled:
        prompt_id, record = ids[p.chash], p.record
        assert record is not None
        if record.demonstration:
            turns = [m.model_dump() for m in record.demonstration]
            if _remember(known, ("demonstration", prompt_id, _canonical(turns))):
                session.add(Demonstration(prompt_id=prompt_id, turns=turns, status="submitted",
                                          origin="imported", source=source, submitted_at=utcnow()))
                counts.demonstrations += 1
        if len({c.text for c in record.candidates}) < len(record.candidates):
            counts.skipped[MERGED_REPLIES] += 1
        if record.has_ranking:
            ranking = _ranking(p, prompt_id, source, candidate_ids)
            if ranking is None:
                counts.skipped[NO_RANKING] += 1
            pairs = [(item.candidate_id, item.rank) for item in ranking.items] if ranking else []
            if ranking is not None and _remember(known, _ranking_signature(prompt_id, pairs)):
                session.add(ranking)
                counts.rankings += 1
    session.flush()
    return counts


MERGED_REPLIES = "identical replies merged into one candidate (fewer pairs)"
NO_RANKING = "ranking not stored: fewer than two different replies"


def text_hash(text: str) -> str:
    """A candidate's identity within its prompt: its text exactly as written, whitespace included."""
    return content_hash(text)


def _insert_candidates(
    session: Session, source: str, labeled: list[Prepared], ids: dict[str, int], counts: LabelCounts
) -> dict[tuple[int, str], int]:
    """Insert the candidates not stored yet; return (prompt id, text hash) -> candidate id."""
    prompt_ids = list({ids[p.chash] for p in labeled if p.record and p.record.candidates})
    if not prompt_ids:
        return {}
    key = Candidate.prompt_id, Candidate.text_hash
    known = set(session.execute(select(*key).where(Candidate.prompt_id.in_(prompt_ids))).all())
    rows = []
    for p in labeled:
        for c in p.record.candidates if p.record else []:
            k = (ids[p.chash], text_hash(c.text))
            if k in known:
                continue
            known.add(k)
            rows.append({"prompt_id": k[0], "text": c.text, "text_hash": k[1], "origin": "imported",
                         "model": c.model, "meta": {**c.meta, "source": source}})
    if rows:
        session.execute(insert(Candidate.__table__), rows)  # Core: one executemany
        counts.candidates += len(rows)
    found = session.execute(
        select(Candidate.prompt_id, Candidate.text_hash, Candidate.id).where(Candidate.prompt_id.in_(prompt_ids))
    )
    return {(pid, th): cid for pid, th, cid in found}


def _ranking(p: Prepared, prompt_id: int, source: str, candidate_ids: dict[tuple[int, str], int]) -> Ranking | None:
    """The imported ranking, or None when identical replies leave fewer than two to compare."""
    best: dict[int, int] = {}  # candidate id -> best rank: the same text twice is one candidate
    for c in p.record.candidates if p.record else []:
        if c.rank is not None:
            cid = candidate_ids[(prompt_id, text_hash(c.text))]
            best[cid] = min(best.get(cid, c.rank), c.rank)
    if len(best) < 2:
        return None
    order = list(best)
    items = [RankingItem(candidate_id=cid, rank=best[cid], position=i) for i, cid in enumerate(order)]
    return Ranking(prompt_id=prompt_id, status="submitted", origin="imported", source=source,
                   display_order=order, items=items, **imported_ranking_fields(p, prompt_id, candidate_ids))


def imported_ranking_fields(p: Prepared, prompt_id: int, candidate_ids: dict[tuple[int, str], int]) -> dict:
    """`submitted_at` and `meta` of an imported ranking: the source's time (else the import's, marked
    so) and the margins the source gave its pairs, by candidate id."""
    record = p.record
    assert record is not None
    meta: dict = {"time": "source" if record.submitted_at else "import"}
    if record.margins:
        cid = [candidate_ids[(prompt_id, text_hash(c.text))] for c in record.candidates]
        meta["margins"] = [[cid[b], cid[w], m] for b, w, m in record.margins]
    return {"submitted_at": record.submitted_at or utcnow(), "meta": meta}


def _imported_signatures(session: Session, prompt_ids: list[int]) -> set[tuple]:
    """What imported labels these prompts already hold."""
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
