"""The admin fine-tuning page: empty, launching from a recorded export, following a job, cancelling, gating."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from labeler.errors import NotFound
from labeler.services import session_scope
from labeler.services.actors import OPERATOR
from labeler.services.finetune import get_job_or_raise
from tests.app.conftest import VIEWS, app_as, errors, successes
from tests.factories import make_user
from tests.fake_openai import finetune as fake
from tests.services.finetune_steps import create_finetune_job
from tests.services.test_finetune import make_chat_export


def texts(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n" + "\n".join(c.value for c in at.caption)


def test_empty_page_says_how_to_start(db_url):
    at = app_as(make_user("boss", "admin"), "finetune")
    assert not errors(at)
    assert [i.value for i in at.info] == [
        "No export fit for fine-tuning yet: write an `openai-chat`, `sft-messages` or `openai-preference` export "
        "on the Export page first.",
        "No fine-tuning jobs yet.",
    ]


def test_labelers_cannot_open_it(db_url):
    alice = make_user("alice")
    with pytest.raises(ValueError):
        app_as(alice).switch_page("views/finetune.py").run()
    at = AppTest.from_file(str(VIEWS / "finetune.py"), default_timeout=30)
    at.session_state["user"] = {"id": alice.id}
    at.run()
    assert errors(at) == ["`alice` is a labeler; this needs an admin"]


def test_launch_from_a_recorded_export(db_url, fake_openai, tmp_path):
    make_chat_export(tmp_path / "oai")
    at = app_as(make_user("boss", "admin"), "finetune")
    assert at.selectbox(key="finetune.export").value == 1 and "method: **supervised**" in texts(at).lower()
    at.text_input(key="finetune.model").input("gpt-4o-mini").run()
    at.number_input(key="finetune.epochs").set_value(2).run()
    at.button(key="finetune.start").click().run()
    assert not at.exception and not errors(at), errors(at)
    assert any("Fine-tuning job #1 created" in m for m in successes(at))
    with session_scope(write=False) as s:
        job = get_job_or_raise(s, 1)
        assert (job.base_model, job.method, job.hyperparameters) == ("gpt-4o-mini", "supervised", {"n_epochs": 2})
    sent = fake.jobs(fake_openai)[job.provider_job_id]["_request"]
    assert sent["method"] == {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}}
    assert f"`{job.provider_job_id}`" in texts(at)


def test_launch_errors_are_shown_and_nothing_is_recorded(db_url, fake_openai, tmp_path):
    make_chat_export(tmp_path / "oai")
    at = app_as(make_user("boss", "admin"), "finetune")
    at.button(key="finetune.start").click().run()  # no model given
    assert errors(at) == ["give the base model to fine-tune (e.g. `gpt-4o-mini-2024-07-18`)"]
    fake_openai.fail(500, path="/v1/files", times=100, headers={"retry-after-ms": "1"})
    at.text_input(key="finetune.model").input("gpt-4o-mini").run()
    at.button(key="finetune.start").click().run()
    assert any("500 server error" in e for e in errors(at)) and not at.exception
    with session_scope(write=False) as s, pytest.raises(NotFound, match="not found"):
        get_job_or_raise(s, 1)


def test_follow_and_cancel_jobs(db_url, fake_openai, tmp_path):
    folder = make_chat_export(tmp_path / "oai")
    with session_scope() as s:
        first = create_finetune_job(s, OPERATOR, folder, "gpt-4o-mini", poll_interval=0)
    with session_scope() as s:
        second = create_finetune_job(s, OPERATOR, folder, "gpt-4o-mini", poll_interval=0)
    at = app_as(make_user("boss", "admin"), "finetune")
    assert f"`{first.provider_job_id}`" in texts(at) and "No events yet" in texts(at)
    for _ in range(4):  # each refresh moves the fake job one status on
        at.button(key=f"finetune.refresh.{first.id}").click().run()
        assert not at.exception and not errors(at), errors(at)
    with session_scope(write=False) as s:
        assert get_job_or_raise(s, first.id).status == "succeeded"
    assert any(f"Job #{first.id} refreshed." in m for m in successes(at))
    page = texts(at)
    assert "Fine-tuned model: `ft:gpt-4o-mini:" in page
    frames = [f.value for f in at.dataframe]
    [checkpoints] = [f for f in frames if "train_loss" in f.columns]
    [events] = [f for f in frames if "message" in f.columns]
    assert list(checkpoints["step"]) == [10, 20, 30] and list(checkpoints["train_loss"]) == [1.8, 1.1, 0.7]
    assert "The job has successfully completed" in list(events["message"])
    assert len(at.get("vega_lite_chart")) == 1  # the loss curve of the one job with checkpoints
    keys = {b.key for b in at.button}
    assert f"finetune.cancel.{first.id}" not in keys and f"finetune.cancel.{second.id}" in keys
    at.button(key=f"finetune.cancel.{second.id}").click().run()
    assert any(f"Job #{second.id} cancelled." in m for m in successes(at))
    assert fake.jobs(fake_openai)[second.provider_job_id]["status"] == "cancelled"
    assert f"finetune.cancel.{second.id}" not in {b.key for b in at.button}
