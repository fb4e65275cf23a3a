"""A labeler's main paths in a real browser, checked against the rows stored (skips without playwright: see ui.py)."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select

from db.models import Assignment, Candidate, Demonstration, Prompt, Ranking
from labeler.services import session_scope
from tests.app.data import make_task_project
from tests.e2e.ui import expect, go_to, log_in, pick, settled, success_text, toggle_flag
from tests.factories import make_user


@pytest.fixture(scope="module", autouse=True)
def _data(app_database, tmp_path_factory):
    """Users and projects for the whole module (each test has its own, so order does not matter)."""
    tmp = tmp_path_factory.mktemp("data")
    for name in ("dana", "rita", "lena", "omar"):
        make_user(name)
    make_task_project(tmp, "talk", ("dana",), n_prompts=2, k=2, task_kinds=["demonstration"])
    make_task_project(tmp, "compare", ("rita",), n_prompts=2, k=4, task_kinds=["ranking"], k_min=4, k_max=4)
    make_task_project(tmp, "pair", ("lena", "omar"), n_prompts=8, k=2, task_kinds=["ranking"], labels_per_item=1)


def _wait_for_stored_draft(text: str, timeout: float = 15.0) -> None:
    """Poll the database (a condition wait, no fixed sleep) until a draft holding `text` is stored."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope(write=False) as s:
            drafts = s.scalars(select(Demonstration.turns).where(Demonstration.status == "draft")).all()
        if any(t.get("content") == text for turns in drafts for t in turns):
            return
        time.sleep(0.1)
    raise AssertionError(f"no draft with {text!r} stored within {timeout} s")


def test_two_turn_demonstration_with_a_reload_mid_draft(new_page):
    page = log_in(new_page(), "dana")
    expect(page.get_by_role("heading", name="Demonstrate", exact=True)).to_be_visible()
    prompt_text = page.get_by_test_id("stChatMessage").first.inner_text()
    assert re.search(r"Please answer talk number \d\.", prompt_text)

    reply = page.get_by_label("Assistant reply")
    reply.fill("Paris is the capital of France.")
    page.get_by_text("Draft saved").wait_for()  # sent while the cursor is still in the box
    _wait_for_stored_draft("Paris is the capital of France.")  # the reload comes once the server has it
    settled(page)

    page.reload()  # a new Streamlit session, still logged in: the draft comes back from the database
    settled(page)
    expect(page.get_by_label("Assistant reply")).to_have_value("Paris is the capital of France.")
    assert page.get_by_test_id("stChatMessage").first.inner_text() == prompt_text

    page.get_by_role("button", name="Add a user turn and reply").click()
    page.get_by_label("User turn 2").fill("And of Italy?")
    page.get_by_label("Assistant turn 3").fill("Rome.")
    page.get_by_role("button", name="Submit demonstration").click()
    assert re.match(r"Demonstration #\d+ submitted", success_text(page, "Demonstration #"))

    with session_scope(write=False) as s:
        [demo] = s.scalars(select(Demonstration).where(Demonstration.status == "submitted")).all()
        prompt = s.get(Prompt, demo.prompt_id)
        assert prompt.messages[-1]["content"] in prompt_text
        assert demo.turns == [
            {"role": "assistant", "content": "Paris is the capital of France."},
            {"role": "user", "content": "And of Italy?"},
            {"role": "assistant", "content": "Rome."},
        ]
        assert demo.seconds_spent > 0 and demo.suggestion is None


def test_ranking_four_candidates_with_a_tie_and_a_flag(new_page):
    page = go_to(log_in(new_page(), "rita"), "Rank")
    for label, rank, likert in (("A", "1", "6"), ("B", "2", "4"), ("C", "2", "4"), ("D", "4", "1")):
        pick(page, f"Rank of {label}", rank)
        pick(page, f"Quality of {label}", likert)
    toggle_flag(page, "Flags for D", "Hallucination")
    expect(page.get_by_text("Your order: A > B = C > D")).to_be_visible()
    shown = [page.locator(f'.rank-card[data-label="{x}"]').inner_text() for x in "ABCD"]
    page.get_by_role("button", name="Submit ranking").click()
    assert re.match(r"Ranking #\d+ submitted", success_text(page, "Ranking #"))
    expect(page.get_by_role("radiogroup", name="Rank of A").get_by_role("radio", checked=True)).to_have_count(0)

    with session_scope(write=False) as s:
        [ranking] = s.scalars(select(Ranking).where(Ranking.status == "submitted")).all()
        items = sorted(ranking.items, key=lambda it: it.position)
        assert [(it.rank, it.likert, it.flags) for it in items] == [
            (1, 6, []), (2, 4, []), (2, 4, []), (4, 1, ["hallucination"])]
        assert [it.candidate_id for it in items] == ranking.display_order
        query = select(Candidate.id, Candidate.text).where(Candidate.id.in_(ranking.display_order))
        texts = {cid: text for cid, text in s.execute(query)}
        for item, block in zip(items, shown, strict=True):  # A..D on screen are the stored order
            head = texts[item.candidate_id].split(":")[0]  # "Reply 3 to compare 1"
            assert head in block
            assert "<b>raw</b>" in block  # raw HTML from the data is shown as text, not rendered
        assert ranking.comment == "" and not ranking.none_acceptable and ranking.seconds_spent > 0


def test_two_labelers_at_once_never_get_the_same_prompt(new_page):
    lena = go_to(log_in(new_page(), "lena"), "Rank")
    omar = go_to(log_in(new_page(), "omar"), "Rank")
    seen: dict[str, list[str]] = {"lena": [], "omar": []}
    for _ in range(3):
        for name, page in (("lena", lena), ("omar", omar)):
            seen[name].append(page.get_by_test_id("stChatMessage").first.inner_text())
        assert seen["lena"][-1] != seen["omar"][-1]  # both hold a lease at the same moment
        for page in (lena, omar):
            pick(page, "Rank of A", "1")
            pick(page, "Rank of B", "2")
            page.get_by_role("button", name="Submit ranking").click()
            success_text(page, "Ranking #")
            settled(page)
    assert not set(seen["lena"]) & set(seen["omar"])
    with session_scope(write=False) as s:
        project_prompts = select(Prompt.id).join(Assignment, Assignment.prompt_id == Prompt.id).where(
            Assignment.kind == "ranking", Assignment.status == "completed")
        ranked = s.scalars(select(Ranking.prompt_id).where(Ranking.status == "submitted",
                                                           Ranking.prompt_id.in_(project_prompts))).all()
        counts = s.execute(select(Prompt.ranking_count).where(Prompt.id.in_(ranked))).scalars().all()
    assert len(ranked) >= 6 and len(set(ranked)) == len(ranked)  # never one prompt ranked twice
    assert set(counts) == {1}
