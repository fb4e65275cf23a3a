"""`augment --paraphrases N` keeps its count: a model that gives fewer rewordings than asked is asked
again, and the summary says how many were asked, stored and short (tests/fake_openai)."""

from __future__ import annotations

from sqlalchemy import func, select

from db.models import Prompt
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.augment import AugmentRequest, run_augment
from tests.factories import make_project
from tests.services.test_augment import _add, _one


def _paraphrases_per_source() -> dict[int, int]:
    with session_scope(write=False) as s:
        rows = s.execute(select(Prompt.source_prompt_id, func.count()).where(Prompt.source_prompt_id.is_not(None))
                         .group_by(Prompt.source_prompt_id))
        return dict(rows.all())


def test_one_rewording_per_answer_still_stores_n_per_prompt(db_url, fake_openai):
    make_project("p")
    ids = _add("p", [_one(f"question number {i}") for i in range(5)], [f"u{i}" for i in range(5)], ["train"] * 5)
    fake_openai.state["paraphrase_max_lines"] = 1
    summary = run_augment(OPERATOR, AugmentRequest(project="p", paraphrases=2, model="m", concurrency=2))
    assert _paraphrases_per_source() == dict.fromkeys(ids, 2)
    assert (summary.prompts_done, summary.asked, summary.paraphrases, summary.short) == (5, 10, 10, 0)
    assert summary.requests == 10
    data = summary.to_dict()
    assert (data["asked"], data["paraphrases"], data["short"]) == (10, 10, 0)


def test_a_model_that_runs_out_of_rewordings_is_reported_short(db_url, fake_openai):
    make_project("p")
    (a,) = _add("p", [_one("what is a prime number?")], ["ann"], ["train"])
    fake_openai.state["paraphrase_lines"] = ["which numbers are prime?"]  # the same single line every time
    summary = run_augment(OPERATOR, AugmentRequest(project="p", paraphrases=3, model="m"))
    assert _paraphrases_per_source() == {a: 1}
    assert (summary.prompts_done, summary.asked, summary.paraphrases, summary.short) == (1, 3, 1, 2)
    assert summary.requests == 2  # the second answer brought nothing new: no further request
