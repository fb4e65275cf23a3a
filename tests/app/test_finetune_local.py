"""The fine-tuning page's local runs: listed with remote jobs, followed from their files, started, cancelled, used.

Most tests record a local job whose run folder they write themselves (status.json, train.log: what
the worker writes), so no training runs; one slow test starts a real run of the tiny model of
tests/local/tiny.py from the form and follows it to the end, as an admin would.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from db.models import FinetuneJob
from labeler.services import session_scope
from labeler.services import train as train_service
from labeler.services.actors import OPERATOR
from labeler.services.engine.local import gguf_cache_dir
from labeler.services.export import ExportRequest, export_dataset
from labeler.services.finetune import get_job_or_raise
from labeler.services.ingest import ImportOptions, import_file
from labeler.services.projects import get_project_or_raise, settings_of
from tests.app.conftest import app_as, errors, successes
from tests.factories import make_project, make_user
from tests.services.finetune_steps import create_finetune_job
from tests.services.test_finetune import DPO_SAMPLE, make_chat_export

LOSSES = [{"step": 1, "loss": 2.5}, {"step": 2, "loss": 1.75}, {"step": 3, "loss": 1.25}]


@pytest.fixture(autouse=True)
def data_dir(monkeypatch, tmp_path) -> Path:
    """Runs and models go to this test's own data folder."""
    monkeypatch.setenv("LABELER_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def texts(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n" + "\n".join(c.value for c in at.caption)


def record_local_job(tmp_path: Path, method: str = "sft", status: dict[str, Any] | None = None,
                     log_lines: int = 100, name: str = "run") -> FinetuneJob:
    """A local job as `start_training` records it, with a run folder holding what a worker wrote."""
    run_dir = tmp_path / name
    run_dir.mkdir()
    if status is not None:
        (run_dir / "status.json").write_text(json.dumps(status), encoding="utf-8")
    (run_dir / "train.log").write_text("".join(f"log line {i}\n" for i in range(1, log_lines + 1)), encoding="utf-8")
    with session_scope() as s:
        job = FinetuneJob(provider="local", provider_job_id=f"local-{name}", base_model=str(tmp_path / "base"),
                          method=method, status="running", events=[],
                          hyperparameters={"epochs": 1.0, "max_steps": 3, "lr": 5e-5, "batch_size": 2,
                                           "max_length": 128, "lora": False, "run_dir": str(run_dir),
                                           "out": str(tmp_path / f"{name}-model"), "format": "sft-messages",
                                           "export": str(tmp_path / "export")})
        s.add(job)
        s.flush()
        return job


def finished(model: Path, **changes: Any) -> dict[str, Any]:
    """A status.json of a run that ended well after three steps."""
    return {"status": "succeeded", "pid": None, "step": 3, "max_steps": 3, "losses": LOSSES,
            "eval": [{"step": 3, "eval_loss": 1.5, "eval_runtime": 0.1}], "model_dir": str(model), "error": None,
            "started_at": time.time() - 30, "finished_at": time.time()} | changes


def test_a_local_run_shows_its_progress_curves_and_log_and_refresh_stores_them(db_url, tmp_path):
    job = record_local_job(tmp_path, status=finished(tmp_path / "run-model"))
    at = app_as(make_user("boss", "admin"), "finetune")
    assert not errors(at)
    page = texts(at)
    assert f"`{job.provider_job_id}`" in page and "local" in page and "run folder" in page
    assert [(p.value, p.text) for p in at.progress] == [(100, "Step 3 / 3")]
    assert len(at.get("vega_lite_chart")) == 1  # read from the run's status file before any refresh
    [log] = [c.value for c in at.code]
    assert log.splitlines() == [f"log line {i}" for i in range(61, 101)]  # the last 40 lines only
    assert "Model folder" not in page  # not stored yet: the job still says running
    at.button(key=f"finetune.refresh.{job.id}").click().run()
    assert not at.exception and not errors(at), errors(at)
    assert any(f"Job #{job.id} refreshed." in m for m in successes(at))
    with session_scope(write=False) as s:
        stored = get_job_or_raise(s, job.id)
        assert (stored.status, stored.fine_tuned_model) == ("succeeded", str(tmp_path / "run-model"))
        assert train_service.loss_curve(stored) == [
            {"step": 1, "train_loss": 2.5}, {"step": 2, "train_loss": 1.75},
            {"step": 3, "train_loss": 1.25, "valid_loss": 1.5}]
    assert f"Model folder: `{tmp_path / 'run-model'}`" in texts(at)
    assert len(at.get("vega_lite_chart")) == 1  # now from the stored events
    assert f"finetune.cancel.{job.id}" not in {b.key for b in at.button}
    assert "No project yet to generate with this model." in texts(at)


def test_a_dead_run_is_marked_failed_with_its_reason(db_url, tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    job = record_local_job(tmp_path, status={"status": "running", "pid": dead.pid, "step": 1, "max_steps": 10,
                                             "losses": LOSSES[:1], "eval": [], "started_at": time.time() - 60})
    at = app_as(make_user("boss", "admin"), "finetune")
    assert [p.text for p in at.progress] == ["Step 1 / 10"]
    at.button(key=f"finetune.refresh.{job.id}").click().run()
    assert not errors(at)
    [warning] = [w.value for w in at.warning]
    assert warning == "The run failed: the training process ended without a result (see train.log)"
    with session_scope(write=False) as s:
        assert get_job_or_raise(s, job.id).status == "failed"
    assert f"finetune.use.{job.id}" not in {b.key for b in at.button}


WORKER = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    run = Path(sys.argv[1])
    def write(status):
        (run / "status.tmp").write_text(json.dumps({"status": status, "pid": os.getpid(), "step": 1,
                                                    "max_steps": 100, "losses": [], "eval": [],
                                                    "started_at": time.time()}))
        os.replace(run / "status.tmp", run / "status.json")
    write("running")
    deadline = time.monotonic() + 60
    while not (run / "cancel").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    write("cancelled")
""")


def test_cancel_stops_a_local_run_and_records_it(db_url, tmp_path):
    job = record_local_job(tmp_path)
    run_dir = Path(job.hyperparameters["run_dir"])
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(run_dir)], start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not (run_dir / "status.json").exists():
            assert time.monotonic() < deadline and worker.poll() is None, "the fake worker did not start"
            time.sleep(0.05)
        at = app_as(make_user("boss", "admin"), "finetune")
        at.button(key=f"finetune.cancel.{job.id}").click().run()
        assert not at.exception and not errors(at), errors(at)
        assert any(f"Job #{job.id} cancelled." in m for m in successes(at))
        assert worker.wait(timeout=30) == 0  # it saw the cancel file and stopped by itself
        with session_scope(write=False) as s:
            assert get_job_or_raise(s, job.id).status == "cancelled"
        assert f"finetune.cancel.{job.id}" not in {b.key for b in at.button}
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def test_use_for_generation_adds_the_model_to_the_chosen_project(db_url, tmp_path):
    make_project("first")
    make_project("second", generation_models=["gpt-4o-mini"])
    job = record_local_job(tmp_path, method="dpo", status=finished(tmp_path / "dpo-model"))
    reward = record_local_job(tmp_path, method="reward", status=finished(tmp_path / "rm-model"), name="rm")
    boss = make_user("boss", "admin")
    with session_scope() as s:
        for ref in (job.id, reward.id):
            train_service.refresh_training(s, boss, ref)
    at = app_as(boss, "finetune")
    keys = {b.key for b in at.button}
    assert f"finetune.use.{job.id}" in keys and f"finetune.use.{reward.id}" not in keys  # a reward model writes none
    picker = at.selectbox(key=f"finetune.use.{job.id}.project")
    assert picker.label == "Use for generation in project" and picker.options == ["first", "second"]
    picker.select_index(1).run()
    at.button(key=f"finetune.use.{job.id}").click().run()
    assert not at.exception and not errors(at), errors(at)
    model = f"local:{tmp_path / 'dpo-model'}"
    assert successes(at) == [f"Project `second` now generates with `{model}` too."]
    with session_scope(write=False) as s:
        assert settings_of(get_project_or_raise(s, "second")).generation_models == ["gpt-4o-mini", model]
        assert settings_of(get_project_or_raise(s, "first")).generation_models == []
    at.button(key=f"finetune.use.{job.id}").click().run()  # again: no duplicate
    with session_scope(write=False) as s:
        assert settings_of(get_project_or_raise(s, "second")).generation_models == ["gpt-4o-mini", model]


def test_local_and_remote_jobs_share_one_list_and_refresh_all_uses_the_right_service(db_url, fake_openai, tmp_path):
    folder = make_chat_export(tmp_path / "oai")
    with session_scope() as s:
        remote = create_finetune_job(s, OPERATOR, folder, "gpt-4o-mini", poll_interval=0)
    local = record_local_job(tmp_path, status=finished(tmp_path / "run-model"))
    at = app_as(make_user("boss", "admin"), "finetune")
    heads = [m.value for m in at.markdown if m.value.startswith("**#")]
    assert heads == [f"**#{local.id}** `{local.provider_job_id}` — sft on `{tmp_path / 'base'}`",
                     f"**#{remote.id}** `{remote.provider_job_id}` — supervised on `gpt-4o-mini`"]  # newest first
    badges = [m.value for m in at.markdown if "badge[" in m.value]
    assert sum("local" in b for b in badges) == 1 and sum("remote" in b for b in badges) == 1
    before = remote.status
    at.button(key="finetune.refresh_all").click().run()
    assert not at.exception and not errors(at), errors(at)
    assert successes(at) == ["2 job(s) refreshed."]
    with session_scope(write=False) as s:
        assert get_job_or_raise(s, local.id).status == "succeeded"
        assert get_job_or_raise(s, remote.id).status != before  # the fake server moved it one status on


# -- starting a run from the form ----------------------------------------------------------------


def nothing_recorded(data_dir: Path) -> bool:
    with session_scope(write=False) as s:
        return s.scalar(select(func.count()).select_from(FinetuneJob)) == 0 and not (data_dir / "training").exists()


def pairs_export(folder: Path) -> Path:
    """A project with Azure's sample preference pairs imported, exported as `pairs` (reward and DPO take it)."""
    make_project("prefs")
    with session_scope() as s:
        import_file(s, OPERATOR, "prefs", DPO_SAMPLE, ImportOptions())
    with session_scope() as s:
        export_dataset(s, OPERATOR, ExportRequest(format="pairs", project="prefs", out_dir=folder))
    return folder


def test_the_form_offers_the_trainers_that_take_the_export(db_url, tmp_path):
    at = app_as(make_user("boss", "admin"), "finetune")
    assert "No export fit for local training yet" in texts(at)
    make_chat_export(tmp_path / "sft", fmt="sft-messages")
    pairs_export(tmp_path / "pairs")
    at = app_as(make_user("boss2", "admin"), "finetune")
    exports = at.selectbox(key="finetune.local.export")
    assert exports.options[0].startswith("#2 pairs") and exports.options[1].startswith("#1 sft-messages")
    assert at.selectbox(key="finetune.local.kind.pairs").options == ["Reward model (RewardTrainer)",
                                                                     "DPO (DPOTrainer)"]
    exports.select_index(1).run()
    assert at.selectbox(key="finetune.local.kind.sft-messages").options == ["SFT (SFTTrainer)"]


def test_a_bad_request_is_refused_and_nothing_is_started(db_url, tmp_path, data_dir, monkeypatch):
    monkeypatch.setattr(train_service, "_installed", lambda name: name != "peft")  # the same on every machine
    export = make_chat_export(tmp_path / "sft", fmt="sft-messages")
    base = tmp_path / "base"
    base.mkdir()
    (base / "config.json").write_text("{}", encoding="utf-8")
    at = app_as(make_user("boss", "admin"), "finetune")
    assert at.text_input(key="finetune.local.base").value == ""  # no demo model converted in this data folder
    at.button(key="finetune.local.start").click().run()
    assert errors(at) == ["give the base model folder to start from (a transformers model folder with `config.json`)"]
    at.text_input(key="finetune.local.base").input(str(tmp_path / "nowhere")).run()
    at.button(key="finetune.local.start").click().run()
    assert errors(at) == [f"base model {tmp_path / 'nowhere'}: not a model folder (no config.json)"]
    at.text_input(key="finetune.local.base").input(str(base)).run()
    at.checkbox(key="finetune.local.lora").check().run()
    at.button(key="finetune.local.start").click().run()
    assert errors(at) == ["LoRA (`--lora`) needs `peft`, not installed here: `pip install 'labeler[train]'`, or "
                          "train without LoRA: nothing was started"]
    at.checkbox(key="finetune.local.lora").uncheck().run()
    manifest = json.loads((export / "manifest.json").read_text(encoding="utf-8"))
    (export / "manifest.json").write_text(json.dumps(manifest | {"format": "pairs"}), encoding="utf-8")  # rewritten
    at.button(key="finetune.local.start").click().run()
    assert errors(at) == [f"{export}: a `pairs` export cannot train the sft trainer; it takes `sft-messages` or "
                          "`sft-prompt-completion`: nothing was started"]
    monkeypatch.setattr(train_service, "_installed", lambda name: name not in ("trl", "peft"))
    at.button(key="finetune.local.start").click().run()
    assert errors(at) == ["local training needs `trl`, not installed here: `pip install 'labeler[train]'`: "
                          "nothing was started"]
    assert not at.exception and nothing_recorded(data_dir)


def test_the_demo_models_folder_is_the_default_base_model(db_url, tmp_path, data_dir, monkeypatch):
    gguf = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setattr("labeler.services.demo_model.demo_gguf", lambda: gguf)
    make_chat_export(tmp_path / "sft", fmt="sft-messages")
    at = app_as(make_user("boss", "admin"), "finetune")
    assert at.text_input(key="finetune.local.base").value == ""  # not converted yet: nothing to offer
    folder = gguf_cache_dir(gguf)
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}", encoding="utf-8")
    at = app_as(make_user("boss2", "admin"), "finetune")
    assert at.text_input(key="finetune.local.base").value == str(folder)


@pytest.mark.slow
def test_a_real_run_started_from_the_form_succeeds_and_its_model_generates(sqlite_url, tmp_path, data_dir,
                                                                           monkeypatch):
    from tests.local.tiny import build_tiny_model, require

    for name in ("torch", "transformers", "datasets", "trl"):
        require(name)
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    base = build_tiny_model(tmp_path / "tiny")
    make_chat_export(tmp_path / "sft", fmt="sft-messages", n=12)
    at = app_as(make_user("boss", "admin"), "finetune")
    at.text_input(key="finetune.local.base").input(str(base)).run()
    at.number_input(key="finetune.local.max_steps").set_value(2).run()
    at.number_input(key="finetune.local.max_length").set_value(128).run()
    at.button(key="finetune.local.start").click().run()
    assert not at.exception and not errors(at), errors(at)
    [started] = successes(at)
    assert started.startswith("Local training job #1 started: local-")
    with session_scope(write=False) as s:
        job = get_job_or_raise(s, 1)
    assert (job.provider, job.method, job.status) == ("local", "sft", "running")
    deadline = time.monotonic() + 300
    while job.status == "running":
        assert time.monotonic() < deadline, train_service.log_tail(job)
        time.sleep(1)
        at.button(key="finetune.refresh.1").click().run()
        assert not errors(at), errors(at)
        with session_scope(write=False) as s:
            job = get_job_or_raise(s, 1)
    assert job.status == "succeeded", train_service.log_tail(job)
    model = Path(job.fine_tuned_model)
    assert (model / "config.json").is_file() and model.parent == data_dir / "models"
    assert [p.text for p in at.progress] == ["Step 2 / 2"] and len(at.get("vega_lite_chart")) == 1
    assert f"Model folder: `{model}`" in texts(at)
    at.button(key="finetune.use.1").click().run()  # the export's project is chosen
    assert successes(at) == [f"Project `p` now generates with `local:{model}` too."]
    with session_scope(write=False) as s:
        assert settings_of(get_project_or_raise(s, "p")).generation_models == [f"local:{model}"]
