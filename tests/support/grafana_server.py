"""A stand-in Grafana: a real HTTP server in a thread that checks requests against the API docs.

It implements the endpoints ``dashboards.provision`` uses, as Grafana documents them
(``/api/folders``, ``/api/datasources``, ``/api/dashboards``, ``/api/v1/provisioning/...``):
paths, methods, required body fields, uids, ``overwrite``, the ``Authorization: Bearer``
token, and provenance (``X-Disable-Provenance``). It keeps objects by uid, answers 404 for
unknown ones and 409/412/400 where Grafana refuses duplicates, so a provisioner that creates
twice or forgets ``overwrite`` fails. Every departure from the contract is recorded in
``violations`` (the tests assert it stays empty) and answered with the status Grafana would
give. Independent of the provisioner's code on purpose.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: Contact point types Grafana's embedded Alertmanager accepts (a subset suffices here).
CONTACT_POINT_TYPES = frozenset(
    {
        "email",
        "pagerduty",
        "webhook",
        "slack",
        "opsgenie",
        "teams",
        "telegram",
        "prometheus-alertmanager",
    }
)
RULE_STATES_NO_DATA = frozenset({"OK", "Alerting", "NoData", "KeepLast"})
RULE_STATES_ERROR = frozenset({"OK", "Alerting", "Error", "KeepLast"})
#: What Grafana returns instead of a secure setting.
REDACTED = "[REDACTED]"
#: Settings Grafana treats as secure and never returns.
SECURE_SETTINGS = frozenset({"integrationKey", "authorization_credentials", "password"})
#: An environment reference (``$__env{VAR}``, ``${VAR}``) the provisioner should have resolved;
#: dashboard variables (``${datasource}``, ``${__value.raw}``) are lower case or start with ``__``.
_UNRESOLVED = re.compile(r"\$__env\{|\$\{[A-Z][A-Z0-9_]*\}")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int


@dataclass
class FakeGrafana:
    """State and recorded traffic of the stand-in Grafana."""

    token: str
    prefix: str = ""
    port: int = 0
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    alert_rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    rule_groups: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    contact_points: dict[str, dict[str, Any]] = field(default_factory=dict)
    policy: dict[str, Any] | None = None
    provenance: dict[tuple[str, str], str] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    def writes(self) -> list[Request]:
        """Requests that change state (not GET)."""
        return [r for r in self.requests if r.method != "GET"]


class _Refusal(Exception):
    def __init__(self, status: int, message: str, *, violation: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.violation = violation


def _need(body: Any, *keys: str) -> None:
    if not isinstance(body, dict):
        raise _Refusal(400, "body must be a JSON object")
    missing = [key for key in keys if body.get(key) in (None, "")]
    if missing:
        raise _Refusal(400, f"missing required fields: {', '.join(missing)}")


def _provenance(headers: dict[str, str]) -> str:
    return "" if headers.get("x-disable-provenance", "").lower() == "true" else "api"


def _check_rule(grafana: FakeGrafana, rule: dict[str, Any]) -> None:
    _need(rule, "uid", "title", "ruleGroup", "folderUID", "condition", "data", "for", "orgID")
    if rule["folderUID"] not in grafana.folders:
        raise _Refusal(400, f"folder {rule['folderUID']} not found")
    if rule.get("noDataState") not in RULE_STATES_NO_DATA:
        raise _Refusal(400, "invalid noDataState")
    if rule.get("execErrState") not in RULE_STATES_ERROR:
        raise _Refusal(400, "invalid execErrState")
    ref_ids = [query.get("refId") for query in rule["data"]]
    if rule["condition"] not in ref_ids:
        raise _Refusal(400, "condition does not name a query")
    for query in rule["data"]:
        _need(query, "refId", "datasourceUid", "model")
        if query["model"].get("refId") != query["refId"]:
            raise _Refusal(400, "model refId differs from the query's")
        uid = query["datasourceUid"]
        if uid != "__expr__" and uid not in grafana.datasources:
            raise _Refusal(400, f"data source {uid} not found")
    annotations = rule.get("annotations", {})
    if ("__dashboardUid__" in annotations) != ("__panelId__" in annotations):
        raise _Refusal(400, "both annotations __dashboardUid__ and __panelId__ must be specified")
    if (
        "__dashboardUid__" in annotations
        and annotations["__dashboardUid__"] not in grafana.dashboards
    ):
        raise _Refusal(400, "dashboard not found")


class _Routes:
    """One method per documented endpoint; each returns (status, body)."""

    def __init__(self, grafana: FakeGrafana) -> None:
        self.g = grafana
        self.table: list[tuple[str, re.Pattern[str], Callable[..., tuple[int, Any]]]] = [
            ("GET", re.compile(r"/api/folders/(?P<uid>[^/]+)"), self.get_folder),
            ("POST", re.compile(r"/api/folders"), self.post_folder),
            ("PUT", re.compile(r"/api/folders/(?P<uid>[^/]+)"), self.put_folder),
            ("GET", re.compile(r"/api/datasources/uid/(?P<uid>[^/]+)"), self.get_datasource),
            ("POST", re.compile(r"/api/datasources"), self.post_datasource),
            ("PUT", re.compile(r"/api/datasources/uid/(?P<uid>[^/]+)"), self.put_datasource),
            ("GET", re.compile(r"/api/dashboards/uid/(?P<uid>[^/]+)"), self.get_dashboard),
            ("POST", re.compile(r"/api/dashboards/db"), self.post_dashboard),
            ("GET", re.compile(r"/api/v1/provisioning/alert-rules/(?P<uid>[^/]+)"), self.get_rule),
            ("POST", re.compile(r"/api/v1/provisioning/alert-rules"), self.post_rule),
            ("PUT", re.compile(r"/api/v1/provisioning/alert-rules/(?P<uid>[^/]+)"), self.put_rule),
            (
                "PUT",
                re.compile(
                    r"/api/v1/provisioning/folder/(?P<folder>[^/]+)/rule-groups/(?P<group>[^/]+)"
                ),
                self.put_group,
            ),
            ("GET", re.compile(r"/api/v1/provisioning/contact-points"), self.get_points),
            ("POST", re.compile(r"/api/v1/provisioning/contact-points"), self.post_point),
            (
                "PUT",
                re.compile(r"/api/v1/provisioning/contact-points/(?P<uid>[^/]+)"),
                self.put_point,
            ),
            ("PUT", re.compile(r"/api/v1/provisioning/policies"), self.put_policy),
        ]

    # Folders: GET /api/folders/:uid, POST /api/folders, PUT /api/folders/:uid
    def get_folder(self, uid: str, **_: Any) -> tuple[int, Any]:
        if uid not in self.g.folders:
            raise _Refusal(404, "folder not found", violation=False)
        return 200, self.g.folders[uid]

    def post_folder(self, body: Any, **_: Any) -> tuple[int, Any]:
        _need(body, "title", "uid")
        if body["uid"] in self.g.folders:
            raise _Refusal(409, "a folder with the same uid already exists")
        folder = {
            "uid": body["uid"],
            "title": body["title"],
            "id": len(self.g.folders) + 1,
            "version": 1,
        }
        self.g.folders[body["uid"]] = folder
        return 200, folder

    def put_folder(self, uid: str, body: Any, **_: Any) -> tuple[int, Any]:
        _need(body, "title")
        if uid not in self.g.folders:
            raise _Refusal(404, "folder not found")
        if not body.get("overwrite") and body.get("version") != self.g.folders[uid]["version"]:
            raise _Refusal(412, "the folder has been changed by someone else")
        self.g.folders[uid].update(title=body["title"], version=self.g.folders[uid]["version"] + 1)
        return 200, self.g.folders[uid]

    # Datasources: GET /api/datasources/uid/:uid, POST /api/datasources, PUT .../uid/:uid
    def get_datasource(self, uid: str, **_: Any) -> tuple[int, Any]:
        if uid not in self.g.datasources:
            raise _Refusal(404, "Data source not found", violation=False)
        stored = dict(self.g.datasources[uid])
        stored.pop("secureJsonData", None)  # Grafana never returns secrets
        return 200, stored

    def _check_datasource(self, body: Any) -> None:
        _need(body, "name", "type", "access", "uid", "url")
        if body["access"] not in ("proxy", "direct"):
            raise _Refusal(400, "invalid access mode")

    def post_datasource(self, body: Any, **_: Any) -> tuple[int, Any]:
        self._check_datasource(body)
        if body["uid"] in self.g.datasources or any(
            d["name"] == body["name"] for d in self.g.datasources.values()
        ):
            raise _Refusal(409, "data source with the same name or uid already exists")
        self.g.datasources[body["uid"]] = body
        return 200, {"datasource": body, "message": "Datasource added"}

    def put_datasource(self, uid: str, body: Any, **_: Any) -> tuple[int, Any]:
        self._check_datasource(body)
        if uid not in self.g.datasources:
            raise _Refusal(404, "Data source not found")
        if body["uid"] != uid:
            raise _Refusal(400, "uid in body differs from the path")
        self.g.datasources[uid] = body
        return 200, {"datasource": body, "message": "Datasource updated"}

    # Dashboards: GET /api/dashboards/uid/:uid, POST /api/dashboards/db
    def get_dashboard(self, uid: str, **_: Any) -> tuple[int, Any]:
        if uid not in self.g.dashboards:
            raise _Refusal(404, "Dashboard not found", violation=False)
        stored = self.g.dashboards[uid]
        return 200, {"dashboard": stored["dashboard"], "meta": {"folderUid": stored["folderUid"]}}

    def post_dashboard(self, body: Any, **_: Any) -> tuple[int, Any]:
        _need(body, "dashboard")
        dashboard = body["dashboard"]
        _need(dashboard, "uid", "title")
        uid = dashboard["uid"]
        if dashboard.get("id") is not None and uid not in self.g.dashboards:
            raise _Refusal(404, "Dashboard not found (an id was sent for a new dashboard)")
        if uid in self.g.dashboards and body.get("overwrite") is not True:
            raise _Refusal(412, "A dashboard with the same uid already exists")
        folder = body.get("folderUid")
        if folder is not None and folder not in self.g.folders:
            raise _Refusal(400, "folder not found")
        version = self.g.dashboards.get(uid, {}).get("version", 0) + 1
        self.g.dashboards[uid] = {"dashboard": dashboard, "folderUid": folder, "version": version}
        return 200, {
            "id": len(self.g.dashboards),
            "uid": uid,
            "status": "success",
            "version": version,
        }

    # Alert rules: GET/PUT /api/v1/provisioning/alert-rules/:uid, POST .../alert-rules
    def get_rule(self, uid: str, **_: Any) -> tuple[int, Any]:
        if uid not in self.g.alert_rules:
            raise _Refusal(404, "rule not found", violation=False)
        return 200, {**self.g.alert_rules[uid], "provenance": self.g.provenance[("rule", uid)]}

    def post_rule(self, body: Any, headers: dict[str, str], **_: Any) -> tuple[int, Any]:
        _check_rule(self.g, body)
        if body["uid"] in self.g.alert_rules:
            raise _Refusal(409, "a rule with this uid already exists")
        self.g.alert_rules[body["uid"]] = body
        self.g.provenance[("rule", body["uid"])] = _provenance(headers)
        return 201, body

    def put_rule(self, uid: str, body: Any, headers: dict[str, str], **_: Any) -> tuple[int, Any]:
        _check_rule(self.g, body)
        if uid not in self.g.alert_rules:
            raise _Refusal(404, "rule not found")
        if body["uid"] != uid:
            raise _Refusal(400, "uid in body differs from the path")
        if self.g.provenance[("rule", uid)] != _provenance(headers):
            raise _Refusal(400, "cannot change provenance")
        self.g.alert_rules[uid] = body
        return 200, body

    def put_group(
        self, folder: str, group: str, body: Any, headers: dict[str, str], **_: Any
    ) -> tuple[int, Any]:
        _need(body, "title", "folderUid", "interval", "rules")
        if body["title"] != group or body["folderUid"] != folder:
            raise _Refusal(400, "title or folderUid differ from the path")
        if not isinstance(body["interval"], int) or body["interval"] <= 0 or body["interval"] % 10:
            raise _Refusal(400, "interval must be a positive multiple of 10 seconds")
        for rule in body["rules"]:
            _check_rule(self.g, rule)
            if rule["ruleGroup"] != group or rule["folderUID"] != folder:
                raise _Refusal(400, "a rule names another group")
            self.g.alert_rules[rule["uid"]] = rule
            self.g.provenance[("rule", rule["uid"])] = _provenance(headers)
        self.g.rule_groups[(folder, group)] = body
        return 200, body

    # Contact points: GET/POST /api/v1/provisioning/contact-points, PUT .../:uid
    def get_points(self, **_: Any) -> tuple[int, Any]:
        redacted = [
            {
                **point,
                "settings": {
                    k: (REDACTED if k in SECURE_SETTINGS else v)
                    for k, v in point["settings"].items()
                },
            }
            for point in self.g.contact_points.values()
        ]
        return 200, redacted

    def _check_point(self, body: Any) -> None:
        _need(body, "uid", "name", "type", "settings")
        if body["type"] not in CONTACT_POINT_TYPES:
            raise _Refusal(400, f"unknown contact point type {body['type']}")
        if REDACTED in json.dumps(body):
            raise _Refusal(400, "a redacted secret was sent back")

    def post_point(self, body: Any, headers: dict[str, str], **_: Any) -> tuple[int, Any]:
        self._check_point(body)
        if body["uid"] in self.g.contact_points:
            raise _Refusal(400, "a contact point with this uid already exists")
        self.g.contact_points[body["uid"]] = body
        self.g.provenance[("contact point", body["uid"])] = _provenance(headers)
        return 202, body

    def put_point(self, uid: str, body: Any, headers: dict[str, str], **_: Any) -> tuple[int, Any]:
        self._check_point(body)
        if uid not in self.g.contact_points:
            raise _Refusal(404, "contact point not found")
        if self.g.provenance[("contact point", uid)] != _provenance(headers):
            raise _Refusal(400, "cannot change provenance")
        self.g.contact_points[uid] = body
        return 202, {"message": "contactpoint updated"}

    # Notification policies: PUT /api/v1/provisioning/policies
    def put_policy(self, body: Any, headers: dict[str, str], **_: Any) -> tuple[int, Any]:
        _need(body, "receiver")
        names = {point["name"] for point in self.g.contact_points.values()}

        def receivers(route: dict[str, Any]) -> Iterator[str]:
            if "receiver" in route:
                yield route["receiver"]
            for child in route.get("routes", []):
                yield from receivers(child)

        unknown = sorted(set(receivers(body)) - names)
        if unknown:
            raise _Refusal(400, f"receiver {unknown[0]} does not exist")
        self.g.policy = body
        self.g.provenance[("policy", "root")] = _provenance(headers)
        return 202, {"message": "policies updated"}


@contextmanager
def fake_grafana(token: str, *, prefix: str = "") -> Iterator[FakeGrafana]:
    """Run a :class:`FakeGrafana` on a free loopback port for the ``with`` block."""
    grafana = FakeGrafana(token=token, prefix=prefix)
    routes = _Routes(grafana)

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length) if length else b""
            headers = {key.lower(): value for key, value in self.headers.items()}
            path = self.path.split("?", 1)[0]
            status, payload = self._dispatch(path, headers, raw)
            with grafana.lock:
                body = json.loads(raw) if raw else None
                grafana.requests.append(Request(self.command, path, headers, body, status))
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _dispatch(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
            try:
                if headers.get("authorization") != f"Bearer {grafana.token}":
                    raise _Refusal(401, "Unauthorized")
                if not path.startswith(grafana.prefix + "/api/"):
                    raise _Refusal(404, f"not under {grafana.prefix}/api/: {path}")
                path = path[len(grafana.prefix) :]
                body: Any = None
                if raw:
                    if not headers.get("content-type", "").startswith("application/json"):
                        raise _Refusal(415, "bodies must be application/json")
                    body = json.loads(raw)
                    if _UNRESOLVED.search(raw.decode()):
                        raise _Refusal(400, "an environment reference was sent unresolved")
                for method, pattern, handler in routes.table:
                    match = pattern.fullmatch(path)
                    if method == self.command and match:
                        with grafana.lock:
                            return handler(body=body, headers=headers, **match.groupdict())
                raise _Refusal(404, f"no such endpoint: {self.command} {path}")
            except _Refusal as refusal:
                if refusal.violation:
                    with grafana.lock:
                        grafana.violations.append(f"{self.command} {path}: {refusal.message}")
                return refusal.status, {"message": refusal.message}

        do_GET = do_POST = do_PUT = do_DELETE = _handle

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    grafana.port = server.server_address[1]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield grafana
    finally:
        server.shutdown()
        server.server_close()
