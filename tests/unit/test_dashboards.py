"""The generated Grafana tree: committed copy up to date, SDK round trips, thresholds, routing."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models import alerting as alerting_models
from grafana_foundation_sdk.models import dashboard as dashboard_models
from hypothesis import given
from hypothesis import strategies as st

from agents.engine import PULSE_HIGH, default_rules
from agents.engine.rules import ThresholdRule, compare
from dashboards import InfluxQLQuery, alerting, export_tree, patient, pipeline, thresholds, ward
from dashboards.common import DATASOURCE, DATASOURCE_V1_UID, DATASOURCE_V2_UID, GRAFANA_UNITS
from dashboards.export import (
    DASHBOARDS,
    alert_rules_provisioning,
    contact_points_provisioning,
    dashboard_json,
    escape_dollars,
    policies_provisioning,
    render_tree,
    to_plain,
)
from schemas.state import News2Band
from schemas.vitals import VITAL_FIELDS

COMMITTED_TREE = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
REGENERATE = "run `detoxmon grafana export deploy/grafana` and commit the result"

register_default_plugins()  # the SDK does not do it itself; typed panel options need it


def _files(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _dashboard(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(render_tree()[f"dashboards/{name}"])
    return data


def _all_dashboards() -> dict[str, dict[str, Any]]:
    return {name: _dashboard(name) for name in DASHBOARDS}


def _panel(name: str, title: str) -> dict[str, Any]:
    panels = [p for p in _dashboard(name)["panels"] if p["title"] == title]
    assert len(panels) == 1, title
    return panels[0]


def _encode(model: object) -> str:
    return json.dumps(model, cls=JSONEncoder, sort_keys=True, indent=2)


# --- The committed tree ---


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
    for name in DASHBOARDS:
        text = (tmp_path / "a" / "dashboards" / name).read_text()
        assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"


# --- Round trips through the SDK's models ---


@pytest.mark.parametrize("name", DASHBOARDS)
def test_dashboard_round_trips_through_the_sdk_models(name: str) -> None:
    text = dashboard_json(DASHBOARDS[name](DATASOURCE_V1_UID))
    model = dashboard_models.Dashboard.from_json(json.loads(text))
    assert _encode(model) + "\n" == text
    assert model.panels
    for panel in model.panels:
        assert isinstance(panel, dashboard_models.Panel)
        assert panel.targets
        assert all(isinstance(target, InfluxQLQuery) for target in panel.targets)
    annotations = model.annotations.list_val if model.annotations else None
    for annotation in annotations or []:
        assert isinstance(annotation.target, InfluxQLQuery)


def test_alerting_objects_round_trip_through_the_sdk_models() -> None:
    for group in alerting.rule_groups():
        text = _encode(group)
        again = alerting_models.RuleGroup.from_json(json.loads(text))
        assert _encode(again) == text
        assert again.rules
        for rule in again.rules:
            assert isinstance(rule.data[0].model, InfluxQLQuery)
    for point in alerting.contact_points():
        text = _encode(point)
        assert _encode(alerting_models.ContactPoint.from_json(json.loads(text))) == text
    text = _encode(alerting.notification_policy())
    assert _encode(alerting_models.NotificationPolicy.from_json(json.loads(text))) == text


def _unescape(value: Any) -> Any:
    """What Grafana reads from a provisioning file for a value without env references."""
    if isinstance(value, str):
        return value.replace("$$", "$")
    if isinstance(value, dict):
        return {key: _unescape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unescape(item) for item in value]
    return value


def test_alerting_files_hold_exactly_the_sdk_objects() -> None:
    """Reading the provisioning files back gives the SDK's objects, field for field."""
    groups = yaml.safe_load(yaml.safe_dump(alert_rules_provisioning()))["groups"]
    for group, model in zip(groups, alerting.rule_groups(), strict=True):
        api = to_plain(model)
        assert group["name"] == api["title"]
        assert group["folder"] == alerting.FOLDER_TITLE
        assert group["interval"] == f"{api['interval']}s"
        for rule, expected in zip(_unescape(group["rules"]), api["rules"], strict=True):
            annotations = dict(rule["annotations"])
            annotations["__dashboardUid__"] = rule.pop("dashboardUid")
            annotations["__panelId__"] = str(rule.pop("panelId"))
            rebuilt = {
                **rule,
                "annotations": annotations,
                "folderUID": alerting.FOLDER_UID,
                "ruleGroup": group["name"],
                "orgID": group["orgId"],
            }
            assert rebuilt == expected
            text = _encode(alerting_models.Rule.from_json(rebuilt))
            assert json.loads(text) == expected
    points = contact_points_provisioning()["contactPoints"]
    for point, model in zip(points, alerting.contact_points(), strict=True):
        [receiver] = point["receivers"]
        assert {"name": point["name"], **receiver} == {
            "disableResolveMessage": False,
            **to_plain(model),
        }
    [policy] = policies_provisioning()["policies"]
    assert {k: v for k, v in policy.items() if k != "orgId"} == to_plain(
        alerting.notification_policy()
    )


def test_influxql_query_keeps_fields_it_does_not_model() -> None:
    saved_by_grafana = {
        "refId": "B",
        "datasource": {"type": "influxdb", "uid": DATASOURCE_V1_UID},
        "query": 'SELECT "spo2" FROM "vitals"',
        "rawQuery": False,
        "resultFormat": "time_series",
        "measurement": "vitals",
        "groupBy": [{"type": "time", "params": ["$__interval"]}],
        "textColumn": "summary",
        "fromAnnotations": True,
    }
    query = InfluxQLQuery.from_json(saved_by_grafana)
    assert query.text_column == "summary"
    assert json.loads(json.dumps(query, cls=JSONEncoder)) == saved_by_grafana


# --- Thresholds come from the engine's rules ---


def _colour(steps: list[dashboard_models.Threshold], value: float) -> str:
    """The colour Grafana gives ``value``: the last step at or below it."""
    colour = steps[0].color
    for step in steps[1:]:
        assert step.value is not None
        if value >= step.value:
            colour = step.color
    return colour


def _engine_colour(measure: str, value: float, normal: str) -> str:
    """The most urgent priority the rules file's unconditional rules raise at ``value``."""
    rank = {"low": 1, "medium": 2, "high": 3}
    fired: list[str] = []
    for rule in default_rules().rules:
        if not isinstance(rule, ThresholdRule) or rule.measure != measure or not rule.enabled:
            continue
        if rule.only_in_peak_window or rule.on_oxygen is not None or rule.spo2_scale == 2:
            continue
        for threshold, priority in [(rule.threshold, rule.priority)] + [
            (level.threshold, level.priority) for level in rule.levels
        ]:
            if compare(value, rule.op, threshold):
                fired.append(priority)
    return thresholds.PRIORITY_COLOURS[max(fired, key=rank.__getitem__)] if fired else normal


MEASURES = (*VITAL_FIELDS, "news2", "ciwa_b")


@given(
    measure=st.sampled_from(MEASURES),
    value=st.floats(min_value=0, max_value=300, allow_nan=False),
)
def test_grafana_colours_a_value_exactly_as_the_rules_fire(measure: str, value: float) -> None:
    steps = thresholds.measure_steps(measure)
    assert _colour(steps, value) == _engine_colour(measure, value, thresholds.NORMAL_COLOUR)


@pytest.mark.parametrize("measure", MEASURES)
def test_colour_changes_exactly_at_each_threshold(measure: str) -> None:
    for limit in thresholds.limits_for(measure):
        for value in (limit.threshold, math.nextafter(limit.threshold, math.inf)):
            for near in (math.nextafter(value, -math.inf), value):
                assert _colour(thresholds.measure_steps(measure), near) == _engine_colour(
                    measure, near, thresholds.NORMAL_COLOUR
                )


def test_pulse_rule_reaches_the_panels() -> None:
    limits = thresholds.limits_for("heart_rate")
    assert any(
        limit.rule_id == PULSE_HIGH.rule_id and limit.threshold == PULSE_HIGH.threshold
        for limit in limits
    )
    panel = _panel("patient-vitals.json", patient.HEART_RATE.title)
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert {"value": PULSE_HIGH.threshold, "color": thresholds.PRIORITY_COLOURS["medium"]} in steps
    assert panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "line+area"
    assert f'max("{PULSE_HIGH.vital}")' in panel["targets"][0]["query"]


def test_conditional_and_disabled_rules_draw_no_colour() -> None:
    by_id = {rule.id: rule for rule in default_rules().rules}
    drawn = {limit.rule_id for limit in thresholds.engine_limits()}
    for rule_id, rule in by_id.items():
        if isinstance(rule, ThresholdRule) and (
            not rule.enabled or rule.only_in_peak_window or rule.spo2_scale == 2
        ):
            assert rule_id not in drawn


def test_score_bands_agree_with_the_rules_on_the_scores() -> None:
    news2 = {band.name: band for band in thresholds.news2_bands()}
    assert set(news2) == set(News2Band.__args__)
    assert news2["medium"].lowest == thresholds.upward_limit("news2", "medium").threshold
    assert news2["high"].lowest == thresholds.upward_limit("news2", "high").threshold
    ciwa_b = {band.name: band for band in thresholds.ciwa_b_bands()}
    assert ciwa_b["moderate"].lowest == thresholds.upward_limit("ciwa_b", "medium").threshold
    assert ciwa_b["severe"].lowest == thresholds.upward_limit("ciwa_b", "high").threshold
    for bands in (news2, ciwa_b):
        for band in bands.values():
            assert band.colour == (
                thresholds.PRIORITY_COLOURS[band.priority]
                if band.priority
                else thresholds.NORMAL_COLOUR
            )


def _threshold_values(node: Any) -> list[float]:
    values: list[float] = []
    if isinstance(node, dict):
        if "steps" in node and node.get("mode") == "absolute":
            values += [step["value"] for step in node["steps"] if step["value"] is not None]
        for item in node.values():
            values += _threshold_values(item)
    elif isinstance(node, list):
        for item in node:
            values += _threshold_values(item)
    return values


def test_no_panel_has_a_threshold_the_rules_do_not_give() -> None:
    allowed = {limit.breakpoint() for limit in thresholds.engine_limits()}
    allowed.add(alerting.DEADLETTER_SURGE_COUNT + 1)  # where the surge rule fires (counts)
    allowed.add(1)  # "any": the ward's count panels turn on the first patient or alert
    for name, dashboard in _all_dashboards().items():
        for value in _threshold_values(dashboard["panels"]):
            assert value in allowed, (name, value)


# --- Dashboards: identity, datasource, queries, units ---


def test_dashboards_have_stable_uids_the_generated_tag_and_numbered_panels() -> None:
    dashboards = _all_dashboards()
    uids = [dashboard["uid"] for dashboard in dashboards.values()]
    assert uids == [patient.UID, ward.UID, "detoxmon-alerts", pipeline.UID]
    for dashboard in dashboards.values():
        assert "generated" in dashboard["tags"]
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert ids == list(range(1, len(ids) + 1))


def test_every_target_uses_the_datasource_variable_and_a_raw_timed_query() -> None:
    for name, dashboard in _all_dashboards().items():
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "influxdb"
        for panel in dashboard["panels"]:
            assert panel["datasource"] == to_plain(DATASOURCE), name
            for target in panel["targets"]:
                assert target["datasource"] == to_plain(DATASOURCE)
                assert target["rawQuery"] is True
                assert target["query"].startswith("SELECT ")
                assert "$timeFilter" in target["query"]
        for variable in variables.values():
            if variable["type"] == "query":
                assert variable["query"].startswith("SHOW TAG VALUES FROM ")
        for annotation in dashboard.get("annotations", {}).get("list", []):
            assert annotation["target"]["fromAnnotations"] is True
            assert "$timeFilter" in annotation["target"]["query"]


def test_patient_queries_filter_by_patient_and_ward_queries_by_ward() -> None:
    for panel in _dashboard("patient-vitals.json")["panels"]:
        for target in panel["targets"]:
            assert patient.PATIENT_FILTER in target["query"]
    for panel in _dashboard("ward-overview.json")["panels"]:
        for target in panel["targets"]:
            assert '"ward" =~ /^$ward$/' in target["query"]


def test_every_vital_has_a_panel_with_a_unit() -> None:
    shown = {field for vital in patient.VITALS for field, _ in vital.fields}
    assert shown == set(VITAL_FIELDS)
    for vital in patient.VITALS:
        assert _panel("patient-vitals.json", vital.title)["fieldConfig"]["defaults"]["unit"]


def test_ward_table_colours_every_vital_by_its_rules_with_its_unit() -> None:
    panel = _panel("ward-overview.json", "Patients")
    overrides = {
        o["matcher"]["options"]: {p["id"]: p["value"] for p in o["properties"]}
        for o in panel["fieldConfig"]["overrides"]
    }
    for column in ward.VITAL_COLUMNS:
        properties = overrides[column.name]
        steps = [dashboard_models.Threshold.from_json(s) for s in properties["thresholds"]["steps"]]
        assert [s.to_json() for s in steps] == [
            s.to_json() for s in thresholds.measure_steps(column.field)
        ]
        assert properties["unit"] == GRAFANA_UNITS[patient.VITAL_UNITS[column.field]]
    assert overrides["NEWS2 band"]["mappings"][0]["options"]["high"]["color"] == "red"
    assert [t["id"] for t in panel["transformations"]] == ["organize", "merge", "organize"]
    produced = {c.name for _, columns in ward.QUERIES.values() for c in columns}
    assert set(ward.COLUMN_ORDER) == produced | set(ward.KEYS)


def test_patient_dashboard_has_annotations_for_doses_alerts_and_events() -> None:
    annotations = _dashboard("patient-vitals.json")["annotations"]["list"]
    assert [a["name"] for a in annotations] == ["Doses", "Alert transitions", "Clinical events"]
    queries = {a["name"]: a["target"]["query"] for a in annotations}
    assert 'FROM "doses"' in queries["Doses"]
    assert 'FROM "alerts"' in queries["Alert transitions"]


# --- Provisioning files ---


def test_datasources_for_influxdb_1_and_2_with_env_urls_and_token() -> None:
    tree = render_tree()
    document = yaml.safe_load(tree["provisioning/datasources/detoxmon.yaml"])
    v1, v2 = document["datasources"]
    assert (v1["uid"], v2["uid"]) == (DATASOURCE_V1_UID, DATASOURCE_V2_UID)
    assert v1["url"] == "${DETOXMON_GRAFANA_INFLUX_URL}"
    assert v1["jsonData"] == {"version": "InfluxQL", "dbName": "detoxmon", "httpMode": "POST"}
    assert v2["url"] == "${DETOXMON_GRAFANA_INFLUX2_URL}"
    assert v2["jsonData"]["httpHeaderName1"] == "Authorization"
    assert v2["secureJsonData"] == {
        "httpHeaderValue1": "Token $__env{DETOXMON_GRAFANA_INFLUX2_TOKEN}"
    }
    [provider] = yaml.safe_load(tree["provisioning/dashboards/detoxmon.yaml"])["providers"]
    assert provider["type"] == "file"
    assert provider["folder"] == alerting.FOLDER_TITLE


def test_no_secret_is_in_the_tree_only_environment_references() -> None:
    points = contact_points_provisioning()["contactPoints"]
    secret_keys = {"integrationKey", "authorization_credentials", "url", "addresses"}
    for point in points:
        for receiver in point["receivers"]:
            for key, value in receiver["settings"].items():
                if key in secret_keys:
                    assert re.fullmatch(r"\$__env\{DETOXMON_GRAFANA_[A-Z0-9_]+\}", value), key


def test_grafana_interpolation_is_escaped_in_alerting_files() -> None:
    text = render_tree()["provisioning/alerting/rules.yaml"]
    assert "$$timeFilter" in text
    assert "{{ $$labels.ward }}" in text
    assert re.search(r"(?<!\$)\$(?!\$|__env\{|\{)", text.replace("$$", "")) is None
    assert escape_dollars({"a": ["$x ${Y} $__env{Z} $$"]}) == {"a": ["$$x ${Y} $__env{Z} $$$$"]}


# --- Alert rules and routing ---


def test_dead_mans_switch_treats_no_data_as_alerting() -> None:
    rule = to_plain(alerting.rule(alerting.rule_specs()[0]).build())
    assert rule["uid"] == alerting.HEARTBEAT_RULE_UID
    assert rule["noDataState"] == "Alerting"
    assert rule["execErrState"] == "Alerting"
    assert rule["data"][0]["relativeTimeRange"] == {"from": alerting.HEARTBEAT_SILENCE_S, "to": 0}
    assert 'FROM "pipeline_health"' in rule["data"][0]["model"]["query"]


def test_ward_rule_counts_patients_where_the_engine_pages_high_on_news2() -> None:
    query = alerting.ward_news2_query()
    limit = thresholds.upward_limit("news2", "high")
    assert f'WHERE "news2" {limit.op} {limit.threshold:g} GROUP BY "ward"' in query


def test_rules_link_to_real_panels() -> None:
    dashboards = {d["uid"]: d for d in _all_dashboards().values()}
    for group in alerting.rule_groups():
        for rule in group.rules or []:
            annotations = rule.annotations or {}
            dashboard = dashboards[annotations["__dashboardUid__"]]
            ids = {panel["id"] for panel in dashboard["panels"]}
            assert int(annotations["__panelId__"]) in ids


def _matches(route: dict[str, Any], labels: dict[str, str]) -> bool:
    for name, op, value in route.get("object_matchers", []):
        actual = labels.get(name, "")
        ok = actual == value if op == "=" else re.fullmatch(value, actual) is not None
        if not ok:
            return False
    return True


def _receivers(route: dict[str, Any], labels: dict[str, str]) -> list[str]:
    """Alertmanager routing: first matching child (and further siblings with continue)."""
    found: list[str] = []
    for child in route.get("routes", []):
        if _matches(child, labels):
            found += _receivers(child, labels) or [child["receiver"]]
            if not child.get("continue"):
                break
    return found


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        ({"audience": "engineering", "priority": "high"}, [alerting.ONCALL_PAGERDUTY]),
        ({"audience": "engineering", "priority": "medium"}, [alerting.ENGINEERING_EMAIL]),
        (
            {"audience": "clinical", "priority": "high", "ward": "ward-3"},
            [alerting.WARD_WEBHOOK, alerting.CLINICAL_EMAIL],
        ),
        ({"audience": "clinical", "priority": "low"}, [alerting.CLINICAL_EMAIL]),
    ],
)
def test_policy_routes_by_audience_ward_and_priority(
    labels: dict[str, str], receivers: list[str]
) -> None:
    tree = to_plain(alerting.notification_policy())
    assert _receivers(tree, labels) == [alerting.receiver_name(uid) for uid in receivers]


def test_every_rule_reaches_a_receiver_that_exists() -> None:
    tree = to_plain(alerting.notification_policy())
    names = {point.name for point in alerting.contact_points()}
    for spec in alerting.rule_specs():
        labels = {**spec.labels, "ward": "ward-3"}
        found = _receivers(tree, labels)
        assert found, spec.uid
        assert set(found) <= names
