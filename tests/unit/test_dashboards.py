"""The generated Grafana tree: committed copy up to date, SDK round trip, threshold, targets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models import dashboard as dashboard_models

from agents.engine import PULSE_HIGH
from dashboards import InfluxQLQuery, export_tree, patient
from dashboards.export import dashboard_json, render_tree
from schemas.vitals import VITAL_FIELDS

COMMITTED_TREE = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
REGENERATE = "run `detoxmon grafana export deploy/grafana` and commit the result"


def _files(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(render_tree()["dashboards/patient-vitals.json"])
    return data


def _panel(title: str) -> dict[str, Any]:
    panels: list[dict[str, Any]] = [p for p in _dashboard()["panels"] if p["title"] == title]
    assert len(panels) == 1, title
    return panels[0]


def test_committed_tree_matches_the_generator(tmp_path: Path) -> None:
    written = export_tree(tmp_path)
    generated = _files(tmp_path)
    committed = _files(COMMITTED_TREE)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == sorted(generated)
    assert sorted(committed) == sorted(generated), (
        f"deploy/grafana file list is stale: {REGENERATE}"
    )
    for name, content in generated.items():
        assert committed[name] == content, f"deploy/grafana/{name} is stale: {REGENERATE}"


def test_export_is_deterministic(tmp_path: Path) -> None:
    export_tree(tmp_path / "a")
    export_tree(tmp_path / "b")
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    text = (tmp_path / "a" / "dashboards" / "patient-vitals.json").read_text()
    assert text.endswith("}\n")
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"


def test_dashboard_round_trips_through_the_sdk_models() -> None:
    register_default_plugins()  # the SDK does not do it itself; typed panel options need it
    text = dashboard_json(patient.build())
    model = dashboard_models.Dashboard.from_json(json.loads(text))

    again = json.dumps(model, cls=JSONEncoder, sort_keys=True, indent=2) + "\n"
    assert again == text
    assert model.panels is not None
    assert len(model.panels) == len(patient.VITALS) + 1
    for panel in model.panels:
        assert isinstance(panel, dashboard_models.Panel)
        assert panel.targets
        assert all(isinstance(target, InfluxQLQuery) for target in panel.targets)
    [heart_rate] = [p for p in model.panels if p.title == patient.HEART_RATE.title]
    assert isinstance(heart_rate, dashboard_models.Panel)
    assert heart_rate.field_config is not None
    thresholds = heart_rate.field_config.defaults.thresholds
    assert thresholds is not None
    assert [step.value for step in thresholds.steps] == [None, PULSE_HIGH.threshold]


def test_influxql_query_keeps_fields_it_does_not_model() -> None:
    saved_by_grafana = {
        "refId": "B",
        "datasource": {"type": "influxdb", "uid": patient.DATASOURCE_UID},
        "query": 'SELECT "spo2" FROM "vitals"',
        "rawQuery": False,
        "resultFormat": "time_series",
        "measurement": "vitals",
        "groupBy": [{"type": "time", "params": ["$__interval"]}],
    }
    query = InfluxQLQuery.from_json(saved_by_grafana)
    assert json.loads(json.dumps(query, cls=JSONEncoder)) == saved_by_grafana


def test_heart_rate_threshold_is_the_pager_threshold() -> None:
    panel = _panel(patient.HEART_RATE.title)
    defaults = panel["fieldConfig"]["defaults"]
    steps = defaults["thresholds"]["steps"]
    assert {"value": PULSE_HIGH.threshold, "color": "red"} in steps
    assert defaults["custom"]["thresholdsStyle"]["mode"] == "line+area"
    assert defaults["unit"] == patient.GRAFANA_UNITS[PULSE_HIGH.unit]
    assert f'("{PULSE_HIGH.vital}")' in panel["targets"][0]["query"]


def test_every_target_uses_the_datasource_and_a_raw_query() -> None:
    dashboard = _dashboard()
    targets = [target for panel in dashboard["panels"] for target in panel["targets"]]
    assert targets
    for target in targets:
        assert target["datasource"] == {"type": "influxdb", "uid": patient.DATASOURCE_UID}
        assert target["rawQuery"] is True
        assert target["query"].strip().upper().startswith("SELECT ")
        assert "$timeFilter" in target["query"]
        assert patient.PATIENT_FILTER in target["query"]
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == patient.DATASOURCE_UID
    for variable in dashboard["templating"]["list"]:
        assert variable["datasource"]["uid"] == patient.DATASOURCE_UID
        assert variable["query"].startswith('SHOW TAG VALUES FROM "vitals"')


def test_every_vital_has_a_panel_with_a_unit() -> None:
    shown = {field for vital in patient.VITALS for field, _ in vital.fields}
    assert shown == set(VITAL_FIELDS)
    for vital in patient.VITALS:
        assert _panel(vital.title)["fieldConfig"]["defaults"]["unit"]


def test_dashboard_identity() -> None:
    dashboard = _dashboard()
    assert dashboard["uid"] == patient.UID
    assert "generated" in dashboard["tags"]
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["ward", "patient"]


def test_provisioning_points_at_the_same_datasource() -> None:
    tree = render_tree()
    datasources = yaml.safe_load(tree["provisioning/datasources/detoxmon.yaml"])["datasources"]
    [datasource] = datasources
    assert datasource["uid"] == patient.DATASOURCE_UID
    assert datasource["type"] == "influxdb"
    assert datasource["url"] == "${DETOXMON_GRAFANA_INFLUX_URL}"
    assert datasource["jsonData"]["dbName"] == "detoxmon"
    [provider] = yaml.safe_load(tree["provisioning/dashboards/detoxmon.yaml"])["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"]
