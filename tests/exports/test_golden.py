"""Golden files: every format's exact output for the hand-made rows of conftest.py.

Regenerate after a deliberate change with `UPDATE_GOLDEN=1 pytest tests/exports/test_golden.py`
and read the diff: it is the change users will see.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from exports import FORMATS, choose_legacy_markers, legacy_texts, validate_records

GOLDEN = Path(__file__).parent / "golden"

# (golden file stem, format, which rows, options)
CASES = [
    ("pairs", "pairs", "rankings", {}),
    ("pairs-exclude-flags", "pairs", "rankings", {"exclude_flags": {"hallucination", "rude"}}),
    ("pairs-consensus", "pairs", "panel", {"aggregate": "consensus"}),
    ("rankings", "rankings", "rankings", {}),
    ("rankings-consensus", "rankings", "panel", {"aggregate": "consensus"}),
    ("kto", "kto", "rankings", {}),
    ("kto-none-acceptable", "kto", "rankings", {"none_acceptable_undesirable": True}),
    ("openai-preference", "openai-preference", "rankings", {}),
    ("sft-messages", "sft-messages", "demos", {}),
    ("sft-prompt-completion", "sft-prompt-completion", "demos", {}),
    ("openai-chat", "openai-chat", "demos", {}),
    ("openai-chat-weighted", "openai-chat", "demos", {"weight_non_human": True}),
    ("openai-legacy", "openai-legacy", "demos", {}),
    ("openai-legacy-markers", "openai-legacy", "markers", "choose"),
    ("prompts", "prompts", "prompts", {}),
    ("openai-rft", "openai-rft", "prompts", {}),
    ("classification", "classification", "scope", {}),
    ("classification-openai", "classification-openai", "scope", {}),
    ("model-comparison", "model-comparison", "comparison", {}),
]


def _rows(which, request):
    name = {"rankings": "ranking_rows", "panel": "panel_rows", "demos": "demo_rows",
            "markers": "marker_rows", "prompts": "prompt_rows",
            "scope": "scope_rows", "comparison": "comparison_rows"}[which]
    return request.getfixturevalue(name)


def _jsonl(records) -> bytes:
    return b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in records)


@pytest.mark.parametrize(("stem", "fmt", "which", "options"), CASES, ids=[c[0] for c in CASES])
def test_format_matches_golden_file(stem, fmt, which, options, request):
    rows = _rows(which, request)
    if options == "choose":
        separator, stop = choose_legacy_markers(legacy_texts(rows))
        options = {"separator": separator, "stop": stop}
    records = list(FORMATS[fmt].fn(rows, **options))
    path = GOLDEN / f"{stem}.jsonl"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_bytes(_jsonl(records))
    assert _jsonl(records).decode() == path.read_text(encoding="utf-8")
    report = validate_records(records, fmt, min_examples=0, separator=options.get("separator"),
                              stop=options.get("stop"))
    assert report.errors == [], report.to_text()


def test_every_format_has_a_golden_file():
    assert {c[1] for c in CASES} == set(FORMATS)
