"""The Labelers, Quality and Gold pages: figures with their counts, pause/resume, gold marking; who may open them."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from labeler.errors import Forbidden
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.admin import find_prompts, prompt_detail
from labeler.services.auth import actor_for, get_user_or_raise
from labeler.services.gold import list_gold, qualification
from labeler.services.projects import add_member
from labeler.services.queue import next_task
from tests.app.admin_data import submit_work
from tests.app.conftest import VIEWS, app_as, errors, successes
from tests.app.data import make_task_project
from tests.factories import make_project, make_user


def _ranked(tmp_path) -> None:
    """Two labelers rank the same 3 prompts of K=3 (no ties): 3 prompts x 3 pairs compared between them."""
    alice, bob = make_user("alice"), make_user("bob")
    make_task_project(tmp_path, "work", ("alice", "bob"), n_prompts=3, k=3, labels_per_item=2,
                      task_kinds=["ranking"], k_min=3, k_max=3)
    submit_work(alice, "work", rankings=3, flag="hallucination")
    submit_work(bob, "work", rankings=3)


def _metrics(at) -> dict[str, tuple[str, str]]:
    """Each metric's value and the count shown under it."""
    return {m.label: (m.value, m.delta) for m in at.metric}


# ---- labelers -----------------------------------------------------------------------------------


def test_labelers_table_with_data(db_url, tmp_path):
    _ranked(tmp_path)
    at = app_as(make_user("root", "admin"), "labelers")
    assert not errors(at), errors(at)
    table = at.dataframe[0].value.set_index("labeler")
    assert list(table.index) == ["alice", "bob"]
    assert table.loc["alice", "tasks"] == 3 and table.loc["alice", "rankings"] == 3
    assert table.loc["alice", "median time per task"] == "20 s"
    assert table.loc["alice", "acceptance (accepted/reviewed)"] == "— (0/0)"  # nothing reviewed yet
    assert table.loc["alice", "agreement (pairs)"].endswith("/9)")  # 3 prompts x 3 pairs, rate with its count
    assert table.loc["bob", "gold score"] == "— (n=0)"


def test_pause_and_resume_a_labeler(db_url, tmp_path):
    _ranked(tmp_path)
    at = app_as(make_user("root", "admin"), "labelers")
    at.button(key="labelers.work.alice.pause").click().run()
    assert successes(at) == ["`alice` paused on `work`."]
    assert at.dataframe[0].value.set_index("labeler").loc["alice", "status"] == "paused"
    with session_scope() as s:
        assert qualification(s, OPERATOR, "work", "alice").status == "paused"
    with session_scope() as s:
        with pytest.raises(Forbidden, match="paused"):
            next_task(s, actor_for(get_user_or_raise(s, "alice")), "work", "ranking")
    at.button(key="labelers.work.alice.resume").click().run()
    assert successes(at) == ["`alice` resumed on `work`."]
    with session_scope(write=False) as s:
        assert qualification(s, OPERATOR, "work", "alice").status != "paused"


def test_labelers_page_for_an_empty_project(sqlite_url):
    make_project("empty")
    at = app_as(make_user("root", "admin"), "labelers")
    assert "Nobody works on `empty` yet" in at.info[0].value


def test_a_reviewer_sees_the_figures_of_their_project_without_controls(sqlite_url, tmp_path):
    _ranked(tmp_path)
    rita = make_user("rita", "reviewer")
    with session_scope() as s:
        add_member(s, OPERATOR, "work", "rita")
    at = app_as(rita, "labelers")
    assert not errors(at), errors(at)
    assert "alice" in list(at.dataframe[0].value["labeler"])
    assert not [b for b in at.button if b.key and b.key.startswith("labelers.")]
    at = app_as(rita, "quality")
    assert not errors(at) and _metrics(at)


# ---- quality ------------------------------------------------------------------------------------


def test_quality_page_with_data(db_url, tmp_path):
    _ranked(tmp_path)
    at = app_as(make_user("root", "admin"), "quality")
    assert not errors(at), errors(at)
    metrics = _metrics(at)
    value, count = metrics["Pairwise agreement"]
    assert value.endswith("%") and count.endswith(" of 9 pairs")  # 3 prompts x 3 pairs between alice and bob
    assert metrics["Shown first wins"] == ("100%", "12 of 12 comparisons")  # everyone ranked in display order
    assert metrics["Kendall's tau (mean)"][1] == "n = 3 ranking pairs"
    assert len(at.get("vega_lite_chart")) == 4  # agreement by week, position, Likert, flags
    per_labeler = at.dataframe[0].value
    assert list(per_labeler["labeler"]) == ["alice", "bob"] and list(per_labeler["rankings"]) == [3, 3]


def test_quality_page_with_an_empty_project(db_url):
    make_project("empty")
    at = app_as(make_user("root", "admin"), "quality")
    assert not errors(at) and not at.exception
    assert _metrics(at)["Pairwise agreement"] == ("—", "0 of 0 pairs")
    assert _metrics(at)["Krippendorff's alpha"] == ("—", "n = 0 candidate pairs")
    assert "No rankings by labelers in `empty` yet" in at.info[0].value
    assert not at.get("vega_lite_chart")
    captions = [c.value for c in at.caption]
    assert {"No Likert scores yet.", "No flags set yet.", "No strict comparisons yet."} <= set(captions)


# ---- gold ---------------------------------------------------------------------------------------


def test_mark_a_prompt_gold_with_the_expected_ranking(db_url, tmp_path):
    make_task_project(tmp_path, "work", n_prompts=2, k=3)
    with session_scope(write=False) as s:
        [first, _] = find_prompts(s, OPERATOR, "work", min_candidates=2)
        candidates = [c.candidate_id for c in prompt_detail(s, OPERATOR, "work", first["prompt_id"]).candidates]
    pid = first["prompt_id"]
    at = app_as(make_user("root", "admin"), "gold")
    assert "No gold yet" in " ".join(c.value for c in at.caption)
    at.segmented_control(key="gold.work.kind").set_value("ranking").run()
    at.text_input(key="gold.work.find").input("work number 1").run()
    assert at.selectbox(key="gold.work.prompt").value == pid
    ns = f"gold.work.{pid}.ranking"
    at.segmented_control(key=f"{ns}.rank.{candidates[0]}").set_value(2)
    at.segmented_control(key=f"{ns}.rank.{candidates[1]}").set_value(1).run()
    at.button(key=f"{ns}.mark").click().run()
    assert errors(at) == ["give every candidate a rank: C has none"]
    at.segmented_control(key=f"{ns}.rank.{candidates[2]}").set_value(3)
    at.button(key=f"{ns}.mark").click().run()
    assert not errors(at), errors(at)
    assert successes(at) == [f"Prompt {pid} is now ranking gold."]
    with session_scope(write=False) as s:
        [gold] = list_gold(s, OPERATOR, "work")
    assert (gold.prompt_id, gold.kind) == (pid, "ranking")
    assert gold.expected == {"ranks": {str(candidates[0]): 2, str(candidates[1]): 1, str(candidates[2]): 3}}
    assert list(at.dataframe[0].value["prompt"]) == [pid]
    at.button(key="gold.work.unmark_go").click().run()
    with session_scope(write=False) as s:
        assert list_gold(s, OPERATOR, "work") == []


def test_a_bad_gold_ranking_is_refused(sqlite_url, tmp_path):
    make_task_project(tmp_path, "work", n_prompts=1, k=2, ties_allowed=False)
    with session_scope(write=False) as s:
        [first] = find_prompts(s, OPERATOR, "work")
        candidates = [c.candidate_id for c in prompt_detail(s, OPERATOR, "work", first["prompt_id"]).candidates]
    at = app_as(make_user("root", "admin"), "gold")
    at.segmented_control(key="gold.work.kind").set_value("ranking").run()
    ns = f"gold.work.{first['prompt_id']}.ranking"
    for cid in candidates:
        at.segmented_control(key=f"{ns}.rank.{cid}").set_value(1)
    at.button(key=f"{ns}.mark").click().run()
    assert errors(at) == ["gold ranks: this project does not allow ties, so the expected ranking cannot have any"]
    with session_scope(write=False) as s:
        assert list_gold(s, OPERATOR, "work") == []


def test_mark_a_prompt_gold_with_an_exemplary_demonstration(sqlite_url, tmp_path):
    make_task_project(tmp_path, "work", n_prompts=1, k=2)
    with session_scope(write=False) as s:
        [first] = find_prompts(s, OPERATOR, "work")
    at = app_as(make_user("root", "admin"), "gold")
    assert at.segmented_control(key="gold.work.kind").value == "ranking"  # the default kind
    at.segmented_control(key="gold.work.kind").set_value("demonstration").run()
    ns = f"gold.work.{first['prompt_id']}.demonstration"
    at.text_area(key=f"{ns}.reply").input("The model answer.")
    at.button(key=f"{ns}.mark").click().run()
    assert not errors(at), errors(at)
    with session_scope(write=False) as s:
        [gold] = list_gold(s, OPERATOR, "work")
    assert gold.expected == {"turns": [{"role": "assistant", "content": "The model answer."}]}


def test_find_prompts_escapes_wildcards_and_refuses_labelers(sqlite_url, tmp_path):
    make_task_project(tmp_path, "work", n_prompts=2, k=2)
    alice = make_user("alice")
    with session_scope(write=False) as s:
        assert find_prompts(s, OPERATOR, "work", "%") == []
        assert [p["candidates"] for p in find_prompts(s, OPERATOR, "work", "ANSWER work")] == [2, 2]
        with pytest.raises(Forbidden):
            find_prompts(s, alice, "work")
        with pytest.raises(Forbidden):
            prompt_detail(s, alice, "work", 1)


# ---- gating -------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["labelers", "quality", "gold"])
def test_a_labeler_cannot_open_the_page_and_the_services_refuse(sqlite_url, page):
    alice = make_user("alice")
    make_project("p", ("alice",))
    at = app_as(alice)
    with pytest.raises(ValueError):
        at.switch_page(f"views/{page}.py").run()
    direct = AppTest.from_file(str(VIEWS / f"{page}.py"), default_timeout=30)
    direct.session_state["user"] = {"id": alice.id}
    direct.run()
    assert errors(direct) == ["`alice` is a labeler; this needs an admin" + (" or reviewer" if page != "gold" else "")]
    assert not direct.dataframe and not direct.metric


def test_a_reviewer_cannot_open_the_gold_page(sqlite_url):
    at = app_as(make_user("rita", "reviewer"))
    with pytest.raises(ValueError):
        at.switch_page("views/gold.py").run()
