"""AppTest helpers: the real app script against a real migrated database (LABELER_DATABASE_URL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from labeler.services.actors import Actor

ROOT = Path(__file__).resolve().parents[2]
MAIN = ROOT / "labeler" / "app" / "main.py"
VIEWS = ROOT / "labeler" / "app" / "views"


def new_app() -> AppTest:
    """The app as a fresh browser session would see it (not run yet)."""
    return AppTest.from_file(str(MAIN), default_timeout=30)


def app_as(actor: Actor, page: str | None = None) -> AppTest:
    """The app, run once, with `actor` logged in (as the login form leaves it), on `page` if given."""
    at = new_app()
    at.session_state["user"] = {"id": actor.id}
    at.run()
    if page is not None:
        at.switch_page(f"views/{page}.py").run()
    assert not at.exception, at.exception
    return at


def errors(at: AppTest) -> list[str]:
    """The texts of every st.error shown."""
    return [e.value for e in at.error]


def successes(at: AppTest) -> list[str]:
    """The texts of every st.success shown."""
    return [e.value for e in at.success]


@pytest.fixture(autouse=True)
def _no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """No model is configured unless a test says so."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def control_data(at: AppTest, name: str) -> dict:
    """What the page handed its client-side control `name` (`rank`, `editor`) to render."""
    import json

    [control] = [e for e in at.get("bidi_component") if e.proto.component_name == f"labeler_{name}"]
    return json.loads(control.proto.json)


def editor_texts(at: AppTest) -> list[str]:
    """The texts the Demonstrate editor shows, turn by turn."""
    return [t["content"] for t in control_data(at, "editor")["turns"]]


def editor_send(at: AppTest, aid: int, texts: list[str], what: str = "draft") -> AppTest:
    """What the editor's JavaScript sends: a debounced `draft` or a `submit`, with these turn texts."""
    turns = [{"role": "assistant" if i % 2 == 0 else "user", "content": t} for i, t in enumerate(texts)]
    at.session_state[f"demo.editor.{aid}"] = {what: {"aid": aid, "turns": turns}}
    return at.run()
