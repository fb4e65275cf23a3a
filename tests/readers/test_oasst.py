"""OpenAssistant: flat oasst1 messages and nested trees, walked into one record per prompter message."""

from __future__ import annotations

from typing import Any


def msg(
    mid: str, parent: str | None, role: str, text: str | None = None, tree: str = "t1", **extra: Any
) -> dict[str, Any]:
    """One flat oasst1 message."""
    return {
        "message_id": mid,
        "parent_id": parent,
        "message_tree_id": tree,
        "role": role,
        "text": text or f"text of {mid}",
        "lang": "en",
        "deleted": False,
        "review_result": True,
        "rank": None,
        "synthetic": False,
        "model_name": None,
        **extra,
    }


def test_conversations_candidates_and_ranks(write, read):
    rows = [
        msg("t1", None, "prompter", "Root question", user_id="root-user"),
        msg("a1", "t1", "assistant", rank=1, user_id="helper"),
        msg("a2", "t1", "assistant", rank=0),
        msg("a3", "t1", "assistant", rank=2, synthetic=True, model_name="chip20b"),
        msg("p2", "a2", "prompter", "Follow-up", user_id="someone-else"),
        msg("a4", "p2", "assistant", rank=0),
    ]
    records, rejects, notices = read(write("o.jsonl", rows), "oasst")
    assert (rejects, notices) == ([], [])
    first, second = records
    assert (first.line, first.external_id, first.origin_user) == (1, "t1", "root-user")
    assert [(c.text, c.rank, c.model, c.meta["synthetic"]) for c in first.candidates] == [
        ("text of a1", 2, None, False),
        ("text of a2", 1, None, False),
        ("text of a3", 3, "chip20b", True),
    ]
    assert first.has_ranking
    assert (second.line, second.external_id, second.origin_user) == (5, "p2", "root-user")
    assert [(m.role, m.content) for m in second.messages] == [
        ("user", "Root question"),
        ("assistant", "text of a2"),
        ("user", "Follow-up"),
    ]
    # one ranked reply is no ranking: its rank is dropped
    assert [(c.text, c.rank) for c in second.candidates] == [("text of a4", None)]
    assert not second.has_ranking
    assert second.meta == {"message_tree_id": "t1", "lang": "en"}


def test_parents_after_children(write, read):
    rows = [
        msg("p2", "a1", "prompter", "Follow-up"),
        msg("a2", "p2", "assistant", rank=0),
        msg("a1", "t1", "assistant"),
        msg("t1", None, "prompter", "Root", user_id="u"),
    ]
    records, rejects, notices = read(write("o.jsonl", rows), "oasst")
    assert (rejects, notices) == ([], [])
    assert [(r.line, r.external_id, [m.content for m in r.messages]) for r in records] == [
        (4, "t1", ["Root"]),
        (1, "p2", ["Root", "text of a1", "Follow-up"]),
    ]
    assert all(r.origin_user == "u" for r in records)


def test_ties_keep_equal_ranks_and_gaps_close(write, read):
    rows = [
        msg("t1", None, "prompter"),
        msg("a1", "t1", "assistant", rank=0),
        msg("a2", "t1", "assistant", rank=0),
        msg("a3", "t1", "assistant", rank=3),
        msg("a4", "t1", "assistant"),
    ]
    (record,), _, _ = read(write("o.jsonl", rows), "oasst")
    assert [c.rank for c in record.candidates] == [1, 1, 2, None]


def test_deleted_and_failed_review_skip_their_subtrees(write, read):
    rows = [
        msg("t1", None, "prompter", user_id="u"),
        msg("a1", "t1", "assistant", rank=0, deleted=True),
        msg("p2", "a1", "prompter"),  # under a deleted message: skipped with it
        msg("a2", "p2", "assistant"),
        msg("a3", "t1", "assistant", rank=1, review_result=False),
        msg("a4", "t1", "assistant", rank=2),
        msg("a5", "t1", "assistant", rank=3, text=""),  # empty text is fine when it is skipped anyway...
    ]
    rows[-1]["deleted"] = True
    records, rejects, notices = read(write("o.jsonl", rows), "oasst")
    assert rejects == []
    (record,) = records
    assert [(c.text, c.rank) for c in record.candidates] == [
        ("text of a4", None)
    ]  # one ranked survivor: no ranking
    assert [(n.line, n.kind) for n in notices] == [(2, "deleted"), (5, "spam"), (7, "deleted")]
    assert notices[0].message == "message `a1` skipped with the 2 messages below it: it is deleted"
    assert notices[1].message == "message `a3` skipped: it failed review (`review_result` is false)"


def test_orphans(write, read):
    rows = [
        msg("t1", None, "prompter"),
        msg("p9", "missing", "prompter"),
        msg("a9", "p9", "assistant"),
        msg("a8", "also-missing", "assistant"),
    ]
    records, _, notices = read(write("o.jsonl", rows), "oasst")
    assert [r.external_id for r in records] == ["t1"]
    assert [(n.line, n.kind) for n in notices] == [(2, "orphan"), (4, "orphan")]
    assert (
        notices[0].message
        == "message `p9` skipped with the 1 message below it: its parent `missing` is not in the file"
    )


def test_tree_without_a_user_id_and_one_tree_at_a_time(write, read):
    rows = [
        msg("t1", None, "prompter"),
        msg("a1", "t1", "assistant"),
        msg("t2", None, "prompter", tree="t2", user_id="x"),
        msg("a2", "t2", "assistant", tree="t2"),
    ]
    records, _, _ = read(write("o.jsonl", rows), "oasst")
    assert [(r.external_id, r.origin_user, len(r.candidates)) for r in records] == [
        ("t1", "oasst-tree:t1", 1),
        ("t2", "x", 1),
    ]


def test_a_tree_split_in_two_leaves_orphans(write, read):
    rows = [msg("t1", None, "prompter"), msg("t2", None, "prompter", tree="t2"), msg("a1", "t1", "assistant")]
    records, _, notices = read(write("o.jsonl", rows), "oasst")
    assert [(r.external_id, len(r.candidates)) for r in records] == [("t1", 0), ("t2", 0)]
    assert [(n.line, n.kind) for n in notices] == [(3, "orphan")]


def test_a_blank_assistant_reply_is_kept_as_it_is(write, read):
    rows = [msg("t1", None, "prompter"), {**msg("a1", "t1", "assistant"), "text": "  "}]
    records, rejects, _ = read(write("o.jsonl", rows), "oasst")
    assert rejects == [] and [c.text for c in records[0].candidates] == ["  "]


def test_bad_messages(write, read):
    rows = [
        msg("t1", None, "prompter"),
        {**msg("a1", "t1", "assistant"), "role": "moderator"},
        {**msg("a2", "t1", "prompter"), "text": "  "},
        {**msg("a3", "t1", "assistant"), "rank": -1},
        {**msg("a4", "t1", "assistant"), "message_tree_id": None},
        msg("t1", None, "prompter"),
        msg("x1", None, "assistant", tree="x"),
    ]
    records, rejects, _ = read(write("o.jsonl", rows), "oasst")
    assert [r.external_id for r in records] == ["t1"]
    assert [(r.line, r.field, r.message) for r in rejects] == [
        (2, "role", "expected `prompter` or `assistant`, got `moderator`"),
        (3, "text", "content is empty"),
        (4, "rank", "expected a whole number from 0 (best), got -1"),
        (5, "message_tree_id", "expected a string, got null"),
        (6, "message_id", "duplicate message `t1` in tree `t1`"),
        (7, "role", "tree `x` starts with an assistant message"),
    ]


def nested(mid: str, role: str, replies: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    """One nested message with its replies."""
    return {
        "message_id": mid,
        "text": f"text of {mid}",
        "role": role,
        "lang": "en",
        "review_result": True,
        "deleted": False,
        "synthetic": False,
        "model_name": None,
        "replies": replies or [],
        **extra,
    }


TREE = nested(
    "r",
    "prompter",
    [
        nested("a1", "assistant", [nested("p2", "prompter", [nested("a3", "assistant")])], rank=1),
        nested("a2", "assistant", rank=0, synthetic=True, model_name="chip20b"),
        nested("a4", "assistant", rank=2, deleted=True),
    ],
)


def test_nested_trees_both_shapes(write, read):
    shapes = [
        {"message_tree_id": "r", "tree_state": "ready_for_export", "prompt": TREE},
        {**TREE, "parent_id": None},
    ]
    results = []
    for i, shape in enumerate(shapes):
        records, rejects, notices = read(write(f"t{i}.jsonl", [shape, shape]), "oasst-tree")
        assert rejects == []
        assert [(n.line, n.kind) for n in notices] == [(1, "deleted"), (2, "deleted")]
        results.append(
            [
                (
                    r.line,
                    r.external_id,
                    r.origin_user,
                    [m.content for m in r.messages],
                    [(c.text, c.rank, c.model) for c in r.candidates],
                )
                for r in records
            ]
        )
    assert results[0] == results[1]
    assert results[0][:2] == [
        (1, "r", "oasst-tree:r", ["text of r"], [("text of a1", 2, None), ("text of a2", 1, "chip20b")]),
        (1, "p2", "oasst-tree:r", ["text of r", "text of a1", "text of p2"], [("text of a3", None, None)]),
    ]


def test_nested_bad_message_rejects_its_subtree(write, read):
    tree = nested(
        "r", "prompter", [nested("a1", "assistant", [nested("p2", "prompter")], rank=0), {"text": "no id"}]
    )
    records, rejects, _ = read(
        write("t.jsonl", [{"message_tree_id": "r", "prompt": tree}, ["not", "a", "tree"]]), "oasst-tree"
    )
    assert [r.external_id for r in records] == ["r", "p2"]
    assert [(r.line, r.field, r.message) for r in rejects] == [
        (1, "prompt.replies[1].message_id", "expected a string, got null"),
        (2, None, "expected a JSON object, got a list"),
    ]
