"""Labelers stay in their own lane; names and filters reach SQL as values; exports stay in their folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.models import Prompt, Ranking, RankingItem
from labeler.errors import Forbidden, Invalid
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.admin import find_prompts
from labeler.services.export import ExportFilters, ExportRequest, export_dataset, export_folder, read_export_file
from labeler.services.ingest import ImportOptions, import_file
from labeler.services.labeling import (
    ItemSubmission,
    RankingSubmission,
    load_draft,
    my_work,
    save_draft,
    submit_demonstration,
    submit_ranking,
)
from labeler.services.projects import get_project_for, list_projects
from labeler.services.queue import next_task
from labeler.services.review import review_work
from tests.factories import make_project, make_user
from tests.services.queue_data import add_prompts, snapshot

SQLISH = "'; DROP TABLE prompts; --"


def _turns(task, text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def test_a_labeler_cannot_read_or_write_another_labelers_draft(db_url: str) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    make_project("p", members=("alice", "bob"))
    add_prompts("p", 2)
    with session_scope() as s:
        task = next_task(s, alice, "p", "demonstration")
        save_draft(s, alice, task.assignment_id, _turns(task, "alice's private draft"))
    before = snapshot()
    with pytest.raises(Forbidden, match="leased to another labeler"), session_scope(write=False) as s:
        load_draft(s, bob, task.assignment_id)
    with pytest.raises(Forbidden), session_scope() as s:
        save_draft(s, bob, task.assignment_id, _turns(task, "overwritten by bob"))
    assert snapshot() == before
    with session_scope(write=False) as s:
        assert "alice's private draft" not in repr(my_work(s, bob, "p"))
        assert load_draft(s, alice, task.assignment_id)[-1]["content"] == "alice's private draft"


def test_a_labeler_cannot_submit_for_a_task_leased_to_someone_else(db_url: str) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    make_project("p", members=("alice", "bob"), k_min=2, k_max=4)
    add_prompts("p", 2, candidates=3)
    with session_scope() as s:
        demo = next_task(s, alice, "p", "demonstration")
        rank = next_task(s, alice, "p", "ranking")
    before = snapshot()
    with pytest.raises(Forbidden, match="leased to another labeler"), session_scope() as s:
        submit_demonstration(s, bob, demo.assignment_id, _turns(demo, "bob's answer"))
    sub = RankingSubmission(items=[ItemSubmission(candidate_id=c.candidate_id, rank=i + 1)
                                   for i, c in enumerate(rank.candidates)])
    with pytest.raises(Forbidden, match="leased to another labeler"), session_scope() as s:
        submit_ranking(s, bob, rank.assignment_id, sub)
    assert snapshot() == before
    with session_scope() as s:  # the owner still can
        assert submit_ranking(s, alice, rank.assignment_id, sub) > 0


def test_a_labeler_cannot_change_an_imported_ranking(db_url: str, tmp_path: Path) -> None:
    alice = make_user("alice")
    make_project("p", members=("alice",), k_min=2, k_max=4)
    src = tmp_path / "prefs.jsonl"
    src.write_text(json.dumps({"prompt": "Name a colour.", "chosen": "Blue.", "rejected": "Seven."}) + "\n")
    with session_scope() as s:
        import_file(s, OPERATOR, "p", src, ImportOptions(format="trl-preference"))

    def imported() -> list[tuple]:
        with session_scope(write=False) as s:
            return s.execute(select(Ranking.id, Ranking.status, RankingItem.candidate_id, RankingItem.rank)
                             .join(RankingItem, RankingItem.ranking_id == Ranking.id)
                             .where(Ranking.origin == "imported").order_by(RankingItem.id)).all()

    before = imported()
    assert len(before) == 2
    ranking_id = before[0][0]
    with pytest.raises(Forbidden), session_scope() as s:
        review_work(s, alice, "ranking", ranking_id, "reject", reason="I disagree")
    with session_scope() as s:  # re-labelling the prompt makes a new ranking beside the imported one
        task = next_task(s, alice, "p", "ranking")
        assert task is not None
        reversed_ranks = {c.candidate_id: r for c, r in zip(task.candidates, (2, 1), strict=True)}
        submit_ranking(s, alice, task.assignment_id, RankingSubmission(
            items=[ItemSubmission(candidate_id=cid, rank=r) for cid, r in reversed_ranks.items()]))
    assert imported() == before
    with session_scope(write=False) as s:
        assert s.scalar(select(func.count()).select_from(Ranking)) == 2


def test_sql_like_names_and_filters_are_stored_and_matched_literally(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user("alice")
    make_project(SQLISH, members=("alice",))
    make_project("100%_done")
    src = tmp_path / "p.jsonl"
    src.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in (
        SQLISH, "a 100% sure thing", "snake_case names", "plain words here", "Robert'); DROP TABLE users;--")))
    with session_scope() as s:
        assert import_file(s, OPERATOR, SQLISH, src, ImportOptions(source=SQLISH)).prompts_added == 5
    with session_scope(write=False) as s:
        assert s.scalar(select(func.count()).select_from(Prompt)) == 5  # the table is still there
        assert {p.name for p in list_projects(s, OPERATOR)} == {SQLISH, "100%_done"}
        assert get_project_for(s, OPERATOR, SQLISH).name == SQLISH
        assert s.scalar(select(Prompt.source).limit(1)) == SQLISH

        def found(text: str) -> list[str]:
            return sorted(r["preview"] for r in find_prompts(s, OPERATOR, SQLISH, text))

        assert found("%") == ["a 100% sure thing"]
        assert found("_") == ["snake_case names"]
        assert found("DROP TABLE") == sorted([SQLISH, "Robert'); DROP TABLE users;--"])
        assert found("' OR '1'='1") == []
        assert find_prompts(s, OPERATOR, "100%_done", "") == []  # the other project: nothing leaks across
    with pytest.raises(Exception, match="not found"), session_scope(write=False) as s:
        get_project_for(s, OPERATOR, "%")
    # an export filter on labelers is a value list too: a wildcard or a quote matches no labeler
    add_prompts(SQLISH, 1, candidates=2)
    alice = make_user("alice2")
    with session_scope() as s:
        from labeler.services.projects import add_member
        add_member(s, OPERATOR, SQLISH, "alice2")
    with session_scope() as s:
        task = next_task(s, alice, SQLISH, "ranking")
        submit_ranking(s, alice, task.assignment_id, RankingSubmission(
            items=[ItemSubmission(candidate_id=c.candidate_id, rank=i + 1) for i, c in enumerate(task.candidates)]))
    monkeypatch.setenv("LABELER_EXPORT_DIR", str(tmp_path / "exports"))
    for i, labelers in enumerate((["alice2"], ["%"], ["alice%"], [SQLISH], ["' OR 1=1 --"])):
        request = ExportRequest(format="rankings", project=SQLISH, out_dir=tmp_path / "out" / str(i),
                                filters=ExportFilters(labelers=labelers))
        if labelers != ["alice2"]:  # matches no labeler: an empty export is refused
            with pytest.raises(Invalid, match="no rows match"), session_scope() as s:
                export_dataset(s, OPERATOR, request)
            continue
        with session_scope() as s:
            summary = export_dataset(s, OPERATOR, request)
        assert sum(summary.counts.values()) == 1, (labelers, summary.counts)


@pytest.fixture
def export_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "exports"
    root.mkdir()
    monkeypatch.setenv("LABELER_EXPORT_DIR", str(root))
    return root


@pytest.mark.parametrize("name", ["../escaped", "a/../../escaped", "/tmp/escaped", "..", ".", " ", "a/../.."])
def test_an_export_folder_cannot_escape_the_export_root(export_root: Path, name: str) -> None:
    with pytest.raises(Invalid):
        export_folder(name)
    assert not (export_root.parent / "escaped").exists()


def test_an_export_folder_cannot_escape_through_a_symlink(export_root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (export_root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(Invalid, match="must stay inside"):
        export_folder("link")
    with pytest.raises(Invalid, match="must stay inside"):
        export_folder("link/sub")
    assert export_folder("fine/sub") == (export_root / "fine" / "sub").resolve()


def test_a_download_cannot_read_outside_its_export_folder(export_root: Path, tmp_path: Path) -> None:
    folder = export_folder("run1")
    folder.mkdir(parents=True)
    (folder / "data.jsonl").write_text("{}\n")
    secret = tmp_path / "secret.txt"
    secret.write_text("do not leak")
    (folder / "sneaky.jsonl").symlink_to(secret)
    assert read_export_file(OPERATOR, folder, "data.jsonl") == b"{}\n"
    for name in ("../../secret.txt", str(secret), "sneaky.jsonl", "../run1/../../secret.txt"):
        with pytest.raises(Invalid, match="not a file of this export"):
            read_export_file(OPERATOR, folder, name)
    with pytest.raises(Forbidden):
        read_export_file(make_labeler_actor(), folder, "data.jsonl")


def make_labeler_actor():
    from labeler.services.actors import Actor
    return Actor(id=99, username="lab", role="labeler")
