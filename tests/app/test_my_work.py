"""The My work page: counts, median time per task, what is left."""

from __future__ import annotations

from labeler.services import session_scope
from labeler.services.labeling import submit_demonstration
from labeler.services.queue import next_task
from tests.app.conftest import app_as, errors
from tests.app.data import make_task_project
from tests.factories import make_user


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_counts_after_one_demonstration(db_url, tmp_path):
    alice = make_user("alice")
    make_task_project(tmp_path, "work", ("alice",), n_prompts=3, k=2)
    with session_scope() as s:
        task = next_task(s, alice, "work", "demonstration")
        submit_demonstration(s, alice, task.assignment_id, [{"role": "assistant", "content": "Hi."}],
                             seconds_spent=75)
    at = app_as(alice, "my_work")
    assert not errors(at)
    assert _metrics(at) == {
        "Submitted today": "1",
        "Submitted in total": "1",
        "Median time per task": "1 min 15 s",
        # 3 prompts: one done, one leased by the Demonstrate page the app opened on, one free.
        "Prompts still needing a demonstration": "1",
        "Prompts still needing a ranking": "3",
    }


def test_nothing_done_yet(sqlite_url, tmp_path):
    alice = make_user("alice")
    make_task_project(tmp_path, "work", ("alice",), n_prompts=2, k=2, task_kinds=["ranking"])
    at = app_as(alice, "my_work")
    assert _metrics(at) == {
        "Submitted today": "0",
        "Submitted in total": "0",
        "Median time per task": "—",
        "Prompts still needing a ranking": "2",
    }
