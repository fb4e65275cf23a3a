"""Whole-file problems raise `Invalid` naming the file; encodings, line ends and gzip just work."""

from __future__ import annotations

import tracemalloc

import orjson
import pytest

from labeler.errors import Invalid
from labeler.readers import FORMATS, read_records


def test_missing_file(tmp_path):
    with pytest.raises(Invalid, match=r"file `.*nope\.jsonl` not found"):
        read_records(tmp_path / "nope.jsonl", "prompts")


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(Invalid, match="is not a file"):
        read_records(tmp_path, "prompts")


@pytest.mark.parametrize("content", [b"", b"\n\n  \r\n"])
def test_empty_file(write, content):
    path = write("empty.jsonl", content)
    with pytest.raises(Invalid, match=r"empty\.jsonl is empty"):
        list(read_records(path, "prompts"))


def test_empty_csv(write):
    with pytest.raises(Invalid, match=r"empty\.csv is empty"):
        list(read_records(write("empty.csv", ""), "csv"))


def test_binary_file(write):
    path = write("model.jsonl", b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)))
    with pytest.raises(Invalid, match=r"model\.jsonl looks binary"):
        read_records(path, "prompts")


def test_nul_bytes_after_the_first_block(write):
    path = write("late.jsonl", b'"fine"\n' * 2000 + b'"bad\x00"\n')
    with pytest.raises(Invalid, match=r"line 2001 of late\.jsonl contains NUL bytes"):
        list(read_records(path, "prompts"))


def test_utf16_file(write):
    path = write("utf16.jsonl", '"hello"\n'.encode("utf-16"))
    with pytest.raises(Invalid, match="UTF-16"):
        read_records(path, "prompts")


def test_latin1_file_names_line_and_byte(write):
    path = write("latin.jsonl", '"ok"\n"caf\u00e9"\n'.encode("latin-1"))
    with pytest.raises(Invalid) as e:
        list(read_records(path, "prompts"))
    assert str(e.value) == (
        "latin.jsonl is not UTF-8: line 2 has the byte 0xe9 at byte 5 of the line; save the file as UTF-8"
    )


def test_latin1_csv(write):
    path = write("latin.csv", "prompt\ncaf\u00e9\n".encode("latin-1"))
    with pytest.raises(Invalid, match=r"latin\.csv is not UTF-8: line 2"):
        list(read_records(path, "csv"))


def test_line_over_the_limit(write):
    path = write("long.jsonl", [{"prompt": "short"}, {"prompt": "x" * 500}])
    with pytest.raises(Invalid) as e:
        list(read_records(path, "prompts", max_record_bytes=100))
    assert str(e.value) == "line 2 of long.jsonl is longer than the limit of 100 bytes"


def test_line_exactly_at_the_limit_with_crlf(write):
    line = orjson.dumps({"prompt": "x" * 50})
    path = write("edge.jsonl", line + b"\r\n" + line + b"\r\n")
    items = list(read_records(path, "prompts", max_record_bytes=len(line)))
    assert [i.line for i in items] == [1, 2]


def test_unknown_format(write):
    path = write("p.jsonl", ['"hi"'])
    with pytest.raises(
        Invalid, match=r"unknown import format `yaml` for p\.jsonl; known formats: prompts, csv"
    ):
        read_records(path, "yaml")
    assert "yaml" not in FORMATS


def test_bom_and_crlf(write, read):
    path = write("bom.jsonl", b'\xef\xbb\xbf{"prompt": "one"}\r\n\r\n{"prompt": "two"}\r\n')
    records, rejects, _ = read(path, "prompts")
    assert [(r.line, r.messages[0].content) for r in records] == [(1, "one"), (3, "two")]
    assert rejects == []


def test_gzip_is_read_by_its_magic_bytes(write, read):
    for name in ("p.jsonl.gz", "p.jsonl"):
        path = write(name, ["first", {"prompt": "second"}], gz=True)
        records, _, _ = read(path, "prompts")
        assert [r.messages[0].content for r in records] == ["first", "second"]


def test_corrupt_gzip(write):
    path = write("bad.jsonl.gz", b"\x1f\x8b\x08\x00" + b"garbage" * 100)
    with pytest.raises(Invalid, match=r"bad\.jsonl\.gz is not a readable gzip file"):
        list(read_records(path, "prompts"))


def test_bad_json_line_is_rejected_not_raised(write, read):
    path = write(
        "mixed.jsonl", b'{"prompt": "ok"}\n{"prompt": oops}\n' + b'{"prompt": "' + b"y" * 5000 + b'"\n'
    )
    records, rejects, _ = read(path, "prompts")
    assert [r.line for r in records] == [1]
    assert [r.line for r in rejects] == [2, 3]
    assert rejects[0].message.startswith("not valid JSON: unexpected character")
    assert rejects[0].message.endswith("at column 12")
    assert rejects[0].raw == '{"prompt": oops}'
    assert len(rejects[1].raw) == 2001  # truncated, with an ellipsis


def test_read_records_is_lazy_but_checks_the_file_first(write):
    path = write("p.jsonl", ["a"])
    items = read_records(path, "prompts")
    assert next(items).messages[0].content == "a"


@pytest.mark.parametrize("fmt", ["prompts", "oasst"])
def test_memory_stays_flat(write, fmt):
    """Peak memory while streaming 20,000 records is a small constant, not the file's size."""
    if fmt == "prompts":
        rows = [{"prompt": f"prompt {i} " + "z" * 200, "id": i} for i in range(20_000)]
    else:
        rows = []
        for t in range(4_000):  # 4,000 small trees of 5 messages, one after another
            root = f"t{t}"
            rows.append(
                {
                    "message_id": root,
                    "parent_id": None,
                    "message_tree_id": root,
                    "role": "prompter",
                    "text": "q " * 50,
                }
            )
            for k in range(4):
                rows.append(
                    {
                        "message_id": f"{root}-{k}",
                        "parent_id": root,
                        "message_tree_id": root,
                        "role": "assistant",
                        "text": "a " * 50,
                        "rank": k,
                    }
                )
    path = write("big.jsonl", rows)
    size = path.stat().st_size
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_records(path, fmt))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == (20_000 if fmt == "prompts" else 4_000)
    assert peak < size / 4, f"peak {peak:,} bytes for a {size:,}-byte file"
