"""`labeler quality --project NAME [--json]`, invoked for real on the three-labeler panel."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from labeler.cli import app
from tests.factories import make_project, make_user
from tests.services.queue_data import cheap_passwords  # noqa: F401
from tests.services.test_quality import in_order, panel  # noqa: F401 - fixtures

runner = CliRunner()


def invoke(*args: str, code: int = 0):
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def test_quality_json(panel):  # noqa: F811
    data = json.loads(invoke("quality", "--project", "p", "--json").stdout)
    # Wilson: centre (9/16 + z²/32) / (1 + z²/16) = 0.5504, half-width 0.2186
    assert data["pairwise"] == {"hits": 9, "total": 16, "rate": 0.5625, "low": 0.3318, "high": 0.769}
    assert data["kendall_tau"] == {"mean": 0.1111, "pairs": 6, "prompts": 2}
    assert data["alpha"]["units"] == 6 and data["alpha"]["level"] == "ordinal"
    assert data["consensus"]["support"]["hits"] == 12 and data["consensus"]["support"]["total"] == 15
    assert data["position_bias"]["first"]["hits"] == 8 and data["position_bias"]["by_position"]["2"]["total"] == 12
    assert [(row["username"], row["pairwise"]["hits"], row["pairwise"]["total"]) for row in data["labelers"]] == [
        ("ann", 7, 11), ("bob", 5, 11), ("cat", 6, 10)]


def test_quality_text(panel):  # noqa: F811
    out = invoke("quality", "--project", "p").stdout
    assert "rankings that vote: 6 on 2 prompt(s)" in out
    assert "56.2% (9/16)" in out and "95% CI 33.2-76.9%" in out  # every rate with its counts and interval
    assert "2 tied pair(s) left out" in out
    assert "72.7% (8/11)" in out  # the first shown wins
    assert "1: 72.7% (8/11, 95% CI 43.4-90.3%); 2: 63.6% (7/11" in out
    for name in ("ann", "bob", "cat"):
        assert name in out


def test_quality_of_an_empty_project_and_refusals(db_url):
    make_user("ann")
    make_project("p", members=("ann",))
    out = invoke("quality", "--project", "p").stdout
    assert "no prompt has two voting rankings yet" in out and "n/a (0/0)" in out
    denied = invoke("--as", "ann", "quality", "--project", "p", code=1)
    assert "error:" in denied.output and "Traceback" not in denied.output
    missing = invoke("quality", "--project", "nope", code=1)
    assert "project `nope` not found" in missing.output
