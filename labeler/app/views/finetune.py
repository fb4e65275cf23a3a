"""Fine-tuning (admins): launch a job from a recorded export, follow jobs (events, checkpoint losses), cancel.

Each action is one service call (`start_finetune`, `refresh_finetune`, `cancel_finetune`), which runs
its network steps outside any database transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import streamlit as st

from labeler.app import deps
from labeler.errors import LabelerError
from labeler.services.export import list_exports
from labeler.services.finetune import (
    METHOD_FORMATS,
    TERMINAL,
    cancel_finetune,
    job_checkpoints,
    job_events,
    list_jobs,
    loss_curve,
    refresh_finetune,
    start_finetune,
)

K = "finetune."  # session_state namespace of this page
METHOD_OF = {fmt: method for method, formats in METHOD_FORMATS.items() for fmt in formats}
STATUS_ICON = {"succeeded": ":material/check_circle:", "failed": ":material/error:",
               "cancelled": ":material/cancel:", "running": ":material/play_circle:"}


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


def _show_job(actor, job) -> None:  # noqa: ANN001
    """One job: status, models, buttons, losses, checkpoints and events."""
    with st.container(border=True):
        head, refresh, cancel = st.columns([6, 1, 1])
        head.markdown(f"**#{job.id}** `{job.provider_job_id}` — {job.method} on `{job.base_model}`")
        head.badge(job.status, icon=STATUS_ICON.get(job.status),
                   color={"succeeded": "green", "failed": "red", "cancelled": "gray"}.get(job.status, "blue"))
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


def render_finetune() -> None:
    """The fine-tuning page; every service call refuses anyone but an admin."""
    actor = deps.page_actor()
    st.title("Fine-tuning")
    ok, jobs = deps.call(list_jobs, actor, write=False)  # admins only: refuse anyone else up front
    if not ok:
        return
    st.caption("Jobs run on an OpenAI-compatible fine-tuning API (`OPENAI_BASE_URL`, key in `OPENAI_API_KEY` "
               "or the project's key variable).")
    with st.expander("New fine-tuning job", icon=":material/add:", expanded=not jobs):
        _new_job(actor)
    if not jobs:
        st.info("No fine-tuning jobs yet.")
        return
    unfinished = [j.id for j in jobs if j.status not in TERMINAL]
    if unfinished and st.button(f"Refresh unfinished jobs ({len(unfinished)})", key=K + "refresh_all",
                                icon=":material/sync:"):
        if all([_refresh(actor, job_id) for job_id in unfinished]):
            deps.flash(f"{len(unfinished)} job(s) refreshed.")
            st.rerun()
    for job in jobs:
        _show_job(actor, job)


render_finetune()
