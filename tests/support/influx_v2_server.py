"""A real HTTP server in a thread that speaks InfluxDB 2.x's documented API, for the v2 path.

No InfluxDB 2.x can run here (shared/reference/platform-notes.md), so this stands in for one,
checking every request against the documented contract
(https://docs.influxdata.com/influxdb/v2/api/) rather than against what our client happens to
send:

- ``POST /api/v2/write`` (operation PostWrite): query parameters ``org`` (or ``orgID``) and
  ``bucket`` required, ``precision`` one of ``ns us ms s``; ``Authorization: Token <token>``;
  ``Content-Type: text/plain``; ``Content-Encoding`` ``gzip`` (the body must decompress) or
  ``identity``. Answers 204; 400 ``invalid`` for bad line protocol; 401 ``unauthorized``; 404
  ``not found`` for an unknown org or bucket; 413 ``request too large`` above
  ``max_body_bytes``; scripted 429/500/503, with ``Retry-After`` when given.
- The line protocol itself is judged by a real parser: the decompressed body is written to an
  InfluxDB 1.x (``oracle_url``), which shares the line protocol with 2.x, and its 400 becomes
  ours. What was written can be queried there.
- The management endpoints ``detoxmon influx setup`` uses (orgs, buckets, tasks, DBRP
  mappings) keep their state in memory, with the documented status codes (201 on create, 422
  for a duplicate bucket name).

A request that breaks the contract is answered 400 with code ``contract`` and its reason is
appended to ``violations``; tests assert that list is empty.
"""

from __future__ import annotations

import gzip
import itertools
import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PRECISIONS = {"ns", "us", "ms", "s"}
_TASK_OPTION = re.compile(r'option\s+task\s*=\s*\{\s*name:\s*"([^"]+)"\s*,\s*every:\s*(\w+)')


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw_body: bytes
    body: bytes
    status: int


@dataclass
class InfluxV2Server:
    """State of the fake server; see the module docstring."""

    token: str
    org: str
    oracle_url: str
    oracle_db: str
    max_body_bytes: int = 10_000_000
    scripted: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    orgs: dict[str, dict[str, Any]] = field(default_factory=dict)
    buckets: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    dbrps: dict[str, dict[str, Any]] = field(default_factory=dict)
    port: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def new_id(self) -> str:
        return f"{next(self._ids):016x}"

    def add_bucket(self, name: str, every_seconds: int = 0) -> dict[str, Any]:
        org_id = next(iter(self.orgs))
        bucket = {
            "id": self.new_id(),
            "orgID": org_id,
            "name": name,
            "type": "user",
            "retentionRules": [{"type": "expire", "everySeconds": every_seconds}],
        }
        self.buckets[bucket["id"]] = bucket
        return bucket

    def writes(self) -> list[RecordedRequest]:
        with self.lock:
            return [r for r in self.requests if r.path == "/api/v2/write"]

    def mutations(self) -> list[RecordedRequest]:
        """Requests that change management state (POST, PATCH, DELETE other than writes)."""
        with self.lock:
            return [
                r
                for r in self.requests
                if r.method in {"POST", "PATCH", "DELETE"} and r.path != "/api/v2/write"
            ]


class _Answer(Exception):
    def __init__(self, status: int, body: dict[str, Any] | None, headers: dict[str, str]) -> None:
        self.status = status
        self.body = body
        self.headers = headers


def _error(status: int, code: str, message: str, **headers: str) -> _Answer:
    return _Answer(status, {"code": code, "message": message}, headers)


def _oracle_write(state: InfluxV2Server, body: bytes) -> None:
    url = f"{state.oracle_url}/write?" + urllib.parse.urlencode(
        {"db": state.oracle_db, "precision": "ns"}
    )
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=10):
            return
    except urllib.error.HTTPError as exc:
        detail = json.loads(exc.read() or b"{}").get("error", "")
        raise _error(400, "invalid", detail) from exc


class _Handler(BaseHTTPRequestHandler):
    state: InfluxV2Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        state = self.state
        parsed = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length) if length else b""
        headers = dict(self.headers.items())
        body = raw
        status, payload, extra = 500, None, {}
        try:
            self._authorise(headers)
            body = self._decode(headers, raw)
            result = self._route(method, parsed.path, query, headers, body)
            status, payload = result
        except _Answer as answer:
            status, payload, extra = answer.status, answer.body, answer.headers
        with state.lock:
            state.requests.append(
                RecordedRequest(method, parsed.path, query, headers, raw, body, status)
            )
        data = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(status)
        for name, value in extra.items():
            self.send_header(name, value)
        if data:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    def _violation(self, reason: str) -> _Answer:
        with self.state.lock:
            self.state.violations.append(reason)
        return _error(400, "contract", reason)

    def _authorise(self, headers: dict[str, str]) -> None:
        if headers.get("Authorization") != f"Token {self.state.token}":
            raise _error(401, "unauthorized", "unauthorized access")

    def _decode(self, headers: dict[str, str], raw: bytes) -> bytes:
        encoding = headers.get("Content-Encoding", "identity")
        if encoding == "identity":
            return raw
        if encoding != "gzip":
            raise self._violation(f"Content-Encoding {encoding!r} is neither gzip nor identity")
        try:
            return gzip.decompress(raw)
        except OSError as exc:
            raise self._violation(f"Content-Encoding gzip but the body is not gzip: {exc}") from exc

    def _route(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any] | None]:
        state = self.state
        if path == "/api/v2/write":
            if method != "POST":
                raise self._violation(f"{method} {path}: writes are POST")
            return self._write(query, headers, body)
        json_body = json.loads(body) if body else {}
        with state.lock:
            if path == "/api/v2/orgs" and method == "GET":
                wanted = query.get("org")
                orgs = [o for o in state.orgs.values() if wanted in (None, o["name"])]
                return 200, {"orgs": orgs}
            if path == "/api/v2/buckets" and method == "GET":
                name = query.get("name")
                buckets = [b for b in state.buckets.values() if name in (None, b["name"])]
                return 200, {"buckets": buckets}
            if path == "/api/v2/buckets" and method == "POST":
                return self._create_bucket(json_body)
            if path.startswith("/api/v2/buckets/") and method == "PATCH":
                bucket = self._find(state.buckets, path)
                bucket.update(
                    {k: v for k, v in json_body.items() if k in ("name", "retentionRules")}
                )
                return 200, bucket
            if path == "/api/v2/tasks" and method == "GET":
                name = query.get("name")
                tasks = [t for t in state.tasks.values() if name in (None, t["name"])]
                return 200, {"tasks": tasks}
            if path == "/api/v2/tasks" and method == "POST":
                return self._create_task(json_body)
            if path.startswith("/api/v2/tasks/") and method == "PATCH":
                task = self._find(state.tasks, path)
                if "flux" in json_body:
                    task.update(self._task_fields(json_body["flux"]))
                if "status" in json_body:
                    task["status"] = json_body["status"]
                return 200, task
            if path == "/api/v2/dbrps" and method == "GET":
                if "orgID" not in query and "org" not in query:
                    raise self._violation("GET /api/v2/dbrps needs orgID or org")
                db = query.get("db")
                found = [d for d in state.dbrps.values() if db in (None, d["database"])]
                return 200, {"content": found}
            if path == "/api/v2/dbrps" and method == "POST":
                return self._create_dbrp(json_body)
            if path.startswith("/api/v2/dbrps/") and method == "DELETE":
                state.dbrps.pop(self._find(state.dbrps, path)["id"])
                return 204, None
        raise self._violation(f"{method} {path} is not an endpoint this stand-in knows")

    def _write(
        self, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any] | None]:
        state = self.state
        if "bucket" not in query:
            raise self._violation("write without the bucket query parameter")
        if "org" not in query and "orgID" not in query:
            raise self._violation("write without org or orgID")
        precision = query.get("precision", "ns")
        if precision not in PRECISIONS:
            raise self._violation(f"precision {precision!r} not one of {sorted(PRECISIONS)}")
        if not headers.get("Content-Type", "").startswith("text/plain"):
            raise self._violation(f"Content-Type {headers.get('Content-Type')!r} is not text/plain")
        with state.lock:
            if state.scripted:
                status, extra = state.scripted.pop(0)
                raise _Answer(status, {"code": "scripted", "message": f"scripted {status}"}, extra)
            org_known = any(
                query.get("org") == o["name"] or query.get("orgID") == o["id"]
                for o in state.orgs.values()
            )
            bucket_known = any(b["name"] == query["bucket"] for b in state.buckets.values())
        if not org_known:
            raise _error(404, "not found", f'organization name "{query.get("org")}" not found')
        if not bucket_known:
            raise _error(404, "not found", f'bucket "{query["bucket"]}" not found')
        if len(body) > state.max_body_bytes:
            raise _error(413, "request too large", "unable to read data: too large")
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _error(400, "invalid", "line protocol is not UTF-8") from exc
        _oracle_write(state, body)
        return 204, None

    def _find(self, table: dict[str, dict[str, Any]], path: str) -> dict[str, Any]:
        key = path.rstrip("/").rsplit("/", 1)[1]
        if key not in table:
            raise _error(404, "not found", f"{key} not found")
        return table[key]

    def _create_bucket(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        state = self.state
        if body.get("orgID") not in state.orgs:
            raise self._violation(f"bucket create with unknown orgID {body.get('orgID')!r}")
        if not body.get("name"):
            raise self._violation("bucket create without a name")
        if any(b["name"] == body["name"] for b in state.buckets.values()):
            raise _error(422, "conflict", f"bucket with name {body['name']} already exists")
        for rule in body.get("retentionRules", []):
            if rule.get("type") != "expire" or not isinstance(rule.get("everySeconds"), int):
                raise self._violation(f"bad retention rule {rule!r}")
        bucket = {
            "id": state.new_id(),
            "orgID": body["orgID"],
            "name": body["name"],
            "type": "user",
            "retentionRules": body.get("retentionRules", []),
        }
        state.buckets[bucket["id"]] = bucket
        return 201, bucket

    def _task_fields(self, flux: str) -> dict[str, Any]:
        match = _TASK_OPTION.search(flux)
        if match is None:
            raise self._violation("task Flux has no 'option task = {name: ..., every: ...}'")
        return {"flux": flux, "name": match.group(1), "every": match.group(2)}

    def _create_task(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        state = self.state
        if body.get("orgID") not in state.orgs:
            raise self._violation(f"task create with unknown orgID {body.get('orgID')!r}")
        task = {
            "id": state.new_id(),
            "orgID": body["orgID"],
            "status": body.get("status", "active"),
            "description": body.get("description", ""),
            **self._task_fields(body.get("flux", "")),
        }
        state.tasks[task["id"]] = task
        return 201, task

    def _create_dbrp(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        state = self.state
        for name in ("orgID", "bucketID", "database", "retention_policy"):
            if not body.get(name):
                raise self._violation(f"DBRP create without {name}")
        if body["bucketID"] not in state.buckets:
            raise _error(404, "not found", "bucket not found")
        dbrp = {
            "id": state.new_id(),
            "orgID": body["orgID"],
            "bucketID": body["bucketID"],
            "database": body["database"],
            "retention_policy": body["retention_policy"],
            "default": bool(body.get("default", False)),
            "virtual": False,
        }
        state.dbrps[dbrp["id"]] = dbrp
        return 201, dbrp


@contextmanager
def influx_v2_server(
    *, token: str, org: str, oracle_url: str, oracle_db: str, buckets: tuple[str, ...] = ()
) -> Iterator[InfluxV2Server]:
    """Run the stand-in on a free loopback port for the ``with`` block."""
    state = InfluxV2Server(token=token, org=org, oracle_url=oracle_url, oracle_db=oracle_db)
    org_id = state.new_id()
    state.orgs[org_id] = {"id": org_id, "name": org}
    for name in buckets:
        state.add_bucket(name)
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
