"""After a simulated ward runs through the real pipeline, every panel's query returns rows.

Unlike test_dashboard_queries (which writes pipeline-shaped points itself), the data here is
what the worker wrote: the simulator's messages go to the real broker, the worker validates,
evaluates, pages and stores them in the real InfluxDB, and a nurse acknowledges one alert
through the worker's endpoint. Then each panel's InfluxQL runs with its variables filled in
as Grafana fills them. A panel that would be empty is a failure.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from agents.embedded import EmbeddedStack
from agents.embedded.worker import WorkerProcess
from schemas import Alert
from streams import topics
from streams.producer import bootstrap_servers
from streams.ward import simulate
from tests.integration.test_dashboard_queries import (
    _dashboards,
    _grafana_regex_escape,
    _interpolate,
    _time_filter,
    expected_columns,
)
from tests.support.kafka import read_topic
from tests.support.recording_server import RecordingServer, recording_server
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

ACK_TOKEN = secrets.token_urlsafe(32)
HOURS = 20


@dataclass
class Run:
    stack: EmbeddedStack
    worker: WorkerProcess
    pager: RecordingServer
    influx: httpx.Client
    start: datetime


@pytest.fixture(scope="module")
def run(stack: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    with recording_server() as pager:
        env = {
            **stack.env(),
            "DETOXMON_PAGER__WEBHOOK_URLS": json.dumps([pager.url]),
            "DETOXMON_PAGER__WEBHOOK_SECRET": secrets.token_hex(16),
            "DETOXMON_PAGER__ACK_TOKENS": json.dumps([ACK_TOKEN]),
            "DETOXMON_KAFKA__SESSION_TIMEOUT_S": "6",
            "DETOXMON_INFLUX__FLUSH_INTERVAL_S": "0.2",
            "DETOXMON_INFLUX__HEARTBEAT_INTERVAL_S": "2",
        }
        worker = WorkerProcess(Path(tmp_path_factory.mktemp("worker")), env)
        worker.start()
        try:
            with httpx.Client(base_url=stack.influx.url, timeout=10) as influx:
                start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=HOURS)
                yield Run(stack, worker, pager, influx, start)
        finally:
            worker.stop()


def deteriorating(patient_id: str) -> dict[str, Any]:
    """An observation set scoring NEWS2 >= 7 (RR 26, SpO2 91, pulse 135, 39.2 Cel)."""
    return {
        "kind": "vital_signs",
        "event_id": "8d2f0c1e-0000-4000-8000-000000000001",
        "patient_id": patient_id,
        "device_id": "bm-0001",
        "ward": "ward-3",
        "source": "bedside_monitor",
        "observed_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "heart_rate": 135,
        "systolic_bp": 150,
        "diastolic_bp": 90,
        "temperature": 39.2,
        "spo2": 91,
        "respiratory_rate": 26,
        "consciousness": "A",
        "supplemental_oxygen": False,
    }


def count(influx: httpx.Client, query: str) -> int:
    response = influx.post("/query", data={"db": "detoxmon", "q": query})
    for series in response.json()["results"][0].get("series", []):
        return int(series["values"][0][1])
    return 0


def rows(influx: httpx.Client, query: str) -> list[dict[str, Any]]:
    response = influx.post("/query", data={"db": "detoxmon", "q": query, "epoch": "ms"})
    result = response.json()["results"][0]
    assert "error" not in result, f"{query}: {result['error']}"
    series: list[dict[str, Any]] = result.get("series", [])
    return series


async def test_every_panel_query_returns_rows_after_a_simulated_ward_run(run: Run) -> None:
    simulation = simulate(8, hours=HOURS - 0.5, seed=21, start=run.start, telehealth_share=0.25)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers(run.stack.broker.url), acks="all"
    )
    await producer.start()
    try:
        for message in simulation.messages:
            await producer.send_and_wait(topics.READINGS, value=message.value, key=message.key)
        # A gateway sends a truncated message, and one patient deteriorates at the end of
        # the run (NEWS2 in the high band), whatever the seed produced.
        await producer.send_and_wait(
            topics.READINGS, key=b"pt-0002", value=b'{"kind": "vital_signs", "heart_rate": 13'
        )
        await producer.send_and_wait(
            topics.READINGS, key=b"pt-0001", value=json.dumps(deteriorating("pt-0001")).encode()
        )
    finally:
        await producer.stop()
    await eventually(
        lambda: count(run.influx, 'SELECT sum("count") FROM "deadletters"'),
        lambda n: n >= 1,
        timeout_s=60,
    )
    vitals = {
        json.loads(m.value)["event_id"]
        for m in simulation.messages
        if m.kind == "vital_signs" and m.label in ("valid", "late", "duplicate")
    }
    await eventually(
        lambda: count(run.influx, 'SELECT count("heart_rate") FROM "vitals"'),
        lambda n: n >= len(vitals),
        timeout_s=120,
    )

    # A nurse acknowledges the first alert that fired and is still open.
    records = await read_topic(
        run.stack.broker.url, topics.ALERTS, until=lambda r: len(r) > 0, timeout_s=60
    )
    transitions = [Alert.model_validate_json(r.value) for r in records]
    resolved = {t.alert_id for t in transitions if t.state == "resolved"}
    open_alert = next(t for t in transitions if t.state == "firing" and t.alert_id not in resolved)
    body = json.dumps({"by": "rn-4411", "role": "bedside_nurse", "reason": "attending_patient"})

    def acknowledge() -> int:
        response = httpx.post(
            f"{run.worker.url}/alerts/{open_alert.alert_id}/ack",
            content=body,
            headers={"Authorization": f"Bearer {ACK_TOKEN}", "Content-Type": "application/json"},
            timeout=10,
        )
        return response.status_code

    # 404 until the pager has seen the alert (it learns alerts from the alerts topic).
    assert await eventually(acknowledge, lambda status: status != 404, timeout_s=60) == 202
    await eventually(
        lambda: count(run.influx, 'SELECT count("ack_latency_s") FROM "alerts"'),
        lambda n: n >= 1,
        timeout_s=60,
    )
    await eventually(
        lambda: count(run.influx, 'SELECT count("attempt") FROM "pager_audit"'),
        lambda n: n >= 1,
        timeout_s=30,
    )

    # The throughput panels derive rates from successive heartbeats: wait for a few.
    await eventually(
        lambda: count(run.influx, 'SELECT count("points_written_total") FROM "pipeline_health"'),
        lambda n: n >= 4,
        timeout_s=60,
    )
    now = datetime.now(UTC)
    variables = {
        "timeFilter": _time_filter(run.start - timedelta(hours=1), now + timedelta(seconds=5)),
        "__interval": "5m",
        "patient": _grafana_regex_escape(open_alert.patient_id),
        "ward": ".*",
        "worker": ".*",
    }
    # The pipeline dashboard opens on the last 15 minutes, so Grafana's interval is seconds.
    pipeline_variables = {
        **variables,
        "timeFilter": _time_filter(now - timedelta(minutes=15), now + timedelta(seconds=5)),
        "__interval": "2s",
    }
    empty: list[str] = []
    checked = 0
    for name, dashboard in _dashboards().items():
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                query = target["query"]
                filled = pipeline_variables if name.startswith("pipeline") else variables
                series = rows(run.influx, _interpolate(query, filled))
                checked += 1
                if not series or not any(s["values"] for s in series):
                    empty.append(f"{name} / {panel['title']} / {target['refId']}: {query}")
                    continue
                for one in series:
                    assert one["columns"] == expected_columns(query), (name, panel["title"])
    assert checked > 20
    assert not empty, "panels that would be empty:\n" + "\n".join(empty)
