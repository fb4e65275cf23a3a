"""Structured fuzz inputs for every import reader and the CSV path, and the one check every input must pass.

Each strategy builds a *plausible* file for one format (so the fuzz reaches deep into the reader, not just
its JSON parser), then breaks it: a wrong type at any field (found by walking the record), nested roles,
control characters and NULs in text, CR/CRLF/LF mixes, a BOM, huge K (up to 40 ranked replies), invalid
UTF-8, truncated gzip. `check_import` runs the real import service and holds it to the rule: the import
either succeeds, and the store holds exactly what its report says, or it fails with a `LabelerError`
(one clear message) and the store holds nothing from it. Any other exception is a crash.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from pathlib import Path
from typing import Any

import orjson
from hypothesis import strategies as st
from sqlalchemy import func, select

from db.models import Candidate, Demonstration, Project, Prompt, Ranking
from labeler.errors import LabelerError
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.ingest import ImportOptions, import_file
from labeler.services.projects import create_project

JSON_READERS = ["prompts", "openai-chat", "hh-rlhf", "oasst", "oasst-tree", "trl-preference", "openai-preference"]
PATHS = [*JSON_READERS, "csv"]
EXAMPLES = int(os.environ.get("LABELER_FUZZ_EXAMPLES", "100"))  # per path and store; `make bench` raises it
REPORT = os.environ.get("LABELER_FUZZ_REPORT")  # a JSONL file to which every outcome is appended

NASTY = ["", " ", "\x00", "a\x00b", "\r", "\r\n", "x\ry", "\u2028", "\ufeff", "\t", "\x1b[31m", "\\u0000",
         "\n\nHuman: hi\n\nAssistant: yo", "<script>alert(1)</script>", "🙂", "\ud800", "é" * 3, "null", '"', ","]
text = st.one_of(st.text(max_size=24), st.sampled_from(NASTY),
                 st.lists(st.sampled_from(NASTY), max_size=4).map("".join))
good_text = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), min_size=1, max_size=20).filter(str.strip)
ROLES = ["user", "assistant", "system", "developer", "prompter", "tool", "Human", ""]
role = st.one_of(st.sampled_from(ROLES), st.lists(st.sampled_from(ROLES), max_size=2),
                 st.dictionaries(st.sampled_from(["role", "user"]), st.sampled_from(ROLES), max_size=2))
scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), text)
wrong = st.recursive(scalar | role, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.sampled_from(["role", "content", "text", "type", "replies", "rank"]) | text,
                                       inner, max_size=3), max_leaves=6)


def message(roles: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"role": st.sampled_from(roles), "content": good_text | text})


conversation = st.lists(message(["user", "assistant", "system"]), min_size=1, max_size=4).map(
    lambda ms: [*ms, {"role": "user", "content": "the question"}])
reply = st.one_of(good_text, st.lists(message(["assistant"]), min_size=1, max_size=2))


def transcript(draw: st.DrawFn) -> str:
    turns = draw(st.lists(st.tuples(st.sampled_from(["Human", "Assistant"]), good_text | text), min_size=1,
                          max_size=4))
    return "".join(f"\n\n{who}: {what}" for who, what in [*turns, ("Human", "q"), ("Assistant", draw(good_text))])


@st.composite
def _prompts_row(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["prompt", "messages", "turns", "question", "string"]))
    if kind == "string":
        return draw(good_text | text)
    value = {"prompt": good_text | text, "messages": conversation, "turns": st.lists(good_text, min_size=1, max_size=3),
             "question": good_text}[kind]
    row = {kind: draw(value), "id": draw(st.none() | st.integers() | good_text), "user_id": draw(st.none() | good_text)}
    if draw(st.booleans()):
        row["system"] = draw(good_text | text)
    return row


@st.composite
def _chat_row(draw: st.DrawFn) -> dict[str, Any]:
    row: dict[str, Any] = {"messages": [*draw(conversation), *draw(st.lists(message(["assistant"]), max_size=2))]}
    if draw(st.booleans()):
        row["model"] = draw(good_text)
    return row


@st.composite
def _hh_row(draw: st.DrawFn) -> dict[str, Any]:
    return {"chosen": transcript(draw), "rejected": transcript(draw)}


@st.composite
def _trl_row(draw: st.DrawFn) -> dict[str, Any]:
    return {"prompt": draw(good_text | conversation), "chosen": draw(reply), "rejected": draw(reply),
            "score_chosen": draw(st.none() | st.floats(allow_nan=False))}


@st.composite
def _openai_pref_row(draw: st.DrawFn) -> dict[str, Any]:
    return {"input": {"messages": draw(conversation)}, "preferred_output": draw(reply),
            "non_preferred_output": draw(reply)}


rank = st.one_of(st.integers(0, 40), st.none(), st.integers(-3, -1), st.integers(2**40, 2**70))


@st.composite
def _oasst_tree_row(draw: st.DrawFn) -> dict[str, Any]:
    """A nested tree: a prompter root with up to 40 replies (huge K), some with follow-ups."""
    tree = draw(st.sampled_from(["t1", "t2"]))
    replies = [{"message_id": f"{tree}-a{i}", "role": "assistant", "text": draw(good_text | text), "rank": draw(rank),
                "deleted": draw(st.booleans()) if i % 5 == 4 else False,
                "replies": [{"message_id": f"{tree}-f{i}", "role": "prompter", "text": "more?"}] if i % 7 == 6 else []}
               for i in range(draw(st.integers(0, 40)))]
    return {"message_tree_id": tree, "prompt": {"message_id": f"{tree}-q", "role": "prompter",
                                                 "text": draw(good_text | text), "replies": replies}}


def _flatten(node: dict[str, Any], tree: str, parent: str | None, out: list[dict[str, Any]]) -> None:
    row = {k: v for k, v in node.items() if k != "replies"}
    out.append({**row, "message_tree_id": tree, "parent_id": parent})
    for child in node.get("replies", []):
        _flatten(child, tree, node["message_id"], out)


@st.composite
def _oasst_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Flat oasst1 messages of one or two trees, in a shuffled order (parents not always first)."""
    rows: list[dict[str, Any]] = []
    for tree in draw(st.lists(_oasst_tree_row(), min_size=1, max_size=2)):
        _flatten(tree["prompt"], tree["message_tree_id"], None, rows)
    return draw(st.permutations(rows)) if len(rows) < 12 and draw(st.booleans()) else rows


ROWS = {"prompts": _prompts_row(), "openai-chat": _chat_row(), "hh-rlhf": _hh_row(), "trl-preference": _trl_row(),
        "openai-preference": _openai_pref_row(), "oasst-tree": _oasst_tree_row()}


def _paths(value: Any, here: tuple = ()) -> list[tuple]:
    """Every place in a JSON value (dict keys, list indexes), itself included."""
    out = [here]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*here, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*here, i))
    return out


def _replace(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replace(copy[head], rest, new)
    return copy


@st.composite
def broken(draw: st.DrawFn, row: Any) -> Any:
    """`row`, or `row` with a wrong value at one or two of its places (a key dropped, now and then)."""
    for _ in range(draw(st.integers(0, 2))):
        paths = _paths(row)
        path = paths[draw(st.integers(0, len(paths) - 1))]
        if path and isinstance(path[-1], str) and draw(st.integers(0, 4)) == 0:
            parent = path[:-1]
            row = _replace(row, parent, {k: v for k, v in _get(row, parent).items() if k != path[-1]})
        else:
            row = _replace(row, path, draw(wrong))
    return row


def _get(value: Any, path: tuple) -> Any:
    for part in path:
        value = value[part]
    return value


def _encode(draw: st.DrawFn, row: Any) -> bytes:
    """One JSON line: ASCII-escaped or raw UTF-8 (a lone surrogate then becomes invalid UTF-8)."""
    if draw(st.booleans()):
        return json.dumps(row).encode()
    return json.dumps(row, ensure_ascii=False).encode("utf-8", "surrogatepass")


@st.composite
def _file_bytes(draw: st.DrawFn, lines: list[bytes]) -> bytes:
    """Lines joined with mixed line ends, blank lines, maybe a BOM, a stray byte, a cut."""
    out = b"\xef\xbb\xbf" if draw(st.integers(0, 9)) == 0 else b""
    for line in lines:
        out += line + draw(st.sampled_from([b"\n", b"\n", b"\r\n", b"\r", b"\n\n", b" \r\n"]))
    if draw(st.integers(0, 9)) == 0:
        at = draw(st.integers(0, len(out)))
        out = out[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\r", b'"'])) + out[at:]
    if draw(st.integers(0, 14)) == 0:
        out = out[: draw(st.integers(0, len(out)))]
    return out


@st.composite
def json_file(draw: st.DrawFn, fmt: str) -> tuple[bytes, str]:
    """(file bytes, name suffix) of a broken file in JSON reader `fmt`; gzipped (maybe truncated) now and then."""
    rows = draw(_oasst_rows()) if fmt == "oasst" else draw(st.lists(ROWS[fmt], min_size=1, max_size=4))
    rows = [draw(broken(r)) if draw(st.integers(0, 2)) == 0 else r for r in rows]
    data = draw(_file_bytes([_encode(draw, r) for r in rows]))
    return _maybe_gzip(draw, data, ".jsonl")


@st.composite
def csv_file(draw: st.DrawFn) -> tuple[bytes, str]:
    """(file bytes, suffix) of a CSV or TSV file: quoted or raw cells holding quotes, CR, LF, NUL, delimiters."""
    tsv = draw(st.booleans())
    columns = draw(st.lists(st.sampled_from(["prompt", "text", "question", "id", "user_id", "extra", "Prompt "]),
                            min_size=1, max_size=4, unique=True))
    cell = st.one_of(good_text, text, st.sampled_from(['"', '""', 'a"b', "x\ny", "x\r\ny", "a,b", "a\tb", "\x00"]))
    rows = draw(st.lists(st.lists(cell, min_size=0, max_size=len(columns) + 1), max_size=5))
    if draw(st.booleans()):  # a proper writer (quotes where needed), with a chosen line end
        buffer = io.StringIO()
        terminator = draw(st.sampled_from(["\n", "\r\n", "\r"]))
        writer = csv.writer(buffer, delimiter="\t" if tsv else ",", lineterminator=terminator)
        writer.writerows([columns, *rows])
        data = buffer.getvalue().encode("utf-8", "surrogatepass")
    else:  # cells joined raw: broken quoting, stray line ends
        sep = "\t" if tsv else ","
        data = draw(_file_bytes([sep.join(r).encode("utf-8", "surrogatepass") for r in [columns, *rows]]))
    return _maybe_gzip(draw, data, ".tsv" if tsv else ".csv")


def _maybe_gzip(draw: st.DrawFn, data: bytes, suffix: str) -> tuple[bytes, str]:
    if draw(st.integers(0, 5)) != 0:
        return data, suffix
    packed = gzip.compress(data)
    if draw(st.booleans()):
        packed = packed[: draw(st.integers(2, max(2, len(packed) - 1)))]  # truncated gzip
    return packed, suffix + ".gz"


class Fuzz:
    """Runs imports of fuzzed files into fresh projects and keeps count of the outcomes."""

    def __init__(self, folder: Path, store: str) -> None:
        self.folder, self.store, self.n = folder, store, 0

    def check(self, path_name: str, data: bytes, suffix: str, fmt: str, skip_invalid: bool) -> str:
        """Import `data`; return "imported" or "refused"; raise on a crash or a partial import."""
        self.n += 1
        project = f"fuzz{self.n}"
        with session_scope() as s:
            create_project(s, OPERATOR, project, "g", {"k_min": 2, "k_max": 9})
        path = self.folder / f"input{self.n}{suffix}"
        path.write_bytes(data)
        options = ImportOptions(format=fmt, skip_invalid=skip_invalid, rejects_path=self.folder / "rejects.jsonl")
        report = None
        try:
            with session_scope() as s:
                report = import_file(s, OPERATOR, project, path, options)
        except LabelerError as e:
            message = str(e)
            assert message.strip() and "Traceback" not in message, repr(message[:300])
        stored = stored_counts(project)
        if report is None:
            assert stored == (0, 0, 0, 0), f"a failed import left rows behind: {stored}"
            outcome = "refused"
        else:
            assert stored == (report.prompts_added, report.candidates_added, report.rankings_added,
                              report.demonstrations_added), (stored, report)
            outcome = "imported"
        if REPORT:
            with open(REPORT, "ab") as f:
                f.write(orjson.dumps({"path": path_name, "store": self.store, "outcome": outcome}) + b"\n")
        path.unlink()
        return outcome


def stored_counts(project: str) -> tuple[int, int, int, int]:
    """Prompts, candidates, rankings and demonstrations a project holds (to compare with a report)."""
    with session_scope(write=False) as s:
        pid = s.scalar(select(Project.id).where(Project.name == project))
        prompts = select(Prompt.id).where(Prompt.project_id == pid)
        return (
            s.scalar(select(func.count()).select_from(Prompt).where(Prompt.project_id == pid)),
            s.scalar(select(func.count()).select_from(Candidate).where(Candidate.prompt_id.in_(prompts))),
            s.scalar(select(func.count()).select_from(Ranking).where(Ranking.prompt_id.in_(prompts))),
            s.scalar(select(func.count()).select_from(Demonstration).where(Demonstration.prompt_id.in_(prompts))),
        )
