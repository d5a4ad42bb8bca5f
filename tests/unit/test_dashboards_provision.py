"""Contract tests of ``detoxmon grafana provision`` against a stand-in Grafana.

The stand-in (``tests.support.grafana_server``) checks every request against Grafana's
documented HTTP API and keeps objects by uid; running the provisioner twice proves it is
idempotent: the second run updates by uid and creates nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboards import alerting
from dashboards.common import DATASOURCE_V1_UID, DATASOURCE_V2_UID
from dashboards.export import DASHBOARDS, dashboard_json
from dashboards.provision import Action, ProvisionError, provision, read_token, resolve_env
from tests.support.grafana_server import FakeGrafana, fake_grafana

TOKEN = "glsa_test-token-0123456789abcdef"
ENVIRON = {
    "DETOXMON_GRAFANA_TOKEN": TOKEN,
    "DETOXMON_GRAFANA_INFLUX_URL": "http://influxdb:8086",
    "DETOXMON_GRAFANA_INFLUX2_URL": "http://influxdb2:8086",
    "DETOXMON_GRAFANA_INFLUX2_TOKEN": "influx2-secret-token",
    "DETOXMON_GRAFANA_PAGERDUTY_KEY": "pagerduty-secret-key",
    "DETOXMON_GRAFANA_WEBHOOK_URL": "https://pager.example.org/grafana",
    "DETOXMON_GRAFANA_WEBHOOK_TOKEN": "webhook-secret-token",
    "DETOXMON_GRAFANA_ENGINEERING_EMAILS": "oncall@example.org",
    "DETOXMON_GRAFANA_CLINICAL_EMAILS": "clinical-lead@example.org",
}
SECRETS = [value for key, value in ENVIRON.items() if "TOKEN" in key or "KEY" in key]


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    with fake_grafana(TOKEN) as server:
        yield server


def _counts(actions: list[Action]) -> Counter[tuple[str, str]]:
    return Counter((action.verb, action.kind) for action in actions)


def test_first_run_creates_everything_and_second_run_only_updates_by_uid(
    grafana: FakeGrafana,
) -> None:
    first = provision(grafana.url, environ=ENVIRON)
    assert grafana.violations == []
    rules = [rule.uid for spec in alerting.rule_specs() for rule in [spec]]
    assert _counts(first) == {
        ("created", "folder"): 1,
        ("created", "datasource"): 2,
        ("created", "dashboard"): len(DASHBOARDS),
        ("created", "contact point"): len(alerting.contact_points()),
        ("updated", "notification policy"): 1,
        ("created", "alert rule"): len(rules),
        ("updated", "rule group"): len(alerting.rule_groups()),
    }
    state = (
        dict(grafana.folders),
        dict(grafana.datasources),
        {uid: d["dashboard"] for uid, d in grafana.dashboards.items()},
        dict(grafana.alert_rules),
        dict(grafana.contact_points),
        grafana.policy,
    )
    writes_before = len(grafana.writes())

    second = provision(grafana.url, environ=ENVIRON)
    assert grafana.violations == []
    assert not [a for a in second if a.verb == "created"]
    assert ("unchanged", "folder") in _counts(second)
    second_writes = grafana.writes()[writes_before:]
    assert {(r.method, r.path) for r in second_writes if r.method == "POST"} == {
        ("POST", "/api/dashboards/db")  # the documented upsert, with overwrite
    }
    assert (
        dict(grafana.folders),
        dict(grafana.datasources),
        {uid: d["dashboard"] for uid, d in grafana.dashboards.items()},
        dict(grafana.alert_rules),
        dict(grafana.contact_points),
        grafana.policy,
    ) == state
    assert sorted(grafana.alert_rules) == sorted(rules)
    assert all(d["version"] == 2 for d in grafana.dashboards.values())


def test_every_request_carries_the_bearer_token_and_json(grafana: FakeGrafana) -> None:
    provision(grafana.url, environ=ENVIRON)
    assert grafana.requests
    for request in grafana.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        if request.body is not None:
            assert request.headers["content-type"].startswith("application/json")
        assert "x-disable-provenance" not in request.headers


def test_dashboards_are_posted_by_uid_with_overwrite_into_the_folder(grafana: FakeGrafana) -> None:
    provision(grafana.url, environ=ENVIRON, datasource_uid=DATASOURCE_V2_UID)
    posts = [r for r in grafana.requests if r.path == "/api/dashboards/db"]
    assert len(posts) == len(DASHBOARDS)
    for request, build in zip(posts, DASHBOARDS.values(), strict=True):
        expected = json.loads(dashboard_json(build(DATASOURCE_V2_UID)))
        assert request.body == {
            "dashboard": {**expected, "id": None},
            "folderUid": alerting.FOLDER_UID,
            "overwrite": True,
            "message": "detoxmon grafana provision",
        }
    for stored in grafana.dashboards.values():
        [variable] = [
            v for v in stored["dashboard"]["templating"]["list"] if v["type"] == "datasource"
        ]
        assert variable["current"]["value"] == DATASOURCE_V2_UID


def test_alert_rules_query_the_chosen_datasource_with_grafana_macros_intact(
    grafana: FakeGrafana,
) -> None:
    provision(grafana.url, environ=ENVIRON, datasource_uid=DATASOURCE_V2_UID)
    for rule in grafana.alert_rules.values():
        query = rule["data"][0]
        assert query["datasourceUid"] == DATASOURCE_V2_UID
        assert "$timeFilter" in query["model"]["query"]
        assert "$$" not in json.dumps(rule)
    groups = {title: body["interval"] for (_folder, title), body in grafana.rule_groups.items()}
    assert groups == {group.title: alerting.GROUP_INTERVAL_S for group in alerting.rule_groups()}


def test_secrets_are_resolved_from_the_environment_and_sent_only_where_they_belong(
    grafana: FakeGrafana,
) -> None:
    provision(grafana.url, environ=ENVIRON)
    pagerduty = grafana.contact_points[alerting.ONCALL_PAGERDUTY]["settings"]
    assert pagerduty["integrationKey"] == ENVIRON["DETOXMON_GRAFANA_PAGERDUTY_KEY"]
    webhook = grafana.contact_points[alerting.WARD_WEBHOOK]["settings"]
    assert webhook["authorization_credentials"] == ENVIRON["DETOXMON_GRAFANA_WEBHOOK_TOKEN"]
    v2 = grafana.datasources[DATASOURCE_V2_UID]
    assert v2["secureJsonData"] == {"httpHeaderValue1": "Token influx2-secret-token"}
    assert grafana.datasources[DATASOURCE_V1_UID]["url"] == "http://influxdb:8086"
    for request in grafana.requests:
        if request.path.startswith("/api/dashboards"):
            assert not any(secret in json.dumps(request.body) for secret in SECRETS)


def test_disable_provenance_is_sent_on_every_alerting_write(grafana: FakeGrafana) -> None:
    provision(grafana.url, environ=ENVIRON, disable_provenance=True)
    provision(grafana.url, environ=ENVIRON, disable_provenance=True)
    assert grafana.violations == []
    alerting_writes = [r for r in grafana.writes() if r.path.startswith("/api/v1/provisioning/")]
    assert alerting_writes
    assert all(r.headers.get("x-disable-provenance") == "true" for r in alerting_writes)
    assert set(grafana.provenance.values()) == {""}


def test_changing_provenance_is_refused_as_grafana_does(grafana: FakeGrafana) -> None:
    provision(grafana.url, environ=ENVIRON)
    with pytest.raises(ProvisionError, match="cannot change provenance"):
        provision(grafana.url, environ=ENVIRON, disable_provenance=True)


def test_a_missing_variable_stops_the_run_before_any_request(grafana: FakeGrafana) -> None:
    environ = {k: v for k, v in ENVIRON.items() if k != "DETOXMON_GRAFANA_PAGERDUTY_KEY"}
    with pytest.raises(ProvisionError, match="DETOXMON_GRAFANA_PAGERDUTY_KEY") as raised:
        provision(grafana.url, environ=environ)
    assert grafana.requests == []
    assert not any(secret in str(raised.value) for secret in SECRETS)


def test_a_wrong_token_is_reported_without_echoing_it(grafana: FakeGrafana) -> None:
    environ = {**ENVIRON, "DETOXMON_GRAFANA_TOKEN": "wrong-token"}
    with pytest.raises(ProvisionError, match="Unauthorized") as raised:
        provision(grafana.url, environ=environ)
    assert "wrong-token" not in str(raised.value)


def test_the_token_can_come_from_a_file(grafana: FakeGrafana, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    environ = {k: v for k, v in ENVIRON.items() if k != "DETOXMON_GRAFANA_TOKEN"}
    provision(grafana.url, environ=environ, token_file=token_file)
    assert grafana.violations == []
    assert read_token({"DETOXMON_GRAFANA_TOKEN_FILE": str(token_file)}) == TOKEN
    with pytest.raises(ProvisionError, match="no Grafana API token"):
        read_token({})


def test_a_url_with_a_path_prefix_is_honoured() -> None:
    with fake_grafana(TOKEN, prefix="/grafana") as grafana:
        provision(grafana.url, environ=ENVIRON)
        assert grafana.violations == []
        assert len(grafana.dashboards) == len(DASHBOARDS)


def test_resolve_env_substitutes_both_reference_forms() -> None:
    document = {"a": "Token $__env{X}", "b": ["${Y}/path"], "c": 3, "d": "$timeFilter"}
    assert resolve_env(document, {"X": "1", "Y": "2"}) == {
        "a": "Token 1",
        "b": ["2/path"],
        "c": 3,
        "d": "$timeFilter",
    }


def test_the_cli_provisions_and_never_prints_the_token(grafana: FakeGrafana) -> None:
    detoxmon = Path(sys.executable).with_name("detoxmon")
    result = subprocess.run(  # the real console script, as an operator runs it
        [str(detoxmon), "grafana", "provision", "--url", grafana.url, "--influx-api-version", "2"],
        env={**os.environ, **ENVIRON},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "created dashboard detoxmon-ward" in output
    assert not any(secret in output for secret in [TOKEN, *SECRETS])
    assert grafana.violations == []
    rule = grafana.alert_rules[alerting.HEARTBEAT_RULE_UID]
    assert rule["data"][0]["datasourceUid"] == DATASOURCE_V2_UID
