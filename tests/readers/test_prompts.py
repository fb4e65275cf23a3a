"""Plain prompts JSONL: strings, `prompt`, `messages`, mt-bench `turns`, ids, users and meta."""

from __future__ import annotations


def test_string_per_line(write, read):
    records, rejects, _ = read(write("p.jsonl", ["Hello?", "  ", 42]), "prompts")
    assert [(r.line, r.messages[0].role, r.messages[0].content) for r in records] == [(1, "user", "Hello?")]
    assert [(r.line, r.message) for r in rejects] == [
        (2, "the prompt is empty"),
        (3, "expected a JSON object or string, got a number"),
    ]


def test_prompt_field_ids_user_and_meta(write, read):
    row = {
        "prompt": "Sum 2+2",
        "uid": "u-1",
        "user_id": "alice",
        "category": "math",
        "difficulty": 2,
        "tags": ["easy", "arith"],
        "nested": {"dropped": True},
        "blank": "",
        "long": "x" * 2000,
    }
    (record,), _, _ = read(write("p.jsonl", [row]), "prompts")
    assert record.messages[0].content == "Sum 2+2"
    assert record.external_id == "u-1"
    assert record.origin_user == "alice"
    assert record.meta == {"category": "math", "difficulty": 2, "tags": ["easy", "arith"]}


def test_id_precedence_and_numbers(write, read):
    rows = [
        {"prompt": "a", "id": 7, "uid": "x"},
        {"prompt": "b", "question_id": 81},
        {"prompt": "c", "prompt_id": "p9", "user": 5},
    ]
    records, _, _ = read(write("p.jsonl", rows), "prompts")
    assert [(r.external_id, r.origin_user) for r in records] == [("7", None), ("81", None), ("p9", "5")]


def test_system_field(write, read):
    (record,), _, _ = read(write("p.jsonl", [{"prompt": "Hi", "system": "Be brief."}]), "prompts")
    assert [(m.role, m.content) for m in record.messages] == [("system", "Be brief."), ("user", "Hi")]


def test_messages_and_prompt_lists(write, read):
    rows = [
        {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}]},
        {"prompt": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]},
    ]
    records, _, _ = read(write("p.jsonl", rows), "prompts")
    assert [m.role for m in records[0].messages] == ["system", "user"]
    assert records[0].demonstration is None
    assert [m.content for m in records[1].demonstration] == ["A"]


def test_turns(write, read):
    rows = [
        {"question_id": 1, "turns": ["First?", "Then?", "  "]},
        {"turns": []},
        {"turns": ["ok", 3]},
        {"turns": "no"},
    ]
    records, rejects, _ = read(write("p.jsonl", rows), "prompts")
    assert records[0].messages[0].content == "First?"
    assert records[0].meta == {"followup_turns": ["Then?"]}
    assert [(r.line, r.field, r.message) for r in rejects] == [
        (2, "turns", "expected a list of strings, got an empty list"),
        (3, "turns[1]", "expected a string, got a number"),
        (4, "turns", "expected a list of strings, got a string"),
    ]


def test_bad_rows(write, read):
    rows = [
        {"title": "no prompt here"},
        {"prompt": ""},
        {"messages": "hello"},
        {"messages": [{"role": "robot", "content": "x"}]},
        {"messages": [{"role": "user", "content": "   "}]},
        {"messages": [{"role": "system", "content": "only a system turn"}]},
    ]
    _, rejects, _ = read(write("p.jsonl", rows), "prompts")
    assert [(r.line, r.field, r.message) for r in rejects] == [
        (
            1,
            None,
            "no prompt: expected one of `prompt`, `messages`, `turns`, `text`, `question`, `instruction`; "
            "got `title`",
        ),
        (2, "prompt", "content is empty"),
        (3, "messages", "expected a list of {role, content}, got a string"),
        (4, "messages[0].role", "expected `system`, `user` or `assistant`, got `robot`"),
        (5, "messages[0].content", "content is empty"),
        (6, "messages", "no user turn: the conversation must contain a user message"),
    ]
    assert rejects[2].describe("prompts.jsonl") == (
        "line 3 of prompts.jsonl: field `messages`: expected a list of {role, content}, got a string"
    )


def test_other_prompt_columns(write, read):
    rows = [{"text": "t"}, {"question": "q"}, {"instruction": "i"}]
    records, _, _ = read(write("p.jsonl", rows), "prompts")
    assert [r.messages[0].content for r in records] == ["t", "q", "i"]
