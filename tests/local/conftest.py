"""Fixtures of the local model tests."""

from __future__ import annotations

import pytest

from tests.local.tiny import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    """The `local:<path>` name of a tiny model folder, built once per test session."""
    return "local:" + str(build_tiny_model(tmp_path_factory.mktemp("tiny-model")))
