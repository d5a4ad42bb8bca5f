"""A real HTTP server in the benchmark process that records when each page arrives.

It runs in its own thread (the standard library's threading server) so arrival times are
taken when the request is read, not when the benchmark's event loop, busy producing at the
offered rate, gets round to it. It answers every page 200 and does no other work.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from agents.startstop import StartStop


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A worker that stops drops its keep-alive connections; that is not worth a trace."""


@dataclass
class PageRecorder(StartStop):
    """Arrival time and body of every POST, in order."""

    pages: list[tuple[float, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: _Server | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The URL to configure as the worker's pager webhook."""
        if self._server is None:
            raise RuntimeError("the page recorder is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}/page"

    def count(self) -> int:
        """Pages received so far."""
        with self.lock:
            return len(self.pages)

    def since(self, index: int) -> list[tuple[float, bytes]]:
        """Pages received after the first ``index``."""
        with self.lock:
            return self.pages[index:]

    def start(self) -> None:
        """Listen on a free loopback port."""
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver offers

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                arrived = time.time()
                with recorder.lock:
                    recorder.pages.append((arrived, body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: object) -> None:
                """Silence the per-request log line."""

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
