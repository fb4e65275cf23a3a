"""`labeler scope ...` for real on both backends: enable, bulk set by ids and by filter, list, refusals."""

from __future__ import annotations

import json

from sqlalchemy import select

from db.models import Prompt
from labeler.services import session_scope
from tests.factories import make_user
from tests.services.queue_data import add_prompts, cheap_passwords  # noqa: F401
from tests.test_cli import invoke


def test_enable_set_by_ids_and_filter_then_list_and_export(db_url, tmp_path):
    invoke("project", "create", "p")
    ids = add_prompts("p", 12)
    out = invoke("scope", "enable", "--project", "p", "--reasons", "unsafe,medical").output
    assert "scope labels on for `p`; reasons: unsafe, medical" in out
    done = json.loads(invoke("scope", "set", "--project", "p", "--prompt-ids", f"{ids[0]},{ids[1]}",
                             "--label", "off-limits", "--reason", "medical", "--json").stdout)
    assert done == {"labelled": 2, "label": "off-limits", "reason": "medical",
                    "counts": {"answerable": 0, "off-limits": 2, "none": 10}}
    assert "10 prompt(s) labelled `answerable`" in invoke("scope", "set", "--project", "p", "--label", "answerable",
                                                          "--unlabeled").output
    listed = json.loads(invoke("scope", "list", "--project", "p", "--label", "off-limits", "--json").stdout)
    assert [(e["prompt_id"], e["label"], e["reason"], e["admin"]) for e in listed["prompts"]] == [
        (ids[0], "off-limits", "medical", "off-limits"), (ids[1], "off-limits", "medical", "off-limits")]
    assert "question 0" in invoke("scope", "list", "--project", "p").output
    invoke("export", "classification", "--project", "p", "--out", str(tmp_path / "cls"))
    rows = [json.loads(x) for x in (tmp_path / "cls" / "train.jsonl").read_text().splitlines()]
    assert [r["label"] for r in rows] == ["off-limits"] * 2 + ["answerable"] * 10
    assert "scope labels off" in invoke("scope", "disable", "--project", "p").output


def test_refusals_are_one_line_errors_and_change_nothing(db_url):
    make_user("ann")
    invoke("project", "create", "p")
    ids = add_prompts("p", 2)
    bad = invoke("scope", "set", "--project", "p", "--prompt-ids", "1,x", "--label", "answerable", ok=False)
    assert bad.exit_code == 1 and "expected numbers" in bad.output
    bad = invoke("scope", "set", "--project", "p", "--label", "answerable", ok=False)
    assert "say which prompts" in bad.output
    bad = invoke("scope", "set", "--project", "p", "--prompt-ids", str(ids[0]), "--label", "nope", ok=False)
    assert "expected one of answerable, off-limits" in bad.output
    bad = invoke("--as", "ann", "scope", "set", "--project", "p", "--prompt-ids", str(ids[0]), "--label",
                 "answerable", ok=False)
    assert bad.exit_code == 1 and "needs an admin" in bad.output
    with session_scope(write=False) as s:
        assert s.scalars(select(Prompt.scope)).all() == [None, None]
