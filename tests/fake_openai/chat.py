"""Routes of the fake OpenAI server: chat (filled in by the model-in-the-loop issue)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.fake_openai.server import FakeOpenAI


def install(server: FakeOpenAI) -> None:
    """Register this module's routes on `server`."""
