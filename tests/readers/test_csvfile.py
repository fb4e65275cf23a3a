"""CSV prompts: the prompt column, ids and users, meta, and true physical line numbers."""

from __future__ import annotations

import pytest

from labeler.errors import Invalid
from labeler.readers import read_records


def test_columns(write, read):
    text = "ID,Prompt,User,Category,Empty\n1,What is 2+2?,alice,math,\n2,Name a colour,,art,\n"
    records, rejects, _ = read(write("p.csv", text), "csv")
    assert rejects == []
    assert [(r.line, r.external_id, r.origin_user, r.messages[0].content, r.meta) for r in records] == [
        (2, "1", "alice", "What is 2+2?", {"category": "math"}),
        (3, "2", None, "Name a colour", {"category": "art"}),
    ]


@pytest.mark.parametrize("column", ["prompt", "text", "question", "instruction"])
def test_prompt_column_names(write, read, column):
    records, _, _ = read(write("p.csv", f"uid,{column},user_id\nx,Hello,u1\n"), "csv")
    assert [(r.external_id, r.origin_user, r.messages[0].content) for r in records] == [("x", "u1", "Hello")]


def test_multiline_cells_keep_physical_lines(write, read):
    text = 'prompt,id\n"first line\nsecond line",a\n\nplain,b\n"x\r\n\r\ny",c\n'
    records, _, _ = read(write("p.csv", text), "csv")
    assert [(r.line, r.external_id) for r in records] == [(2, "a"), (5, "b"), (6, "c")]
    assert records[0].messages[0].content == "first line\nsecond line"


def test_bom_crlf_and_gzip(write, read):
    content = "\ufeffprompt,id\r\nHello,1\r\nWorld,2\r\n".encode()
    records, _, _ = read(write("p.csv.gz", content, gz=True), "csv")
    assert [(r.line, r.messages[0].content) for r in records] == [(2, "Hello"), (3, "World")]


def test_tsv(write, read):
    records, _, _ = read(write("p.tsv", "prompt\tid\nA, with a comma\t1\n"), "csv")
    assert [(r.messages[0].content, r.external_id) for r in records] == [("A, with a comma", "1")]


def test_bad_rows(write, read):
    text = "prompt,id\n,1\n   ,2\nok,3,extra\nok,4,\nshort\n"
    records, rejects, _ = read(write("p.csv", text), "csv")
    assert [(r.line, r.field, r.message) for r in rejects] == [
        (2, "prompt", "content is empty"),
        (3, "prompt", "content is empty"),
        (4, None, "expected 2 columns, got 3"),
    ]
    assert [(r.line, r.external_id) for r in records] == [(5, "4"), (6, None)]


def test_no_prompt_column(write):
    with pytest.raises(Invalid) as e:
        list(read_records(write("p.csv", "id,body\n1,x\n"), "csv"))
    assert str(e.value) == (
        "p.csv has no prompt column: expected one of `prompt`, `text`, `question`, `instruction`; "
        "the header has `id`, `body`"
    )


def test_unclosed_quote_runs_past_the_limit(write):
    path = write("p.csv", 'prompt\nfine\n"never closed\n' + "more text\n" * 50)
    with pytest.raises(Invalid) as e:
        list(read_records(path, "csv", max_record_bytes=100))
    assert str(e.value) == "line 3 of p.csv: the row runs past the limit of 100 bytes (is a quote left open?)"


def test_unclosed_quote_at_the_end(write):
    path = write("p.csv", 'prompt\nfine\n"never closed\nmore\n')
    with pytest.raises(Invalid, match=r"line 3 of p\.csv: unexpected end of data"):
        list(read_records(path, "csv"))
