"""`labeler compare` and `labeler compare round`, invoked for real (the round against the fake OpenAI server)."""

from __future__ import annotations

import json
from dataclasses import asdict

from sqlalchemy import func, select
from typer.testing import CliRunner

from db.models import Candidate
from labeler.cli import app
from labeler.services import session_scope
from labeler.services.auth import actor_for, get_user_or_raise
from labeler.services.queue import next_task
from tests.factories import make_project, make_user
from tests.services.compare_data import add_prompt, add_ranking
from tests.services.queue_data import add_prompts

runner = CliRunner()


def invoke(*args: str, code: int = 0):
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def _ranked() -> None:
    make_project("p")
    for winner in ("good", "good", "good", "meh"):
        c = add_prompt("p", ["good", "meh", "bad"])
        ranks = {"good": 1, "meh": 2, "bad": 3} if winner == "good" else {"meh": 1, "good": 2, "bad": 2}
        add_ranking({c[i]: ranks[m] for i, m in enumerate(["good", "meh", "bad"])})


def test_compare_prints_ratings_and_the_matrix(db_url):
    _ranked()
    out = invoke("compare", "--project", "p", "--rounds", "50").output
    assert "models judged by humans (human rankings, submitted or accepted) on 4 prompt(s)" in out
    assert "Bradley-Terry ratings" in out and "mean of the models = 1000" in out
    lines = [line.split() for line in out.splitlines()]
    assert [row[1] for row in lines if row and row[0] in ("1", "2", "3")] == ["good", "meh", "bad"]
    assert "75% (4)" in out  # good beat meh 3 times of 4
    data = json.loads(invoke("compare", "--project", "p", "--models", "good,meh", "--rounds", "0", "--json").stdout)
    assert data["models"] == ["good", "meh"] and data["win_rate"] == [[None, 0.75], [0.25, None]]
    assert data["games"] == [[0, 4], [4, 0]] and data["strengths"][0]["interval"] is None
    assert data["filters"]["rankings"] == ["human"]


def test_compare_errors_are_one_line(sqlite_url):
    _ranked()
    assert "--project" in invoke("compare", "--rounds", "3", code=1).output
    assert "no scores by `rm`" in invoke("compare", "--project", "p", "--reward-model", "rm", code=1).output
    assert "not found" in invoke("compare", "--project", "nope", code=1).output


def test_a_comparison_round_generates_one_per_model_and_hides_the_names(sqlite_url, fake_openai):
    make_user("lou")
    make_project("p", members=("lou",), task_kinds=["ranking"])
    add_prompts("p", 4, candidates=1)  # an older candidate (no model) stays; the round adds one per model
    plan = json.loads(invoke("compare", "round", "--project", "p", "--models", "gizmo-7b,wombat-13b", "--limit", "3",
                             "--dry-run", "--json").stdout)
    assert plan["prompts"] == 3 and plan["candidates"] == 6 and fake_openai.received() == []
    out = invoke("compare", "round", "--project", "p", "--models", "gizmo-7b,wombat-13b", "--limit", "3").output
    assert "3 of 3 prompt(s) done, 6 candidate(s) stored" in out
    done = json.loads(invoke("compare", "round", "--project", "p", "--models", "gizmo-7b,wombat-13b", "--json").stdout)
    assert done["prompts_planned"] == 1 and done["candidates"] == 2  # the fourth prompt; the others are complete
    again = json.loads(invoke("compare", "round", "--project", "p", "--models", "gizmo-7b,wombat-13b", "--json").stdout)
    assert again["prompts_planned"] == 0
    with session_scope(write=False) as s:
        per_prompt = s.execute(select(Candidate.prompt_id, Candidate.model, func.count())
                               .group_by(Candidate.prompt_id, Candidate.model)).all()
    assert sorted({m for _, m, _ in per_prompt if m}) == ["gizmo-7b", "wombat-13b"]
    assert all(n == 1 for _, _, n in per_prompt)
    assert "two models or more" in invoke("compare", "round", "--project", "p", "--models", "gizmo-7b", code=1).output
    # a labeler's ranking task carries the texts, never the models
    with session_scope() as s:
        task = next_task(s, actor_for(get_user_or_raise(s, "lou")), "p", "ranking")
    shown = json.dumps({k: v for k, v in asdict(task).items() if k != "settings"}, default=str)
    assert len(task.candidates) == 3 and "gizmo" not in shown and "wombat" not in shown
    assert "gizmo" not in json.dumps(task.settings.model_dump(mode="json"))
