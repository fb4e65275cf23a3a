"""The fine-tuning steps chained in one session the tests hold (the service's own sequences open their
sessions around the network call: `start_finetune`, `refresh_finetune`, `cancel_finetune`)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from db.models import FinetuneJob
from labeler.services.actors import Actor
from labeler.services.finetune import (
    MAX_RETRIES,
    apply_job_state,
    job_target,
    mark_cancelled,
    prepare_finetune,
    record_finetune_job,
)
from labeler.services.finetune_server import (
    MAX_WAIT,
    POLL_INTERVAL,
    TIMEOUT,
    Progress,
    cancel_on_server,
    fetch_job_state,
    launch_finetune,
)


def create_finetune_job(
    session: Session, actor: Actor, export_dir: str | Path, model: str, method: str = "supervised",
    suffix: str | None = None, epochs: int | None = None, beta: float | None = None, *,
    batch_size: int | None = None, learning_rate_multiplier: float | None = None,
    progress: Progress | None = None, poll_interval: float = POLL_INTERVAL, max_wait: float = MAX_WAIT,
    timeout: float = TIMEOUT, max_retries: int = MAX_RETRIES,
) -> FinetuneJob:
    """Validate an export, upload it, create the job and record it, in the one session given."""
    plan = prepare_finetune(session, actor, export_dir, model, method, suffix=suffix, epochs=epochs, beta=beta,
                            batch_size=batch_size, learning_rate_multiplier=learning_rate_multiplier)
    launched = launch_finetune(plan, progress, poll_interval=poll_interval, max_wait=max_wait, timeout=timeout,
                               max_retries=max_retries)
    return record_finetune_job(session, actor, launched)


def refresh_job(session: Session, actor: Actor, job: FinetuneJob | int | str, *,
                max_retries: int = MAX_RETRIES) -> FinetuneJob:
    """Fetch a job's status, events and checkpoints from its server and store them (admins only)."""
    target = job_target(session, actor, job)
    state = fetch_job_state(target.endpoint, target.provider_job_id, max_retries=max_retries)
    return apply_job_state(session, actor, target.id, state)


def cancel_job(session: Session, actor: Actor, job: FinetuneJob | int | str, *,
               max_retries: int = MAX_RETRIES) -> FinetuneJob:
    """Cancel a job on its server and record it (admins only)."""
    target = job_target(session, actor, job)
    return mark_cancelled(session, actor, target.id, cancel_on_server(target, max_retries=max_retries))
