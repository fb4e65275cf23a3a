"""Fine-tuning (admins): remote jobs on an OpenAI-compatible API and local TRL runs, in one list.

Remote jobs: launch from a recorded export, follow (events, checkpoint losses), cancel; each action is
one service call (`start_finetune`, `refresh_finetune`, `cancel_finetune`) that runs its network steps
outside any database transaction.

Local runs (`labeler train`, provider `local`): start one from a recorded export whose format a TRL
trainer takes (`start_training` checks it and returns at once: the run is its own process), follow its
status, step, loss curves and log (read from the run's files; Refresh stores them with
`refresh_training`), cancel it (`stop_run` waits for the worker with no transaction open, then
`cancel_training` records it), and add a finished sft/dpo/kto model to a project's generation models
(`use_trained_model`). Nothing here imports torch or TRL: only the worker process does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import streamlit as st

from labeler.app import deps
from labeler.errors import LabelerError
from labeler.services.demo_model import demo_base_model
from labeler.services.export import list_exports
from labeler.services.finetune import (
    METHOD_FORMATS,
    TERMINAL,
    cancel_finetune,
    get_job,
    job_checkpoints,
    job_events,
    list_jobs,
    loss_curve,
    refresh_finetune,
    start_finetune,
)
from labeler.services.projects import list_projects
from labeler.services.train import (
    FORMATS,
    KINDS,
    LOG_LINES,
    PROVIDER,
    TrainRequest,
    cancel_training,
    log_tail,
    refresh_training,
    start_training,
    stop_run,
    training_curve,
    training_error,
    training_summary,
    use_trained_model,
)

K = "finetune."  # session_state namespace of this page
METHOD_OF = {fmt: method for method, formats in METHOD_FORMATS.items() for fmt in formats}
STATUS_ICON = {"succeeded": ":material/check_circle:", "failed": ":material/error:",
               "cancelled": ":material/cancel:", "running": ":material/play_circle:"}
STATUS_COLOR = {"succeeded": "green", "failed": "red", "cancelled": "gray"}
TRAINERS = {"sft": "SFT (SFTTrainer)", "reward": "Reward model (RewardTrainer)", "dpo": "DPO (DPOTrainer)",
            "kto": "KTO (KTOTrainer)"}
LOCAL_FORMATS = tuple(dict.fromkeys(fmt for kind in KINDS for fmt in FORMATS[kind]))
GENERATES = ("sft", "dpo", "kto")  # a reward model scores replies; it writes none
CANCEL_WAIT = 15.0  # seconds the worker gets to stop at its next step before it is terminated


def _when(value: Any) -> str:
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, int) else ""


def _action(fn, *args: Any, **kwargs: Any) -> tuple[bool, Any]:  # noqa: ANN001
    """A service call that opens its own sessions: its LabelerError shown, (False, None) returned."""
    try:
        return True, fn(*args, **kwargs)
    except LabelerError as e:
        st.error(str(e))
        return False, None


def _refresh(actor, job_id: int) -> bool:  # noqa: ANN001
    with st.spinner(f"Asking the server about job #{job_id}…"):
        return _action(refresh_finetune, actor, job_id)[0]


def _cancel(actor, job_id: int) -> bool:  # noqa: ANN001
    return _action(cancel_finetune, actor, job_id)[0]


def _new_job(actor) -> None:  # noqa: ANN001
    """Choose a recorded export whose format a method trains on, the model and hyperparameters, launch."""
    ok, exports = deps.call(list_exports, actor, write=False)
    usable = [e for e in exports or [] if e.format in METHOD_OF]
    if not ok:
        return
    if not usable:
        st.info("No export fit for fine-tuning yet: write an `openai-chat`, `sft-messages` or "
                "`openai-preference` export on the Export page first.")
        return
    by_id = {e.id: e for e in usable}
    chosen = by_id[st.selectbox(
        "Export", list(by_id), key=K + "export",
        format_func=lambda i: f"#{i} {by_id[i].format} — {by_id[i].path} "
                              f"({', '.join(f'{k} {v}' for k, v in by_id[i].counts.items())})")]
    method = METHOD_OF[chosen.format]
    st.caption(f"Method: **{method}** (from the export's format `{chosen.format}`)")
    c1, c2 = st.columns(2)
    model = c1.text_input("Base model", key=K + "model", placeholder="gpt-4o-mini-2024-07-18")
    suffix = c2.text_input("Suffix (optional)", key=K + "suffix", max_chars=64)
    c3, c4 = st.columns(2)
    epochs = c3.number_input("Epochs (0 = the server's choice)", 0, 50, 0, key=K + "epochs")
    beta = c4.number_input("Beta (dpo; 0 = the server's choice)", 0.0, 2.0, 0.0, step=0.05, key=K + "beta",
                           disabled=method != "dpo")
    if not st.button("Start fine-tuning", key=K + "start", type="primary", icon=":material/model_training:"):
        return
    options = {"suffix": suffix or None, "epochs": int(epochs) or None,
               "beta": (float(beta) or None) if method == "dpo" else None}
    with st.status("Validating, uploading and creating the job…", expanded=True) as status:
        ok, job = _action(start_finetune, actor, chosen.path, model, method,
                          progress=lambda message: status.write(message), **options)
        status.update(label="Job created" if ok else "Not created", state="complete" if ok else "error")
    if ok:
        deps.flash(f"Fine-tuning job #{job.id} created: {job.provider_job_id}")
        st.rerun()


def _badges(where, job, where_it_runs: str) -> None:  # noqa: ANN001
    """The job's status and where it runs (`local` on this machine, `remote` on a fine-tuning API)."""
    where.badge(job.status, icon=STATUS_ICON.get(job.status), color=STATUS_COLOR.get(job.status, "blue"))
    where.badge(where_it_runs, icon=":material/computer:" if where_it_runs == "local" else ":material/cloud:",
                color="violet" if where_it_runs == "local" else "gray")


def _show_job(actor, job) -> None:  # noqa: ANN001
    """One job: status, models, buttons, losses, checkpoints and events."""
    with st.container(border=True):
        head, refresh, cancel = st.columns([6, 1, 1])
        head.markdown(f"**#{job.id}** `{job.provider_job_id}` — {job.method} on `{job.base_model}`")
        _badges(head, job, "remote")
        if refresh.button("Refresh", key=f"{K}refresh.{job.id}", icon=":material/refresh:"):
            if _refresh(actor, job.id):
                deps.flash(f"Job #{job.id} refreshed.")
                st.rerun()
        if job.status not in TERMINAL and cancel.button("Cancel", key=f"{K}cancel.{job.id}", icon=":material/stop:"):
            if _cancel(actor, job.id):
                deps.flash(f"Job #{job.id} cancelled.")
                st.rerun()
        if job.fine_tuned_model:
            st.markdown(f"Fine-tuned model: `{job.fine_tuned_model}`")
        hp = ", ".join(f"{k} {v}" for k, v in (job.hyperparameters or {}).items()) or "server defaults"
        st.caption(f"Server {job.base_url} · hyperparameters: {hp} · files: train `{job.training_file_id}`"
                   + (f", valid `{job.validation_file_id}`" if job.validation_file_id else "")
                   + (f" · export #{job.export_id}" if job.export_id else ""))
        curve = loss_curve(job)
        if curve:
            st.line_chart(curve, x="step", y=[c for c in ("train_loss", "valid_loss") if any(c in p for p in curve)],
                          height=220)
        checkpoints = job_checkpoints(job)
        if checkpoints:
            st.dataframe([{"step": c.get("step_number"), **c.get("metrics", {}),
                           "checkpoint": c.get("fine_tuned_model_checkpoint")} for c in checkpoints],
                         hide_index=True, width="stretch", key=f"{K}checkpoints.{job.id}")
        events = job_events(job)
        with st.expander(f"Events ({len(events)})", expanded=job.status not in TERMINAL and bool(events)):
            if events:
                st.dataframe([{"time (UTC)": _when(e.get("created_at")), "level": e.get("level"),
                               "message": e.get("message")} for e in reversed(events)],
                             hide_index=True, width="stretch", key=f"{K}events.{job.id}")
            else:
                st.caption("No events yet: press Refresh to ask the server.")


def _new_local_run(actor) -> None:  # noqa: ANN001
    """Choose a recorded export, a trainer that takes its format, a base model folder and settings; start."""
    ok, exports = deps.call(list_exports, actor, write=False)
    if not ok:
        return
    usable = [e for e in exports or [] if e.format in LOCAL_FORMATS]
    if not usable:
        st.caption("No export fit for local training yet: write an "
                   + ", ".join(f"`{f}`" for f in LOCAL_FORMATS) + " export on the Export page first.")
        return
    by_id = {e.id: e for e in usable}
    chosen = by_id[st.selectbox(
        "Export", list(by_id), key=K + "local.export",
        format_func=lambda i: f"#{i} {by_id[i].format} — {by_id[i].path} "
                              f"({', '.join(f'{k} {v}' for k, v in by_id[i].counts.items())})")]
    kinds = [k for k in KINDS if chosen.format in FORMATS[k]]
    kind = st.selectbox("Trainer", kinds, key=f"{K}local.kind.{chosen.format}", format_func=TRAINERS.get,
                        help=f"The trainers that take a `{chosen.format}` export as it is.")
    demo = demo_base_model()
    base = st.text_input(
        "Base model folder", value=str(demo) if demo else "", key=K + "local.base",
        placeholder="/path/to/a/transformers/model (with config.json)",
        help="A local Hugging Face model folder to start from." + (
            " The default is the demo model (SmolLM2-135M-Instruct), converted by `labeler demo`." if demo else ""))
    c1, c2, c3 = st.columns(3)
    epochs = c1.number_input("Epochs", 0.1, 1000.0, 1.0, step=0.5, key=K + "local.epochs")
    max_steps = c2.number_input("Max steps (0 = by epochs)", 0, 10_000_000, 0, key=K + "local.max_steps")
    lr = c3.number_input("Learning rate", 1e-8, 1.0, 5e-5, step=1e-5, format="%.1e", key=K + "local.lr")
    c4, c5, c6 = st.columns(3)
    batch_size = c4.number_input("Batch size", 1, 4096, 2, key=K + "local.batch_size")
    max_length = c5.number_input("Max length (tokens)", 8, 1_000_000, 512, key=K + "local.max_length")
    lora = c6.checkbox("LoRA adapter", key=K + "local.lora", help="Train a PEFT LoRA adapter (needs `peft`).")
    if not st.button("Start local run", key=K + "local.start", type="primary", icon=":material/model_training:"):
        return
    if not base.strip():
        st.error("give the base model folder to start from (a transformers model folder with `config.json`)")
        return
    request = TrainRequest(kind=kind, export_dir=Path(chosen.path), base_model=Path(base.strip()),
                           epochs=float(epochs), max_steps=int(max_steps) or None, lr=float(lr),
                           batch_size=int(batch_size), max_length=int(max_length), lora=lora)
    ok, job = deps.call(start_training, actor, request)
    if ok:
        deps.flash(f"Local training job #{job.id} started: {job.provider_job_id} ({kind} on export #{chosen.id}). "
                   "Refresh follows it.")
        st.rerun()


def _refresh_local(actor, job_id: int) -> bool:  # noqa: ANN001
    return deps.call(refresh_training, actor, job_id)[0]


def _cancel_local(actor, job_id: int) -> bool:  # noqa: ANN001
    """Stop the worker with no transaction open, then record the cancel in one short write."""
    ok, job = deps.call(get_job, actor, job_id, write=False)
    if not ok:
        return False
    with st.spinner(f"Stopping run #{job_id} at its next step…"):
        stop_run(job, wait=CANCEL_WAIT)
    return deps.call(cancel_training, actor, job_id, wait=0)[0]


def _use_for_generation(actor, job, projects: list[Any]) -> None:  # noqa: ANN001
    """A finished sft/dpo/kto run's model as one more generation model of a chosen project."""
    if not projects:
        st.caption("No project yet to generate with this model.")
        return
    ids = [p.id for p in projects]
    pick, use = st.columns([3, 2], vertical_alignment="bottom")
    project = pick.selectbox("Use for generation in project", [p.name for p in projects],
                             index=ids.index(job.project_id) if job.project_id in ids else 0,
                             key=f"{K}use.{job.id}.project")
    if use.button("Use for generation", key=f"{K}use.{job.id}", icon=":material/auto_awesome:"):
        ok, model = deps.call(use_trained_model, actor, job.id, project)
        if ok:
            deps.flash(f"Project `{project}` now generates with `{model}` too.")
            st.rerun()


def _show_local_job(actor, job, projects: list[Any]) -> None:  # noqa: ANN001
    """One local run: status, progress, loss curves, model folder, buttons and the log's last lines."""
    summary = training_summary(job)
    hp = job.hyperparameters or {}
    with st.container(border=True):
        head, refresh, cancel = st.columns([6, 1, 1])
        head.markdown(f"**#{job.id}** `{job.provider_job_id}` — {job.method} on `{job.base_model}`")
        _badges(head, job, "local")
        if refresh.button("Refresh", key=f"{K}refresh.{job.id}", icon=":material/refresh:"):
            if _refresh_local(actor, job.id):
                deps.flash(f"Job #{job.id} refreshed.")
                st.rerun()
        if job.status not in TERMINAL and cancel.button("Cancel", key=f"{K}cancel.{job.id}", icon=":material/stop:"):
            if _cancel_local(actor, job.id):
                deps.flash(f"Job #{job.id} cancelled.")
                st.rerun()
        step, max_steps = summary["step"], summary["max_steps"]
        if isinstance(step, int) and isinstance(max_steps, int) and max_steps > 0:
            st.progress(min(step / max_steps, 1.0), text=f"Step {step} / {max_steps}")
        elif job.status not in TERMINAL:
            st.caption("Step " + (str(step) if isinstance(step, int) else "0: the run is starting"))
        if job.status == "succeeded" and job.fine_tuned_model:
            st.markdown(f"Model folder: `{job.fine_tuned_model}`")
        if job.status == "failed":
            st.warning(f"The run failed: {training_error(job) or 'see its log'}", icon=":material/error:")
        settings = ", ".join(f"{k} {hp[k]}" for k in ("epochs", "max_steps", "lr", "batch_size", "max_length", "lora")
                             if hp.get(k) is not None)
        st.caption(f"Local run · export `{hp.get('export')}` ({hp.get('format')})"
                   + (f" #{job.export_id}" if job.export_id else "")
                   + f" · {settings} · run folder `{hp.get('run_dir')}`")
        curve = training_curve(job)
        if curve:
            st.line_chart(curve, x="step", y=[c for c in ("train_loss", "valid_loss") if any(c in p for p in curve)],
                          height=220)
        if job.status == "succeeded" and job.fine_tuned_model and job.method in GENERATES:
            _use_for_generation(actor, job, projects)
        with st.expander(f"Log (last {LOG_LINES} lines of train.log)", expanded=job.status == "failed"):
            tail = log_tail(job)
            if tail:
                st.code(tail, language=None)
            else:
                st.caption("Nothing logged yet.")


def render_finetune() -> None:
    """The fine-tuning page; every service call refuses anyone but an admin."""
    actor = deps.page_actor()
    st.title("Fine-tuning")
    ok, jobs = deps.call(list_jobs, actor, write=False)  # admins only: refuse anyone else up front
    if not ok:
        return
    st.caption("Remote jobs run on an OpenAI-compatible fine-tuning API (`OPENAI_BASE_URL`, key in "
               "`OPENAI_API_KEY` or the project's key variable). Local runs train with Hugging Face TRL on this "
               "machine, each in a process of its own (`labeler train`; needs `pip install 'labeler[train]'`).")
    with st.expander("New fine-tuning job", icon=":material/add:", expanded=not jobs):
        _new_job(actor)
    with st.expander("New local training run", icon=":material/computer:", expanded=not jobs):
        _new_local_run(actor)
    if not jobs:
        st.info("No fine-tuning jobs yet.")
        return
    unfinished = [j for j in jobs if j.status not in TERMINAL]
    if unfinished and st.button(f"Refresh unfinished jobs ({len(unfinished)})", key=K + "refresh_all",
                                icon=":material/sync:"):
        if all([(_refresh_local if j.provider == PROVIDER else _refresh)(actor, j.id) for j in unfinished]):
            deps.flash(f"{len(unfinished)} job(s) refreshed.")
            st.rerun()
    projects: list[Any] = []
    if any(j.provider == PROVIDER and j.status == "succeeded" for j in jobs):
        projects = deps.call(list_projects, actor, write=False)[1] or []
    for job in jobs:
        if job.provider == PROVIDER:
            _show_local_job(actor, job, projects)
        else:
            _show_job(actor, job)


render_finetune()
