"""HH-RLHF transcripts: shared turns up to the last Human turn, chosen rank 1, rejected rank 2."""

from __future__ import annotations

PREFIX = "\n\nHuman: Hi there\n\nAssistant: Hello!\n\nHuman: Tell me a joke"


def test_pair(write, read):
    row = {
        "chosen": PREFIX + "\n\nAssistant: Why did the chicken...",
        "rejected": PREFIX + "\n\nAssistant: No.",
    }
    (record,), rejects, notices = read(write("hh.jsonl", [row]), "hh-rlhf")
    assert (rejects, notices) == ([], [])
    assert [(m.role, m.content) for m in record.messages] == [
        ("user", "Hi there"),
        ("assistant", "Hello!"),
        ("user", "Tell me a joke"),
    ]
    assert [(c.text, c.rank) for c in record.candidates] == [("Why did the chicken...", 1), ("No.", 2)]
    assert record.has_ranking


def test_identical_pair_gives_one_unranked_candidate_and_a_notice(write, read):
    text = PREFIX + "\n\nAssistant: Same."
    (record,), _, notices = read(write("hh.jsonl", [{"chosen": text, "rejected": text}]), "hh-rlhf")
    assert [(c.text, c.rank) for c in record.candidates] == [("Same.", None)]
    assert not record.has_ranking
    assert [(n.line, n.kind) for n in notices] == [(1, "identical")]


def test_transcript_without_leading_newlines(write, read):
    row = {"chosen": "Human: Q\n\nAssistant: A", "rejected": "Human: Q\n\nAssistant: B"}
    (record,), _, _ = read(write("hh.jsonl", [row]), "hh-rlhf")
    assert record.messages[0].content == "Q"


def test_an_empty_reply_is_a_reply(write, read):
    """Real preference data (HH-RLHF harmless line 87) prefers an empty reply: kept, ranked, as it is."""
    rows = [{"chosen": PREFIX + "\n\nAssistant: ", "rejected": PREFIX + "\n\nAssistant: B"}]
    records, rejects, notices = read(write("hh.jsonl", rows), "hh-rlhf")
    assert rejects == [] and notices == []
    assert [(c.text, c.rank) for c in records[0].candidates] == [("", 1), ("B", 2)]


def test_bad_rows(write, read):
    rows = [
        {"chosen": PREFIX + "\n\nAssistant: A", "rejected": "\n\nHuman: Something else\n\nAssistant: B"},
        {"chosen": PREFIX, "rejected": PREFIX},
        {"chosen": "preamble\n\nHuman: Q\n\nAssistant: A", "rejected": "\n\nHuman: Q\n\nAssistant: B"},
        {"chosen": 3, "rejected": "x"},
        {"chosen": PREFIX + "\n\nAssistant: A"},
    ]
    records, rejects, notices = read(write("hh.jsonl", rows), "hh-rlhf")
    assert records == [] and notices == []
    assert [(r.line, r.field, r.message) for r in rejects] == [
        (1, "rejected", "the conversation before the last reply differs from `chosen`"),
        (2, "chosen", "expected the transcript to end in an `Assistant:` reply"),
        (3, "chosen", "expected the transcript to start with `Human:`"),
        (4, "chosen", "expected a `Human:`/`Assistant:` transcript string, got a number"),
        (5, "rejected", "missing"),
    ]
