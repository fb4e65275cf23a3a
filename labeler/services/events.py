"""The audit log: one row per change that matters, written in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from db.models import Event
from labeler.redaction import redact_value
from labeler.services.actors import Actor


def record_event(
    session: Session, actor: Actor, action: str, object_type: str, object_id: int | None, **details: Any
) -> None:
    """Append an audit event. Never pass secrets in `details` (key-shaped text is redacted all the same)."""
    session.add(
        Event(
            actor_id=actor.id,
            actor_name=actor.username,
            action=action,
            object_type=object_type,
            object_id=object_id,
            details=redact_value(details),
        )
    )
