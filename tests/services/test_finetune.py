"""Fine-tuning against a real local OpenAI-compatible server (tests/fake_openai): the whole flow from
an export to a recorded job with events and checkpoints, the `method` payload and the uploaded bytes
as the server received them, refusals before anything is sent, retries, failures and keys."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from db.models import Base, Event, Export, FinetuneJob
from labeler.errors import Forbidden, Invalid, LabelerError, NotFound
from labeler.services import get_engine, session_scope
from labeler.services.actors import OPERATOR
from labeler.services.export import ExportRequest, export_dataset
from labeler.services.finetune import (
    MAX_RETRIES,
    get_job_or_raise,
    job_checkpoints,
    job_events,
    job_summary,
    list_jobs,
    loss_curve,
    public_url,
)
from labeler.services.ingest import ImportOptions, import_file
from tests.conftest import SHARED_DATA
from tests.factories import make_project, make_user
from tests.fake_openai import FakeOpenAI
from tests.fake_openai import finetune as fake
from tests.services.finetune_steps import cancel_job, create_finetune_job, refresh_job

DPO_SAMPLE = SHARED_DATA / "azure-foundry-dpo" / "orca_dpo_pairs_validation.jsonl"
FAST = {"retry-after-ms": "1"}  # the SDK honours Retry-After: retries without the backoff's wait


# -- data ----------------------------------------------------------------------------------------


def make_chat_export(folder: Path, project: str = "p", fmt: str = "openai-chat", n: int = 40) -> Path:
    """A project with `n` imported demonstrations (one originating user each), exported as `fmt`."""
    make_project(project)
    source = folder.parent / f"{folder.name}-source.jsonl"
    rows = [{"messages": [{"role": "user", "content": f"How do I fix problem number {i}? Ünïcode ✓"},
                          {"role": "assistant", "content": f"Here is how to fix problem {i}: restart it."}],
             "user": f"user{i}"} for i in range(n)]
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    with session_scope() as s:
        import_file(s, OPERATOR, project, source, ImportOptions())
    with session_scope() as s:
        export_dataset(s, OPERATOR, ExportRequest(format=fmt, project=project, out_dir=folder))
    return folder


def make_preference_export(folder: Path, project: str = "p") -> Path:
    """A project with Azure's sample DPO pairs imported, exported as `openai-preference`."""
    make_project(project)
    with session_scope() as s:
        import_file(s, OPERATOR, project, DPO_SAMPLE, ImportOptions())
    with session_scope() as s:
        export_dataset(s, OPERATOR, ExportRequest(format="openai-preference", project=project, out_dir=folder))
    return folder


def create(folder: Path, model: str = "gpt-4o-mini-2024-07-18", **kw) -> FinetuneJob:
    with session_scope() as s:
        return create_finetune_job(s, OPERATOR, folder, model, poll_interval=0, **kw)


def refresh(ref) -> FinetuneJob:
    with session_scope() as s:
        return refresh_job(s, OPERATOR, ref)


def refresh_until_done(ref, limit: int = 10) -> FinetuneJob:
    """Refresh until the job is finished (each read moves the fake job one status on)."""
    for _ in range(limit):
        job = refresh(ref)
        if job.status in ("succeeded", "failed", "cancelled"):
            return job
    raise AssertionError(f"job {ref} did not finish after {limit} refreshes: {job.status}")


def job_count() -> int:
    with session_scope(write=False) as s:
        return s.scalar(select(func.count()).select_from(FinetuneJob))


def created_jobs(api: FakeOpenAI) -> list[dict]:
    return [r.json() for r in api.received("/v1/fine_tuning/jobs") if r.method == "POST" and
            r.path == "/v1/fine_tuning/jobs"]


def uploads(api: FakeOpenAI) -> list:
    return [r for r in api.received("/v1/files") if r.method == "POST"]


def all_stored_text(url: str) -> str:
    """Every row of every table, as text (to look for a secret anywhere in the store)."""
    parts = []
    with get_engine(url).connect() as conn:
        for table in Base.metadata.sorted_tables:
            parts += [repr(tuple(row)) for row in conn.execute(text(f'SELECT * FROM "{table.name}"'))]
    return "\n".join(parts)


# -- the whole flow ------------------------------------------------------------------------------


def test_supervised_flow_records_the_job_and_uploads_the_export_byte_for_byte(db_url, fake_openai, tmp_path):
    folder = make_chat_export(tmp_path / "oai")
    job = create(folder, epochs=2, suffix="support-v1")
    server_jobs = fake.jobs(fake_openai)
    assert list(server_jobs) == [job.provider_job_id]
    assert created_jobs(fake_openai) == [{
        "model": "gpt-4o-mini-2024-07-18", "training_file": job.training_file_id,
        "validation_file": job.validation_file_id, "suffix": "support-v1",
        "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}},
    }]
    files = fake.files(fake_openai)
    assert files[job.training_file_id]["_content"] == (folder / "train.jsonl").read_bytes()
    assert files[job.validation_file_id]["_content"] == (folder / "valid.jsonl").read_bytes()
    assert {f["purpose"] for f in files.values()} == {"fine-tune"} and len(files) == 2  # no test split sent
    with session_scope(write=False) as s:
        stored = get_job_or_raise(s, job.id)
        export_id = s.scalar(select(Export.id))
        audit = s.scalars(select(Event).where(Event.action == "finetune.create")).all()
    assert (stored.provider_job_id, stored.base_model, stored.method) == (
        job.provider_job_id, "gpt-4o-mini-2024-07-18", "supervised")
    assert stored.base_url == fake_openai.base_url and stored.export_id == export_id and stored.project_id
    assert stored.hyperparameters == {"n_epochs": 2} and stored.status == "validating_files"
    assert [a.object_id for a in audit] == [job.id]

    done = refresh_until_done(job.provider_job_id)  # the provider's id works as well as ours
    assert done.status == "succeeded" and done.fine_tuned_model == server_jobs[job.provider_job_id]["fine_tuned_model"]
    messages = [e["message"] for e in job_events(done)]
    assert messages[0].startswith("Validating training file") and "The job has successfully completed" in messages
    checkpoints = job_checkpoints(done)
    assert [c["step_number"] for c in checkpoints] == [10, 20, 30]
    assert checkpoints[-1]["metrics"]["train_loss"] == 0.7 and checkpoints[-1]["metrics"]["valid_loss"] == 1.0
    assert [p["step"] for p in loss_curve(done)] == [10, 20, 30]
    summary = job_summary(done)
    assert summary["train_loss"] == 0.7 and summary["checkpoints"] == 3
    with session_scope(write=False) as s:
        again = get_job_or_raise(s, job.id)  # stored, not just returned
        statuses = [e.details["status"] for e in s.scalars(select(Event).where(Event.action == "finetune.status")
                                                            .order_by(Event.id))]
        assert again.status == "succeeded" and len(job_events(again)) == len(messages)
        assert [j.id for j in list_jobs(s, OPERATOR)] == [job.id] and list_jobs(s, OPERATOR, "p")
    assert statuses[-1] == "succeeded"


def test_dpo_flow_with_an_openai_preference_export(db_url, fake_openai, tmp_path):
    folder = make_preference_export(tmp_path / "pref")
    job = create(folder, method="dpo", beta=0.1, epochs=1)
    [sent] = created_jobs(fake_openai)
    assert sent["method"] == {"type": "dpo", "dpo": {"hyperparameters": {"n_epochs": 1, "beta": 0.1}}}
    assert fake.files(fake_openai)[job.training_file_id]["_kind"] == "preference"
    assert fake.files(fake_openai)[job.training_file_id]["_content"] == (folder / "train.jsonl").read_bytes()
    done = refresh_until_done(job.id)
    assert (done.method, done.status) == ("dpo", "succeeded") and done.fine_tuned_model.startswith("ft:")


def test_sft_messages_exports_are_accepted_when_they_pass_openais_chat_rules(db_url, fake_openai, tmp_path):
    job = create(make_chat_export(tmp_path / "sft", fmt="sft-messages"))
    assert fake.files(fake_openai)[job.training_file_id]["_kind"] == "chat"


def test_cancel_a_running_job(db_url, fake_openai, tmp_path):
    job = create(make_chat_export(tmp_path / "oai"))
    with session_scope() as s:
        cancelled = cancel_job(s, OPERATOR, job.id)
    assert cancelled.status == "cancelled" and fake.jobs(fake_openai)[job.provider_job_id]["status"] == "cancelled"
    with session_scope(write=False) as s:
        assert get_job_or_raise(s, job.id).status == "cancelled"
        assert s.scalar(select(func.count()).select_from(Event).where(Event.action == "finetune.cancel")) == 1
    with pytest.raises(Invalid, match="already cancelled"), session_scope() as s:
        cancel_job(s, OPERATOR, job.id)
    assert len([r for r in fake_openai.requests if r.path.endswith("/cancel")]) == 1


def test_a_failed_job_keeps_the_servers_reason(db_url, fake_openai, tmp_path):
    fake.settings(fake_openai)["job_error"] = "the training file has duplicated examples"
    job = create(make_chat_export(tmp_path / "oai"))
    done = refresh_until_done(job.id)
    assert done.status == "failed" and done.fine_tuned_model is None
    assert any("duplicated examples" in e["message"] and e["level"] == "error" for e in job_events(done))


# -- refused before anything is sent -------------------------------------------------------------


def test_wrong_format_for_the_method_is_refused_and_nothing_is_uploaded(db_url, fake_openai, tmp_path):
    folder = make_chat_export(tmp_path / "oai")
    with pytest.raises(Invalid, match="`openai-chat`; dpo fine-tuning takes `openai-preference`"):
        create(folder, method="dpo")
    with session_scope() as s:
        export_dataset(s, OPERATOR, ExportRequest(format="sft-prompt-completion", project="p", out_dir=tmp_path / "pc"))
    with pytest.raises(Invalid, match="`sft-prompt-completion`; supervised fine-tuning takes `openai-chat` or "
                                      "`sft-messages`"):
        create(tmp_path / "pc")
    assert fake_openai.requests == [] and job_count() == 0


def test_an_invalid_export_file_is_named_with_its_line_and_nothing_is_uploaded(db_url, fake_openai, tmp_path):
    folder = make_chat_export(tmp_path / "oai")
    train = folder / "train.jsonl"
    lines = train.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[2] = json.dumps({"messages": [{"role": "user", "content": "no reply here"}]}) + "\n"
    train.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(Invalid) as caught:
        create(folder)
    assert "line 3 of train.jsonl" in str(caught.value) and "no assistant message" in str(caught.value)
    assert "nothing was uploaded" in str(caught.value)
    assert fake_openai.requests == [] and job_count() == 0


def test_an_export_edited_after_it_was_written_is_refused(db_url, fake_openai, tmp_path):
    folder = make_chat_export(tmp_path / "oai")
    train = folder / "train.jsonl"
    extra = {"messages": [{"role": "user", "content": "added by hand"}, {"role": "assistant", "content": "ok"}]}
    train.write_text(train.read_text(encoding="utf-8") + json.dumps(extra) + "\n", encoding="utf-8")
    with pytest.raises(Invalid, match="changed since the export was written"):
        create(folder)
    assert fake_openai.requests == []


def test_bad_requests_are_refused_before_the_network(db_url, fake_openai, tmp_path):
    folder = make_chat_export(tmp_path / "oai")
    with pytest.raises(Invalid, match="`beta` is a dpo hyperparameter"):
        create(folder, beta=0.1)
    with pytest.raises(Invalid, match="`n_epochs` must be within 1..50"):
        create(folder, epochs=0)
    with pytest.raises(Invalid, match="at most 64"):
        create(folder, suffix="x" * 65)
    with pytest.raises(Invalid, match="unknown fine-tuning method `rl`"):
        create(folder, method="rl")
    with pytest.raises(Invalid, match="no manifest.json"):
        create(tmp_path)
    with pytest.raises(Invalid, match="give the base model"):
        create(folder, model=" ")
    assert fake_openai.requests == [] and job_count() == 0


def test_only_admins_launch_or_see_jobs(db_url, fake_openai, tmp_path):
    folder = make_chat_export(tmp_path / "oai")
    ann = make_user("ann", "labeler")
    with pytest.raises(Forbidden), session_scope() as s:
        create_finetune_job(s, ann, folder, "gpt-4o-mini")
    job = create(folder)
    for fn in (refresh_job, cancel_job):
        with pytest.raises(Forbidden), session_scope() as s:
            fn(s, ann, job.id)
    with pytest.raises(Forbidden), session_scope(write=False) as s:
        list_jobs(s, ann)
    assert len(created_jobs(fake_openai)) == 1


# -- failures of the server ----------------------------------------------------------------------


def test_a_429_is_retried_and_the_job_is_created(db_url, fake_openai, tmp_path):
    folder = make_chat_export(tmp_path / "oai")
    fake_openai.fail(429, path="/v1/files", times=1, headers=FAST)
    fake_openai.fail(429, path="/v1/fine_tuning/jobs", times=2, headers=FAST)
    job = create(folder)
    assert len(uploads(fake_openai)) == 3  # the refused train upload, then train and valid
    assert len(created_jobs(fake_openai)) == 3 and job_count() == 1
    assert fake.files(fake_openai)[job.training_file_id]["_content"] == (folder / "train.jsonl").read_bytes()


def test_a_persisting_500_is_a_clear_error_after_the_retries(db_url, fake_openai, tmp_path):
    folder = make_chat_export(tmp_path / "oai")
    fake_openai.fail(500, path="/v1/fine_tuning/jobs", times=100, headers=FAST)
    with pytest.raises(LabelerError) as caught:
        create(folder)
    message = str(caught.value)
    assert message.startswith(f"creating the fine-tuning job at {fake_openai.base_url}: 500 server error")
    assert "injected 500" in message
    assert len(created_jobs(fake_openai)) == 1 + MAX_RETRIES and job_count() == 0


def test_a_server_that_refuses_the_upload_is_reported_with_its_message(db_url, fake_openai, tmp_path):
    folder = make_chat_export(tmp_path / "oai")
    body = json.dumps({"error": {"message": "File too large for this organization", "type": "invalid_request_error",
                                 "param": "file", "code": None}}).encode()
    fake_openai.fail(400, path="/v1/files", body=body)
    with pytest.raises(Invalid, match="uploading train.jsonl at .*: 400 bad request: File too large"):
        create(folder)
    assert len(uploads(fake_openai)) == 1 and job_count() == 0  # a 400 is not retried


def test_processing_errors_timeouts_and_malformed_answers_are_reported(db_url, fake_openai, tmp_path):
    folder = make_chat_export(tmp_path / "oai")
    fake.settings(fake_openai)["file_error"] = "line 7: unexpected key"
    with pytest.raises(Invalid, match=r"could not process train.jsonl \(file file-\w+\): error: line 7: unexpected"):
        create(folder)
    fake.settings(fake_openai)["file_error"] = None
    fake.settings(fake_openai)["file_polls"] = 1000
    with pytest.raises(LabelerError, match="had not processed .* no job was created"):
        create(folder, max_wait=0)
    fake.settings(fake_openai)["file_polls"] = 1
    fake_openai.fail(200, path="/v1/fine_tuning/jobs", body=b"{not json")
    with pytest.raises(LabelerError, match="malformed answer from the server"):
        create(folder, max_retries=0)
    fake_openai.fail(200, path="/v1/fine_tuning/jobs", body=b'{"object": "fine_tuning.job"}')
    with pytest.raises(LabelerError, match="malformed answer from the server: no `id`"):
        create(folder, max_retries=0)
    fake_openai.fail(200, path="/v1/fine_tuning/jobs", delay=3.0)
    with pytest.raises(LabelerError, match="timed out"):
        create(folder, max_retries=0, timeout=0.3)
    assert job_count() == 0


def test_a_job_the_server_no_longer_knows_is_not_found(db_url, fake_openai, tmp_path):
    job = create(make_chat_export(tmp_path / "oai"))
    fake.jobs(fake_openai).clear()
    with pytest.raises(NotFound, match=f"reading fine-tuning job {job.provider_job_id}.*404"):
        refresh(job.id)
    with pytest.raises(NotFound, match="fine-tuning job `nope` not found"):
        refresh("nope")


def test_no_key_or_no_server_gives_a_clear_message(db_url, fake_openai, tmp_path, monkeypatch):
    folder = make_chat_export(tmp_path / "oai")
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(Invalid, match="no model API key: set the environment variable `OPENAI_API_KEY`"):
        create(folder)
    monkeypatch.setenv("OPENAI_API_KEY", fake_openai.api_key)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # the discard port: nothing listens
    with pytest.raises(LabelerError, match="cannot reach the model server"):
        create(folder, max_retries=0)
    assert fake_openai.requests == [] and job_count() == 0


# -- keys ----------------------------------------------------------------------------------------


@pytest.fixture
def debug_logs(caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("openai", "httpx2", "httpcore2", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def test_the_key_never_reaches_logs_or_the_database(db_url, fake_openai, tmp_path, debug_logs):
    folder = make_chat_export(tmp_path / "oai")
    job = create(folder)
    refresh_until_done(job.id)
    job2 = create(folder)
    with session_scope() as s:
        cancel_job(s, OPERATOR, job2.id)
    assert debug_logs.records, "the SDK logged nothing at DEBUG: the check would prove nothing"
    assert any(r.name.startswith("openai") for r in debug_logs.records)
    key = fake_openai.api_key
    assert key not in debug_logs.text and all(key not in r.getMessage() for r in debug_logs.records)
    assert job.provider_job_id in all_stored_text(db_url) and key not in all_stored_text(db_url)


def test_a_refused_key_is_reported_without_the_key(db_url, fake_openai, tmp_path, monkeypatch, debug_logs):
    folder = make_chat_export(tmp_path / "oai")
    wrong = "sk-wrong-" + "9f8e7d6c5b4a" * 3
    monkeypatch.setenv("OPENAI_API_KEY", wrong)
    with pytest.raises(Invalid) as caught:
        create(folder)
    assert "401 the API key was refused" in str(caught.value) and wrong not in str(caught.value)
    assert wrong not in debug_logs.text and wrong not in all_stored_text(db_url)
    assert job_count() == 0


def test_a_server_that_echoes_the_key_has_it_redacted(db_url, fake_openai, tmp_path, debug_logs):
    folder = make_chat_export(tmp_path / "oai")
    key = fake_openai.api_key
    body = json.dumps({"error": {"message": f"Incorrect API key provided: {key}.", "type": "invalid_request_error",
                                 "param": None, "code": "invalid_api_key"}}).encode()
    fake_openai.fail(401, path="/v1/files", body=body)
    with pytest.raises(Invalid) as caught:
        create(folder)
    assert "Incorrect API key provided" in str(caught.value) and key not in str(caught.value)
    assert key not in all_stored_text(db_url)


def test_public_url_drops_credentials():
    assert public_url("https://user:secret@example.com:8443/v1/?key=abc#x") == "https://example.com:8443/v1"
    assert public_url("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1"


# -- the local server checks what OpenAI checks --------------------------------------------------


def _jsonl(rows: list) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


CHAT = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}
PREF = {"input": {"messages": [{"role": "user", "content": "Hi"}]},
        "preferred_output": [{"role": "assistant", "content": "Hello!"}],
        "non_preferred_output": [{"role": "assistant", "content": "Go away."}]}


@pytest.mark.parametrize(("rows", "message"), [
    ([CHAT, {"messages": [{"role": "user", "content": "Hi"}]}], "line 2: messages: no assistant message"),
    ([{"messages": [{"role": "robot", "content": "Hi"}]}], "line 1: messages[0].role: invalid role 'robot'"),
    ([CHAT, CHAT, {**CHAT, "extra": 1}], "line 3: unrecognized key(s) ['extra']"),
    ([{"messages": [{"role": "user", "content": "Hi", "weight": 1}, CHAT["messages"][1]]}],
     "line 1: messages[0].weight: only assistant messages"),
    ([CHAT, PREF], "line 2: a preference example in a file of chat examples"),
    ([{**PREF, "non_preferred_output": PREF["preferred_output"]}], "line 1: preferred_output and non_preferred_output"),
    ([{**PREF, "preferred_output": [{"role": "user", "content": "x"}]}], "line 1: preferred_output: expected exactly"),
])
def test_the_local_server_refuses_files_openai_would_refuse(rows, message):
    from openai import BadRequestError, OpenAI

    with FakeOpenAI() as api:
        client = OpenAI(base_url=api.base_url, api_key=api.api_key, max_retries=0)
        with pytest.raises(BadRequestError, match=re.escape(message)):
            client.files.create(file=("t.jsonl", _jsonl(rows), "application/jsonl"), purpose="fine-tune")
        with pytest.raises(BadRequestError, match="only `fine-tune`"):
            client.files.create(file=("t.jsonl", _jsonl([CHAT] * 10), "application/jsonl"), purpose="batch")
        assert fake.files(api) == {}


def test_the_local_server_checks_jobs_and_pages_as_the_sdk_expects():
    from openai import BadRequestError, OpenAI

    with FakeOpenAI() as api:
        client = OpenAI(base_url=api.base_url, api_key=api.api_key, max_retries=0)
        few = client.files.create(file=("few.jsonl", _jsonl([CHAT] * 9), "application/jsonl"), purpose="fine-tune")
        chat = client.files.create(file=("c.jsonl", _jsonl([CHAT] * 10), "application/jsonl"), purpose="fine-tune")
        with pytest.raises(BadRequestError, match="not ready"):  # still `uploaded`: nobody waited
            client.fine_tuning.jobs.create(model="m", training_file=chat.id)
        assert client.files.retrieve(few.id).status == client.files.retrieve(chat.id).status == "processed"
        with pytest.raises(BadRequestError, match="has 9 example"):
            client.fine_tuning.jobs.create(model="m", training_file=few.id)
        with pytest.raises(BadRequestError, match="needs preference examples"):
            client.fine_tuning.jobs.create(model="m", training_file=chat.id,
                                           method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.1}}})
        with pytest.raises(BadRequestError, match="beta: unknown for `supervised`"):
            client.fine_tuning.jobs.create(model="m", training_file=chat.id, method={
                "type": "supervised", "supervised": {"hyperparameters": {"beta": 0.1}}})
        ids = [client.fine_tuning.jobs.create(model="m", training_file=chat.id).id for _ in range(3)]
        first = client.fine_tuning.jobs.list(limit=2)
        assert first.has_more and [j.id for j in first.data] == ids[::-1][:2]
        assert [j.id for j in client.fine_tuning.jobs.list(limit=2)] == ids[::-1]  # auto-paging follows `after`
        for _ in range(3):
            client.fine_tuning.jobs.retrieve(ids[0])
        events = list(client.fine_tuning.jobs.list_events(ids[0], limit=2))
        assert len(events) == 8 and events[0].message == "The job has successfully completed"
        assert [c.step_number for c in client.fine_tuning.jobs.checkpoints.list(ids[0])] == [30, 20, 10]
