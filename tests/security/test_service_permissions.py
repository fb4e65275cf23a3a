"""Every service refuses a labeler unless it is on the reviewed allow-list below.

The test walks every public function of every module in `labeler.services` whose first two parameters are
`(session, actor)`, and calls it as a labeler who IS a member of the project, aimed at another labeler's
objects (their username, their lease, their work). Anything not allow-listed must raise Forbidden, so a new
service that forgets its role check fails here.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import labeler.services as services_pkg
from db.models import Assignment
from labeler.errors import Forbidden
from labeler.services import session_scope
from labeler.services.actors import OPERATOR, Actor
from labeler.services.labeling import submit_ranking
from labeler.services.queue import next_task
from tests.factories import make_project, make_user
from tests.services.queue_data import add_prompts

# Services a labeler may call, each with why. Reviewed: adding a name here is a security decision.
LABELER_ALLOWED = {
    "projects.list_projects": "lists only the projects the labeler is a member of",
    "projects.get_project_for": "a member may read their own project (guidelines, settings)",
    "stats.project_stats": "aggregate counts of a project the labeler is a member of (CLI `--as USER stats`)",
    "queue.next_task": "leases the labeler's own next task",
    "labeling.my_work": "the labeler's own counts and drafts",
    "review.my_rejections": "the labeler's own rejected work with reasons",
    "gold.my_qualification": "the labeler's own qualification state",
    "suggest.suggestion_model_for": "which model drafts suggestions in the labeler's own project (no key in it)",
    # paraphrase review is open to labelers by design (issue 7 augmentation, labeler/services/augment.py)
    "augment.list_paraphrases": "paraphrases waiting for review in a project (role-checked in the service)",
    "augment.review_paraphrase": "keep or reject a paraphrase (role-checked in the service)",
    "augment.paraphrase_counts": "counts of paraphrases by status (role-checked in the service)",
    "preferences.get_preferences": "the labeler's own display preferences (Show Markdown)",
    "preferences.set_preference": "changes only the calling labeler's own preferences, known keys only",
}

# Helpers other services call after their own checks; they take ORM objects the caller already authorized,
# and no page or CLI command calls them directly (tests/test_layers.py keeps pages off the ORM).
INTERNAL = {
    "events.record_event": "writes the audit row for a change the calling service authorized",
    "gold.gold_gate": "called by queue.next_task after require_worker and the membership check",
    "gold.evaluate_qualification": "called from gold scoring after the submit/review checks",
    "gold.score_ranking_result": "called by labeling.submit_ranking on the labeler's own lease",
    "gold.score_reviewed_result": "called by review.review_work after the reviewer check",
    "gold.gold_result_submitted": "called by labeling.submit_demonstration on the labeler's own lease",
    "demo.ensure_demo_accounts": "CLI `labeler demo` only (operator); create_user/add_member check the role",
}


def _service_functions() -> list[tuple[str, Any]]:
    found = []
    for info in pkgutil.iter_modules(services_pkg.__path__):
        module = importlib.import_module(f"labeler.services.{info.name}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ != module.__name__ or name.startswith("_"):
                continue
            if list(inspect.signature(fn).parameters)[:2] == ["session", "actor"]:
                found.append((f"{info.name}.{name}", fn))
    return sorted(found, key=lambda pair: pair[0])


SERVICES = _service_functions()


def test_the_walk_finds_the_services() -> None:
    names = {name for name, _ in SERVICES}
    assert len(names) > 60
    assert {"ingest.import_file", "export.export_dataset", "review.review_work", "auth.create_user"} <= names
    modules = {info.name for info in pkgutil.iter_modules(services_pkg.__path__)}
    stale = {n for n in set(LABELER_ALLOWED) | set(INTERNAL) if n.split(".")[0] in modules} - names
    assert not stale, f"allow-listed services that no longer exist: {stale}"


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> dict[str, Any]:
    """A project with two labeler members; `other` holds a lease and has submitted a ranking."""
    make_user("boss", "admin")
    me = make_user("mallory")
    other = make_user("olivia")
    make_project("demo", members=("mallory", "olivia"), k_min=2, k_max=4)
    prompt_ids = add_prompts("demo", 3, candidates=3)
    with session_scope() as s:
        done = next_task(s, other, "demo", "ranking")
    with session_scope() as s:
        ranking_id = submit_ranking(s, other, done.assignment_id,
                                    {"items": [{"candidate_id": c.candidate_id, "rank": i + 1}
                                               for i, c in enumerate(done.candidates)]})
    with session_scope() as s:
        leased = next_task(s, other, "demo", "demonstration")
    src = tmp_path / "in.jsonl"
    src.write_text('{"prompt": "hello"}\n')
    return {"me": me, "other": other, "prompt_id": prompt_ids[0], "assignment_id": leased.assignment_id,
            "work_id": ranking_id, "path": src, "tmp": tmp_path}


def _arguments(fn: Any, world: dict[str, Any]) -> dict[str, Any]:
    """A plausible value for each parameter, aimed at someone else's objects."""
    values: dict[str, Any] = {
        "project_name": "demo", "project": "demo", "name": "demo", "new_name": "renamed", "guidelines": "g",
        "username": "olivia", "usernames": ["mallory"], "project_names": ["demo"], "role": "admin",
        "password": "a fresh long password", "display_name": "", "active": False, "paused": True,
        "prompt_id": world["prompt_id"], "assignment_id": world["assignment_id"], "work_id": world["work_id"],
        "kind": "ranking", "verdict": "accept", "reason": "because", "turns": None, "ranks": None,
        "path": world["path"], "options": None, "export_dir": world["tmp"], "model": "m",
        "job": 1, "ref": 1, "state": None, "launched": None, "status": "cancelled",
        "text": "x", "limit": 5, "min_candidates": 0, "days": 7, "bucket": "day", "now": None,
        "submission": {"items": []}, "suggestion": None, "seconds_spent": 1,
        "origins": None, "settings": {}, "environ": {},
    }
    from labeler.services.export import ExportRequest
    from labeler.services.generate import GenerationRequest
    special = {
        "export.export_dataset": {"request": ExportRequest(format="pairs", project="demo", out_dir=world["tmp"])},
        "export.preview_export": {"request": ExportRequest(format="pairs", project="demo", out_dir=world["tmp"])},
        "generate.plan_generation": {"request": GenerationRequest(project="demo")},
        "generate.resolve_request": {"request": GenerationRequest(project="demo")},
    }
    kwargs = {}
    params = list(inspect.signature(fn).parameters.values())[2:]
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name in values:
            kwargs[p.name] = values[p.name]
        elif p.default is p.empty:
            kwargs[p.name] = None
    kwargs.update(special.get(f"{fn.__module__.rsplit('.', 1)[1]}.{fn.__name__}", {}))
    return kwargs


def test_a_labeler_is_refused_by_every_admin_and_reviewer_service(world: dict[str, Any]) -> None:
    me: Actor = world["me"]
    not_refused = []
    for name, fn in SERVICES:
        if name in LABELER_ALLOWED or name in INTERNAL:
            continue
        kwargs = _arguments(fn, world)
        try:
            with session_scope() as s:
                fn(s, me, **kwargs)
        except Forbidden:
            continue
        except Exception as e:  # noqa: BLE001 - reported below, with the service's name
            not_refused.append(f"{name}: {type(e).__name__}: {e}")
        else:
            not_refused.append(f"{name}: returned normally")
    assert not not_refused, "services a labeler could call:\n" + "\n".join(not_refused)


def test_the_allowed_services_work_for_a_member_and_refuse_a_non_member(world: dict[str, Any]) -> None:
    me: Actor = world["me"]
    outsider = make_user("outsider")
    for name in ("projects.get_project_for", "stats.project_stats", "queue.next_task", "labeling.my_work",
                 "review.my_rejections", "gold.my_qualification", "suggest.suggestion_model_for"):
        fn = dict(SERVICES)[name]
        kwargs = _arguments(fn, world)
        with session_scope() as s:
            fn(s, me, **kwargs)  # a member may
        with pytest.raises(Forbidden), session_scope() as s:
            fn(s, outsider, **kwargs)
    with session_scope(write=False) as s:
        from labeler.services.projects import list_projects
        assert [p.name for p in list_projects(s, outsider)] == []
        assert [p.name for p in list_projects(s, me)] == ["demo"]


def test_the_operator_passes_the_same_walk_for_admin_services(world: dict[str, Any]) -> None:
    """Guard against a walk that 'passes' because every call fails for a silly reason: admins get past the check."""
    refused = []
    for name in ("auth.list_users", "admin.users_overview", "projects.list_members", "quality.agreement_report",
                 "stats.projects_overview", "gold.list_gold", "export.list_exports"):
        fn = dict(SERVICES)[name]
        try:
            with session_scope() as s:
                fn(s, OPERATOR, **_arguments(fn, world))
        except Forbidden as e:
            refused.append(f"{name}: {e}")
    assert not refused
    with session_scope(write=False) as s:
        assert s.scalar(select(Assignment.user_id).where(Assignment.id == world["assignment_id"])) == world["other"].id
