"""Scope labels: set by a labeler on a leased prompt, decided in bulk by admins, resolved, exported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from db.models import Event, Prompt, ScopeLabel
from exports import validate_file
from exports.classification import INSTRUCTION, classification_text
from labeler.errors import Conflict, Forbidden, Invalid, NotFound
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.export import ExportFilters, ExportRequest, export_dataset, preview_export
from labeler.services.queue import next_task
from labeler.services.scope import (
    ScopeFilter,
    ScopeVote,
    bulk_set_scope,
    list_scope,
    my_scope,
    resolve_votes,
    scope_counts,
    set_scope,
)
from tests.factories import make_project, make_user
from tests.services.queue_data import add_prompts, cheap_passwords, expire  # noqa: F401


def lease(actor, project="p", kind="demonstration"):
    with session_scope() as s:
        return next_task(s, actor, project, kind)


def label(actor, task, value, reason=None):
    with session_scope() as s:
        return set_scope(s, actor, task.assignment_id, value, reason)


def bulk(actor, value, reason=None, project="p", **kw):
    with session_scope() as s:
        return bulk_set_scope(s, actor, project, value, reason, **kw)


def stored(prompt_id):
    with session_scope(write=False) as s:
        return s.execute(select(Prompt.scope, Prompt.scope_reason).where(Prompt.id == prompt_id)).one()


def export(fmt, out: Path, project="p", **fields):
    with session_scope() as s:
        return export_dataset(s, OPERATOR, ExportRequest(format=fmt, project=project, out_dir=out, **fields))


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def setup(n=3, labels_per_item=3, names=("ann", "bob", "cy"), **settings):
    actors = [make_user(n_) for n_ in names]
    make_project("p", names, scope_labels=True, labels_per_item=labels_per_item, **settings)
    return actors, add_prompts("p", n)


def test_a_labeler_labels_the_prompt_of_their_lease_and_can_change_it(db_url):
    (ann,), ids = setup(names=("ann",))
    task = lease(ann)
    assert label(ann, task, "off-limits", "unsafe") == "off-limits"
    assert stored(task.prompt_id) == ("off-limits", "unsafe")
    with session_scope(write=False) as s:
        assert my_scope(s, ann, task.assignment_id) == ScopeVote("off-limits", "unsafe", False)
    assert label(ann, task, "answerable") == "answerable"  # changed in place: still one vote
    assert stored(task.prompt_id) == ("answerable", None)
    assert label(ann, task, None) is None  # withdrawn
    with session_scope(write=False) as s:
        assert s.scalar(select(ScopeLabel.id)) is None
        assert s.scalar(select(Event.action).where(Event.action == "scope.set").limit(1)) == "scope.set"
    assert [stored(i) for i in ids] == [(None, None)] * 3


def test_a_labeler_needs_an_open_lease_of_their_own(db_url):
    (ann, bob), _ = setup(names=("ann", "bob"))
    task = lease(ann)
    with pytest.raises(Forbidden, match="leased to another labeler"):
        label(bob, task, "answerable")
    expire(task.assignment_id)
    with pytest.raises(Conflict, match="expired"):
        label(ann, task, "answerable")
    with pytest.raises(NotFound):
        with session_scope() as s:
            set_scope(s, ann, 999_999, "answerable")
    with session_scope(write=False) as s:
        assert s.scalar(select(ScopeLabel.id)) is None


def test_labels_and_reasons_are_checked_and_the_project_must_enable_them(db_url):
    (ann,), _ = setup(names=("ann",), scope_reasons=["medical", "legal"])
    task = lease(ann)
    with pytest.raises(Invalid, match="expected one of answerable, off-limits"):
        label(ann, task, "maybe")
    with pytest.raises(Invalid, match="not one of the project's reasons: `medical`, `legal`"):
        label(ann, task, "off-limits", "unsafe")
    with pytest.raises(Invalid, match="only with an `off-limits` label"):
        label(ann, task, "answerable", "medical")
    assert label(ann, task, "off-limits", " medical ") == "off-limits"
    assert stored(task.prompt_id) == ("off-limits", "medical")

    dee = make_user("dee")
    make_project("off", ("dee",))  # scope labels are off by default
    add_prompts("off", 1)
    task = lease(dee, "off")
    with pytest.raises(Invalid, match="does not collect scope labels"):
        label(dee, task, "answerable")


def test_majority_wins_a_tie_waits_and_an_admins_decision_overrides(db_url):
    (ann, bob, cy), _ = setup(n=1)
    tasks = [lease(a) for a in (ann, bob, cy)]
    pid = tasks[0].prompt_id
    assert {t.prompt_id for t in tasks} == {pid}
    label(ann, tasks[0], "off-limits", "unsafe")
    assert label(bob, tasks[1], "answerable") is None  # 1 : 1 is a tie: unresolved
    assert stored(pid) == (None, None)
    assert label(cy, tasks[2], "off-limits", "other") == "off-limits"  # 2 : 1
    assert stored(pid) == ("off-limits", "unsafe")  # reasons tie: the first given is kept
    with session_scope(write=False) as s:
        [entry] = list_scope(s, OPERATOR, "p")
        assert (entry.votes, entry.disputed, entry.admin) == ({"answerable": 1, "off-limits": 2}, True, None)
        assert [e.prompt_id for e in list_scope(s, OPERATOR, "p", disputed=True)] == [pid]

    boss = make_user("boss", "admin")
    assert bulk(boss, "answerable", prompt_ids=[pid]) == 1
    assert stored(pid) == ("answerable", None)
    label(cy, tasks[2], "off-limits")  # a labeler changing their vote does not undo the admin's decision
    assert stored(pid) == ("answerable", None)
    assert bulk(OPERATOR, "off-limits", "personal_data", prompt_ids=[pid]) == 1  # the latest decision replaces it
    assert stored(pid) == ("off-limits", "personal_data")
    with session_scope(write=False) as s:
        rows = s.execute(select(ScopeLabel.user_id, ScopeLabel.by_admin).where(ScopeLabel.by_admin)).all()
        assert rows == [(None, True)]  # one admin decision per prompt; the labelers' three votes are kept
        assert s.query(ScopeLabel).filter(ScopeLabel.by_admin.is_(False)).count() == 3
        [entry] = list_scope(s, OPERATOR, "p")
        assert (entry.label, entry.admin, entry.votes) == ("off-limits", "off-limits", {"off-limits": 2,
                                                                                       "answerable": 1})


def test_resolution_rules_on_plain_votes():
    v = ScopeVote
    assert resolve_votes([]) == (None, None)
    assert resolve_votes([v("answerable", None, False)]) == ("answerable", None)
    assert resolve_votes([v("off-limits", "a", False), v("off-limits", "b", False), v("off-limits", "b", False)]) \
        == ("off-limits", "b")
    assert resolve_votes([v("off-limits", "a", False), v("answerable", None, False)]) == (None, None)
    assert resolve_votes([v("off-limits", "a", False)] * 3 + [v("answerable", None, True)]) == ("answerable", None)


def test_admins_label_in_bulk_by_ids_or_by_filter_and_labelers_may_not(db_url):
    (ann,), ids = setup(n=6, names=("ann",))
    with session_scope() as s:  # two prompts in the test split, one already labelled
        s.execute(update(Prompt).where(Prompt.id.in_(ids[4:])).values(split="test"))
    with pytest.raises(Forbidden, match="needs an admin"):
        bulk(ann, "off-limits", prompt_ids=ids[:1])
    assert bulk(OPERATOR, "off-limits", "unsafe", prompt_ids=[ids[0], ids[1], ids[0]]) == 2
    assert bulk(OPERATOR, "answerable", where=ScopeFilter(splits=["test"])) == 2
    assert bulk(OPERATOR, "answerable", where=ScopeFilter(unlabeled_only=True)) == 2  # ids[2], ids[3]
    assert [stored(i)[0] for i in ids] == ["off-limits"] * 2 + ["answerable"] * 4
    with session_scope(write=False) as s:
        assert scope_counts(s, OPERATOR, "p") == {"answerable": 4, "off-limits": 2, "none": 0}
        assert [e.prompt_id for e in list_scope(s, OPERATOR, "p", label="off-limits")] == ids[:2]
        details = s.scalars(select(Event.details).where(Event.action == "scope.bulk_set").order_by(Event.id)).all()
        assert [d["prompts"] for d in details] == [2, 2, 2]
        with pytest.raises(Forbidden):
            list_scope(s, ann, "p")
    make_project("other")
    other = add_prompts("other", 1)
    with pytest.raises(NotFound, match=f"prompt\\(s\\) {other[0]} not found in project `p`"):
        bulk(OPERATOR, "answerable", prompt_ids=[ids[0], other[0]])
    assert stored(ids[0])[0] == "off-limits"  # all or nothing
    with pytest.raises(Invalid, match="not both"):
        bulk(OPERATOR, "answerable", prompt_ids=ids[:1], where=ScopeFilter())


def test_scope_labels_round_trip_to_both_classification_exports(db_url, tmp_path):
    (ann,), ids = setup(n=12, names=("ann",))
    with session_scope() as s:  # a two-turn conversation, a system turn, and the last prompt in valid
        s.execute(update(Prompt).where(Prompt.id == ids[1]).values(messages=[
            {"role": "system", "content": "You are a bank's assistant."},
            {"role": "user", "content": "Which card do I have?"}, {"role": "assistant", "content": "A debit card."},
            {"role": "user", "content": "How do I hack the other one?"}]))
        s.execute(update(Prompt).where(Prompt.id == ids[2]).values(messages=[
            {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Tell me a joke."}]))
        s.execute(update(Prompt).where(Prompt.id == ids[11]).values(split="valid"))
    task = lease(ann)  # ids[0], labelled by the labeler
    label(ann, task, "off-limits", "unsafe")
    bulk(OPERATOR, "off-limits", "unsafe", prompt_ids=[ids[1]])
    bulk(OPERATOR, "answerable", prompt_ids=ids[2:11])
    bulk(OPERATOR, "answerable", prompt_ids=[ids[11]])
    with session_scope() as s:
        s.execute(delete(ScopeLabel).where(ScopeLabel.prompt_id == ids[10]))  # unlabelled again: not exported
        s.execute(update(Prompt).where(Prompt.id == ids[10]).values(scope=None))

    summary = export("classification", tmp_path / "cls")
    assert summary.counts == {"train": 10, "valid": 1}
    train = lines(tmp_path / "cls" / "train.jsonl")
    assert [r["prompt_id"] for r in train] == ids[:10]
    assert train[0] == {"text": "question 0", "label": "off-limits", "reason": "unsafe", "prompt_id": ids[0]}
    assert train[1]["text"] == ("User: Which card do I have?\n\nAssistant: A debit card.\n\n"
                                "User: How do I hack the other one?")
    assert train[2] == {"text": "Tell me a joke.", "label": "answerable", "reason": None, "prompt_id": ids[2]}
    assert lines(tmp_path / "cls" / "valid.jsonl") == [
        {"text": "question 11", "label": "answerable", "reason": None, "prompt_id": ids[11]}]
    report = validate_file(tmp_path / "cls" / "train.jsonl", "classification")
    assert report.ok and report.stats["counts"] == {"off-limits": 2, "answerable": 8}

    summary = export("classification-openai", tmp_path / "oai", filters=ExportFilters(splits=["train"]))
    assert summary.counts == {"train": 10}
    chats = lines(tmp_path / "oai" / "train.jsonl")
    assert chats[0] == {"messages": [{"role": "system", "content": INSTRUCTION},
                                     {"role": "user", "content": "question 0"},
                                     {"role": "assistant", "content": "off-limits"}]}
    assert [c["messages"][-1]["content"] for c in chats] == [r["label"] for r in train]
    assert [c["messages"][1]["content"] for c in chats] == [r["text"] for r in train]
    assert validate_file(tmp_path / "oai" / "train.jsonl", "classification-openai").ok
    with session_scope(write=False) as s:
        preview = preview_export(s, OPERATOR, ExportRequest(format="classification", project="p", out_dir=tmp_path),
                                 limit=2)
    assert preview == train[:2]


def test_the_openai_shape_refuses_too_few_examples_and_writes_nothing(db_url, tmp_path):
    _, ids = setup(n=3, names=("ann",))
    bulk(OPERATOR, "answerable", prompt_ids=ids)
    with pytest.raises(Invalid, match="OpenAI needs at least 10"):
        export("classification-openai", tmp_path / "few")
    assert not (tmp_path / "few").exists() or not any((tmp_path / "few").iterdir())


def test_validators_catch_bad_classification_lines(tmp_path):
    from exports import validate_records

    bad = validate_records([{"text": " ", "label": "maybe"}, {"label": "answerable"}], "classification",
                           min_examples=0)
    messages = [p.message for p in bad.errors]
    assert "empty text" in messages and any("expected one of `answerable`, `off-limits`" in m for m in messages)
    assert "missing" in messages
    chat = {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "Sure!"}]}
    report = validate_records([chat], "classification-openai", min_examples=0)
    assert any("must answer with one of" in p.message for p in report.errors)
    assert classification_text([{"role": "user", "content": "hi"}]) == "hi"
