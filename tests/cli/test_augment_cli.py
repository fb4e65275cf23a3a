"""`labeler augment` and `labeler export --include-paraphrases`, invoked for real against the local fake server."""

from __future__ import annotations

import json

from sqlalchemy import select
from typer.testing import CliRunner

from db.models import Demonstration, Prompt
from labeler.cli import app
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.augment import review_paraphrase
from tests.factories import make_project
from tests.services.queue_data import add_prompts
from tests.services.test_augment import _add, _one

runner = CliRunner()


def invoke(*args: str, code: int = 0):
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def test_augment_prints_a_summary_and_resumes(sqlite_url, fake_openai):
    make_project("p")
    add_prompts("p", 3, candidates=0)
    dry = invoke("augment", "--project", "p", "--paraphrases", "2", "--model", "m", "--dry-run").output
    assert "3 prompt(s) would be asked for 2 rewording(s)" in dry and fake_openai.received() == []
    out = invoke("augment", "--project", "p", "--paraphrases", "2", "--model", "m").output
    assert "3 of 3 prompt(s) done, 0 failed" in out
    again = json.loads(invoke("augment", "--project", "p", "--paraphrases", "2", "--model", "m", "--json").stdout)
    assert again["prompts_planned"] == 0 and again["paraphrases"] == 0 and again["n"] == 2


def test_failures_exit_1_with_the_prompt_and_reason(sqlite_url, fake_openai):
    make_project("p")
    (first, _) = add_prompts("p", 2, candidates=0)
    fake_openai.fail(500, times=2, headers={"retry-after-ms": "1"})
    result = invoke("augment", "--project", "p", "-n", "2", "--model", "m", "--max-retries", "1",
                    "--concurrency", "1", code=1)
    assert f"prompt {first}: `m`: 500" in result.output and "1 failed" in result.output


def test_export_include_paraphrases(sqlite_url, fake_openai, tmp_path):
    make_project("p")
    (pid,) = add_prompts("p", 1, candidates=0)
    invoke("augment", "--project", "p", "-n", "1", "--model", "m")
    with session_scope() as s:
        s.add(Demonstration(prompt_id=pid, turns=[{"role": "assistant", "content": "ok"}], status="submitted",
                            origin="imported"))
        kid = s.scalar(select(Prompt.id).where(Prompt.source_prompt_id == pid))
        review_paraphrase(s, OPERATOR, kid, "keep")
    out = invoke("export", "sft-messages", "--project", "p", "--out", str(tmp_path / "x"),
                 "--include-paraphrases").output
    out = " ".join(out.split())  # the console wraps long lines (the tmp path is long)
    assert "train 2" in out and "augmented 1" in out


def test_cli_reports_asked_stored_and_short(db_url, fake_openai):
    make_project("p")
    _add("p", [_one("name a mammal"), _one("name a bird")], ["ann", "bob"], ["train", "train"])
    fake_openai.state["paraphrase_max_lines"] = 1
    result = CliRunner().invoke(app, ["augment", "--project", "p", "--paraphrases", "2", "--model", "m"])
    assert result.exit_code == 0, result.output
    assert "2 of 2 prompt(s) done" in result.output
    assert "rewordings: 4 asked, 4 stored (pending review), 0 short" in result.output
