"""The gold and qualification commands, invoked for real: gold add/list/remove, qualification, pause/resume."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from labeler.cli import app
from labeler.services import session_scope
from labeler.services.queue import next_task
from tests.factories import make_project, make_user
from tests.services.queue_data import add_prompts, cheap_passwords  # noqa: F401
from tests.services.test_gold import candidates

runner = CliRunner()


def invoke(*args: str, ok: bool = True):
    result = runner.invoke(app, list(args), catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_gold_commands(db_url, tmp_path):
    make_user("alice")
    make_project("p", members=("alice",))
    p1, p2 = add_prompts("p", 2)
    a, b, c, _ = candidates(p1)
    out = invoke("gold", "add", "--project", "p", "--prompt", str(p1), "--ranks", f"{a}:1,{b}:2,{c}:2")
    assert f"prompt {p1} is a `ranking` gold task in `p`" in out.output
    turns = tmp_path / "exemplary.json"
    turns.write_text(json.dumps([{"role": "assistant", "content": "The model answer."}]))
    invoke("gold", "add", "--project", "p", "--prompt", str(p2), "--kind", "demonstration", "--turns-file", str(turns))
    listed = json.loads(invoke("gold", "list", "--project", "p", "--json").stdout)
    assert [(g["prompt_id"], g["kind"], g["results"]) for g in listed] == [(p1, "ranking", 0), (p2, "demonstration", 0)]
    assert listed[0]["expected"] == {"ranks": {str(a): 1, str(b): 2, str(c): 2}}
    assert "The model answer" not in invoke("gold", "list", "--project", "p").output  # the table shows counts
    bad = invoke("gold", "add", "--project", "p", "--prompt", str(p1), "--ranks", f"{a}=1", ok=False)
    assert bad.exit_code == 1 and "expected `candidate_id:rank` pairs" in bad.output
    bad = invoke("gold", "add", "--project", "p", "--prompt", str(p1), "--ranks", f"{a}:1,{b}:3", ok=False)
    assert bad.exit_code == 1 and "its rank must be 2" in bad.output and "Traceback" not in bad.output
    invoke("gold", "remove", "--project", "p", "--prompt", str(p2), "--kind", "demonstration")
    assert len(json.loads(invoke("gold", "list", "--project", "p", "--json").stdout)) == 1
    denied = invoke("--as", "alice", "gold", "list", "--project", "p", ok=False)
    assert denied.exit_code == 1 and "is a labeler" in denied.output


def test_qualification_and_pause_commands(db_url):
    alice = make_user("alice")
    make_project("p", members=("alice",))
    (p1, real) = add_prompts("p", 2)
    a, b, *_ = candidates(p1)
    invoke("gold", "add", "--project", "p", "--prompt", str(p1), "--ranks", f"{a}:1,{b}:2")
    out = invoke("qualification", "set", "--project", "p", "--tasks", "1", "--threshold", "0.8", "--gold-rate", "0.1")
    assert "qualification 1 task(s) at 80%, gold rate 10%" in out.output
    assert invoke("qualification", "set", "--project", "p", ok=False).exit_code == 1
    bad = invoke("qualification", "set", "--project", "p", "--gold-rate", "0.9", ok=False)
    assert bad.exit_code == 1 and "gold_rate" in bad.output
    (row,) = json.loads(invoke("qualification", "show", "--project", "p", "--json").stdout)
    assert (row["username"], row["status"], row["required"], row["threshold"]) == ("alice", "not_started", 1, 0.8)
    invoke("qualification", "grant", "alice", "--project", "p")
    assert json.loads(invoke("qualification", "show", "--project", "p", "--json").stdout)[0]["status"] == "qualified"
    invoke("qualification", "reset", "alice", "--project", "p")
    assert "not_started" in invoke("qualification", "show", "--project", "p").output
    assert "is paused in `p`" in invoke("pause", "alice", "--project", "p").output
    assert json.loads(invoke("qualification", "show", "--project", "p", "--json").stdout)[0]["status"] == "paused"
    invoke("resume", "alice", "--project", "p")
    invoke("qualification", "grant", "alice", "--project", "p")
    invoke("qualification", "set", "--project", "p", "--gold-rate", "0")  # no gold check drawn: the real prompt
    with session_scope() as s:
        assert next_task(s, alice, "p", "ranking").prompt_id == real
    missing = invoke("pause", "nobody", "--project", "p", ok=False)
    assert missing.exit_code == 1 and "user `nobody` not found" in missing.output
