"""Inputs that used to crash an import: each is now a reported reject or a clean `Invalid`, alike on both stores.

- more than 9 ranked replies (OpenAssistant): a ranking holds ranks 1..9, so the record is rejected;
- a list or an object as a message role, in every reader that reads roles;
- bare CR (CR-only line ends, a stray CR in a first line that is not JSON) in format detection and CSV;
- a NUL character (`\\u0000`) in any text: the record is refused with its line and field (PostgreSQL cannot
  store NUL, so SQLite refuses it too).
"""

from __future__ import annotations

import json

import pytest

from labeler.errors import Invalid
from labeler.readers import detect_format
from tests.factories import make_project
from tests.services.test_ingest import counts, run_import, write_jsonl

EMPTY = {"prompts": 0, "candidates": 0, "rankings": 0, "ranking_items": 0, "demonstrations": 0}


def _oasst_flat(replies: int, tree: str = "t1") -> list[dict]:
    root = {"message_id": f"{tree}-q", "parent_id": None, "message_tree_id": tree, "role": "prompter",
            "text": f"question of {tree}"}
    return [root] + [
        {"message_id": f"{tree}-a{i}", "parent_id": f"{tree}-q", "message_tree_id": tree, "role": "assistant",
         "text": f"answer {i} of {tree}", "rank": i}
        for i in range(replies)
    ]


def _oasst_tree(replies: int, tree: str = "t1") -> dict:
    return {"message_tree_id": tree, "prompt": {
        "message_id": f"{tree}-q", "role": "prompter", "text": f"question of {tree}",
        "replies": [{"message_id": f"{tree}-a{i}", "role": "assistant", "text": f"answer {i}", "rank": i}
                    for i in range(replies)]}}


@pytest.mark.parametrize("fmt", ["oasst", "oasst-tree"])
def test_more_than_nine_ranked_replies_is_a_reported_reject(db_url, tmp_path, fmt) -> None:
    make_project("p")
    rows = (_oasst_flat(12) + _oasst_flat(3, "t2")) if fmt == "oasst" else [_oasst_tree(12), _oasst_tree(3, "t2")]
    path = write_jsonl(tmp_path / "big.jsonl", rows)
    with pytest.raises(Invalid) as e:
        run_import(path, format=fmt)
    assert "line 1 of big.jsonl" in str(e.value) and "12 ranked replies" in str(e.value)
    assert "ranks 1 to 9" in str(e.value)
    assert counts() == EMPTY
    rejects = tmp_path / "rejects.jsonl"
    report = run_import(path, format=fmt, skip_invalid=True, rejects_path=rejects)
    assert (report.rejected, report.prompts_added, report.rankings_added) == (1, 1, 1)
    assert "12 ranked replies" in json.loads(rejects.read_text().splitlines()[0])["message"]
    assert counts()["ranking_items"] == 3


ROLE_ROWS = {
    "prompts": lambda role: {"messages": [{"role": role, "content": "hi"}]},
    "openai-chat": lambda role: {"messages": [{"role": role, "content": "hi"}, {"role": "assistant", "content": "a"}]},
    "trl-preference": lambda role: {"prompt": [{"role": role, "content": "hi"}], "chosen": "a", "rejected": "b"},
    "openai-preference": lambda role: {"input": {"messages": [{"role": role, "content": "hi"}]},
                                       "preferred_output": "a", "non_preferred_output": "b"},
    "oasst": lambda role: {"message_id": "m", "message_tree_id": "t", "role": role, "text": "hi"},
    "oasst-tree": lambda role: {"message_tree_id": "t", "prompt": {"message_id": "m", "role": role, "text": "hi"}},
}


@pytest.mark.parametrize("role", [["user"], {"user": 1}], ids=["list", "object"])
@pytest.mark.parametrize("fmt", sorted(ROLE_ROWS))
def test_a_list_or_object_role_is_rejected_in_every_reader(db_url, tmp_path, fmt, role) -> None:
    make_project("p")
    path = write_jsonl(tmp_path / "roles.jsonl", [ROLE_ROWS[fmt](role)])
    with pytest.raises(Invalid) as e:
        run_import(path, format=fmt)
    assert "line 1 of roles.jsonl: field `" in str(e.value) and "role`: expected `" in str(e.value)
    assert ("got a list" if isinstance(role, list) else "got an object") in str(e.value)
    report = run_import(path, format=fmt, skip_invalid=True, rejects_path=tmp_path / "rejects.jsonl")
    assert report.rejected == 1 and counts() == EMPTY


def test_cr_only_line_ends_are_refused_by_detection_with_the_reason(tmp_path) -> None:
    path = tmp_path / "old-mac.jsonl"
    path.write_bytes(b'{"prompt": "one"}\r{"prompt": "two"}\r')
    with pytest.raises(Invalid, match="bare CR: save the file with LF"):
        detect_format(path)


def test_a_bare_cr_in_a_first_line_that_is_not_json_is_refused(tmp_path) -> None:
    path = tmp_path / "odd.txt"
    path.write_bytes(b'prompt,"x\ry\n')
    with pytest.raises(Invalid, match="cannot tell the format of odd.txt"):
        detect_format(path)


def test_a_csv_file_with_cr_only_line_ends_is_refused_with_the_reason(db_url, tmp_path) -> None:
    make_project("p")
    path = tmp_path / "old-mac.csv"
    path.write_bytes(b"id,prompt\r1,hello\r2,world\r")
    with pytest.raises(Invalid, match="bare CR .* outside quotes; save the file with LF or CRLF"):
        run_import(path)
    assert counts() == EMPTY


def test_crlf_and_lf_mixed_lines_import(db_url, tmp_path) -> None:
    make_project("p")
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b'{"prompt": "one"}\r\n{"prompt": "two"}\n{"prompt": "thr\\ree"}\r\n')
    assert run_import(path).prompts_added == 3


@pytest.mark.parametrize("row, field", [
    ({"prompt": "a\u0000b"}, "prompt"),
    ({"messages": [{"role": "user", "content": "hi"}, {"role": "user", "content": "x\u0000"}]},
     "messages[1].content"),
    ({"prompt": "fine", "id": "x\u0000"}, "id"),
    ({"prompt": "fine", "tags": {"k\u0000": 1}}, "tags"),
])
def test_a_nul_character_refuses_the_record_with_its_line_on_both_stores(db_url, tmp_path, row, field) -> None:
    make_project("p")
    path = write_jsonl(tmp_path / "nul.jsonl", [{"prompt": "first"}, row])
    with pytest.raises(Invalid) as e:
        run_import(path)
    assert f"line 2 of nul.jsonl: field `{field}`: contains a NUL character" in str(e.value)
    assert counts() == EMPTY
    report = run_import(path, skip_invalid=True, rejects_path=tmp_path / "rejects.jsonl")
    assert (report.prompts_added, report.rejected) == (1, 1)


@pytest.mark.parametrize("fmt, row", [
    ("hh-rlhf", {"chosen": "\n\nHuman: hi\u0000\n\nAssistant: a", "rejected": "\n\nHuman: hi\u0000\n\nAssistant: b"}),
    ("oasst", {"message_id": "m", "message_tree_id": "t", "role": "prompter", "text": "hi\u0000"}),
    ("openai-preference", {"input": {"messages": [{"role": "user", "content": "q"}]},
                           "preferred_output": "a\u0000", "non_preferred_output": "b"}),
])
def test_nul_in_labels_is_refused_in_every_json_reader(db_url, tmp_path, fmt, row) -> None:
    make_project("p")
    path = write_jsonl(tmp_path / "nul.jsonl", [row])
    report = run_import(path, format=fmt, skip_invalid=True, rejects_path=tmp_path / "rejects.jsonl")
    assert report.rejected == 1 and counts() == EMPTY


def test_an_escaped_backslash_u0000_is_text_not_nul(db_url, tmp_path) -> None:
    make_project("p")
    path = write_jsonl(tmp_path / "ok.jsonl", [{"prompt": "the escape \\u0000 written out"}])
    assert run_import(path).prompts_added == 1


def test_a_parent_id_that_is_not_a_string_is_rejected(db_url, tmp_path) -> None:
    make_project("p")
    rows = _oasst_flat(2)
    rows[1]["parent_id"] = ["t1-q"]
    report = run_import(write_jsonl(tmp_path / "o.jsonl", rows), format="oasst", skip_invalid=True,
                        rejects_path=tmp_path / "rejects.jsonl")
    assert report.rejected == 1 and report.prompts_added == 1


def test_the_cli_reports_the_big_ranking_with_and_without_skip_invalid(db_url, tmp_path) -> None:
    from tests.test_cli import invoke

    invoke("project", "create", "qa")
    path = write_jsonl(tmp_path / "big.jsonl", _oasst_flat(11) + _oasst_flat(2, "t2"))
    result = invoke("import", str(path), "--project", "qa", "--format", "oasst", ok=False)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "line 1 of big.jsonl: 11 ranked replies" in result.output
    rejects = tmp_path / "rejects.jsonl"
    result = invoke("import", str(path), "--project", "qa", "--format", "oasst", "--skip-invalid",
                    "--rejects", str(rejects))
    assert "rejected: 1" in result.output and json.loads(rejects.read_text())["line"] == 1
