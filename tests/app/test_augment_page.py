"""The Paraphrases page: pending rewordings beside their source, Keep and Reject."""

from __future__ import annotations

import json

from sqlalchemy import select

from db.models import Demonstration, Project, Prompt
from labeler.hygiene import content_hash, normalize_text
from labeler.services import session_scope
from tests.app.conftest import app_as, errors, successes
from tests.factories import make_project, make_user


def _with_paraphrases(texts: list[str]) -> tuple[int, list[int]]:
    with session_scope() as s:
        pid = s.scalar(select(Project.id).where(Project.name == "p"))
        source = [{"role": "user", "content": "how do I boil an egg?"}]
        src = Prompt(project_id=pid, messages=source, content_hash=content_hash(normalize_text(source)),
                     origin_user="ann", split="valid")
        s.add(src)
        s.flush()
        kids = []
        for t in texts:
            m = [{"role": "user", "content": t}]
            kids.append(Prompt(project_id=pid, messages=m, content_hash=content_hash(normalize_text(m)),
                               origin_user="ann", split="valid", source="paraphrase", source_prompt_id=src.id,
                               paraphrase_status="pending", meta={"model": "m"}))
        s.add_all(kids)
        s.flush()
        return src.id, [k.id for k in kids]


def _status(pid: int) -> str | None:
    with session_scope(write=False) as s:
        return s.scalar(select(Prompt.paraphrase_status).where(Prompt.id == pid))


def test_a_labeler_keeps_and_rejects_paraphrases(db_url):
    alice = make_user("alice")
    make_project("p", members=("alice",))
    src, (k1, k2) = _with_paraphrases(["what is the way to boil an egg?", "how do I fry an egg?"])
    at = app_as(alice, "paraphrases")
    assert not errors(at) and at.title[0].value == "Paraphrases"
    assert {m.label: m.value for m in at.metric} == {"Pending": "2", "Kept": "0", "Rejected": "0"}
    shown = " ".join(str(m.value) for m in [*at.markdown, *at.text]) + " ".join(str(c.value) for c in at.caption)
    assert "how do I boil an egg?" in shown and "what is the way to boil an egg?" in shown
    assert f"Original · prompt #{src} · valid" in shown and f"Paraphrase #{k1} · by m" in shown
    at.button(key=f"paraphrases.{k1}.keep").click().run()
    assert not errors(at) and successes(at)[0] == f"Paraphrase #{k1} kept."
    at.button(key=f"paraphrases.{k2}.reject").click().run()
    assert not errors(at) and successes(at)[0] == f"Paraphrase #{k2} rejected."
    assert (_status(k1), _status(k2)) == ("kept", "rejected")
    assert {m.label: m.value for m in at.metric} == {"Pending": "0", "Kept": "1", "Rejected": "1"}
    assert "No paraphrase waits for review in this project." in successes(at)


def test_a_non_member_sees_no_project(db_url):
    bob = make_user("bob")
    make_project("p")
    _with_paraphrases(["what is the way to boil an egg?"])
    at = app_as(bob, "paraphrases")
    assert not errors(at) and not [b for b in at.button if (b.key or "").startswith("paraphrases.")]
    assert "You are not a member of any project yet" in " ".join(str(i.value) for i in at.info)


def test_the_export_page_includes_kept_paraphrases_when_asked(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("LABELER_EXPORT_DIR", str(tmp_path / "exports"))
    make_project("p")
    src, (k1, _k2) = _with_paraphrases(["what is the way to boil an egg?", "how do I fry an egg?"])
    with session_scope() as s:
        s.add(Demonstration(prompt_id=src, turns=[{"role": "assistant", "content": "Boil it."}],
                            status="accepted", origin="imported"))
        s.get(Prompt, k1).paraphrase_status = "kept"
    at = app_as(make_user("boss", "admin"), "export")
    at.selectbox(key="export.format").set_value("sft-messages").run()
    at.text_input(key="export.folder").set_value("aug").run()
    at.checkbox(key="export.paraphrases").check().run()
    at.button(key="export.run").click().run()
    assert not at.exception and not errors(at), errors(at)
    lines = (tmp_path / "exports" / "aug" / "valid.jsonl").read_text().splitlines()
    assert [json.loads(line)["messages"][0]["content"] for line in lines] == [
        "how do I boil an egg?", "what is the way to boil an egg?"]
    at.selectbox(key="export.format").set_value("pairs").run()  # a ranking format has no such option
    assert not [c for c in at.checkbox if c.key == "export.paraphrases"]
