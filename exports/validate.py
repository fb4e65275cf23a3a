"""Validation of export files, ours or anyone's, against the target format's rules (`exports.checks`).

Design constraints: it streams (one record at a time, so an export validates as it writes and a
512 MB file needs no 512 MB of memory); it never stops at the first fault but reports every
distinct one with its line and field, repeats folded into a count; and it adds statistics a
trainer cares about: examples, approximate tokens per example (min, mean, p50, p95, max) and the
estimated training tokens.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from exports.checks import CHECKS, Check
from exports.errors import ExportError
from exports.tokens import DEFAULT_LIMIT, default_epochs, model_limit

MIN_OPENAI_EXAMPLES = 10
MAX_OPENAI_BYTES = 512 * 1024 * 1024
MAX_PROBLEMS = 200  # distinct problems kept per kind; repeats are counted, not stored


@dataclass
class Problem:
    """One fault: where (line, field) and what; `repeats` counts later lines with the same fault."""

    line: int | None
    field: str | None
    message: str
    repeats: int = 0

    def render(self, name: str | None = None) -> str:
        """`line 4 of train.jsonl: field `messages`: message (and 2 more lines)`."""
        where = f"line {self.line}" + (f" of {name}" if name else "") if self.line else (name or "")
        parts = [p for p in (where, f"field `{self.field}`" if self.field else "", self.message) if p]
        more = f" (and {self.repeats:,} more line{'s' * (self.repeats != 1)})" if self.repeats else ""
        return ": ".join(parts) + more

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"line": self.line, "field": self.field, "message": self.message, "repeats": self.repeats}


@dataclass
class Report:
    """What validation found in one file or stream: errors, warnings and statistics."""

    format: str
    name: str | None = None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    omitted: int = 0  # problems past MAX_PROBLEMS distinct ones, not stored

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed)."""
        return not self.errors

    def to_text(self) -> str:
        """The report as lines a person reads: a summary, each problem, then statistics."""
        n_err = sum(1 + p.repeats for p in self.errors)
        n_warn = sum(1 + p.repeats for p in self.warnings)
        head = f"{self.name or 'records'} ({self.format}): "
        head += "valid" if self.ok else f"{n_err:,} error{'s' * (n_err != 1)}"
        head += f", {n_warn:,} warning{'s' * (n_warn != 1)}"
        lines = [head]
        lines += [f"error: {p.render(self.name)}" for p in self.errors]
        lines += [f"warning: {p.render(self.name)}" for p in self.warnings]
        if self.omitted:
            lines.append(f"... {self.omitted:,} more problems not shown")
        lines.append("statistics: " + _stats_text(self.stats))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, for `labeler validate --json` and the manifest."""
        return {
            "name": self.name,
            "format": self.format,
            "ok": self.ok,
            "errors": [p.to_dict() for p in self.errors],
            "warnings": [p.to_dict() for p in self.warnings],
            "omitted": self.omitted,
            "stats": self.stats,
        }


def _stats_text(stats: dict[str, Any]) -> str:
    tok = stats.get("tokens") or {}
    parts = [f"{stats.get('examples', 0):,} examples"]
    if tok:
        parts.append("~tokens per example: " + ", ".join(f"{k} {v:,}" for k, v in tok.items()))
        parts.append(f"~{stats['estimated_training_tokens']:,} training tokens "
                     f"over {stats['epochs']} epoch(s)")
    parts += [f"{k} {v:,}" for k, v in stats.get("counts", {}).items()]
    return "; ".join(parts)


def get_check(format: str) -> Check:
    """The rules of a format, or a clear error naming the known ones."""
    try:
        return CHECKS[format]
    except KeyError:
        raise ExportError(f"unknown format `{format}`; known: {', '.join(sorted(CHECKS))}") from None


def example_key(record: Any) -> bytes:
    """A digest of a record's canonical JSON: equal records, equal keys (for cross-file duplicates)."""
    return hashlib.blake2b(orjson.dumps(record, option=orjson.OPT_SORT_KEYS), digest_size=16).digest()


class Validator:
    """Streaming validation: `add` each record in order, then `finish` for the file-level rules."""

    def __init__(
        self,
        format: str,
        *,
        name: str | None = None,
        target_model: str | None = None,
        min_examples: int | None = None,
        check_groups: bool = False,
        separator: str | None = None,
        stop: str | None = None,
        elsewhere: dict[bytes, tuple[str, int]] | None = None,
    ):
        self.format, self.name, self.check = format, name, get_check(format)
        self.min_examples = (MIN_OPENAI_EXAMPLES if self.check.openai else 0) if min_examples is None \
            else min_examples
        self.model = target_model
        self.limit, known = model_limit(target_model) if self.check.openai else (DEFAULT_LIMIT, True)
        self.report = Report(format=format, name=name)
        self._seen: dict[tuple[str, str | None, str], Problem] = {}
        self.state: dict[str, Any] = {"line": 0}
        if check_groups:
            self.state["groups"] = {}
        if separator is not None:
            self.state["separator"] = separator
        if stop is not None:
            self.state["stop"] = stop
        self.elsewhere = elsewhere
        self.counts: dict[str, int] = {}
        self.examples = 0
        # tokens -> examples: exact statistics in memory bounded by the distinct token counts
        self.histogram: dict[int, int] = {}
        self._fn = self.check.fn
        if not known:
            self.report.warnings.append(Problem(None, None, f"unknown model `{target_model}`: checking "
                                                f"against the default {DEFAULT_LIMIT:,}-token limit"))

    @property
    def line(self) -> int:
        """The line (1-based) of the record being checked."""
        return self.state["line"]

    def _problem(self, bucket: list[Problem], kind: str, field: str | None, message: str) -> None:
        key = (kind, field, message)
        if key in self._seen:
            self._seen[key].repeats += 1
        elif len(bucket) < MAX_PROBLEMS:
            self._seen[key] = p = Problem(self.line or None, field, message)
            bucket.append(p)
        else:
            self.report.omitted += 1

    def error(self, field: str | None, message: str) -> None:
        """Record an error at the current line."""
        self._problem(self.report.errors, "e", field, message)

    def warn(self, field: str | None, message: str) -> None:
        """Record a warning at the current line."""
        self._problem(self.report.warnings, "w", field, message)

    def count(self, key: str, n: int = 1) -> None:
        """Add to a named counter shown in the statistics."""
        self.counts[key] = self.counts.get(key, 0) + n

    def add(self, record: Any) -> None:
        """Check the next record."""
        self.state["line"] += 1
        tokens = self._fn(record, self)
        self.examples += 1
        if self.elsewhere is not None:
            other = self.elsewhere.get(example_key(record))
            if other is not None:
                self.error(None, f"the same example is line {other[1]} of {other[0]}: an example may not "
                                 "be in both the training and the validation file")
        if tokens is not None:
            self.histogram[tokens] = self.histogram.get(tokens, 0) + 1
            if tokens > self.limit and self.check.openai:
                self.error(None, f"~{tokens:,} tokens, over the {self.limit:,}-token training context of "
                                 f"`{self.model or 'the default model'}`: OpenAI would cut the end off")

    def add_unparsable(self, message: str) -> None:
        """Count a line that is not a JSON value as an error at the next line."""
        self.state["line"] += 1
        self.examples += 1
        self.error(None, message)

    def finish(self, *, size: int | None = None) -> Report:
        """Apply the file-level rules and return the report."""
        r = self.report
        self.state["line"] = 0
        if self.examples < self.min_examples:
            self.error(None, f"{self.examples} example{'s' * (self.examples != 1)}: OpenAI needs at "
                             f"least {self.min_examples} in a training file")
        if size is not None and self.check.openai and size > MAX_OPENAI_BYTES:
            self.error(None, f"{size:,} bytes: over OpenAI's 512 MB limit per file")
        if self.format == "kto" and self.examples:
            for label in ("desirable", "undesirable"):
                if not self.counts.get(label):
                    self.warn("label", f"no {label} example: KTO needs both kinds")
        r.stats = self._stats(size)
        return r

    def _percentile(self, q: float, counted: int) -> int:
        """The token count below which a share `q` of the examples fall (nearest rank)."""
        rank = max(1, math.ceil(q * counted))
        seen = 0
        for tokens in sorted(self.histogram):
            seen += self.histogram[tokens]
            if seen >= rank:
                return tokens
        return max(self.histogram)

    def _stats(self, size: int | None) -> dict[str, Any]:
        stats: dict[str, Any] = {"examples": self.examples}
        if size is not None:
            stats["bytes"] = size
        h = self.histogram
        if h:
            counted = sum(h.values())
            total = sum(t * n for t, n in h.items())
            stats["tokens"] = {
                "min": min(h), "mean": round(total / counted), "p50": self._percentile(0.5, counted),
                "p95": self._percentile(0.95, counted), "max": max(h),
            }
            epochs = default_epochs(self.examples) if self.check.openai else 1
            stats["total_tokens"] = total
            stats["epochs"] = epochs
            stats["estimated_training_tokens"] = sum(min(t, self.limit) * n for t, n in h.items()) * epochs
            if self.check.openai:
                stats["context_limit"] = self.limit
        if self.counts:
            stats["counts"] = dict(sorted(self.counts.items()))
        return stats


def validate_records(records: Iterable[Any], format: str, **options: Any) -> Report:
    """Validate records in memory or streamed (options as `Validator`'s)."""
    v = Validator(format, **options)
    for rec in records:
        v.add(rec)
    return v.finish()


def _lines(path: Path) -> Iterable[tuple[int, bytes]]:
    with open(path, "rb") as f:
        yield from enumerate(f, 1)


def _parse(raw: bytes, number: int) -> tuple[Any, str | None]:
    """(record, None) or (None, why the line is not one JSON value)."""
    if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
        return None, "the file starts with a byte order mark: write UTF-8 without one"
    if not raw.strip():
        return None, "empty line: every line must hold one JSON object"
    try:
        return orjson.loads(raw), None
    except orjson.JSONDecodeError as e:
        return None, f"not valid JSON (or not UTF-8): {e}"


def _index(paths: Sequence[str | os.PathLike[str]]) -> dict[bytes, tuple[str, int]]:
    found: dict[bytes, tuple[str, int]] = {}
    for p in paths:
        for number, raw in _lines(Path(p)):
            rec, _ = _parse(raw, number)
            if rec is not None:
                found.setdefault(example_key(rec), (Path(p).name, number))
    return found


def validate_file(
    path: str | os.PathLike[str],
    format: str,
    *,
    target_model: str | None = None,
    other_files: Sequence[str | os.PathLike[str]] = (),
    separator: str | None = None,
    stop: str | None = None,
    min_examples: int | None = None,
) -> Report:
    """Validate a JSONL file line by line; `other_files` (e.g. the validation file) must share no example."""
    p = Path(path)
    elsewhere = _index(other_files) if other_files else None
    v = Validator(format, name=p.name, target_model=target_model, check_groups=True, separator=separator,
                  stop=stop, min_examples=min_examples, elsewhere=elsewhere)
    for number, raw in _lines(p):
        rec, why = _parse(raw, number)
        if why is None:
            v.add(rec)
        else:
            v.add_unparsable(why)
        assert v.line == number
    return v.finish(size=p.stat().st_size)
