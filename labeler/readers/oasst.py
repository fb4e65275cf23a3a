"""OpenAssistant exports: flat oasst1 messages (`oasst`) and nested trees (`oasst-tree`).

Every prompter message, with the conversation that leads to it (root -> ... -> it), is one
record; its assistant replies are the candidates, `rank` 0 (best) becoming rank 1. Deleted
messages, messages that failed review and orphans (parent not in the file) are skipped with a
Notice, their replies with them. Flat files hold one tree after another, parents not always
before children, so messages are buffered one tree at a time: memory stays flat.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from labeler.readers.fields import (
    RecordError,
    describe_value,
    kind_of,
    record,
    reject,
    require_object,
    role_of,
)
from labeler.readers.records import CandidateIn, ImportRecord, Message, Notice, Reject
from labeler.readers.source import json_lines

_ROLES = {"prompter": "user", "user": "user", "assistant": "assistant"}
Out = ImportRecord | Reject | Notice


@dataclass(slots=True)
class _Msg:
    """One message as the tree walk needs it."""

    id: str
    parent: str | None
    role: str  # "user" or "assistant"
    text: str
    line: int
    skip: str | None  # None, "deleted" or "spam"
    rank: int | None
    model: str | None  # model_name of a synthetic message
    synthetic: bool
    user: str | None
    lang: str | None
    created: Any  # `created_date` as the file has it; read only for ranked replies


def read_oasst(path: str | Path, max_record_bytes: int) -> Iterator[Out]:
    """Yield records from a flat oasst1 message file, one tree at a time."""
    tree: str | None = None
    buffer: list[_Msg] = []
    for item in json_lines(path, max_record_bytes):
        if isinstance(item, Reject):
            yield item
            continue
        line, raw, value = item
        try:
            obj = require_object(value)
            tree_id = obj.get("message_tree_id")
            if not isinstance(tree_id, str) or not tree_id:
                raise RecordError("message_tree_id", f"expected a string, got {kind_of(tree_id)}")
            msg = _message(obj, line, None)
        except RecordError as e:
            yield reject(e, line, raw)
            continue
        if tree_id != tree:
            yield from _tree(tree, buffer)
            tree, buffer = tree_id, []
        buffer.append(msg)
    yield from _tree(tree, buffer)


def read_oasst_tree(path: str | Path, max_record_bytes: int) -> Iterator[Out]:
    """Yield records from nested trees: `{message_tree_id, prompt: {..., replies}}` or a root message."""
    for item in json_lines(path, max_record_bytes):
        if isinstance(item, Reject):
            yield item
            continue
        line, raw, value = item
        try:
            obj = require_object(value)
            root, where = (obj["prompt"], "prompt") if isinstance(obj.get("prompt"), dict) else (obj, "")
            tree_id = obj.get("message_tree_id") or root.get("message_tree_id") or root.get("message_id")
            if not isinstance(tree_id, str):
                raise RecordError("message_tree_id", f"expected a string, got {kind_of(tree_id)}")
        except RecordError as e:
            yield reject(e, line, raw)
            continue
        messages: list[_Msg] = []
        for out in _flatten(root, where, line, raw):
            if isinstance(out, Reject):
                yield out
            else:
                messages.append(out)
        yield from _tree(tree_id, messages)


def _flatten(root: dict[str, Any], where: str, line: int, raw: bytes) -> Iterator[_Msg | Reject]:
    """The messages of a nested tree, parents first; a malformed message is rejected with its replies."""
    stack: list[tuple[Any, str, str | None]] = [(root, where, None)]
    while stack:
        obj, path, parent = stack.pop()
        try:
            if not isinstance(obj, dict):
                raise RecordError(None, f"expected a message object, got {kind_of(obj)}")
            msg = _message(obj, line, parent)
            replies = obj.get("replies") or []
            if not isinstance(replies, list):
                raise RecordError("replies", f"expected a list, got {kind_of(replies)}")
        except RecordError as e:
            field = ".".join(p for p in (path, e.field) if p) or None
            yield reject(RecordError(field, e.message), line, raw)
            continue
        yield msg
        prefix = f"{path}.replies" if path else "replies"
        for i in range(len(replies) - 1, -1, -1):
            stack.append((replies[i], f"{prefix}[{i}]", msg.id))


def _message(obj: dict[str, Any], line: int, parent: str | None) -> _Msg:
    """Check one oasst message's fields; `parent` is the nesting parent, if nested."""
    mid = obj.get("message_id")
    if not isinstance(mid, str) or not mid:
        raise RecordError("message_id", f"expected a string, got {kind_of(mid)}")
    role = role_of(obj.get("role"), _ROLES)
    if role is None:
        raise RecordError(
            "role", f"expected `prompter` or `assistant`, got {describe_value(obj.get('role'))}"
        )
    skip = "deleted" if obj.get("deleted") else "spam" if obj.get("review_result") is False else None
    text = obj.get("text")
    if not isinstance(text, str) or (skip is None and role != "assistant" and not text.strip()):
        raise RecordError(
            "text", "content is empty" if isinstance(text, str) else f"expected a string, got {kind_of(text)}"
        )
    parent_id = obj.get("parent_id")
    if parent_id is not None and not isinstance(parent_id, str):
        raise RecordError("parent_id", f"expected a string or null, got {kind_of(parent_id)}")
    rank = obj.get("rank")
    if rank is not None and (not isinstance(rank, int) or isinstance(rank, bool) or rank < 0):
        raise RecordError("rank", f"expected a whole number from 0 (best), got {rank!r}")
    synthetic = bool(obj.get("synthetic"))
    model = obj.get("model_name") if synthetic and isinstance(obj.get("model_name"), str) else None
    user, lang = obj.get("user_id"), obj.get("lang")
    return _Msg(
        id=mid,
        parent=parent_id or parent,
        role=role,
        text=text,
        line=line,
        skip=skip,
        rank=rank,
        model=model,
        synthetic=synthetic,
        user=user if isinstance(user, str) and user else None,
        lang=lang if isinstance(lang, str) else None,
        created=obj.get("created_date"),
    )


def _tree(tree_id: str | None, messages: list[_Msg]) -> Iterator[Out]:
    """Walk one tree: a record per reachable prompter message, a Notice per skipped subtree."""
    if tree_id is None or not messages:
        return
    by_id: dict[str, _Msg] = {}
    children: dict[str | None, list[_Msg]] = defaultdict(list)
    for m in messages:
        if m.id in by_id:
            yield Reject(
                line=m.line, field="message_id", message=f"duplicate message `{m.id}` in tree `{tree_id}`"
            )
            continue
        by_id[m.id] = m
    orphans: list[_Msg] = []
    for m in by_id.values():
        if m.parent is None or m.parent in by_id:
            children[m.parent].append(m)
        else:
            orphans.append(m)
    roots = children.get(None, [])
    origin = next((r.user for r in roots if r.user and r.role == "user"), None) or f"oasst-tree:{tree_id}"
    seen: set[str] = set()
    for root in roots:
        if root.role != "user" and root.skip is None:
            yield Reject(
                line=root.line, field="role", message=f"tree `{tree_id}` starts with an assistant message"
            )
            seen.update(m.id for m in _subtree(root, children))
            continue
        yield from _walk(root, [], children, tree_id, origin, seen)
    for orphan in orphans:
        below = _subtree(orphan, children)
        seen.update(m.id for m in below)
        yield Notice(
            line=orphan.line,
            kind="orphan",
            message=_skipped(orphan, below, f"its parent `{orphan.parent}` is not in the file"),
        )
    for m in by_id.values():
        if m.id not in seen:
            yield Notice(
                line=m.line, kind="orphan", message=f"message `{m.id}` is in a loop of parent links: skipped"
            )


def _walk(
    root: _Msg,
    path: list[Message],
    children: dict[str | None, list[_Msg]],
    tree_id: str,
    origin: str,
    seen: set[str],
) -> Iterator[Out]:
    """Depth-first from `root`, carrying the conversation so far (iterative: trees can be deep)."""
    stack: list[tuple[_Msg, list[Message]]] = [(root, path)]
    while stack:
        msg, before = stack.pop()
        if msg.skip is not None:
            below = _subtree(msg, children)
            seen.update(m.id for m in below)
            why = "it is deleted" if msg.skip == "deleted" else "it failed review (`review_result` is false)"
            yield Notice(line=msg.line, kind=msg.skip, message=_skipped(msg, below, why))
            continue
        seen.add(msg.id)
        conversation = [*before, Message(role=msg.role, content=msg.text)]  # type: ignore[arg-type]
        kids = children.get(msg.id, [])
        if msg.role == "user":
            yield from _record(msg, conversation, kids, tree_id, origin)
        stack.extend((kid, conversation) for kid in reversed(kids))


def _record(
    msg: _Msg, conversation: list[Message], kids: list[_Msg], tree_id: str, origin: str
) -> Iterator[Out]:
    """The record for one prompter message and its assistant replies (and a Notice per bad time).

    The ranking's time is the source's: the latest `created_date` of the ranked replies (the
    ranking could only be made once all of them existed).
    """
    replies = [k for k in kids if k.role == "assistant" and k.skip is None]
    ranks = sorted({k.rank for k in replies if k.rank is not None})
    dense = (
        {r: i for i, r in enumerate(ranks, start=1)} if sum(k.rank is not None for k in replies) >= 2 else {}
    )
    candidates = [
        CandidateIn(
            text=k.text,
            model=k.model,
            rank=dense.get(k.rank),
            meta={"message_id": k.id, "synthetic": k.synthetic},
        )  # type: ignore[arg-type]
        for k in replies
    ]
    meta: dict[str, Any] = {"message_tree_id": tree_id}
    if msg.lang:
        meta["lang"] = msg.lang
    if msg.synthetic:
        meta["synthetic"] = True
    times, notices = [], []
    for k in replies:
        if k.rank is not None and dense and k.created is not None:
            when = parse_time(k.created)
            if when is None:
                notices.append(Notice(line=k.line, kind="not_kept:created_date",
                                      message=f"field `created_date` not kept: expected an ISO 8601 time, "
                                              f"got {describe_value(k.created)}"))
            else:
                times.append(when)
    yield record(
        msg.line,
        "",
        messages=conversation,
        candidates=candidates,
        external_id=msg.id,
        origin_user=origin,
        meta=meta,
        submitted_at=max(times) if times else None,
    )
    yield from notices


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time as an aware UTC datetime (a time without a zone is taken as UTC), or None."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _subtree(top: _Msg, children: dict[str | None, list[_Msg]]) -> list[_Msg]:
    """`top` and every message below it."""
    out, stack = [], [top]
    while stack:
        m = stack.pop()
        out.append(m)
        stack.extend(children.get(m.id, []))
    return out


def _skipped(msg: _Msg, below: Iterable[_Msg], why: str) -> str:
    """The Notice text for a skipped message and its replies."""
    n = sum(1 for _ in below) - 1
    replies = f" with the {n} message{'s' if n != 1 else ''} below it" if n else ""
    return f"message `{msg.id}` skipped{replies}: {why}"
