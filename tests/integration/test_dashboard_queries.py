"""Every query of the generated dashboard runs against a real InfluxDB holding pipeline data.

Grafana cannot run here, so the test does what its InfluxDB datasource does: substitute the
macros and variables in each raw query, then send it to ``/query``. The data is made by the
pipeline's own code (rule engine and line-protocol encoders), so a renamed field or tag on
either side fails this test instead of leaving an empty panel.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from agents.embedded import EmbeddedInfluxDB
from agents.engine import PULSE_HIGH, ActiveAlert, evaluate_thresholds
from agents.influx import alert_point, observation_point
from dashboards import patient
from dashboards.export import dashboard_json
from schemas import VitalSignsObservation

pytestmark = pytest.mark.integration

DATABASE = "detoxmon"
#: Contains a dot, which Grafana regex-escapes: the patient filter must still match it.
PATIENT = "pt.0001"
WARD = "ward-3"
OTHER_PATIENT = "pt-0002"
OTHER_WARD = "ward-7"
PULSES = (88.0, 104.0, 131.0, 126.0, 102.0, 95.0)  # crosses 120, then recovers below 110
OTHER_PULSE = 150.0


def _observations(now: datetime) -> list[VitalSignsObservation]:
    readings: list[VitalSignsObservation] = []
    for index, pulse in enumerate(PULSES):
        for patient_id, ward, heart_rate in (
            (PATIENT, WARD, pulse),
            (OTHER_PATIENT, OTHER_WARD, OTHER_PULSE),
        ):
            readings.append(
                VitalSignsObservation(
                    event_id=uuid.uuid4(),
                    patient_id=patient_id,
                    device_id=f"bm-{ward}",
                    ward=ward,
                    source="bedside_monitor",
                    observed_at=now - timedelta(minutes=5 * (len(PULSES) - index)),
                    heart_rate=heart_rate,
                    systolic_bp=128 + index,
                    diastolic_bp=82,
                    temperature=37.1,
                    spo2=96 - index,
                    respiratory_rate=16,
                )
            )
    return readings


def _line_protocol(now: datetime) -> str:
    """Points exactly as the pipeline writes them, alerts included."""
    lines: list[str] = []
    active: dict[str, dict[str, ActiveAlert]] = {}
    for observation in _observations(now):
        lines.append(observation_point(observation))
        state, alerts = evaluate_thresholds(active.get(observation.patient_id, {}), observation)
        active[observation.patient_id] = state
        lines.extend(alert_point(alert) for alert in alerts)
    return "\n".join(lines) + "\n"


def _grafana_regex_escape(value: str) -> str:
    """Grafana's ``escapeRegex``, which its InfluxDB datasource applies to variable values."""
    return re.sub(r"[\\^$*+?.()|\[\]{}/]", r"\\\g<0>", value)


def _interpolate(query: str, variables: dict[str, str]) -> str:
    """Replace ``$name`` macros and variables; an unknown one raises KeyError."""
    return re.sub(r"\$(\w+)", lambda match: variables[match.group(1)], query)


@pytest.fixture(scope="module")
def influx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    db = EmbeddedInfluxDB(Path(tmp_path_factory.mktemp("influx")))
    try:
        db.start()
        with httpx.Client(base_url=db.url, timeout=10) as client:
            client.post("/query", data={"q": f"CREATE DATABASE {DATABASE}"}).raise_for_status()
            written = client.post(
                "/write",
                params={"db": DATABASE, "precision": "ns"},
                content=_line_protocol(datetime.now(UTC)).encode(),
            )
            assert written.status_code == 204, written.text
            yield client
    finally:
        db.stop()


@pytest.fixture
def grafana_variables() -> dict[str, str]:
    """What Grafana substitutes for the dashboard's default view: last 6 h, one patient."""
    now = datetime.now(UTC)
    start_ms = int((now - timedelta(hours=6)).timestamp() * 1000)
    end_ms = int(now.timestamp() * 1000)
    return {
        "timeFilter": f"time >= {start_ms}ms and time <= {end_ms}ms",
        "__interval": "1m",
        "patient": _grafana_regex_escape(PATIENT),
        "ward": ".*",  # the variable's "All" value
    }


def _run(client: httpx.Client, query: str) -> list[dict[str, Any]]:
    response = client.post("/query", data={"db": DATABASE, "q": query, "epoch": "ms"})
    response.raise_for_status()
    result = response.json()["results"][0]
    assert "error" not in result, f"{query}: {result['error']}"
    series: list[dict[str, Any]] = result.get("series", [])
    return series


def _panels() -> list[dict[str, Any]]:
    panels: list[dict[str, Any]] = json.loads(dashboard_json(patient.build()))["panels"]
    return panels


def _expected_columns() -> dict[str, list[str]]:
    expected = {
        vital.title: ["time", *(name for _, name in vital.fields)] for vital in patient.VITALS
    }
    expected["Alert transitions"] = ["time", *patient.ALERT_COLUMNS]
    return expected


def test_every_panel_query_returns_its_columns(
    influx: httpx.Client, grafana_variables: dict[str, str]
) -> None:
    expected = _expected_columns()
    panels = _panels()
    assert sorted(panel["title"] for panel in panels) == sorted(expected)
    for panel in panels:
        for target in panel["targets"]:
            series = _run(influx, _interpolate(target["query"], grafana_variables))
            assert series, f"panel {panel['title']!r} returned no series"
            for one in series:
                assert one["columns"] == expected[panel["title"]], panel["title"]
                assert one["values"], panel["title"]


def test_heart_rate_panel_shows_only_the_patient_and_the_paging_reading(
    influx: httpx.Client, grafana_variables: dict[str, str]
) -> None:
    [series] = _run(influx, _interpolate(patient.HEART_RATE.query(), grafana_variables))
    pulses = [row[1] for row in series["values"]]
    assert max(pulses) == max(PULSES) >= PULSE_HIGH.threshold
    assert OTHER_PULSE not in pulses


def test_alert_table_lists_the_transitions_newest_first(
    influx: httpx.Client, grafana_variables: dict[str, str]
) -> None:
    [series] = _run(influx, _interpolate(patient.alerts_query(), grafana_variables))
    rows = [dict(zip(series["columns"], row, strict=True)) for row in series["values"]]
    assert [row["state"] for row in rows] == ["resolved", "firing"]
    assert all(row["rule_id"] == PULSE_HIGH.rule_id for row in rows)
    assert rows[1]["threshold"] == PULSE_HIGH.threshold
    assert rows[0]["time"] > rows[1]["time"]


def _variable_query(name: str) -> str:
    dashboard = json.loads(dashboard_json(patient.build()))
    [variable] = [v for v in dashboard["templating"]["list"] if v["name"] == name]
    query: str = variable["query"]
    return query


def _tag_values(client: httpx.Client, query: str) -> set[str]:
    return {value for series in _run(client, query) for _key, value in series["values"]}


def test_patient_variable_lists_patients_of_the_selected_ward(
    influx: httpx.Client, grafana_variables: dict[str, str]
) -> None:
    query = _variable_query("patient")
    assert _tag_values(influx, _interpolate(query, grafana_variables)) == {PATIENT, OTHER_PATIENT}
    one_ward = {**grafana_variables, "ward": _grafana_regex_escape(WARD)}
    assert _tag_values(influx, _interpolate(query, one_ward)) == {PATIENT}


def test_ward_variable_lists_wards(influx: httpx.Client) -> None:
    assert _tag_values(influx, _variable_query("ward")) == {WARD, OTHER_WARD}
