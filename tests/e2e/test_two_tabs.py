"""The same labeler in two browser tabs on the same task: the second tab's different ranking is not dropped
silently; it is told the task was submitted elsewhere and shown what was kept (skips without playwright)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db.models import Ranking, RankingItem
from labeler.services import session_scope
from tests.app.data import make_task_project
from tests.e2e.ui import expect, go_to, log_in, pick, settled, success_text
from tests.factories import make_user


@pytest.fixture(scope="module", autouse=True)
def _data(app_database, tmp_path_factory):
    make_user("tabby")
    make_task_project(tmp_path_factory.mktemp("data"), "tabs", ("tabby",), n_prompts=2, k=2,
                      task_kinds=["ranking"], k_min=2, k_max=2)


def test_the_second_tab_is_told_its_ranking_was_not_stored_and_what_was_kept(new_page):
    tab1 = go_to(log_in(new_page(), "tabby"), "Rank")
    tab2 = go_to(log_in(new_page(), "tabby"), "Rank")
    prompt = tab1.get_by_test_id("stChatMessage").first.inner_text()
    assert tab2.get_by_test_id("stChatMessage").first.inner_text() == prompt  # the same lease in both tabs
    pick(tab2, "Rank of A", "2")  # tab 2 ranks first, then tab 1 ranks and submits
    pick(tab2, "Rank of B", "1")
    pick(tab1, "Rank of A", "1")
    pick(tab1, "Rank of B", "2")
    tab1.get_by_role("button", name="Submit ranking").click()
    success_text(tab1, "Ranking #")
    tab2.get_by_role("button", name="Submit ranking").click()
    alert = tab2.get_by_test_id("stAlertContentWarning").filter(has_text="already submitted from another tab")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("what this tab held for it was not stored")
    expect(alert).to_contain_text("Kept: A = 1, B = 2")
    settled(tab2)
    expect(tab2.get_by_test_id("stAlertContentSuccess")).to_have_count(0)  # no "submitted" for tab 2
    with session_scope(write=False) as s:
        [ranking] = s.scalars(select(Ranking).where(Ranking.status == "submitted")).all()
        ranks = dict(s.execute(select(RankingItem.position, RankingItem.rank)
                               .where(RankingItem.ranking_id == ranking.id)).all())
    assert ranks == {0: 1, 1: 2}  # tab 1's ranking, untouched
