"""The Rank task as one client-side control, in a real browser: keyboard, ties rule, drag, comment, top, scope.

Every control press is checked to send nothing to the server (the page's websocket carries no frame
between the first press and Submit), and what is stored is read back from the database.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from db.models import Ranking, User
from labeler.services import session_scope
from tests.app.data import make_task_project
from tests.e2e.ui import (
    choose_scope,
    expect,
    expect_scope,
    frames_sent,
    go_to,
    log_in,
    rank_control,
    scope_votes,
    settled,
    success_text,
)
from tests.factories import make_user

USERS = ("kira", "tess", "drew", "cleo", "milo")


@pytest.fixture(scope="module", autouse=True)
def _data(app_database, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rank-control")
    for name in USERS:
        make_user(name)
        make_task_project(tmp, f"rk-{name}", (name,), n_prompts=3, k=4, task_kinds=["ranking"], k_min=4, k_max=4)
    make_user("sage")
    make_task_project(tmp, "rk-sage", ("sage",), n_prompts=3, k=4, task_kinds=["ranking"], k_min=4, k_max=4,
                      scope_labels=True, scope_reasons=["unsafe", "medical"])


def _submitted(username: str) -> list[Ranking]:
    with session_scope(write=False) as s:
        rankings = s.scalars(select(Ranking).join(User, User.id == Ranking.labeler_id)
                             .where(Ranking.status == "submitted", User.username == username)).all()
        for r in rankings:
            r.items.sort(key=lambda it: it.position)
        return list(rankings)


def test_a_four_way_ranking_with_the_keyboard_alone_keeps_the_comment(new_page):
    page = new_page()
    sent = frames_sent(page)
    go_to(log_in(page, "kira"), "Rank")
    control = rank_control(page)
    expect(control).to_be_focused()
    before = len(sent)
    keys = ["1", "Shift+6", "f", "2", "ArrowDown", "2", "Shift+4", "ArrowDown", "2", "Shift+4", "ArrowDown",
            "4", "Shift+1", "f", "2", "/"]
    for key in keys:
        page.keyboard.press(key)
    page.keyboard.type("D invents a date.")
    expect(control.get_by_text("Your order: A > B = C > D")).to_be_visible()
    assert len(sent) == before, "a control press reached the server"
    page.keyboard.press("Control+Enter")  # in the comment box: the comment goes with the ranking
    assert re.match(r"Ranking #\d+ submitted", success_text(page, "Ranking #"))
    [ranking] = _submitted("kira")
    assert [(it.rank, it.likert, it.flags) for it in ranking.items] == [
        (1, 6, ["hallucination"]), (2, 4, []), (2, 4, []), (4, 1, ["hallucination"])]
    assert ranking.comment == "D invents a date." and ranking.seconds_spent > 0


def test_the_ties_rule_is_shown_while_ranking_and_submit_waits_for_it(new_page):
    page = go_to(log_in(new_page(), "tess"), "Rank")
    control = rank_control(page)
    expect(control.get_by_text("the next rank skips: 1, 1, 3 (not 1, 1, 2)")).to_be_visible()
    submit = control.get_by_role("button", name="Submit ranking")
    expect(submit).to_be_disabled()
    expect(control.get_by_role("status")).to_have_text("Not ranked yet: A, B, C, D.")
    for label, rank in zip("ABCD", "1123", strict=True):
        control.get_by_role("radiogroup", name=f"Rank of {label}").get_by_role("radio", name=rank, exact=True).click()
    expect(control.get_by_role("status")).to_contain_text("C: rank 2 should be 3")
    expect(submit).to_be_disabled()
    page.keyboard.press("Control+Enter")  # refused on the page, before the server: nothing stored
    control.get_by_role("radiogroup", name="Rank of C").get_by_role("radio", name="3", exact=True).click()
    control.get_by_role("radiogroup", name="Rank of D").get_by_role("radio", name="4", exact=True).click()
    expect(submit).to_be_enabled()
    expect(control.get_by_text("Your order: A = B > C > D")).to_be_visible()
    assert _submitted("tess") == []
    submit.click()
    success_text(page, "Ranking #")
    [ranking] = _submitted("tess")
    assert [it.rank for it in ranking.items] == [1, 1, 3, 4]


def test_dragging_the_letters_sets_the_order(new_page):
    page = go_to(log_in(new_page(), "drew"), "Rank")
    control = rank_control(page)
    chip = control.locator(".rank-order .chip")
    expect(chip).to_have_text(["A", "B", "C", "D"])
    chip.filter(has_text="D").drag_to(chip.filter(has_text="A"))  # D first
    expect(chip).to_have_text(["D", "A", "B", "C"])
    expect(control.get_by_text("Your order: D > A > B > C")).to_be_visible()
    rank_of_d = control.get_by_role("radiogroup", name="Rank of D")
    expect(rank_of_d.get_by_role("radio", name="1", exact=True)).to_have_attribute("aria-checked", "true")
    control.get_by_role("button", name="Submit ranking").click()
    success_text(page, "Ranking #")
    [ranking] = _submitted("drew")
    assert [it.rank for it in ranking.items] == [2, 3, 4, 1]


def test_the_next_task_starts_at_the_top_and_work_survives_a_reload(new_page):
    page = go_to(log_in(new_page(), "cleo"), "Rank")
    page.set_viewport_size({"width": 1024, "height": 700})
    control = rank_control(page)
    first_prompt = page.get_by_test_id("stChatMessage").first.inner_text()
    for label, rank in zip("ABCD", "1234", strict=True):
        control.get_by_role("radiogroup", name=f"Rank of {label}").get_by_role("radio", name=rank, exact=True).click()
    control.get_by_label("Comment (optional)").fill("kept across a reload")
    page.reload()
    settled(page)
    control = rank_control(page)
    expect(control.get_by_text("Your order: A > B > C > D")).to_be_visible()
    expect(control.get_by_label("Comment (optional)")).to_have_value("kept across a reload")
    control.get_by_role("button", name="Submit ranking").click()
    success_text(page, "Ranking #")
    prompt = page.get_by_test_id("stChatMessage").first
    expect(prompt).not_to_have_text(first_prompt)
    expect(prompt).to_be_in_viewport()
    assert _submitted("cleo")[0].comment == "kept across a reload"


def test_skip_from_the_control_loads_the_next_task(new_page):
    page = go_to(log_in(new_page(), "milo"), "Rank")
    control = rank_control(page)
    first = page.get_by_test_id("stChatMessage").first.inner_text()
    control.get_by_label("Why skip it?").fill("all four are in French")
    control.get_by_role("button", name="Skip task").click()
    expect(page.get_by_text("Task skipped. Here is the next one.")).to_be_visible()
    expect(page.get_by_test_id("stChatMessage").first).not_to_have_text(first)


def test_the_scope_choice_costs_no_server_run_survives_a_reload_and_goes_with_the_submit(new_page):
    page = new_page()
    sent = frames_sent(page)
    go_to(log_in(page, "sage"), "Rank")
    control = rank_control(page)
    expect(control.get_by_label("Reason (optional)")).to_be_hidden()  # only for off-limits
    before = len(sent)
    choose_scope(control, "Off-limits", "medical")
    expect(control.get_by_label("Reason (optional)")).to_have_value("medical")
    assert len(sent) == before, "a scope choice reached the server"
    page.reload()
    settled(page)
    control = rank_control(page)
    expect_scope(control, "Off-limits", "medical")
    assert scope_votes("sage") == []  # kept in the tab until the submit
    for label, rank in zip("ABCD", "1234", strict=True):
        control.get_by_role("radiogroup", name=f"Rank of {label}").get_by_role("radio", name=rank, exact=True).click()
    control.get_by_role("button", name="Submit ranking").click()
    success_text(page, "Ranking #")
    [ranking] = _submitted("sage")
    assert scope_votes("sage") == [(ranking.assignment_id, "off-limits", "medical")]
