"""OpenAI chat files: the prompt runs to the last user turn; then a demonstration or a model's candidate."""

from __future__ import annotations

SYSTEM = {"role": "system", "content": "Be kind."}
USER = {"role": "user", "content": "Hi"}
ASSISTANT = {"role": "assistant", "content": "Hello!"}


def test_demonstration_after_the_last_user_turn(write, read):
    rows = [
        {"messages": [SYSTEM, USER, ASSISTANT]},
        {
            "messages": [
                USER,
                ASSISTANT,
                {"role": "user", "content": "More?"},
                ASSISTANT,
                {"role": "assistant", "content": "And more."},
            ]
        },
        {"messages": [SYSTEM, USER], "id": "x1", "user_id": "bob", "topic": "greeting"},
    ]
    records, rejects, _ = read(write("c.jsonl", rows), "openai-chat")
    assert rejects == []
    assert [m.role for m in records[0].messages] == ["system", "user"]
    assert [m.content for m in records[0].demonstration] == ["Hello!"]
    assert [m.role for m in records[1].messages] == ["user", "assistant", "user"]
    assert [m.content for m in records[1].demonstration] == ["Hello!", "And more."]
    assert records[2].demonstration is None
    assert (records[2].external_id, records[2].origin_user, records[2].meta) == (
        "x1",
        "bob",
        {"topic": "greeting"},
    )


def test_model_answer_becomes_a_candidate(write, read):
    row = {
        "uid": "q1",
        "ans_id": "a1",
        "model": "gpt-4-0314",
        "tstamp": 1.5,
        "messages": [USER, {"role": "assistant", "content": {"answer": "Hello from the model"}}],
    }
    (record,), _, _ = read(write("c.jsonl", [row]), "openai-chat")
    assert record.demonstration is None
    assert record.external_id == "q1"
    assert record.meta == {}
    (candidate,) = record.candidates
    assert (candidate.text, candidate.model, candidate.rank) == ("Hello from the model", "gpt-4-0314", None)
    assert candidate.meta == {"ans_id": "a1", "tstamp": 1.5}


def test_content_parts_and_developer_role(write, read):
    row = {
        "messages": [
            {"role": "developer", "content": "Rules"},
            {
                "role": "user",
                "content": [{"type": "text", "text": "Part one"}, {"type": "text", "text": "part two"}],
            },
        ]
    }
    (record,), _, _ = read(write("c.jsonl", [row]), "openai-chat")
    assert [(m.role, m.content) for m in record.messages] == [
        ("system", "Rules"),
        ("user", "Part one\npart two"),
    ]


def test_bad_conversations(write, read):
    rows = [
        {"messages": [SYSTEM, ASSISTANT]},
        {"messages": [USER, {"role": "tool", "content": "42"}]},
        {"messages": [USER, {"role": "assistant", "content": None, "tool_calls": []}]},
        {"messages": [USER, {"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
        {"model": "m", "messages": [USER, ASSISTANT, ASSISTANT]},
        {"prompt": "not a chat row"},
        [USER],
    ]
    _, rejects, _ = read(write("c.jsonl", rows), "openai-chat")
    assert [(r.line, r.field, r.message) for r in rejects] == [
        (1, "messages", "no user turn: the conversation must contain a user message"),
        (2, "messages[1].role", "expected `system`, `user` or `assistant`, got `tool`"),
        (3, "messages[1].content", "expected a string, got null"),
        (4, "messages[1].content[0]", "expected a {type: text, text} part, got an object"),
        (5, "messages", "expected one reply by `m` after the last user turn, got 2"),
        (6, "messages", "missing"),
        (7, None, "expected a JSON object, got a list"),
    ]
    assert rejects[0].raw.startswith('{"messages":')
