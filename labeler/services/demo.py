"""The demo project: real OpenAssistant conversations, so a new install has work to look at."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Project
from labeler.services.actors import Actor
from labeler.services.ingest import ImportOptions, ImportReport, import_file
from labeler.services.projects import create_project

DEMO_PROJECT = "demo"
DEMO_FILE = Path(__file__).resolve().parents[1] / "demo" / "oasst_en_100_tree.jsonl"
DEMO_GUIDELINES = """\
# Demo guidelines

Write the reply a helpful, honest and harmless assistant would give. When ranking, put the most
helpful truthful answer first; flag hallucinations and replies that ignore the instruction.
"""


def ensure_demo_project(session: Session, actor: Actor) -> ImportReport | None:
    """Create the `demo` project from the bundled sample, unless it exists (then None)."""
    if session.scalar(select(Project.id).where(Project.name == DEMO_PROJECT)) is not None:
        return None
    create_project(session, actor, DEMO_PROJECT, DEMO_GUIDELINES, {"k_min": 2, "k_max": 5})
    return import_file(session, actor, DEMO_PROJECT, DEMO_FILE, ImportOptions(format="oasst-tree"))
