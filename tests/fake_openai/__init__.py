"""A local OpenAI-compatible HTTP server for tests and benchmarks (see server.py)."""

from tests.fake_openai.server import TEST_API_KEY, FakeOpenAI, Request

__all__ = ["TEST_API_KEY", "FakeOpenAI", "Request"]
