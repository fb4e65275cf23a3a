"""Each validation rule on a hand-made faulty line, and the report's text and JSON forms."""

from __future__ import annotations

import json

import pytest

import exports.validate as validate_module
from exports import validate_file, validate_records

U = {"role": "user", "content": "Hi"}
A = {"role": "assistant", "content": "Hello!"}
CHAT = {"messages": [U, A]}


def _problems(record, fmt, *, warnings=False, **kw):
    report = validate_records([record], fmt, min_examples=0, **kw)
    return [p.render() for p in (report.warnings if warnings else report.errors)]


OPENAI_CHAT_ERRORS = [
    ([1], "line 1: expected a JSON object, got a list"),
    ({}, "line 1: field `messages`: missing"),
    ({"messages": [U, A], "model": "x"}, "line 1: unknown key(s) `model`; allowed: `functions`, `messages`, "
                                         "`parallel_tool_calls`, `tools`"),
    ({"messages": "Hi"},
     "line 1: field `messages`: expected a list of {role, content} messages, got a string"),
    ({"messages": []}, "line 1: field `messages`: expected at least one message, got an empty list"),
    ({"messages": [{"role": "human", "content": "Hi"}, A]},
     "line 1: field `messages[0].role`: expected one of `assistant`, `developer`, `function`, `system`, "
     "`tool`, `user`, got 'human'"),
    ({"messages": [U, {**A, "extra": 1}]}, "line 1: field `messages[1]`: unknown key(s) `extra`"),
    ({"messages": [{**U, "weight": 1}, A]},
     "line 1: field `messages[0].weight`: `weight` is allowed only on assistant messages, not on `user`"),
    ({"messages": [U, {**A, "weight": 2}]}, "line 1: field `messages[1].weight`: expected 0 or 1, got 2"),
    ({"messages": [U, {**A, "weight": True}]},
     "line 1: field `messages[1].weight`: expected 0 or 1, got True"),
    ({"messages": [U]}, "line 1: field `messages`: no assistant message: every example needs at least one"),
    ({"messages": [U, {"role": "assistant"}]}, "line 1: field `messages[1].content`: missing content"),
    ({"messages": [U, {"role": "assistant", "content": 5}]},
     "line 1: field `messages[1].content`: expected a string, got a number"),
    ({"messages": [U, {"role": "assistant", "content": "  "}]},
     "line 1: field `messages[1].content`: empty assistant message"),
    ({"messages": [U, {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]}]},
     "line 1: field `messages[1].tool_calls[0].function.arguments`: does not parse as JSON"),
    ({"messages": [U, {"role": "assistant", "content": None, "tool_calls": [{"id": "c1"}]}]},
     "line 1: field `messages[1].tool_calls[0]`: expected an object with `id`, `type` and `function`"),
]


@pytest.mark.parametrize(("record", "expected"), OPENAI_CHAT_ERRORS,
                         ids=[e[1].split(": ", 1)[1][:40] for e in OPENAI_CHAT_ERRORS])
def test_openai_chat_errors(record, expected):
    errors = _problems(record, "openai-chat")
    assert any(e.startswith(expected) for e in errors), errors


def test_valid_openai_chat_with_tools_and_weights_passes():
    record = {"messages": [
        {"role": "system", "content": "Use tools."}, U,
        {"role": "assistant", "content": None, "weight": 0, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "2"},
        {"role": "assistant", "content": "It is 2.", "weight": 1},
    ], "tools": [{"type": "function", "function": {"name": "add", "parameters": {}}}]}
    report = validate_records([record], "openai-chat", min_examples=0)
    assert report.ok and report.warnings == [], report.to_text()


@pytest.mark.parametrize(("record", "expected"), [
    ({"messages": [U, {**A, "weight": 0}]},
     "every assistant message has `weight: 0`: the example trains nothing"),
    ({"messages": [U, A, U]}, "ends with a `user` message, which is not trained on"),
    ({"messages": [{"role": "system", "content": "s"}, A]}, "no user message"),
])
def test_openai_chat_warnings(record, expected):
    assert any(expected in w for w in _problems(record, "openai-chat", warnings=True))
    assert _problems(record, "openai-chat") == []


def test_fewer_than_ten_examples_is_an_error_only_for_openai_training_files():
    nine = validate_records([CHAT] * 9, "openai-chat")
    assert nine.errors[0].message.startswith("9 examples: OpenAI needs")
    assert validate_records([CHAT] * 10, "openai-chat").ok
    assert validate_records([{"messages": [U, A]}] * 2, "sft-messages").ok


def test_files_over_512_mb_are_refused(tmp_path, monkeypatch):
    path = tmp_path / "big.jsonl"
    path.write_text("".join(json.dumps(CHAT) + "\n" for _ in range(10)))
    monkeypatch.setattr(validate_module, "MAX_OPENAI_BYTES", 100)
    report = validate_file(path, "openai-chat")
    assert [p.render() for p in report.errors] == [
        f"{path.stat().st_size:,} bytes: over OpenAI's 512 MB limit per file"]


def test_lines_that_are_not_json_objects(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"messages": []}\n\n{"messages": [\n"x"\n\xff\n')
    errors = [p.render(path.name) for p in validate_file(path, "sft-messages").errors]
    assert errors[0] == "line 1 of bad.jsonl: the file starts with a byte order mark: write UTF-8 without one"
    assert errors[1] == "line 2 of bad.jsonl: empty line: every line must hold one JSON object"
    assert errors[2].startswith("line 3 of bad.jsonl: not valid JSON (or not UTF-8): ")
    assert errors[3] == "line 4 of bad.jsonl: expected a JSON object, got a string"
    assert errors[4].startswith("line 5 of bad.jsonl: not valid JSON (or not UTF-8)")


PREFERENCE = {"input": {"messages": [U]}, "preferred_output": [A],
              "non_preferred_output": [{"role": "assistant", "content": "Go away."}]}


@pytest.mark.parametrize(("change", "expected"), [
    ({"input": {"messages": [U, A]}},
     "field `input.messages`: must end with a user message, ends with `assistant`"),
    ({"input": {"messages": [U], "model": "x"}}, "field `input`: unknown key(s) `model`"),
    ({"input": [U]}, "field `input`: expected an object with `messages`, got a list"),
    ({"preferred_output": [A, A]},
     "field `preferred_output`: expected a list of exactly one assistant message, got a list of 2"),
    ({"preferred_output": [U]}, "field `preferred_output[0].role`: expected `assistant`, got ['user']"),
    ({"non_preferred_output": [A]}, "field `non_preferred_output`: same as `preferred_output`"),
    ({"preferred_output": [{**A, "weight": 1}]},
     "field `preferred_output[0].weight`: `weight` belongs to chat"),
    ({"extra": 1}, "unknown key(s) `extra`"),
])
def test_openai_preference_errors(change, expected):
    errors = _problems({**PREFERENCE, **change}, "openai-preference")
    assert any(expected in e for e in errors), errors


PAIR = {"prompt": [U], "chosen": [A], "rejected": [{"role": "assistant", "content": "No."}], "group_id": "r1",
        "margin": 1.0}


@pytest.mark.parametrize(("change", "expected"), [
    ({"prompt": "Hi"},
     "`prompt` is a string, `chosen` is a list of messages, `rejected` is a list of messages: use one type"),
    ({"rejected": [A]}, "field `rejected`: same as `chosen`: the pair teaches nothing"),
    ({"chosen": [U, A]}, "field `chosen`: expected assistant messages only, got roles ['user', 'assistant']"),
    ({"prompt": [U, A]}, "field `prompt`: must end with a user (or tool) message, ends with `assistant`"),
    ({"margin": "big"}, "field `margin`: expected a number, got a string"),
    ({"agreement": 2}, "field `agreement`: expected a share between 0 and 1, got 2"),
    ({"group_id": [1]}, "field `group_id`: expected a string or a number, got a list"),
])
def test_pairs_errors(change, expected):
    errors = _problems({**PAIR, **change}, "pairs")
    assert any(expected in e for e in errors), errors


@pytest.mark.parametrize("record", [
    {"prompt": "Hi", "chosen": "", "rejected": "No."},
    {**PAIR, "chosen": [{"role": "assistant", "content": " "}]},
])
def test_an_empty_reply_in_a_pair_is_a_warning_not_an_error(record):
    """Real preference data prefers an empty reply at times (HH-RLHF): TRL trains on it as it is."""
    assert _problems(record, "pairs") == []
    warnings = _problems(record, "pairs", warnings=True)
    assert any("empty" in w for w in warnings), warnings


def test_pairs_conventions_warnings_and_groups(tmp_path):
    assert _problems({**PAIR, "source": "x"}, "pairs", warnings=True) == [
        "line 1: unknown column(s) `source`: trainers ignore or drop them"]
    implicit = {"chosen": [U, A], "rejected": [U, {**A, "content": "No"}]}  # no `prompt` column
    assert validate_records([implicit], "pairs").ok
    path = tmp_path / "pairs.jsonl"
    groups = ["r1", "r1", "r2", "r1"]
    path.write_text("".join(json.dumps({**PAIR, "group_id": g}) + "\n" for g in groups))
    report = validate_file(path, "pairs")
    assert [p.render() for p in report.errors] == [
        "line 4: field `group_id`: group `r1` is not contiguous: it started at line 1"]
    assert report.stats["counts"] == {"groups": 3}


def test_kto_sft_and_rankings_rules():
    kto = {"prompt": [U], "completion": [A], "label": True}
    assert _problems({**kto, "label": "yes"}, "kto") == [
        "line 1: field `label`: expected true or false, got a string"]
    report = validate_records([kto, kto], "kto")
    assert [p.render() for p in report.warnings] == [
        "field `label`: no undesirable example: KTO needs both kinds"]
    assert _problems({"messages": [U, A, U]}, "sft-messages") == [
        "line 1: field `messages`: must end with an assistant message, ends with `user`"]
    assert _problems({"prompt": [U], "completion": [A, U, A]}, "sft-prompt-completion") == [
        "line 1: field `completion`: expected assistant messages only, "
        "got roles ['assistant', 'user', 'assistant']"]
    ranking = {"prompt": [U], "candidates": [{"completion": [A], "rank": 2}, {"completion": [A], "rank": 1}]}
    assert _problems(ranking, "rankings") == [
        "line 1: field `candidates[1].rank`: candidates must be in rank order, unranked ones last"]


def test_openai_legacy_rules():
    good = {"prompt": "Hi\n\n###\n\n", "completion": " Hello END"}
    assert validate_records([good], "openai-legacy", min_examples=0).ok
    no_separator = {"prompt": "Hi", "completion": " Hello END"}
    assert _problems(no_separator, "openai-legacy", separator="\n\n###\n\n") == [
        "line 1: field `prompt`: must end with the separator '\\n\\n###\\n\\n', once"]
    assert _problems({**good, "completion": " Hello END END"}, "openai-legacy") == [
        "line 1: field `completion`: must end with the stop sequence ' END', once"]
    assert _problems({**good, "completion": "Hello END"}, "openai-legacy", warnings=True) == [
        "line 1: field `completion`: should start with a space (OpenAI's tokenizers put one before words)"]
    assert "unknown key(s) `id`" in _problems({**good, "id": 1}, "openai-legacy")[0]


def test_repeated_faults_fold_into_one_line_and_the_report_serializes():
    records = [{"messages": [U]}] * 3 + [{"messages": [U, A]}] * 9
    report = validate_records(records, "openai-chat")
    assert report.to_text().splitlines()[:2] == [
        "records (openai-chat): 3 errors, 3 warnings",
        "error: line 1: field `messages`: no assistant message: every example needs at least one "
        "(and 2 more lines)",
    ]
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is False and data["errors"][0] == {
        "line": 1, "field": "messages", "message": "no assistant message: every example needs at least one",
        "repeats": 2}
    assert data["stats"]["examples"] == 12


def test_unknown_format_is_refused():
    from exports import ExportError

    with pytest.raises(ExportError, match="unknown format `csv`; known: classification, classification-openai, kto"):
        validate_records([], "csv")
