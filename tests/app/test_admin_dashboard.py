"""The admin dashboard: counts by split, origin, status; throughput over time (SQL buckets on both backends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from labeler.errors import Forbidden, Invalid
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.stats import project_stats, throughput
from tests.app.admin_data import submit_work
from tests.app.conftest import VIEWS, app_as, errors
from tests.app.data import make_task_project
from tests.factories import make_project, make_user


def _with_work(tmp_path) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    make_task_project(tmp_path, "work", ("alice", "bob"), n_prompts=4, k=3, labels_per_item=2)
    submit_work(alice, "work", demonstrations=2, rankings=3)
    submit_work(bob, "work", rankings=1)


def test_throughput_counts_todays_work_in_its_bucket_and_fills_the_window(db_url, tmp_path):
    _with_work(tmp_path)
    now = datetime.now(UTC)
    with session_scope(write=False) as s:
        days = throughput(s, OPERATOR, "work", days=7, bucket="day", now=now + timedelta(days=2))
        hours = throughput(s, OPERATOR, "work", days=1, bucket="hour", now=now)
        stats = project_stats(s, OPERATOR, "work")
    assert [p.bucket for p in days] == [(now + timedelta(days=d)).strftime("%Y-%m-%d") for d in range(-4, 3)]
    today = {p.bucket: (p.demonstrations, p.rankings) for p in days}
    assert today.pop(now.strftime("%Y-%m-%d")) == (2, 4)
    assert set(today.values()) == {(0, 0)}
    assert len(hours) == 24 and hours[-1].bucket == now.strftime("%Y-%m-%d %H:00")
    assert (hours[-1].demonstrations, hours[-1].rankings) == (2, 4)
    assert sum(p.rankings for p in hours[:-1]) == 0
    assert stats["rankings"]["by_status_split"] == {"submitted": {"train": 4}}
    assert stats["demonstrations"]["by_status_split"] == {"submitted": {"train": 2}}


def test_throughput_leaves_out_work_before_the_window_and_imported_work(db_url, tmp_path):
    _with_work(tmp_path)
    with session_scope(write=False) as s:
        later = throughput(s, OPERATOR, "work", days=3, now=datetime.now(UTC) + timedelta(days=5))
    assert len(later) == 3 and all((p.demonstrations, p.rankings) == (0, 0) for p in later)


def test_throughput_refuses_bad_windows(sqlite_url):
    make_project("p")
    with session_scope(write=False) as s:
        with pytest.raises(Invalid, match="bucket `week`"):
            throughput(s, OPERATOR, "p", bucket="week")
        with pytest.raises(Invalid, match="days `0`"):
            throughput(s, OPERATOR, "p", days=0)


def test_labelers_are_refused_by_the_service(sqlite_url):
    alice = make_user("alice")
    make_project("p", ("alice",))
    with session_scope(write=False) as s, pytest.raises(Forbidden):
        throughput(s, alice, "p")


def test_dashboard_with_data(db_url, tmp_path):
    _with_work(tmp_path)
    at = app_as(make_user("root", "admin"), "dashboard")
    assert not errors(at), errors(at)
    assert at.title[0].value == "Dashboard"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Prompts": "4", "Candidates": "12", "Demonstrations": "2", "Rankings": "4"}
    assert len(at.get("vega_lite_chart")) == 5  # splits, origins, two status charts, throughput
    demo_table, ranking_table = (d.value for d in at.dataframe)
    assert demo_table.loc["submitted", "train"] == 2
    assert ranking_table.loc["submitted", "train"] == 4 and ranking_table.loc["submitted", "total"] == 4
    assert any("2 demonstration(s) and 4 ranking(s) submitted" in c.value for c in at.caption)
    at.segmented_control(key="dashboard.window").set_value("48 hours").run()
    assert any("Last 48 hours" in c.value for c in at.caption)


def test_dashboard_with_an_empty_project(db_url):
    make_project("empty")
    at = app_as(make_user("root", "admin"), "dashboard")
    assert not errors(at) and not at.exception
    assert {m.label: m.value for m in at.metric} == {"Prompts": "0", "Candidates": "0", "Demonstrations": "0",
                                                     "Rankings": "0"}
    assert "has no prompts yet" in at.info[0].value
    assert "Nothing submitted in this window yet." in [i.value for i in at.info]
    assert not at.get("vega_lite_chart")


def test_dashboard_with_no_projects(sqlite_url):
    at = app_as(make_user("root", "admin"), "dashboard")
    assert "No projects yet" in at.info[0].value


def test_a_labeler_cannot_open_the_dashboard(sqlite_url):
    alice = make_user("alice")
    at = app_as(alice)
    with pytest.raises(ValueError):
        at.switch_page("views/dashboard.py").run()
    direct = AppTest.from_file(str(VIEWS / "dashboard.py"), default_timeout=30)
    direct.session_state["user"] = {"id": alice.id}
    direct.run()
    assert errors(direct) == ["`alice` is a labeler; this needs an admin"]
    assert not direct.metric
