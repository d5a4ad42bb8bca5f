"""A real HTTP server standing in for PagerDuty's Events API v2 (``POST /v2/enqueue``).

It checks every request against the documented contract (developer.pagerduty.com, "Send an
Alert Event") and answers as PagerDuty does: 202 ``{"status": "success", ...}`` for a valid
event, 400 ``{"status": "invalid event", "errors": [...]}`` otherwise. Responses can be
scripted (e.g. 500, or 429 with Retry-After) and the server can be stopped and restarted on
the same port, to stage an outage. Independent of the project's code, so a contract test
checks what went over the wire.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ACTIONS = {"trigger", "acknowledge", "resolve"}
SEVERITIES = {"critical", "error", "warning", "info"}
TOP_LEVEL = {"routing_key", "event_action", "dedup_key", "payload", "images", "links"}
TOP_LEVEL |= {"client", "client_url"}
PAYLOAD = {"summary", "source", "severity", "timestamp", "component", "group", "class"}
PAYLOAD |= {"custom_details"}


def contract_violations(method: str, path: str, content_type: str, body: bytes) -> list[str]:
    """Everything about one request that breaks the Events API v2 contract."""
    problems = []
    if method != "POST":
        problems.append(f"method {method}, expected POST")
    if path != "/v2/enqueue":
        problems.append(f"path {path}, expected /v2/enqueue")
    if content_type.split(";")[0].strip() != "application/json":
        problems.append(f"Content-Type {content_type!r}, expected application/json")
    try:
        event = json.loads(body)
    except ValueError:
        return [*problems, "body is not JSON"]
    if not isinstance(event, dict):
        return [*problems, "body is not a JSON object"]
    problems += [f"unknown field {key!r}" for key in sorted(set(event) - TOP_LEVEL)]
    key = event.get("routing_key")
    if not isinstance(key, str) or len(key) != 32:
        problems.append("routing_key must be a 32-character string")
    action = event.get("event_action")
    if action not in ACTIONS:
        problems.append(f"event_action {action!r} not one of {sorted(ACTIONS)}")
    dedup = event.get("dedup_key")
    if not isinstance(dedup, str) or not 1 <= len(dedup) <= 255:
        problems.append("dedup_key must be a string of 1 to 255 characters")
    payload = event.get("payload")
    if action == "trigger":
        problems += _payload_violations(payload)
    elif payload is not None:
        problems.append(f"payload sent with {action} (only a trigger carries one)")
    return problems


def _payload_violations(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return ["a trigger needs a payload object"]
    problems = [f"unknown payload field {key!r}" for key in sorted(set(payload) - PAYLOAD)]
    summary = payload.get("summary")
    if not isinstance(summary, str) or not 1 <= len(summary) <= 1024:
        problems.append("payload.summary must be a string of 1 to 1024 characters")
    if not isinstance(payload.get("source"), str) or not payload["source"]:
        problems.append("payload.source must be a non-empty string")
    if payload.get("severity") not in SEVERITIES:
        problems.append(f"payload.severity {payload.get('severity')!r} not in {sorted(SEVERITIES)}")
    if "timestamp" in payload:
        try:
            datetime.fromisoformat(str(payload["timestamp"]))
        except ValueError:
            problems.append("payload.timestamp is not ISO 8601")
    for name in ("component", "group", "class"):
        if name in payload and not isinstance(payload[name], str):
            problems.append(f"payload.{name} must be a string")
    if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
        problems.append("payload.custom_details must be an object")
    return problems


@dataclass(frozen=True)
class Received:
    """One request: what came in, what was answered, and when."""

    body: bytes
    headers: dict[str, str]
    status: int
    at: float
    violations: tuple[str, ...]

    @property
    def event(self) -> dict[str, Any]:
        """The request body as JSON."""
        value: dict[str, Any] = json.loads(self.body)
        return value


@dataclass
class PagerDutyStandIn:
    """The stand-in: ``start()``, ``stop()`` and ``start()`` again on the same port."""

    scripted: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """The Events API URL to configure."""
        return f"http://127.0.0.1:{self.port}/v2/enqueue"

    def script(self, *responses: int | tuple[int, dict[str, str]]) -> None:
        """Answer the next valid requests with these statuses (then 202 again)."""
        with self.lock:
            self.scripted.extend(r if isinstance(r, tuple) else (r, {}) for r in responses)

    def accepted(self) -> list[dict[str, Any]]:
        """Events answered 202, in arrival order."""
        with self.lock:
            return [r.event for r in self.received if r.status == 202]

    def violations(self) -> list[str]:
        """Every contract violation seen."""
        with self.lock:
            return [v for r in self.received for v in r.violations]

    def start(self) -> None:
        """Listen (on the same port as before, after a stop)."""
        state = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                violations = contract_violations(
                    self.command, self.path, self.headers.get("Content-Type", ""), body
                )
                headers: dict[str, str] = {}
                with state.lock:
                    if violations:
                        status = 400
                        answer: dict[str, Any] = {
                            "status": "invalid event",
                            "message": "Event object is invalid",
                            "errors": violations,
                        }
                    else:
                        status, headers = state.scripted.pop(0) if state.scripted else (202, {})
                        answer = (
                            {
                                "status": "success",
                                "message": "Event processed",
                                "dedup_key": json.loads(body)["dedup_key"],
                            }
                            if status == 202
                            else {"status": "error", "message": "scripted failure"}
                        )
                    state.received.append(
                        Received(
                            body, dict(self.headers.items()), status, time.time(), tuple(violations)
                        )
                    )
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_POST = _handle
            do_GET = _handle
            do_PUT = _handle

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop listening: connections are refused until the next ``start()``."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
