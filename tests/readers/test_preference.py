"""TRL preference rows (explicit or implicit prompt) and OpenAI preference rows."""

from __future__ import annotations

U = {"role": "user", "content": "Q?"}


def a(text: str) -> list[dict[str, str]]:
    """One assistant message, as conversational rows write a reply."""
    return [{"role": "assistant", "content": text}]


def test_trl_standard_and_conversational(write, read):
    rows = [
        {
            "prompt": "Q?",
            "chosen": "good",
            "rejected": "bad",
            "id": 1,
            "score_chosen": 8.0,
            "score_rejected": 3,
        },
        {"prompt": [{"role": "system", "content": "S"}, U], "chosen": a("good"), "rejected": a("bad")},
    ]
    records, rejects, _ = read(write("t.jsonl", rows), "trl-preference")
    assert rejects == []
    assert [(c.text, c.rank, c.meta) for c in records[0].candidates] == [
        ("good", 1, {"score": 8.0}),
        ("bad", 2, {"score": 3}),
    ]
    assert records[0].external_id == "1"
    assert [m.role for m in records[1].messages] == ["system", "user"]
    assert all(r.has_ranking for r in records)


def test_trl_implicit_prompt(write, read):
    rows = [
        {"chosen": [U, *a("good")], "rejected": [U, *a("bad")]},
        {"chosen": "\n\nHuman: Q?\n\nAssistant: good", "rejected": "\n\nHuman: Q?\n\nAssistant: bad"},
        {"chosen": [U, *a("good")], "rejected": [{"role": "user", "content": "Other?"}, *a("bad")]},
        {"chosen": [U, *a("one"), *a("two")], "rejected": [U, *a("bad")]},
        {"chosen": [U, *a("good")], "rejected": "bad"},
    ]
    records, rejects, _ = read(write("t.jsonl", rows), "trl-preference")
    assert [([m.content for m in r.messages], [c.text for c in r.candidates]) for r in records] == [
        (["Q?"], ["good", "bad"]),
        (["Q?"], ["good", "bad"]),
    ]
    assert [(r.line, r.field, r.message) for r in rejects] == [
        (3, "rejected", "the conversation before the last reply differs from `chosen`"),
        (4, "chosen", "expected one assistant reply after the last user turn, got 2"),
        (5, "chosen", "without a `prompt`, expected two conversations, got a list and a string"),
    ]


def test_trl_identical_and_bad(write, read):
    rows = [
        {"prompt": "Q?", "chosen": "same", "rejected": "same"},
        {"prompt": "Q?", "chosen": [U], "rejected": "x"},
        {"prompt": [U, *a("x")], "chosen": "c", "rejected": "r"},
        {"prompt": "Q?", "chosen": "c"},
    ]
    records, rejects, notices = read(write("t.jsonl", rows), "trl-preference")
    assert [(c.text, c.rank) for c in records[0].candidates] == [("same", None)]
    assert [(n.line, n.kind, n.message) for n in notices] == [
        (1, "identical", "`chosen` and `rejected` are identical: kept one unranked candidate"),
    ]
    assert [(r.line, r.field, r.message) for r in rejects] == [
        (2, "chosen", "expected one assistant message, got [user]"),
        (3, "prompt", "expected the conversation to end in a user turn"),
        (4, "rejected", "missing"),
    ]


def test_openai_preference(write, read):
    rows = [
        {"input": {"messages": [U]}, "preferred_output": a("good"), "non_preferred_output": a("bad")},
        {"input": {"messages": [U]}, "preferred_output": a("same"), "non_preferred_output": a("same")},
        {
            "input": {"messages": [U, *a("x")]},
            "preferred_output": a("good"),
            "non_preferred_output": a("bad"),
        },
        {"input": [U], "preferred_output": a("good"), "non_preferred_output": a("bad")},
        {"input": {"messages": [U]}, "preferred_output": a("good")},
        {"input": {"messages": [U]}, "preferred_output": [U], "non_preferred_output": a("bad")},
    ]
    records, rejects, notices = read(write("o.jsonl", rows), "openai-preference")
    assert [[(c.text, c.rank) for c in r.candidates] for r in records] == [
        [("good", 1), ("bad", 2)],
        [("same", None)],
    ]
    assert [(n.line, n.kind) for n in notices] == [(2, "identical")]
    assert "`preferred_output` and `non_preferred_output` are identical" in notices[0].message
    assert [(r.line, r.field, r.message) for r in rejects] == [
        (3, "input.messages", "expected the conversation to end in a user turn"),
        (4, "input", "expected {messages: [...]}, got a list"),
        (5, "non_preferred_output", "missing"),
        (6, "preferred_output", "expected one assistant message, got [user]"),
    ]


def _pair(better: str, worse: str, group: str | None, margin: float | None = 1.0, **extra) -> dict:
    row = {"prompt": [U], "chosen": a(better), "rejected": a(worse), "group_id": group, "margin": margin, **extra}
    return {k: v for k, v in row.items() if v is not None}


def test_trl_rows_of_one_group_become_one_ranking_with_their_margins(write, read):
    """labeler's own `pairs` lines read back: a ranking's C(K,2) pairs are that ranking again."""
    rows = [
        _pair("A", "B", "r7", 1.0, split_key="alice"), _pair("A", "C", "r7", 2.0, split_key="alice"),
        _pair("B", "C", "r7", 1.0, split_key="alice"),
        _pair("A", "B", "r8", 3.0),  # another group of the same prompt: its own ranking
        _pair("X", "Y", None, 0.5),  # no group: one ranking per row, margin kept
    ]
    records, rejects, notices = read(write("p.jsonl", rows), "trl-preference")
    assert rejects == notices == []
    first, second, third = records
    assert [(c.text, c.rank) for c in first.candidates] == [("A", 1), ("B", 2), ("C", 3)]
    assert first.margins == [(0, 1, 1.0), (0, 2, 2.0), (1, 2, 1.0)]
    assert first.split_key == "alice" and first.origin_user is None and first.meta == {}
    assert [(c.text, c.rank) for c in second.candidates] == [("A", 1), ("B", 2)] and second.margins == [(0, 1, 3.0)]
    assert third.margins == [(0, 1, 0.5)] and third.line == 5


def test_trl_group_with_ties_and_one_that_ranks_cannot_say(write, read):
    rows = [  # A and B tied above C: pairs A>C, B>C
        _pair("A", "C", "r1", 2.0), _pair("B", "C", "r1", 2.0),
        # A>B, B>C without A>C: no ranking says exactly this, so each pair stays on its own
        _pair("P", "Q", "r2"), _pair("Q", "R", "r2"),
    ]
    records, _, _ = read(write("p.jsonl", rows), "trl-preference")
    assert [[(c.text, c.rank) for c in r.candidates] for r in records] == [
        [("A", 1), ("C", 3), ("B", 1)],
        [("P", 1), ("Q", 2)],
        [("Q", 1), ("R", 2)],
    ]


def test_trl_pair_columns_are_checked(write, read):
    rows = [_pair("A", "B", "r1", margin="big"), _pair("A", "B", "r1", split_key=7)]
    _, rejects, _ = read(write("p.jsonl", rows), "trl-preference")
    assert [(r.line, r.field, r.message) for r in rejects] == [
        (1, "margin", "expected a number, got `big`"),
        (2, "split_key", "expected a non-empty string, got a number"),
    ]
