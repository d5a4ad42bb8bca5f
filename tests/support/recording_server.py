"""A real HTTP server in a thread that records every request, standing in for a pager.

Independent of the project's own receiver, so contract tests check what actually went over
the wire. Responses can be scripted (status codes in order, then 200 for ever).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class RecordingServer:
    scripted_statuses: list[int] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/page"

    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self) -> list[RecordedRequest]:
        """Requests answered with 2xx (the ones a real receiver would have taken)."""
        with self.lock:
            return [r for r in self.requests if 200 <= r.status < 300]


@contextmanager
def recording_server(scripted_statuses: list[int] | None = None) -> Iterator[RecordingServer]:
    state = RecordingServer(scripted_statuses=list(scripted_statuses or []))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with state.lock:
                status = state.scripted_statuses.pop(0) if state.scripted_statuses else 200
                state.requests.append(
                    RecordedRequest("POST", self.path, dict(self.headers.items()), body, status)
                )
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
