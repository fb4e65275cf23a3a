"""Every file in shared/data: its detected format and exactly what the reader makes of it."""

from __future__ import annotations

import pytest

from labeler.readers import ImportRecord, detect_format, read_records

# (path, format, records, candidates, rankings, demonstrations, rejects, notices)
SAMPLES = [
    # 500 pairs; line 87's chosen reply is empty (the preferred answer was to say nothing)
    ("anthropic-hh-rlhf/harmless-base_test_first500.jsonl.gz", "hh-rlhf", 500, 1000, 500, 0, 0, 0),
    # 284 records: the 283 counted by `wc -l` plus a last line without a newline
    ("azure-foundry-dpo/orca_dpo_pairs_validation.jsonl", "openai-preference", 284, 568, 284, 0, 0, 0),
    ("lmarena-arena-hard/arena-hard-v0.1_question.jsonl", "prompts", 500, 0, 0, 0, 0, 0),
    (
        "lmarena-arena-hard/model_answer_gpt-3.5-turbo-0125_first100.jsonl",
        "openai-chat",
        100,
        100,
        0,
        0,
        0,
        0,
    ),
    ("lmarena-arena-hard/model_answer_gpt-4-0314_first100.jsonl", "openai-chat", 100, 100, 0, 0, 0, 0),
    # one follow-up reference (question 121, turn 2) is over the 1,000 characters kept: a notice
    ("lmsys-fastchat/mt_bench_question.jsonl", "prompts", 80, 0, 0, 0, 0, 1),
    # 383 prompter messages, 14 of them under a skipped message; 35 skipped subtrees + 2 orphans
    ("oasst1-en-validation/oasst1_en_validation_first1005.jsonl", "oasst", 369, 590, 208, 0, 0, 37),
    # line 4 has no user turn
    ("openai-cookbook/toy_chat_fine_tuning.jsonl", "openai-chat", 4, 0, 0, 4, 1, 0),
    # 1,167 messages: 480 prompter, 687 assistant; nothing deleted in this early export
    ("openassistant/en_100_message.jsonl", "oasst-tree", 480, 687, 212, 0, 0, 0),
    ("openassistant/en_100_tree.jsonl", "oasst-tree", 480, 687, 212, 0, 0, 0),
    ("openassistant/prompt_lottery_en_250_text.jsonl", "prompts", 250, 0, 0, 0, 0, 0),
]


def test_every_sample_file_is_covered(data):
    data_files = {
        p.relative_to(data).as_posix()
        for p in data.rglob("*")
        if p.is_file() and not p.name.startswith(("LICENSE", "SOURCES"))
    }
    assert data_files == {s[0] for s in SAMPLES}


@pytest.mark.parametrize(
    "name, fmt, records, candidates, rankings, demonstrations, rejects, notices",
    SAMPLES,
    ids=[s[0].split("/")[-1] for s in SAMPLES],
)
def test_sample(data, tally, name, fmt, records, candidates, rankings, demonstrations, rejects, notices):
    path = data / name
    assert detect_format(path) == fmt
    assert tally(read_records(path, fmt)) == {
        "records": records,
        "candidates": candidates,
        "rankings": rankings,
        "demonstrations": demonstrations,
        "rejects": rejects,
        "notices": notices,
    }


def test_toy_chat_line_4_has_no_user_turn(data, read):
    records, rejects, _ = read(data / "openai-cookbook/toy_chat_fine_tuning.jsonl", "openai-chat")
    assert [(r.line, r.field) for r in rejects] == [(4, "messages")]
    assert "no user turn" in rejects[0].message
    assert (
        rejects[0]
        .describe("toy_chat_fine_tuning.jsonl")
        .startswith("line 4 of toy_chat_fine_tuning.jsonl: field `messages`")
    )
    assert [r.line for r in records] == [1, 2, 3, 5]
    # line 2: a multi-turn dialogue; the prompt runs to the last user turn
    assert [m.role for m in records[1].messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert records[1].demonstration[0].content == "It's easy to learn!"
    assert records[2].messages[0].role == "user"  # line 3: no system message
    assert len(records[3].demonstration[0].content) == 26_000  # line 5: the banana reply


def test_hh_line_87_chosen_reply_is_empty(data, read):
    records, rejects, _ = read(data / "anthropic-hh-rlhf/harmless-base_test_first500.jsonl.gz", "hh-rlhf")
    assert rejects == []
    line_87 = next(r for r in records if r.line == 87)
    assert [(c.text, c.rank) for c in line_87.candidates][0] == ("", 1)  # the preferred reply is empty
    first = records[0]
    assert first.messages[0].model_dump() == {
        "role": "user",
        "content": "what are some pranks with a pen i can do?",
    }
    assert [m.role for m in first.messages] == ["user", "assistant", "user", "assistant", "user"]
    assert [c.rank for c in first.candidates] == [1, 2]
    assert first.candidates[0].text.startswith("No, sorry!")


def test_oasst_notices(data, read):
    records, _, notices = read(data / "oasst1-en-validation/oasst1_en_validation_first1005.jsonl", "oasst")
    kinds = {}
    for n in notices:
        kinds[n.kind] = kinds.get(n.kind, 0) + 1
    assert kinds == {"deleted": 12, "spam": 23, "orphan": 2}
    assert sorted(n.line for n in notices if n.kind == "orphan") == [153, 215]
    first = records[0]
    assert first.line == 1
    assert first.external_id == "e0cf4fa2-e944-44fb-b502-11f155062092"
    assert first.origin_user == "73ac9010-62df-4c87-8fc5-b8326f1e00b4"
    assert first.meta == {"message_tree_id": "e0cf4fa2-e944-44fb-b502-11f155062092", "lang": "en"}
    # every record of a tree carries the tree's root user, so a whole tree lands in one split
    by_tree: dict[str, set[str | None]] = {}
    for r in records:
        by_tree.setdefault(r.meta["message_tree_id"], set()).add(r.origin_user)
    assert all(len(users) == 1 for users in by_tree.values())
    assert all(r.messages[-1].role == "user" for r in records)


def test_oasst_tree_files_agree(data, read):
    trees, _, _ = read(data / "openassistant/en_100_tree.jsonl", "oasst-tree")
    messages, _, _ = read(data / "openassistant/en_100_message.jsonl", "oasst-tree")
    assert [(r.external_id, r.messages, [c.text for c in r.candidates]) for r in trees] == [
        (r.external_id, r.messages, [c.text for c in r.candidates]) for r in messages
    ]
    first = trees[0]
    assert first.origin_user == "oasst-tree:054e1df3-35e0-4bb8-a585-607dbdcd24e0"
    assert first.meta["synthetic"] is True
    synthetic = [c for r in trees for c in r.candidates if c.meta["synthetic"]]
    assert synthetic and all(c.model == "chip20b" for c in synthetic)
    assert max(c.rank or 0 for r in trees for c in r.candidates) == 9  # ranks 0-8 in the file
    assert {r.line for r in trees} == set(range(1, 101))


def test_mt_bench_followup_turns(data, read):
    records, _, _ = read(data / "lmsys-fastchat/mt_bench_question.jsonl", "prompts")
    first = records[0]
    assert first.external_id == "81"
    assert first.meta["category"] == "writing"
    assert first.meta["followup_turns"] == [
        "Rewrite your previous response. Start every sentence with the letter A."
    ]
    assert len(first.messages) == 1


def test_mt_bench_references_are_kept_for_their_turns(data, read):
    """MT-Bench's `reference` holds one answer per turn: the first is the prompt's, the second its follow-up's."""
    records, _, notices = read(data / "lmsys-fastchat/mt_bench_question.jsonl", "prompts")
    by_id = {r.external_id: r for r in records}
    assert by_id["101"].meta["reference"] == "You are in second place."
    assert by_id["101"].meta["followup_references"] == ["Uncertain."]
    assert "reference" not in by_id["133"].meta  # its first reference is blank: none for that turn
    assert len(by_id["133"].meta["followup_references"][0]) == 143
    assert "followup_references" not in by_id["103"].meta  # its second reference is blank
    assert sum(isinstance(r.meta.get("reference"), str) for r in records) == 38
    assert sum("reference" in r.meta or "followup_references" in r.meta for r in records) == 39
    assert all(not isinstance(v, list) for r in records for k, v in r.meta.items() if k == "reference")
    # question 121's second reference is 1,298 characters: not kept, and said so
    assert [(n.kind, n.line) for n in notices] == [("not_kept:reference", 41)]
    assert "reference[1]" in notices[0].message and "1,298 characters" in notices[0].message
    assert by_id["121"].meta["reference"].startswith("Can be simple solutions")
    assert "followup_references" not in by_id["121"].meta


def test_arena_answers_become_model_candidates(data, read):
    four, _, _ = read(data / "lmarena-arena-hard/model_answer_gpt-4-0314_first100.jsonl", "openai-chat")
    three, _, _ = read(
        data / "lmarena-arena-hard/model_answer_gpt-3.5-turbo-0125_first100.jsonl", "openai-chat"
    )
    questions, _, _ = read(data / "lmarena-arena-hard/arena-hard-v0.1_question.jsonl", "prompts")
    assert [r.external_id for r in four] == [r.external_id for r in three]
    assert {r.external_id for r in four} <= {r.external_id for r in questions}
    first = four[0]
    assert first.external_id == "0122ab60646b4961bc39e9c03bdf6bcc"
    assert first.demonstration is None
    assert first.candidates[0].model == "gpt-4-0314"
    assert first.candidates[0].rank is None
    assert first.candidates[0].meta["ans_id"] == "ndKLaFQXbU4eujaZBGjGZJ"
    assert first.candidates[0].text.startswith("To implement a SCIM")
    assert questions[0].meta == {"category": "arena-hard-v0.1", "cluster": "ABC Sequence Puzzles & Groups"}


def test_orca_preference_pairs(data, read):
    records, _, _ = read(data / "azure-foundry-dpo/orca_dpo_pairs_validation.jsonl", "openai-preference")
    first = records[0]
    assert [m.role for m in first.messages] == ["system", "user"]
    assert [c.rank for c in first.candidates] == [1, 2]
    assert first.candidates[0].text.startswith("Step 1: Identify the names")
    assert records[-1].line == 284


def test_prompt_lottery_strings(data, read):
    records, _, _ = read(data / "openassistant/prompt_lottery_en_250_text.jsonl", "prompts")
    assert records[0].messages[0].content == "Can you tell me about GLaDOS?"
    assert all(isinstance(r, ImportRecord) and r.external_id is None for r in records)
