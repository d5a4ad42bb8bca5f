"""Every generated query runs against a real InfluxDB holding pipeline-shaped data.

Grafana cannot run here, so the tests do what its InfluxDB datasource does: substitute the
macros and variables in each raw query (panels, template variables, annotations), send it to
``/query``, and check the result has the columns the panel expects. The alert rules' queries
run the same way, with the rule's relative window as ``$timeFilter``, and are then reduced and
compared as Grafana's server-side expressions do, so each rule is seen firing and not firing.

The data: two wards (one with a dot in its name, which Grafana regex-escapes), several
patients, and points of every measurement the dashboards read, written with the pipeline's
own line-protocol encoders where they exist (``agents.influx``) and as line protocol where the
pipeline does not write yet (``pager_audit``, and ``ack_latency_s`` on acknowledged alerts).
A query that returns nothing is a failure.
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
from agents.engine import ActiveAlert, evaluate_thresholds
from agents.influx.event_points import clinical_event_point, dose_point, snapshot_points
from agents.influx.points import (
    HealthSnapshot,
    alert_point,
    deadletter_point,
    health_points,
    observation_point,
)
from dashboards import alerting, alerts, patient, pipeline, thresholds, ward
from dashboards.common import DEFAULT_DATASOURCE_UID
from dashboards.export import DASHBOARDS, dashboard_json, to_plain
from schemas import Alert, AlertEvidence, VitalSignsObservation
from schemas.clinical_events import ClinicalEvent
from schemas.doses import DoseAdministration
from schemas.state import PatientSnapshot

pytestmark = pytest.mark.integration

DATABASE = "detoxmon"
#: Contains a dot, which Grafana regex-escapes: the patient filter must still match it.
PATIENT = "pt.0001"
WARD = "ward-3"
#: A ward with a dot in its name, for the ward filter's escaping.
OTHER_WARD = "ward.7"
PATIENTS: dict[str, tuple[str, ...]] = {
    WARD: (PATIENT, "pt-0002", "pt-0003"),
    OTHER_WARD: ("pt-0101", "pt-0102", "pt-0103"),
}
PULSES = (88.0, 104.0, 131.0, 126.0, 102.0, 95.0)  # crosses 120, then recovers below 110
OTHER_PULSE = 150.0
#: Latest NEWS2 per patient: one high on ward-3, three high on ward.7 (the ward rule fires).
NEWS2 = {PATIENT: 7, "pt-0002": 3, "pt-0003": 5, "pt-0101": 8, "pt-0102": 7, "pt-0103": 9}
WORKERS = ("worker-a", "worker-b")
DEAD_LETTERS = 30  # in the last five minutes: a surge


def _observation(
    patient_id: str, ward_id: str, at: datetime, pulse: float, n: int
) -> VitalSignsObservation:
    return VitalSignsObservation(
        event_id=uuid.uuid4(),
        patient_id=patient_id,
        device_id=f"bm-{ward_id}",
        ward=ward_id,
        source="bedside_monitor",
        observed_at=at,
        heart_rate=pulse,
        systolic_bp=128 + n,
        diastolic_bp=82,
        temperature=37.1,
        spo2=96 - n % 3,
        respiratory_rate=16,
    )


def _alert(
    patient_id: str,
    ward_id: str,
    state: str,
    at: datetime,
    *,
    alert_id: uuid.UUID,
    sequence: int,
    escalation_level: int = 0,
) -> Alert:
    return Alert.model_validate(
        {
            "alert_id": alert_id,
            "transition_id": uuid.uuid5(alert_id, str(sequence)),
            "sequence": sequence,
            "patient_id": patient_id,
            "ward": ward_id,
            "rule_id": "news2_aggregate",
            "priority": "high",
            "state": state,
            "at": at,
            "summary": f"NEWS2 {state}",
            "source": "NEWS2 (RCP 2017)",
            "escalation_level": escalation_level,
            "evidence": AlertEvidence(
                measure="news2", value=8, unit="{score}", threshold=7, observed_at=at
            ),
        }
    )


def _with_field(line: str, field: str) -> str:
    """Add a field to a line-protocol line (before its timestamp)."""
    head, timestamp = line.rsplit(" ", 1)
    return f"{head},{field} {timestamp}"


def _line_protocol(now: datetime) -> str:
    lines: list[str] = []
    # Vitals, and the pulse rule's alerts for PATIENT, as the pipeline writes them.
    active: dict[str, ActiveAlert] = {}
    for n, pulse in enumerate(PULSES):
        at = now - timedelta(minutes=5 * (len(PULSES) - n))
        for ward_id, patients in PATIENTS.items():
            for patient_id in patients:
                beat = pulse if patient_id == PATIENT else OTHER_PULSE - 40 * (ward_id == WARD)
                observation = _observation(patient_id, ward_id, at, beat, n)
                lines.append(observation_point(observation))
                if patient_id == PATIENT:
                    active, transitions = evaluate_thresholds(active, observation)
                    lines.extend(alert_point(alert) for alert in transitions)
    # Alert lifecycles: acknowledged (with the time to acknowledge the pipeline must add),
    # escalated and still active, resolved.
    for index, (ward_id, patients) in enumerate(PATIENTS.items()):
        for offset, patient_id in enumerate(patients[1:]):
            alert_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{patient_id}:news2")
            fired = now - timedelta(minutes=40 - 5 * offset - index)
            lines.append(
                alert_point(
                    _alert(patient_id, ward_id, "firing", fired, alert_id=alert_id, sequence=0)
                )
            )
            if offset == 0:
                acked = fired + timedelta(seconds=90 + 60 * index)
                latency = (acked - fired).total_seconds()
                ack = _alert(
                    patient_id, ward_id, "acknowledged", acked, alert_id=alert_id, sequence=1
                )
                lines.append(_with_field(alert_point(ack), f"ack_latency_s={latency}"))
                if index == 0:
                    done = acked + timedelta(minutes=10)
                    lines.append(
                        alert_point(
                            _alert(
                                patient_id, ward_id, "resolved", done, alert_id=alert_id, sequence=2
                            )
                        )
                    )
            else:
                escalated = fired + timedelta(minutes=5)
                lines.append(
                    alert_point(
                        _alert(
                            patient_id,
                            ward_id,
                            "escalated",
                            escalated,
                            alert_id=alert_id,
                            sequence=1,
                            escalation_level=1,
                        )
                    )
                )
    # Snapshots (scores and derived state), doses and clinical events.
    for ward_id, patients in PATIENTS.items():
        for patient_id in patients:
            for step in range(4):
                at = now - timedelta(minutes=45 - 15 * step)
                news2 = max(NEWS2[patient_id] - (3 - step), 0)
                band = "high" if news2 >= 7 else "medium" if news2 >= 5 else "low"
                lines.extend(
                    snapshot_points(
                        PatientSnapshot(
                            patient_id=patient_id,
                            ward=ward_id,
                            at=at,
                            news2=news2,
                            news2_band=band,
                            ciwa_b=18 + 4 * step,
                            ciwa_b_band="mild" if 18 + 4 * step <= 20 else "moderate",
                            phase="acute" if step >= 2 else "early",
                            hours_since_last_dose=20.0 + step / 4,
                            in_peak_window=step >= 2,
                            peak_window_start_h=20.5,
                            peak_window_end_h=96.0,
                            taper_step=2,
                            half_life_class="short",
                            programme="inpatient",
                            active_alerts=1 if step == 3 else 0,
                            highest_priority="high" if step == 3 else None,
                        )
                    )
                )
            lines.append(
                dose_point(
                    DoseAdministration(
                        event_id=uuid.uuid4(),
                        patient_id=patient_id,
                        device_id="ehr-mar",
                        ward=ward_id,
                        source="ehr",
                        observed_at=now - timedelta(hours=2),
                        drug="diazepam",
                        dose_mg=10,
                        diazepam_equivalent_mg=10,
                        taper_step=2,
                    )
                )
            )
            lines.append(
                clinical_event_point(
                    ClinicalEvent(
                        event_id=uuid.uuid4(),
                        patient_id=patient_id,
                        device_id="ehr-notes",
                        ward=ward_id,
                        source="ehr",
                        observed_at=now - timedelta(minutes=50),
                        event_type="agitation",
                        severity="moderate",
                    )
                )
            )
    # Worker heartbeats every 10 s for ten minutes.
    for worker_index, worker in enumerate(WORKERS):
        for beat in range(60):
            at = now - timedelta(seconds=600 - 10 * beat - worker_index)
            lines.extend(
                health_points(
                    HealthSnapshot(
                        worker=worker,
                        at=at,
                        points_written_total=100 * beat,
                        consumer_lag=beat % 7,
                        sink_latency_ms=12.5 + beat % 5,
                        sink_latency_max_ms=40.0 + beat % 9,
                        messages_in_total={
                            "detoxmon.observations.v1": 50 * beat,
                            "detoxmon.alerts.v1": beat,
                        },
                    )
                )
            )
    # A dead-letter surge in the last five minutes.
    for n in range(DEAD_LETTERS):
        lines.append(
            deadletter_point(
                reason="schema_violation" if n % 3 else "invalid_json",
                path="vitals_gateway",
                received_at=now - timedelta(seconds=10 + 8 * n),
                partition=n % 4,
                offset=n,
            )
        )
    # The pager's audit trail (docs/storage.md): delivery attempts, and an acknowledgement,
    # which has no transition id.
    for n in range(12):
        at = now - timedelta(minutes=55 - 4 * n)
        outcome = "delivered" if n % 4 else "failed"
        lines.append(
            f"pager_audit,channel=webhook,outcome={outcome},priority=medium,ward={WARD},"
            f'rule_id=pulse_high alert_id="a-{n}",transition_id="t-{n}",attempt={1 + n % 3}i,'
            f"latency_ms={35.0 + n} {int(at.timestamp() * 1e9)}"
        )
    lines.append(
        f"pager_audit,channel=http,outcome=acknowledged,priority=medium,ward={WARD},"
        f'rule_id=pulse_high alert_id="a-3",attempt=0i,latency_ms=95000.0 '
        f"{int((now - timedelta(minutes=30)).timestamp() * 1e9)}"
    )
    return "\n".join(lines) + "\n"


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


def _grafana_regex_escape(value: str) -> str:
    """Grafana's ``escapeRegex``, which its InfluxDB datasource applies to variable values."""
    return re.sub(r"[\\^$*+?.()|\[\]{}/]", r"\\\g<0>", value)


def _time_filter(start: datetime, end: datetime) -> str:
    """Grafana's ``$timeFilter`` for an absolute range."""
    return f"time >= {int(start.timestamp() * 1000)}ms and time <= {int(end.timestamp() * 1000)}ms"


def _interpolate(query: str, variables: dict[str, str]) -> str:
    """Replace ``$name`` macros and variables; an unknown one raises KeyError."""
    return re.sub(r"\$(\w+)", lambda match: variables[match.group(1)], query)


@pytest.fixture
def grafana_variables() -> dict[str, str]:
    """What Grafana substitutes for the default view: last 6 h, one patient, every ward."""
    now = datetime.now(UTC)
    return {
        "timeFilter": _time_filter(now - timedelta(hours=6), now + timedelta(seconds=5)),
        "__interval": "1m",
        "patient": _grafana_regex_escape(PATIENT),
        "ward": ".*",  # the variable's "All" value
        "worker": ".*",
    }


def _run(client: httpx.Client, query: str) -> list[dict[str, Any]]:
    response = client.post("/query", data={"db": DATABASE, "q": query, "epoch": "ms"})
    response.raise_for_status()
    result = response.json()["results"][0]
    assert "error" not in result, f"{query}: {result['error']}"
    series: list[dict[str, Any]] = result.get("series", [])
    return series


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return parts


def expected_columns(query: str) -> list[str]:
    """The result columns of an InfluxQL SELECT: ``time``, then each selection's name."""
    select = re.match(r"SELECT (.*?) FROM ", query)
    assert select, query
    names = ["time"]
    for item in _split_top_level(select.group(1)):
        alias = re.search(r' AS "([^"]+)"$', item)
        if alias:
            names.append(alias.group(1))
        elif re.fullmatch(r'"[^"]+"', item):
            names.append(item.strip('"'))
        else:
            names.append(item.split("(", 1)[0])
    return names


def grouped_tags(query: str) -> set[str]:
    """Tag keys of the outermost GROUP BY."""
    match = re.search(r"GROUP BY ([^()]*(?:time\([^)]*\)[^()]*)?)(?: fill\(\w+\))?$", query)
    if not match or ")" in query[match.end() :]:
        return set()
    return set(re.findall(r'"(\w+)"', match.group(1)))


def _dashboards() -> dict[str, dict[str, Any]]:
    return {
        name: json.loads(dashboard_json(build(DEFAULT_DATASOURCE_UID)))
        for name, build in DASHBOARDS.items()
    }


def _panel_targets() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (name, panel["title"], target)
        for name, dashboard in _dashboards().items()
        for panel in dashboard["panels"]
        for target in panel["targets"]
    ]


@pytest.mark.parametrize(
    ("dashboard", "title", "target"),
    _panel_targets(),
    ids=[f"{d}:{t}:{q['refId']}" for d, t, q in _panel_targets()],
)
def test_every_panel_query_returns_rows_with_its_columns(
    influx: httpx.Client,
    grafana_variables: dict[str, str],
    dashboard: str,
    title: str,
    target: dict[str, Any],
) -> None:
    query = target["query"]
    series = _run(influx, _interpolate(query, grafana_variables))
    assert series, f"{dashboard} / {title!r} would be empty"
    for one in series:
        assert one["columns"] == expected_columns(query), (dashboard, title)
        assert one["values"], (dashboard, title)
        assert any(value is not None for row in one["values"] for value in row[1:]), title
        assert set(one.get("tags", {})) == grouped_tags(query), (dashboard, title)


def test_every_table_override_names_a_column_its_queries_return(
    influx: httpx.Client, grafana_variables: dict[str, str]
) -> None:
    for name, dashboard in _dashboards().items():
        for panel in dashboard["panels"]:
            if panel["type"] != "table":
                continue
            columns: set[str] = {"Time"}
            for target in panel["targets"]:
                for one in _run(influx, _interpolate(target["query"], grafana_variables)):
                    columns |= set(one["columns"][1:]) | set(one.get("tags", {}))
            for transformation in panel.get("transformations", []):
                columns |= set(transformation["options"].get("renameByName", {}).values())
            for override in panel["fieldConfig"]["overrides"]:
                if override["matcher"]["id"] == "byName":
                    assert override["matcher"]["options"] in columns, (name, panel["title"])


def _rows(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**one.get("tags", {}), **dict(zip(one["columns"], row, strict=True))}
        for one in series
        for row in one["values"]
    ]


def test_ward_table_merges_into_one_complete_row_per_patient(
    influx: httpx.Client, grafana_variables: dict[str, str]
) -> None:
    """What Grafana's organize + merge transformations make of the three queries."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for query, _columns in ward.QUERIES.values():
        for row in _rows(_run(influx, _interpolate(query, grafana_variables))):
            row.pop("time")
            key = (row["ward"], row["patient_id"])
            merged.setdefault(key, {}).update(row)
    assert sorted(merged) == sorted((w, p) for w, ps in PATIENTS.items() for p in ps)
    for row in merged.values():
        assert set(row) == set(ward.COLUMN_ORDER)
        for column in ("Pulse", "SpO2", "NEWS2", "NEWS2 band", "CIWA-B", "Phase", "Active alerts"):
            assert row[column] is not None, column
    assert merged[(WARD, PATIENT)]["NEWS2"] == NEWS2[PATIENT]
    assert merged[(WARD, PATIENT)]["Highest priority"] == "high"
    assert merged[(WARD, PATIENT)]["Pulse"] == PULSES[-1]


def test_ward_filter_matches_an_escaped_ward_name(
    influx: httpx.Client, grafana_variables: dict[str, str]
) -> None:
    one_ward = {**grafana_variables, "ward": _grafana_regex_escape(OTHER_WARD)}
    rows = _rows(_run(influx, _interpolate(ward.vitals_query(), one_ward)))
    assert {row["patient_id"] for row in rows} == set(PATIENTS[OTHER_WARD])


def test_heart_rate_panel_shows_only_the_patient_and_the_paging_reading(
    influx: httpx.Client, grafana_variables: dict[str, str]
) -> None:
    [series] = _run(influx, _interpolate(patient.HEART_RATE.query(), grafana_variables))
    maxima = [row[series["columns"].index("Heart rate max")] for row in series["values"]]
    assert max(maxima) == max(PULSES)
    assert thresholds.upward_limit("heart_rate", "medium").fires(max(maxima))
    assert OTHER_PULSE not in maxima


def test_alert_table_lists_the_transitions_newest_first(
    influx: httpx.Client, grafana_variables: dict[str, str]
) -> None:
    [series] = _run(influx, _interpolate(patient.alerts_query(), grafana_variables))
    rows = [dict(zip(series["columns"], row, strict=True)) for row in series["values"]]
    assert [row["state"] for row in rows] == ["resolved", "firing"]
    assert {row["rule_id"] for row in rows} == {"pulse_high"}
    assert rows[1]["threshold"] == thresholds.upward_limit("heart_rate", "medium").threshold
    assert rows[0]["time"] > rows[1]["time"]


def test_alert_tables_split_alerts_by_their_latest_state(
    influx: httpx.Client, grafana_variables: dict[str, str]
) -> None:
    rows = _rows(_run(influx, _interpolate(alerts.latest_transitions_query(), grafana_variables)))
    by_state: dict[str, set[str]] = {}
    for row in rows:
        by_state.setdefault(row["state"], set()).add(row["patient_id"])
    assert by_state["escalated"] == {"pt-0003", "pt-0103"}
    assert by_state["acknowledged"] == {"pt-0102"}
    assert by_state["resolved"] == {PATIENT, "pt-0002"}
    active = {row["state"] for row in rows} & set(alerts.ACTIVE_STATES)
    assert active == {"escalated"}


def test_time_to_acknowledge_is_read_from_acknowledged_transitions(
    influx: httpx.Client, grafana_variables: dict[str, str]
) -> None:
    [series] = _run(influx, _interpolate(alerts.ack_latency_summary_query(), grafana_variables))
    row = dict(zip(series["columns"], series["values"][0], strict=True))
    assert series["tags"] == {"priority": "high"}
    assert row["Acknowledged"] == 2
    assert row["Mean"] == pytest.approx((90 + 150) / 2)


def _variable_queries() -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, variable)
        for name, dashboard in _dashboards().items()
        for variable in dashboard["templating"]["list"]
        if variable["type"] == "query"
    ]


@pytest.mark.parametrize(
    ("dashboard", "variable"),
    _variable_queries(),
    ids=[f"{d}:{v['name']}" for d, v in _variable_queries()],
)
def test_every_variable_query_lists_values(
    influx: httpx.Client,
    grafana_variables: dict[str, str],
    dashboard: str,
    variable: dict[str, Any],
) -> None:
    series = _run(influx, _interpolate(variable["query"], grafana_variables))
    values = {value for one in series for _key, value in one["values"]}
    expected = {
        "ward": set(PATIENTS),
        "patient": {p for ps in PATIENTS.values() for p in ps},
        "worker": set(WORKERS),
    }
    assert values == expected[variable["name"]], dashboard


def test_patient_variable_lists_patients_of_the_selected_ward(
    influx: httpx.Client, grafana_variables: dict[str, str]
) -> None:
    one_ward = {**grafana_variables, "ward": _grafana_regex_escape(OTHER_WARD)}
    series = _run(influx, _interpolate(patient.PATIENT_VARIABLE_QUERY, one_ward))
    assert {value for one in series for _key, value in one["values"]} == set(PATIENTS[OTHER_WARD])


def _annotations() -> list[dict[str, Any]]:
    return [
        annotation
        for dashboard in _dashboards().values()
        for annotation in dashboard.get("annotations", {}).get("list", [])
    ]


@pytest.mark.parametrize("annotation", _annotations(), ids=[a["name"] for a in _annotations()])
def test_every_annotation_query_returns_events_with_its_columns(
    influx: httpx.Client, grafana_variables: dict[str, str], annotation: dict[str, Any]
) -> None:
    target = annotation["target"]
    [series] = _run(influx, _interpolate(target["query"], grafana_variables))
    assert series["values"], annotation["name"]
    mapped = [target["textColumn"], *target.get("tagsColumn", "").split(",")]
    for column in filter(None, mapped):
        assert column in series["columns"], (annotation["name"], column)
    text = series["columns"].index(target["textColumn"])
    assert all(row[text] is not None for row in series["values"])


# --- Alert rules: the query, then Grafana's reduce (last) and threshold expressions. ---


def _rule(uid: str) -> dict[str, Any]:
    rules = [rule for group in alerting.rule_groups() for rule in to_plain(group)["rules"]]
    [found] = [rule for rule in rules if rule["uid"] == uid]
    return found


def _evaluate(
    influx: httpx.Client, rule: dict[str, Any], end: datetime
) -> list[dict[str, str]] | str:
    """Label sets of the firing instances, or the no-data state when the query has no rows."""
    query, reduce, threshold = rule["data"]
    window = query["relativeTimeRange"]["from"]
    text = _interpolate(
        query["model"]["query"], {"timeFilter": _time_filter(end - timedelta(seconds=window), end)}
    )
    series = _run(influx, text)
    if not series:
        return str(rule["noDataState"])
    assert reduce["model"]["reducer"] == "last"
    evaluator = threshold["model"]["conditions"][0]["evaluator"]
    [limit] = evaluator["params"]
    firing = []
    for one in series:
        last = [row[1] for row in one["values"] if row[1] is not None][-1]
        fires = last > limit if evaluator["type"] == "gt" else last < limit
        if fires:
            firing.append(dict(one.get("tags", {})))
    return firing


def test_dead_mans_switch_is_quiet_while_workers_beat_and_alerts_on_silence(
    influx: httpx.Client,
) -> None:
    rule = _rule(alerting.HEARTBEAT_RULE_UID)
    assert _evaluate(influx, rule, datetime.now(UTC)) == []
    # Twenty minutes ago nothing beat: the query has no rows, which is the alert.
    assert _evaluate(influx, rule, datetime.now(UTC) - timedelta(minutes=20)) == "Alerting"


def test_dead_letter_surge_fires_above_its_threshold(influx: httpx.Client) -> None:
    rule = _rule(alerting.DEADLETTER_RULE_UID)
    assert _evaluate(influx, rule, datetime.now(UTC)) == [{}]
    assert DEAD_LETTERS > alerting.DEADLETTER_SURGE_COUNT
    assert _evaluate(influx, rule, datetime.now(UTC) - timedelta(hours=2)) == "OK"


def test_ward_rule_fires_for_the_ward_with_several_high_news2_patients(
    influx: httpx.Client,
) -> None:
    rule = _rule(alerting.WARD_NEWS2_RULE_UID)
    assert _evaluate(influx, rule, datetime.now(UTC)) == [{"ward": OTHER_WARD}]


def test_pipeline_panels_see_every_worker(
    influx: httpx.Client, grafana_variables: dict[str, str]
) -> None:
    series = _run(influx, _interpolate(pipeline.last_heartbeat_query(), grafana_variables))
    assert {one["tags"]["worker"] for one in series} == set(WORKERS)


def test_pager_panels_count_acknowledgements_too(
    influx: httpx.Client, grafana_variables: dict[str, str]
) -> None:
    rows = _rows(_run(influx, _interpolate(pipeline.pager_table_query(), grafana_variables)))
    by_outcome = {(row["channel"], row["outcome"]): row["Records"] for row in rows}
    assert by_outcome == {
        ("webhook", "delivered"): 9,
        ("webhook", "failed"): 3,
        ("http", "acknowledged"): 1,
    }
