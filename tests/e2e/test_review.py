"""Review in a real browser: a reviewer rejects a ranking, it goes back to the queue, the labeler reads why.

Skips without playwright or Chromium (fails under CI=true): see ui.py and conftest.py.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from db.models import Assignment, Prompt, Ranking, Review
from labeler.services import session_scope
from tests.app.data import make_task_project
from tests.e2e.ui import current, expect, go_to, log_in, pick, settled, success_text
from tests.factories import make_user

REASON = "B answers the question and A does not: please read both replies in full."


@pytest.fixture(scope="module", autouse=True)
def _data(app_database, tmp_path_factory):
    """Two labelers and a reviewer on a one-prompt ranking project (one label per prompt)."""
    make_user("lara")
    make_user("bo")
    make_user("rev", role="reviewer")
    make_task_project(tmp_path_factory.mktemp("review"), "judge", ("lara", "bo", "rev"), n_prompts=1, k=2,
                      task_kinds=["ranking"], labels_per_item=1)


def test_a_rejected_ranking_returns_to_the_queue_and_the_labeler_reads_why(new_page):
    labeler = go_to(log_in(new_page(), "lara"), "Rank")
    pick(labeler, "Rank of A", "1")
    pick(labeler, "Rank of B", "2")
    labeler.get_by_role("button", name="Submit ranking").click()
    ranking_id = int(re.match(r"Ranking #(\d+) submitted", success_text(labeler, "Ranking #")).group(1))
    with session_scope(write=False) as s:
        prompt_id = s.get(Ranking, ranking_id).prompt_id
        assert s.scalar(select(Prompt.ranking_count).where(Prompt.id == prompt_id)) == 1

    reviewer = go_to(log_in(new_page(), "rev"), "Review")
    expect(current(reviewer).get_by_role("heading", name=f"Ranking #{ranking_id}")).to_be_visible()
    expect(current(reviewer).get_by_text("By lara", exact=False)).to_be_visible()
    reason = reviewer.get_by_label("Reason (required to reject; the labeler reads it)")
    reason.fill(REASON)
    reason.press("Tab")  # leaving the box commits it
    settled(reviewer)
    reviewer.get_by_role("button", name="Reject").click()
    assert success_text(reviewer, "rejected") == f"Ranking #{ranking_id} rejected. Here is the next one."
    expect(reviewer.get_by_text("Nothing waits for your review in this project.")).to_be_visible()

    with session_scope(write=False) as s:
        assert s.get(Ranking, ranking_id).status == "rejected"
        assert s.scalar(select(Review.reason).where(Review.ranking_id == ranking_id)) == REASON
        assert s.scalar(select(Prompt.ranking_count).where(Prompt.id == prompt_id)) == 0  # back in the queue

    other = go_to(log_in(new_page(), "bo"), "Rank")  # collected again, by someone else
    expect(current(other).get_by_role("radiogroup", name="Rank of A")).to_have_count(1)
    with session_scope(write=False) as s:
        leased = s.scalars(select(Assignment.prompt_id).where(Assignment.status == "active")).all()
    assert leased == [prompt_id]

    mine = go_to(labeler, "My work")
    expect(mine.get_by_role("heading", name="Rejected by a reviewer (1)")).to_be_visible()
    expect(current(mine).get_by_text(REASON)).to_be_visible()
    expect(current(mine).get_by_text("Rejected by rev", exact=False)).to_be_visible()
