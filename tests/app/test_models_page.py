"""The Models page: ratings with intervals and the win-rate matrix; a comparison round; names hidden on Rank."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.projects import add_member
from tests.app.conftest import VIEWS, app_as, control_data, errors
from tests.factories import make_project, make_user
from tests.services.compare_data import add_prompt, add_ranking, add_scores
from tests.services.queue_data import add_prompts


def _ranked() -> None:
    make_project("p")
    for winner in ("new", "new", "old"):
        c = add_prompt("p", ["new", "old"])
        add_ranking({c[0]: 1 if winner == "new" else 2, c[1]: 2 if winner == "new" else 1})
    add_scores("/rm/one", {c[0]: 0.9, c[1]: 0.1})


def test_the_page_shows_ratings_and_the_matrix(db_url):
    _ranked()
    at = app_as(make_user("root", "admin"), "models")
    assert not errors(at), errors(at)
    assert "3 prompt(s) with comparisons; human rankings" in at.caption[0].value
    assert len(at.get("vega_lite_chart")) == 2  # ratings with error bars, the heatmap
    table = at.dataframe[0].value
    assert list(table.index) == ["new", "old"] and table.loc["new", "old"] == "67% (3)"
    assert table.loc["old", "new"] == "33% (3)" and table.loc["new", "new"] == "—"
    at.selectbox(key="models.judge").select("/rm/one").run()
    assert "reward-model scores" in at.caption[0].value
    assert at.dataframe[0].value.loc["new", "old"] == "100% (1)"
    assert at.expander  # admins may start a round


def test_a_reviewer_of_the_project_sees_it_without_the_round_and_a_labeler_is_refused(sqlite_url):
    _ranked()
    rita, lou = make_user("rita", "reviewer"), make_user("lou")
    with session_scope() as s:
        add_member(s, OPERATOR, "p", "rita")
    at = app_as(rita, "models")
    assert not errors(at) and at.dataframe and not at.expander
    page = AppTest.from_file(str(VIEWS / "models.py"), default_timeout=30)
    page.session_state["user"] = {"id": lou.id}
    page.run()
    assert not page.dataframe  # nothing shown to a labeler (not a member: no project; a member: refused)


def test_a_round_from_the_page_and_the_labelers_rank_page_shows_no_model(sqlite_url, fake_openai):
    lou = make_user("lou")
    make_project("p", members=("lou",), task_kinds=["ranking"])
    add_prompts("p", 2, candidates=0)
    at = app_as(make_user("root", "admin"), "models")
    at.text_input(key="models.round.models").input("gizmo-7b, wombat-13b").run()
    at.button(key="models.round.run").click().run()
    assert not errors(at), errors(at)
    assert "Round generated: 4 candidate(s) on 2 prompt(s); 0 failed." in [s.value for s in at.success]
    rank = app_as(lou, "rank")
    data = control_data(rank, "rank")
    assert len(data["candidates"]) == 2
    sent = json.dumps(data)
    assert "gizmo" not in sent and "wombat" not in sent
    page_text = " ".join(str(getattr(e, "value", "")) for e in rank.main)
    assert "gizmo" not in page_text and "wombat" not in page_text
