"""Format sniffing from the name and the first records."""

from __future__ import annotations

import pytest

from labeler.errors import Invalid
from labeler.readers import FORMATS, READERS, detect_format

U = {"role": "user", "content": "Q"}
A = {"role": "assistant", "content": "A"}

CASES = [
    (["just a prompt"], "prompts"),
    ([{"prompt": "p", "id": 1}], "prompts"),
    ([{"turns": ["a", "b"], "question_id": 1}], "prompts"),
    ([{"messages": [U]}, {"messages": [U]}], "prompts"),
    ([{"messages": [U]}, {"messages": [U, A]}], "openai-chat"),
    ([{"uid": "x", "model": "m", "messages": [U]}], "openai-chat"),
    ([{"chosen": "\n\nHuman: Q\n\nAssistant: A", "rejected": "\n\nHuman: Q\n\nAssistant: B"}], "hh-rlhf"),
    ([{"prompt": "Q", "chosen": "A", "rejected": "B"}], "trl-preference"),
    ([{"chosen": [U, A], "rejected": [U, A]}], "trl-preference"),
    (
        [{"input": {"messages": [U]}, "preferred_output": [A], "non_preferred_output": [A]}],
        "openai-preference",
    ),
    (
        [{"message_id": "m", "parent_id": None, "role": "prompter", "text": "t", "message_tree_id": "m"}],
        "oasst",
    ),
    (
        [{"message_tree_id": "m", "prompt": {"message_id": "m", "role": "prompter", "replies": []}}],
        "oasst-tree",
    ),
    ([{"message_id": "m", "role": "prompter", "text": "t", "replies": []}], "oasst-tree"),
]


def test_every_format_has_a_reader():
    assert tuple(READERS) == FORMATS


@pytest.mark.parametrize("rows, fmt", CASES, ids=[c[1] + str(i) for i, c in enumerate(CASES)])
def test_detects(write, rows, fmt):
    assert fmt in FORMATS
    assert detect_format(write("f.jsonl", rows)) == fmt


def test_blank_lines_and_gzip_are_skipped(write):
    path = write("f.jsonl.gz", b'\n\n{"prompt": "p"}\n', gz=True)
    assert detect_format(path) == "prompts"


@pytest.mark.parametrize("name", ["p.csv", "p.CSV.gz", "p.tsv"])
def test_csv_by_name(write, name):
    assert detect_format(write(name, "anything at all\n")) == "csv"


def test_tsv_by_name_in_capitals(write, read):
    records, _, _ = read(write("P.TSV", "prompt\tid\nhello, world\t1\n"), "csv")
    assert [(r.messages[0].content, r.external_id) for r in records] == [("hello, world", "1")]


def test_csv_by_header(write):
    assert detect_format(write("prompts.txt", "id,prompt,user\n1,hello,u\n")) == "csv"


def test_unknown_record(write):
    with pytest.raises(Invalid) as e:
        detect_format(write("f.jsonl", [{"foo": 1, "bar": 2}]))
    assert str(e.value) == (
        "cannot tell the format of f.jsonl: the first record is an object with keys `foo`, `bar`; "
        "known formats: prompts, csv, openai-chat, hh-rlhf, oasst, oasst-tree, "
        "trl-preference, openai-preference"
    )


def test_not_json(write):
    with pytest.raises(
        Invalid,
        match=r"of f\.jsonl: line 2 is not valid JSON: unexpected character.*; known formats: prompts",
    ):
        detect_format(write("f.jsonl", "\nhello world\n"))


def test_json_array(write):
    with pytest.raises(Invalid, match="looks like one JSON array, expected one JSON record per line"):
        detect_format(write("f.json", '[\n  {"prompt": "a"}\n]\n'))


def test_a_number(write):
    with pytest.raises(Invalid, match="the first record is a number"):
        detect_format(write("f.jsonl", "42\n"))


def test_whole_file_problems(tmp_path, write):
    for name in ("missing.jsonl", "missing.csv"):
        with pytest.raises(Invalid, match="not found"):
            detect_format(tmp_path / name)
    with pytest.raises(Invalid, match="is empty"):
        detect_format(write("e.jsonl", ""))
