"""A real HTTP server on 127.0.0.1 that speaks the parts of the OpenAI API this project uses.

The openai SDK talks to it over HTTP exactly as it would to OpenAI or vLLM: nothing is mocked inside
the test process. It keeps every request it received (to check what the SDK sent), checks the API
key, and can be told to misbehave:

    with FakeOpenAI() as api:
        api.fail(429, times=1)                    # the next request gets a 429, then all is well
        api.fail(500, path="/v1/chat", times=3)   # three 500s for chat completions
        api.fail(200, body=b"{not json")          # a malformed answer
        api.fail(200, delay=5.0)                  # a slow answer (client timeouts)
        client = OpenAI(base_url=api.base_url, api_key=api.api_key)

Routes live in topic modules (chat.py, finetune.py), each with `install(server)`, which registers
handlers with `server.route(method, pattern)`. A handler gets the server, the Request and the regex
match, and returns `(status, json_object)`; state (files, jobs, ...) lives on `server.state`.
"""

from __future__ import annotations

import importlib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ROUTE_MODULES = ("chat", "finetune")
TEST_API_KEY = "sk-fake-" + "0123456789abcdef" * 2  # the only key the server accepts


@dataclass
class Request:
    """One request as received (kept in `FakeOpenAI.requests`)."""

    method: str
    path: str  # without the query string
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Fault:
    """How the next matching request(s) misbehave."""

    status: int
    path: str = ""  # only requests whose path starts with this ("" = any)
    times: int = 1
    delay: float = 0.0
    body: bytes | None = None  # raw body; None = an OpenAI-shaped error for the status
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[["FakeOpenAI", Request, re.Match[str]], tuple[int, Any]]


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # listen backlog: many clients connecting at once (benchmarks at concurrency 32)

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that gave up (timeout tests): quiet
            super().handle_error(request, client_address)


def error_body(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    """The error object OpenAI answers with."""
    kind = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
            429: "rate_limit_exceeded"}.get(status, "server_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class FakeOpenAI:
    """The server; use as a context manager or call start()/stop()."""

    def __init__(self, *, api_key: str = TEST_API_KEY, latency: float = 0.0) -> None:
        self.api_key = api_key
        self.latency = latency  # seconds added to every answer (a model's time to respond)
        self.requests: list[Request] = []
        self.state: dict[str, Any] = {}
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        for name in ROUTE_MODULES:
            importlib.import_module(f"{__package__}.{name}").install(self)

    # -- configuration ---------------------------------------------------------------------------

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        """Register a handler for `method` and a full-match regex on the path (e.g. r"/v1/files/([^/]+)")."""
        def register(handler: Handler) -> Handler:
            self._routes.append((method, re.compile(pattern), handler))
            return handler
        return register

    def fail(self, status: int, *, path: str = "", times: int = 1, delay: float = 0.0, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> None:
        """Make the next `times` requests under `path` answer `status` (after `delay` seconds)."""
        with self._lock:
            self._faults.append(Fault(status, path, times, delay, body, dict(headers or {})))

    def received(self, path_prefix: str = "") -> list[Request]:
        """The requests received so far under `path_prefix`."""
        with self._lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "the server is not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> FakeOpenAI:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects
            disable_nagle_algorithm = True  # headers and body go out at once (no 40 ms delayed-ACK stall)

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _serve(self) -> None:
                server._serve(self)

            do_GET = do_POST = do_DELETE = _serve  # noqa: N815

        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name="fake-openai", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving ---------------------------------------------------------------------------------

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        path, _, query = h.path.partition("?")
        length = int(h.headers.get("Content-Length") or 0)
        request = Request(h.command, path, query, {k.lower(): v for k, v in h.headers.items()},
                          h.rfile.read(length) if length else b"")
        with self._lock:
            self.requests.append(request)
        status, payload, headers = self._answer(request)
        if self.latency:
            time.sleep(self.latency)
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            h.send_header(name, value)
        h.end_headers()
        h.wfile.write(body)

    def _answer(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, error_body(401, "Incorrect API key provided.", "invalid_api_key"), {}
        fault = self._take_fault(request.path)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status != 200 or fault.body is not None:
                body = fault.body if fault.body is not None else error_body(fault.status, f"injected {fault.status}")
                return fault.status, body, fault.headers
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if method == request.method and match:
                try:
                    status, payload = handler(self, request, match)
                except ValueError as e:  # a handler's check of what the client sent failed
                    return 400, error_body(400, str(e)), {}
                return status, payload, {}
        return 404, error_body(404, f"no route for {request.method} {request.path}", "not_found"), {}
