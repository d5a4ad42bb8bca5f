"""Upsert the generated Grafana objects through Grafana's HTTP API, idempotently.

``detoxmon grafana provision --url URL`` is the alternative to file provisioning
(``detoxmon grafana export``) for a Grafana whose disk we do not control. It writes, in order:

1. the folder (``GET /api/folders/:uid``, then ``POST /api/folders`` or ``PUT`` if renamed);
2. both InfluxDB datasources (``GET /api/datasources/uid/:uid``, then ``POST`` or ``PUT``);
3. the dashboards (``POST /api/dashboards/db`` with ``overwrite: true``: by uid);
4. the contact points (listed, then ``POST`` new ones with their uid or ``PUT`` by uid);
5. the notification policy tree (``PUT /api/v1/provisioning/policies``: the whole tree);
6. every alert rule (``GET`` by uid, then ``POST`` or ``PUT``), then its rule group
   (``PUT /api/v1/provisioning/folder/:folderUid/rule-groups/:group``, for the interval).

Everything is addressed by a fixed uid, so a second run updates what the first created and
creates nothing. Alerting resources written through the API get provenance ``api`` and are
read-only in Grafana's UI, like the file-provisioned dashboards; ``disable_provenance`` sends
``X-Disable-Provenance: true`` to leave them editable. Do not mix with file provisioning of
the same alerting resources: Grafana refuses API changes to file-provisioned ones.

The token comes from ``DETOXMON_GRAFANA_TOKEN``, or a file (``--token-file`` or
``DETOXMON_GRAFANA_TOKEN_FILE``), and is sent only as ``Authorization: Bearer``. Secrets the
objects reference as ``$__env{VAR}``/``${VAR}`` are read from this process's environment; a
missing one stops the run before anything is written, naming the variable, never a value.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from dashboards import alerting
from dashboards.common import DEFAULT_DATASOURCE_UID
from dashboards.export import DASHBOARDS, ENV_REFERENCE, datasources, to_plain

log = logging.getLogger(__name__)

TOKEN_ENV = "DETOXMON_GRAFANA_TOKEN"  # noqa: S105 - a name, not a secret
TOKEN_FILE_ENV = "DETOXMON_GRAFANA_TOKEN_FILE"  # noqa: S105 - a name, not a secret
COMMIT_MESSAGE = "detoxmon grafana provision"


class ProvisionError(Exception):
    """Provisioning cannot start or Grafana refused a request; the message names no secret."""


Verb = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class Action:
    """One object the run wrote (or found as wanted)."""

    verb: Verb
    kind: str
    uid: str

    def __str__(self) -> str:
        return f"{self.verb} {self.kind} {self.uid}"


def read_token(environ: Mapping[str, str], token_file: Path | None = None) -> str:
    """The API token: from ``token_file``, else ``DETOXMON_GRAFANA_TOKEN``, else its ``_FILE``."""
    if token_file is None and environ.get(TOKEN_ENV):
        return environ[TOKEN_ENV].strip()
    path = token_file or (Path(environ[TOKEN_FILE_ENV]) if environ.get(TOKEN_FILE_ENV) else None)
    if path is None:
        raise ProvisionError(
            f"no Grafana API token: set {TOKEN_ENV}, or {TOKEN_FILE_ENV} or --token-file to a "
            "file holding it"
        )
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ProvisionError(f"cannot read the token file {path}: {exc.strerror}") from None
    if not token:
        raise ProvisionError(f"the token file {path} is empty")
    return token


def env_references(value: Any) -> set[str]:
    """Names of the environment variables referenced in every string of ``value``."""
    if isinstance(value, str):
        return {re.sub(r"^\$(?:__env)?\{|\}$", "", ref) for ref in ENV_REFERENCE.findall(value)}
    if isinstance(value, dict):
        return set().union(*(env_references(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(env_references(item) for item in value))
    return set()


def resolve_env(value: Any, environ: Mapping[str, str]) -> Any:
    """``value`` with every ``${VAR}``/``$__env{VAR}`` replaced by the variable's value.

    Raises:
        ProvisionError: naming the variables that are not set (never their values).
    """
    missing = sorted(name for name in env_references(value) if not environ.get(name))
    if missing:
        raise ProvisionError(f"environment variables not set: {', '.join(missing)}")

    def substitute(item: Any) -> Any:
        if isinstance(item, str):
            return ENV_REFERENCE.sub(
                lambda match: environ[re.sub(r"^\$(?:__env)?\{|\}$", "", match.group(0))], item
            )
        if isinstance(item, dict):
            return {key: substitute(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [substitute(inner) for inner in item]
        return item

    return substitute(value)


def connect(url: str, token: str, *, timeout_s: float = 10.0) -> Any:
    """A grafana-client ``GrafanaApi`` for ``url`` (any path prefix), sending ``token``.

    Typed ``Any``: grafana-client ships ``py.typed`` but leaves its element methods unannotated.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProvisionError(f"not an http(s) URL: {url!r}")
    prefix = parts.path.strip("/")
    return GrafanaApi(
        auth=token,
        host=parts.hostname,
        port=parts.port,
        protocol=parts.scheme,
        url_path_prefix=f"{prefix}/" if prefix else "",
        timeout=timeout_s,
    )


def _is_not_found(exc: GrafanaClientError) -> bool:
    return bool(exc.status_code == 404)


class Provisioner:
    """Writes every generated object to one Grafana, idempotently (see the module docstring)."""

    def __init__(
        self,
        api: Any,
        *,
        environ: Mapping[str, str],
        datasource_uid: str = DEFAULT_DATASOURCE_UID,
        disable_provenance: bool = False,
    ) -> None:
        self.api: Any = api
        self.environ = environ
        self.datasource_uid = datasource_uid
        self.disable_provenance = disable_provenance

    def run(self) -> list[Action]:
        """Provision everything; returns what was done, in order."""
        sources = resolve_env(datasources(), self.environ)
        points = [resolve_env(to_plain(point), self.environ) for point in alerting.contact_points()]
        try:
            actions = [self.folder()]
            actions += [self.datasource(source) for source in sources]
            actions += self.dashboards()
            actions += self.contact_points(points)
            actions.append(self.policy())
            actions += self.alert_rules()
        except GrafanaException as exc:
            raise ProvisionError(f"Grafana refused a request: {exc.message}") from None
        return actions

    def folder(self) -> Action:
        """The folder of dashboards and rules, by uid."""
        try:
            existing = self.api.folder.get_folder(alerting.FOLDER_UID)
        except GrafanaClientError as exc:
            if not _is_not_found(exc):
                raise
            self.api.folder.create_folder(alerting.FOLDER_TITLE, uid=alerting.FOLDER_UID)
            return Action("created", "folder", alerting.FOLDER_UID)
        if existing.get("title") == alerting.FOLDER_TITLE:
            return Action("unchanged", "folder", alerting.FOLDER_UID)
        self.api.folder.update_folder(
            alerting.FOLDER_UID, title=alerting.FOLDER_TITLE, overwrite=True
        )
        return Action("updated", "folder", alerting.FOLDER_UID)

    def datasource(self, source: dict[str, Any]) -> Action:
        """One datasource, by uid."""
        uid = source["uid"]
        try:
            self.api.datasource.get_datasource_by_uid(uid)
        except GrafanaClientError as exc:
            if not _is_not_found(exc):
                raise
            self.api.datasource.create_datasource(source)
            return Action("created", "datasource", uid)
        self.api.datasource.update_datasource_by_uid(uid, source)
        return Action("updated", "datasource", uid)

    def dashboards(self) -> list[Action]:
        """Every dashboard, by uid, overwriting the stored version."""
        actions = []
        for build in DASHBOARDS.values():
            model = to_plain(build(self.datasource_uid))
            uid = model["uid"]
            try:
                self.api.dashboard.get_dashboard(uid)
                verb: Verb = "updated"
            except GrafanaClientError as exc:
                if not _is_not_found(exc):
                    raise
                verb = "created"
            self.api.dashboard.update_dashboard(
                {
                    "dashboard": {**model, "id": None},
                    "folderUid": alerting.FOLDER_UID,
                    "overwrite": True,
                    "message": COMMIT_MESSAGE,
                }
            )
            actions.append(Action(verb, "dashboard", uid))
        return actions

    def contact_points(self, points: list[dict[str, Any]]) -> list[Action]:
        """Every contact point, by uid."""
        provisioning = self.api.alertingprovisioning
        existing = {point.get("uid") for point in provisioning.get_contactpoints()}
        actions = []
        for point in points:
            uid = point["uid"]
            if uid in existing:
                provisioning.update_contactpoint(
                    uid, point, disable_provenance=self.disable_provenance
                )
                actions.append(Action("updated", "contact point", uid))
            else:
                provisioning.create_contactpoint(point, disable_provenance=self.disable_provenance)
                actions.append(Action("created", "contact point", uid))
        return actions

    def policy(self) -> Action:
        """The notification policy tree, replaced whole."""
        self.api.alertingprovisioning.set_notification_policy_tree(
            to_plain(alerting.notification_policy()), disable_provenance=self.disable_provenance
        )
        return Action("updated", "notification policy", "root")

    def alert_rules(self) -> list[Action]:
        """Every rule by uid, then each group's interval."""
        provisioning = self.api.alertingprovisioning
        actions = []
        for group in alerting.rule_groups(self.datasource_uid):
            body = to_plain(group)
            for rule in body["rules"]:
                uid = rule["uid"]
                try:
                    provisioning.get_alertrule(uid)
                except GrafanaClientError as exc:
                    if not _is_not_found(exc):
                        raise
                    provisioning.create_alertrule(rule, disable_provenance=self.disable_provenance)
                    actions.append(Action("created", "alert rule", uid))
                    continue
                provisioning.update_alertrule(uid, rule, disable_provenance=self.disable_provenance)
                actions.append(Action("updated", "alert rule", uid))
            provisioning.update_rule_group(
                alerting.FOLDER_UID,
                body["title"],
                body,
                disable_provenance=self.disable_provenance,
            )
            actions.append(Action("updated", "rule group", body["title"]))
        return actions


def provision(
    url: str,
    *,
    token_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    datasource_uid: str = DEFAULT_DATASOURCE_UID,
    disable_provenance: bool = False,
    timeout_s: float = 10.0,
) -> list[Action]:
    """Provision the Grafana at ``url``; see the module docstring.

    Args:
        url: Grafana's base URL, e.g. ``https://grafana.example.org`` or ``http://host/grafana``.
        token_file: a file holding the API token. Defaults to ``DETOXMON_GRAFANA_TOKEN``, then
            ``DETOXMON_GRAFANA_TOKEN_FILE``.
        environ: where tokens and secrets are read. Defaults to ``os.environ``.
        datasource_uid: the datasource the rules query and the dashboards default to.
        disable_provenance: leave alerting resources editable in Grafana's UI.
        timeout_s: per-request timeout.

    Raises:
        ProvisionError: missing token or variables, or Grafana refused a request.
    """
    env = os.environ if environ is None else environ
    api = connect(url, read_token(env, token_file), timeout_s=timeout_s)
    try:
        actions = Provisioner(
            api, environ=env, datasource_uid=datasource_uid, disable_provenance=disable_provenance
        ).run()
    finally:
        api.client.s.close()
    for action in actions:
        log.info("grafana %s", action)
    return actions


def summary(actions: list[Action]) -> str:
    """One line counting the actions by verb, e.g. ``created 14, updated 0, unchanged 0``."""
    verbs: tuple[Verb, ...] = ("created", "updated", "unchanged")
    return ", ".join(f"{verb} {sum(1 for a in actions if a.verb == verb)}" for verb in verbs)
