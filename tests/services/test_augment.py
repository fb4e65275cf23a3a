"""Paraphrase augmentation against the real local OpenAI-compatible server (tests/fake_openai).

Stored paraphrases are linked to their source, keep its originating user and split, go through the
import's dedup keys, and failures are reported per prompt; review and SFT reuse are tested here too.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from db.models import Demonstration, Event, Project, Prompt
from labeler.errors import Conflict, Forbidden, Invalid
from labeler.hygiene import content_hash, normalize_text, prefix_hash
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.augment import (
    AugmentRequest,
    list_paraphrases,
    paraphrase_counts,
    parse_paraphrases,
    review_paraphrase,
    run_augment,
)
from labeler.services.export import ExportRequest, export_dataset
from labeler.services.queue import next_task, skip_task
from tests.factories import make_project, make_user
from tests.fake_openai.chat import paraphrase_lines

FAST_RETRY = {"retry-after-ms": "1"}
MULTI = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"},
         {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "what is a prime number?"}]


def _add(project: str, conversations: list[list[dict]], users: list[str], splits: list[str],
         prefix_chars: int = 200) -> list[int]:
    """Store prompts with the import's dedup keys; their ids."""
    with session_scope() as s:
        pid = s.scalar(select(Project.id).where(Project.name == project))
        rows = []
        for messages, user, split in zip(conversations, users, splits, strict=True):
            normalized = normalize_text(messages)
            rows.append(Prompt(project_id=pid, messages=messages, origin_user=user, split=split, source="test",
                               content_hash=content_hash(normalized),
                               prefix_hash=prefix_hash(normalized, prefix_chars)))
        s.add_all(rows)
        s.flush()
        return [p.id for p in rows]


def _one(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def _children() -> dict[int, list[Prompt]]:
    with session_scope(write=False) as s:
        out: dict[int, list[Prompt]] = {}
        for p in s.scalars(select(Prompt).where(Prompt.source_prompt_id.is_not(None)).order_by(Prompt.id)):
            out.setdefault(p.source_prompt_id, []).append(p)
        return out


def _run(**kw):
    kw.setdefault("model", "m")
    kw.setdefault("concurrency", 2)
    return run_augment(OPERATOR, AugmentRequest(project="p", **kw))


def test_n_paraphrases_stored_linked_in_the_same_split(db_url, fake_openai):
    make_project("p")
    ids = _add("p", [_one("how do I boil an egg?"), _one("why is the sky blue?"), MULTI],
               ["ann", "bob", "cy"], ["train", "valid", "test"])
    progress: list[tuple[int, int]] = []
    summary = run_augment(OPERATOR, AugmentRequest(project="p", paraphrases=3, model="m", concurrency=2),
                          progress=lambda d, t: progress.append((d, t)))
    assert (summary.prompts_planned, summary.prompts_done, summary.paraphrases, summary.duplicates,
            summary.failed) == (3, 3, 9, 0, 0)
    assert summary.requests == 3 and summary.completion_tokens > 0 and progress[-1] == (3, 3)
    children = _children()
    assert sorted(children) == ids
    with session_scope(write=False) as s:
        sources = {p.id: p for p in s.scalars(select(Prompt).where(Prompt.id.in_(ids)))}
    for sid, kids in children.items():
        source = sources[sid]
        last = source.messages[-1]["content"]
        assert [k.messages[-1]["content"] for k in kids] == paraphrase_lines(last, "m", 3)
        for k in kids:
            assert k.messages[:-1] == source.messages[:-1]  # only the last user turn is reworded
            assert (k.origin_user, k.split) == (source.origin_user, source.split)
            assert (k.paraphrase_status, k.source, k.meta) == ("pending", "paraphrase",
                                                               {"paraphrase_of": sid, "model": "m"})
            normalized = normalize_text(k.messages)
            assert k.content_hash == content_hash(normalized) and k.prefix_hash == prefix_hash(normalized, 200)
    bodies = [r.json() for r in fake_openai.received("/v1/chat/completions")]
    assert all(b["model"] == "m" and b["n"] == 1 and "in 3 different ways" in b["messages"][0]["content"]
               for b in bodies)
    assert sorted(b["messages"][1]["content"] for b in bodies) == sorted(p.messages[-1]["content"]
                                                                        for p in sources.values())
    with session_scope(write=False) as s:
        event = s.scalars(select(Event).where(Event.action == "augment.run")).one()
        assert event.details["paraphrases"] == 9 and event.details["n"] == 3
    again = _run(paraphrases=3)  # sources with paraphrases, and paraphrases, are not asked again
    assert (again.prompts_planned, again.requests) == (0, 0)
    assert summary.to_dict()["paraphrases"] == 9 and "candidates" not in summary.to_dict()


def test_paraphrases_duplicating_a_stored_prompt_are_dropped(db_url, fake_openai):
    make_project("p")
    a, b = _add("p", [_one("question a"), _one("question b")], ["ann", "bob"], ["train", "train"])
    fake_openai.state["paraphrase_lines"] = ["question b", "Question   B", "new wording", "new wording",
                                             "question a"]
    summary = _run(paraphrases=5, concurrency=1)
    # a: "question b" and "Question   B" duplicate prompt b; "new wording" is stored (once)
    # b: "question b" is b itself, "Question   B" too (normalized), "question a" is a, "new wording" a's paraphrase
    assert (summary.prompts_done, summary.paraphrases, summary.duplicates, summary.failed) == (2, 1, 5, 0)
    children = _children()
    assert list(children) == [a] and [k.messages[-1]["content"] for k in children[a]] == ["new wording"]
    assert b not in children


def test_prefix_dedup_follows_the_project_setting(db_url, fake_openai):
    make_project("p", dedup_prefix_chars=30)
    (a,) = _add("p", [_one("tell me everything about the history of rome")], ["ann"], ["train"], prefix_chars=30)
    fake_openai.state["paraphrase_lines"] = ["tell me everything about rome's past", "what is the history of rome?"]
    summary = _run(paraphrases=2)
    assert (summary.paraphrases, summary.duplicates) == (1, 1)  # the first shares the source's 30-char prefix
    assert [k.messages[0]["content"] for k in _children()[a]] == ["what is the history of rome?"]


def test_prefix_dedup_can_be_turned_off(db_url, fake_openai):
    make_project("p", dedup_prefix_chars=30)
    (a,) = _add("p", [_one("tell me everything about the history of rome")], ["ann"], ["train"], prefix_chars=30)
    fake_openai.state["paraphrase_lines"] = ["tell me everything about rome's past"]
    summary = _run(paraphrases=1, dedup_prefix=False)
    assert (summary.paraphrases, summary.duplicates) == (1, 0)
    assert _children()[a][0].prefix_hash is None


def test_failures_are_reported_per_prompt_and_retried_by_running_again(db_url, fake_openai):
    make_project("p")
    ids = _add("p", [_one(f"question {i}") for i in range(4)], ["u"] * 4, ["train"] * 4)
    fake_openai.fail(500, times=2, headers=FAST_RETRY)  # the first prompt's request and its one retry
    summary = _run(paraphrases=2, max_retries=1, concurrency=1)
    assert (summary.failed, summary.prompts_done, summary.paraphrases, summary.aborted) == (1, 3, 6, None)
    failure = summary.failures[0]
    assert failure.prompt_id == ids[0] and "500" in failure.reason and "`m`" in failure.reason
    assert sorted(_children()) == ids[1:]
    retry = _run(paraphrases=2)
    assert (retry.prompts_planned, retry.prompts_done, retry.paraphrases) == (1, 1, 2)
    assert sorted(_children()) == ids


def test_an_answer_without_rewordings_fails_its_prompt(db_url, fake_openai):
    make_project("p")
    _add("p", [_one("question 0")], ["u"], ["train"])
    fake_openai.state["paraphrase_lines"] = ["question 0"]  # only the original back
    summary = _run(paraphrases=2)
    assert summary.failed == 1 and "no rewording" in summary.failures[0].reason and not _children()


def test_a_refused_key_stops_the_run(db_url, fake_openai):
    make_project("p")
    _add("p", [_one(f"question {i}") for i in range(3)], ["u"] * 3, ["train"] * 3)
    fake_openai.fail(401, times=10)
    summary = _run(paraphrases=2, concurrency=1)
    assert summary.aborted and "401" in summary.aborted and not _children()


def test_requests_are_checked_before_any_call(db_url, fake_openai, monkeypatch):
    make_project("p")
    alice = make_user("alice")
    with pytest.raises(Forbidden):
        run_augment(alice, AugmentRequest(project="p", model="m"))
    with pytest.raises(Invalid, match="no model to paraphrase with"):
        run_augment(OPERATOR, AugmentRequest(project="p"))
    with pytest.raises(Invalid, match="1..20"):
        _run(paraphrases=0)
    with pytest.raises(Invalid, match="split"):
        _run(split="dev")
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(Invalid, match="no model API key"):
        _run()
    assert fake_openai.received("/v1/chat") == []


def test_split_and_limit_select_the_sources(db_url, fake_openai):
    make_project("p")
    ids = _add("p", [_one(f"question {i}") for i in range(4)], ["a", "b", "c", "d"], ["train", "test", "test", "test"])
    summary = _run(paraphrases=1, split="test", limit=2)
    assert summary.prompts_done == 2 and sorted(_children()) == ids[1:3]


def test_parse_paraphrases_strips_numbering_and_quotes():
    text = '1. "How do I boil an egg?"\n2) What is the way to boil eggs\n\n- how to boil an egg\n3. Boil an egg how?'
    assert parse_paraphrases(text, "Boil an egg how?") == [
        "How do I boil an egg?", "What is the way to boil eggs", "how to boil an egg"]


def test_review_keeps_or_rejects_and_the_queue_never_leases_paraphrases(db_url, fake_openai):
    alice = make_user("alice")
    make_user("eve")
    make_project("p", members=("alice",))
    (a,) = _add("p", [_one("how do I boil an egg?")], ["ann"], ["train"])
    _run(paraphrases=2)
    with session_scope(write=False) as s:
        pending = list_paraphrases(s, alice, "p")
    assert [p.source_id for p in pending] == [a, a] and pending[0].source_text == "how do I boil an egg?"
    assert pending[0].text == paraphrase_lines("how do I boil an egg?", "m", 2)[0] and pending[0].split == "train"
    with session_scope() as s:
        review_paraphrase(s, alice, pending[0].id, "keep")
        review_paraphrase(s, alice, pending[1].id, "reject")
    with session_scope(write=False) as s:
        assert paraphrase_counts(s, alice, "p") == {"pending": 0, "kept": 1, "rejected": 1}
        assert [p.id for p in list_paraphrases(s, alice, "p", "kept")] == [pending[0].id]
    with session_scope() as s, pytest.raises(Conflict, match="already kept"):
        review_paraphrase(s, alice, pending[0].id, "keep")
    with session_scope() as s, pytest.raises(Forbidden, match="not a member"):
        review_paraphrase(s, make_user("mallory"), pending[0].id, "reject")
    with session_scope() as s:
        task = next_task(s, alice, "p", "demonstration")
    assert task is not None and task.prompt_id == a
    with session_scope() as s:  # the source is leased; nothing else: paraphrases are not labeled
        skip_task(s, alice, task.assignment_id, "test")
        assert next_task(s, alice, "p", "demonstration") is None


def test_sft_exports_reuse_the_source_demonstration_for_kept_paraphrases(db_url, fake_openai, tmp_path):
    make_project("p")
    (a,) = _add("p", [_one("how do I boil an egg?")], ["ann"], ["valid"])
    _run(paraphrases=3)
    kids = _children()[a]
    reply = [{"role": "assistant", "content": "Boil water, add the egg, wait 8 minutes."}]
    with session_scope() as s:
        s.add(Demonstration(prompt_id=a, turns=reply, status="submitted", origin="imported"))
        review_paraphrase(s, OPERATOR, kids[0].id, "keep")
        review_paraphrase(s, OPERATOR, kids[1].id, "reject")  # kids[2] stays pending
    fmt = "sft-messages"
    with session_scope() as s:
        plain = export_dataset(s, OPERATOR, ExportRequest(format=fmt, project="p", out_dir=tmp_path / fmt))
        summary = export_dataset(s, OPERATOR, ExportRequest(format=fmt, project="p", include_paraphrases=True,
                                                            out_dir=tmp_path / f"{fmt}-aug"))
    assert plain.counts.get("valid") == 1 and "augmented" not in plain.counts
    assert summary.counts["valid"] == 2 and summary.counts["augmented"] == 1
    records = [json.loads(line) for line in (tmp_path / f"{fmt}-aug" / "valid.jsonl").read_text().splitlines()]
    assert [r["messages"][0]["content"] for r in records] == ["how do I boil an egg?",
                                                              kids[0].messages[0]["content"]]
    assert all(r["messages"][-1]["content"] == reply[0]["content"] for r in records)
    manifest = json.loads((tmp_path / f"{fmt}-aug" / "manifest.json").read_text())
    assert manifest["filters"]["include_paraphrases"] is True
    with session_scope() as s, pytest.raises(Invalid, match="include-paraphrases"):
        export_dataset(s, OPERATOR, ExportRequest(format="pairs", project="p", include_paraphrases=True,
                                                  out_dir=tmp_path / "pairs"))


def test_openai_chat_export_reaches_its_minimum_with_kept_paraphrases(db_url, fake_openai, tmp_path):
    make_project("p")
    ids = _add("p", [_one(f"question {i}") for i in range(4)], ["u"] * 4, ["train"] * 4)
    _run(paraphrases=2)
    with session_scope() as s:
        for pid in ids:
            s.add(Demonstration(prompt_id=pid, turns=[{"role": "assistant", "content": f"answer {pid}"}],
                                status="accepted", origin="imported"))
        for kid in s.scalars(select(Prompt.id).where(Prompt.source_prompt_id.is_not(None))):
            review_paraphrase(s, OPERATOR, kid, "keep")
    with session_scope() as s, pytest.raises(Invalid, match="at least 10"):  # 4 demonstrations alone
        export_dataset(s, OPERATOR, ExportRequest(format="openai-chat", project="p", out_dir=tmp_path / "plain"))
    with session_scope() as s:
        summary = export_dataset(s, OPERATOR, ExportRequest(format="openai-chat", project="p", out_dir=tmp_path / "a",
                                                            include_paraphrases=True))
    assert summary.counts == {"train": 12, "augmented": 8}
    records = [json.loads(line) for line in (tmp_path / "a" / "train.jsonl").read_text().splitlines()]
    by_answer: dict[str, int] = {}
    for r in records:
        by_answer[r["messages"][-1]["content"]] = by_answer.get(r["messages"][-1]["content"], 0) + 1
    assert by_answer == {f"answer {pid}": 3 for pid in ids}
